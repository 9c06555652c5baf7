// Reader for the STL-10 binary files (https://cs.stanford.edu/~acoates/stl10/): `*_X.bin` holds
// 3x96x96 uint8 images, each channel stored column-major (MATLAB order), and `*_y.bin` one label
// byte per image, 1..10. The unlabeled split is 100,000 images (2.7 GB), so images are read by
// offset from a file descriptor, a range at a time, instead of slurping the file.
import { closeSync, existsSync, readSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import type { ImageSet } from "./dataset.js";
import { readClassNames, readFileOrThrow, requireDir } from "./files.js";
import { openRegularFile } from "../util/file-reads.js";

export const STL10_CLASSES = [
  "airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck",
];

export type Stl10Split = "train" | "test" | "unlabeled";

const SIDE = 96;
const PLANE = SIDE * SIDE;
const IMAGE = 3 * PLANE;
// Images read per readSync call: bounds the scratch buffer (about 28 MB) whatever `count` is.
const CHUNK_IMAGES = 1024;

export interface Stl10Reader {
  readonly split: Stl10Split;
  /** Number of images in the split. */
  readonly count: number;
  readonly classes: string[];
  /** Images [start, start+count) as an NCHW row-major set (labels null for the unlabeled split). */
  read(start: number, count: number): ImageSet;
}

/**
 * Opens one split lazily: validates the file sizes and reads the (small) label file now, the images
 * only when `read` asks for them. `dir` may be the folder with the .bin files or the one above it,
 * where the official archive unpacks to `stl10_binary/`.
 */
export function stl10Reader(dir: string, split: Stl10Split): Stl10Reader {
  const root = stl10Root(dir);
  const namesPath = join(root, "class_names.txt");
  const classes = existsSync(namesPath) ? readClassNames(namesPath) : STL10_CLASSES.slice();
  const xPath = join(root, `${split}_X.bin`);
  const size = fileSize(xPath);
  if (size === 0 || size % IMAGE !== 0) {
    throw new UserError(
      `${xPath}: size ${size} bytes is not a positive multiple of ${IMAGE} (one 3x96x96 image); truncated or not an STL-10 file`,
    );
  }
  const count = size / IMAGE;
  const labels = split === "unlabeled" ? null : readLabels(join(root, `${split}_y.bin`), count, classes.length);
  return {
    split,
    count,
    classes,
    read(start: number, n: number): ImageSet {
      if (!Number.isInteger(start) || !Number.isInteger(n) || start < 0 || n < 0 || start + n > count) {
        throw new RangeError(`stl10 ${split}: range [${start}, ${start + n}) outside [0, ${count})`);
      }
      return {
        images: readImages(xPath, start, n),
        n,
        channels: 3,
        height: SIDE,
        width: SIDE,
        labels: labels ? labels.slice(start, start + n) : null,
        classes: classes.slice(),
        ids: null,
      };
    },
  };
}

/** Loads a split into memory, or only its first `limit` images. */
export function loadStl10(dir: string, split: Stl10Split, limit?: number): ImageSet {
  const reader = stl10Reader(dir, split);
  const n = limit === undefined ? reader.count : Math.max(0, Math.min(limit, reader.count));
  return reader.read(0, n);
}

/** Whether the split's images file exists (the unlabeled one is often not downloaded). */
export function stl10HasSplit(dir: string, split: Stl10Split): boolean {
  return existsSync(join(stl10Root(dir), `${split}_X.bin`));
}

/** Column-major 96x96 planes → row-major: out[c][y][x] = in[c][x][y]. */
export function transposeStl10Image(src: Uint8Array, dst: Uint8Array): void {
  for (let c = 0; c < 3; c++) {
    const base = c * PLANE;
    for (let x = 0; x < SIDE; x++) {
      const col = base + x * SIDE;
      for (let y = 0; y < SIDE; y++) dst[base + y * SIDE + x] = src[col + y];
    }
  }
}

function readImages(path: string, start: number, n: number): Uint8Array {
  const out = new Uint8Array(n * IMAGE);
  if (n === 0) return out;
  const scratch = new Uint8Array(Math.min(n, CHUNK_IMAGES) * IMAGE);
  const { fd } = openRegularFile(path, "STL-10 images");
  try {
    for (let done = 0; done < n; ) {
      const k = Math.min(CHUNK_IMAGES, n - done);
      const bytes = k * IMAGE;
      let got = 0;
      while (got < bytes) {
        const r = readSync(fd, scratch, got, bytes - got, (start + done) * IMAGE + got);
        if (r === 0) throw new UserError(`${path}: file ended early (truncated while reading image ${start + done})`);
        got += r;
      }
      for (let j = 0; j < k; j++) {
        transposeStl10Image(scratch.subarray(j * IMAGE, (j + 1) * IMAGE), out.subarray((done + j) * IMAGE));
      }
      done += k;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

function readLabels(path: string, count: number, numClasses: number): Int32Array {
  const raw = readFileOrThrow(path, "STL-10 labels");
  if (raw.length !== count) {
    throw new UserError(`${path}: ${raw.length} labels but the images file has ${count} images`);
  }
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    // Stored 1-based (MATLAB heritage); we use 0-based class indices everywhere.
    if (raw[i] < 1 || raw[i] > numClasses) {
      throw new UserError(`${path}: label ${raw[i]} at index ${i} is not in 1..${numClasses}`);
    }
    labels[i] = raw[i] - 1;
  }
  return labels;
}

// The images file's size; a device or FIFO is refused rather than read (or waited on) without end.
function fileSize(path: string): number {
  const { fd, size } = openRegularFile(path, "STL-10 images");
  closeSync(fd);
  return size;
}

function stl10Root(dir: string): string {
  requireDir(dir, "STL-10");
  const nested = join(dir, "stl10_binary");
  const marker = (d: string) => ["train_X.bin", "test_X.bin", "unlabeled_X.bin"].some((f) => existsSync(join(d, f)));
  if (!marker(dir) && marker(nested)) return nested;
  return dir;
}

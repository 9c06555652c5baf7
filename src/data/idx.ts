// Reader for the IDX files of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// a big-endian header (two zero bytes, a type byte, a dimension count, one u32 per dimension)
// followed by the raw values. Files may be gzipped, as Debian's dataset-fashion-mnist ships them.
import { UserError } from "../util/errors.js";
import type { ImageSet } from "./dataset.js";
import { findFile, readMaybeGzip, requireDir } from "./files.js";

/** Where Debian's dataset-fashion-mnist package installs the IDX files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

export const FASHION_MNIST_CLASSES = [
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
];

export const MNIST_CLASSES = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

const IMAGES_MAGIC = 0x00000803; // unsigned bytes, 3 dimensions (n, rows, cols)
const LABELS_MAGIC = 0x00000801; // unsigned bytes, 1 dimension (n)

/** Reads an IDX image file: n grayscale images of rows x cols bytes. */
export function readIdxImages(path: string): { n: number; height: number; width: number; data: Uint8Array } {
  const { dims, data } = readIdx(path, IMAGES_MAGIC, "image");
  const [n, height, width] = dims;
  if (height === 0 || width === 0) throw new UserError(`${path}: IDX image size ${height}x${width} is empty`);
  return { n, height, width, data };
}

/** Reads an IDX label file: one byte per image. */
export function readIdxLabels(path: string): Uint8Array {
  return readIdx(path, LABELS_MAGIC, "label").data;
}

/**
 * Pairs an image file with its label file into one ImageSet, checking that the counts agree and
 * that every label names one of `classes`.
 */
export function loadIdxPair(imagesPath: string, labelsPath: string, classes: string[]): ImageSet {
  const img = readIdxImages(imagesPath);
  const raw = readIdxLabels(labelsPath);
  if (raw.length !== img.n) {
    throw new UserError(`${labelsPath}: ${raw.length} labels but ${imagesPath} has ${img.n} images`);
  }
  const labels = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] >= classes.length) {
      throw new UserError(`${labelsPath}: label ${raw[i]} at index ${i} is not in 0..${classes.length - 1}`);
    }
    labels[i] = raw[i];
  }
  return {
    images: img.data, n: img.n, channels: 1, height: img.height, width: img.width,
    labels, classes: classes.slice(), ids: null,
  };
}

/**
 * Loads one split of an MNIST-layout directory: `train-images-idx3-ubyte` / `t10k-images-idx3-ubyte`
 * and their label files, gzipped (.gz) or not. Some mirrors spell them with a dot
 * (`train-images.idx3-ubyte`); both are accepted.
 */
export function loadIdxSplit(dir: string, split: "train" | "test", classes: string[], what: string): ImageSet {
  requireDir(dir, what);
  const prefix = split === "train" ? "train" : "t10k";
  const images = findFile(dir, variants(prefix, "images", "idx3"), `${what} ${split} images`);
  const labels = findFile(dir, variants(prefix, "labels", "idx1"), `${what} ${split} labels`);
  return loadIdxPair(images, labels, classes);
}

/** Fashion-MNIST: 60,000 train / 10,000 test grayscale 28x28 images in 10 classes. */
export function loadFashionMnist(dir: string = FASHION_MNIST_DIR, split: "train" | "test" = "train"): ImageSet {
  return loadIdxSplit(dir, split, FASHION_MNIST_CLASSES, "Fashion-MNIST");
}

/** MNIST digits, same file layout as Fashion-MNIST. */
export function loadMnist(dir: string, split: "train" | "test" = "train"): ImageSet {
  return loadIdxSplit(dir, split, MNIST_CLASSES, "MNIST");
}

function variants(prefix: string, kind: string, idx: string): string[] {
  const names = [`${prefix}-${kind}-${idx}-ubyte`, `${prefix}-${kind}.${idx}-ubyte`];
  return names.flatMap((n) => [`${n}.gz`, n]);
}

// The size of the whole file that an IDX header implies, once `head` holds the header: checks the
// magic number first, so a foreign file is named as such before anything else is read.
function idxFileSize(head: Buffer, path: string, magic: number, what: string): number | null {
  if (head.length < 4) return null;
  const found = head.readUInt32BE(0);
  if (found !== magic) {
    throw new UserError(`${path}: bad magic number ${hex(found)}, expected ${hex(magic)} for an IDX ${what} file`);
  }
  const ndims = magic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (head.length < headerBytes) return null;
  let size = 1;
  for (let d = 0; d < ndims; d++) size *= head.readUInt32BE(4 + 4 * d);
  return headerBytes + size;
}

// Parses an IDX file whose magic number must be `magic` and returns its dimensions and payload,
// checking that the payload is exactly as long as the dimensions say. A gzipped file is never
// decompressed past what its header implies.
function readIdx(path: string, magic: number, what: string): { dims: number[]; data: Uint8Array } {
  const buf = readMaybeGzip(path, `IDX ${what} file`, (head) => idxFileSize(head, path, magic, what));
  if (buf.length < 4) throw new UserError(`${path}: truncated IDX ${what} file (${buf.length} bytes, no header)`);
  idxFileSize(buf, path, magic, what);
  const ndims = magic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) {
    throw new UserError(`${path}: truncated IDX ${what} file (header needs ${headerBytes} bytes, file has ${buf.length})`);
  }
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(buf.readUInt32BE(4 + 4 * d));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = buf.length - headerBytes;
  if (actual !== expected) {
    const problem = actual < expected ? "truncated" : "too long";
    throw new UserError(
      `${path}: ${problem}: dimensions ${dims.join("x")} need ${expected} data bytes, file has ${actual}`,
    );
  }
  // A view, not a copy: the gunzipped buffer is ours alone.
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerBytes, expected) };
}

function hex(v: number): string {
  return "0x" + v.toString(16).padStart(8, "0");
}

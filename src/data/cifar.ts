// Reader for the CIFAR-10 "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html): each batch
// file is a run of 3073-byte records, one label byte then 32x32 red, green and blue planes, each
// row-major -- already the NCHW layout we keep, so records are copied without reordering.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import type { ImageSet } from "./dataset.js";
import { readClassNames, readFileOrThrow, requireDir } from "./files.js";

export const CIFAR10_CLASSES = [
  "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
];

const SIDE = 32;
const PIXELS = 3 * SIDE * SIDE;
const RECORD = 1 + PIXELS;

export const CIFAR10_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR10_TEST_FILES = ["test_batch.bin"];

/**
 * Loads the train split (data_batch_1..5.bin, all required) or the test split (test_batch.bin).
 * `dir` may be the folder holding the .bin files or the one above it, where the official archive
 * unpacks to `cifar-10-batches-bin/`. Class names come from batches.meta.txt when it exists.
 */
export function loadCifar10(dir: string, split: "train" | "test" = "train"): ImageSet {
  const root = cifarRoot(dir);
  const metaPath = join(root, "batches.meta.txt");
  const classes = existsSync(metaPath) ? readClassNames(metaPath) : CIFAR10_CLASSES.slice();
  if (classes.length === 0) throw new UserError(`${metaPath}: no class names in file`);
  const files = (split === "train" ? CIFAR10_TRAIN_FILES : CIFAR10_TEST_FILES).map((f) => join(root, f));
  const parts = files.map((f) => readCifarBatch(f, classes.length));
  const n = parts.reduce((s, p) => s + p.labels.length, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * PIXELS);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  return { images, n, channels: 3, height: SIDE, width: SIDE, labels, classes, ids: null };
}

/** Parses one batch file; its size must be a whole number of 3073-byte records. */
export function readCifarBatch(path: string, numClasses = 10): { images: Uint8Array; labels: Int32Array } {
  const buf = readFileOrThrow(path, "CIFAR-10 batch");
  if (buf.length === 0 || buf.length % RECORD !== 0) {
    throw new UserError(
      `${path}: size ${buf.length} bytes is not a positive multiple of the ${RECORD}-byte CIFAR-10 record (truncated or not a CIFAR-10 binary batch)`,
    );
  }
  const n = buf.length / RECORD;
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = buf[i * RECORD];
    if (label >= numClasses) {
      throw new UserError(`${path}: label ${label} in record ${i} is not in 0..${numClasses - 1}`);
    }
    labels[i] = label;
    images.set(buf.subarray(i * RECORD + 1, (i + 1) * RECORD), i * PIXELS);
  }
  return { images, labels };
}

function cifarRoot(dir: string): string {
  requireDir(dir, "CIFAR-10");
  const nested = join(dir, "cifar-10-batches-bin");
  if (!existsSync(join(dir, "test_batch.bin")) && existsSync(join(nested, "test_batch.bin"))) return nested;
  return dir;
}

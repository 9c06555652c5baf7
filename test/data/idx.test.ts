import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import {
  FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, loadFashionMnist, loadIdxPair, loadMnist, readIdxImages, readIdxLabels,
} from "../../src/data/idx.js";
import { idxBytes, isUserError, patternImages, removeDir, tmpDir, writeIdx } from "./fixtures.js";

const IMAGES = 0x803;
const LABELS = 0x801;
const dir = tmpDir("idx");
after(() => removeDir(dir));

function writeSplit(d: string, prefix: string, n: number, gzip: boolean, h = 4, w = 3): Uint8Array {
  fs.mkdirSync(d, { recursive: true });
  const ext = gzip ? ".gz" : "";
  const pixels = patternImages(n, h * w);
  writeIdx(path.join(d, `${prefix}-images-idx3-ubyte${ext}`), IMAGES, [n, h, w], pixels, gzip);
  writeIdx(path.join(d, `${prefix}-labels-idx1-ubyte${ext}`), LABELS, [n], Uint8Array.from({ length: n }, (_, i) => i % 10), gzip);
  return pixels;
}

test("reads gzipped train and plain test splits", () => {
  const d = path.join(dir, "fm");
  const trainPixels = writeSplit(d, "train", 5, true);
  const testPixels = writeSplit(d, "t10k", 3, false);
  const train = loadFashionMnist(d, "train");
  assert.equal(train.n, 5);
  assert.deepEqual([train.channels, train.height, train.width], [1, 4, 3]);
  assert.deepEqual(Array.from(train.images), Array.from(trainPixels));
  assert.deepEqual(Array.from(train.labels!), [0, 1, 2, 3, 4]);
  assert.deepEqual(train.classes, FASHION_MNIST_CLASSES);
  assert.equal(train.ids, null);
  const t = loadFashionMnist(d, "test");
  assert.equal(t.n, 3);
  assert.deepEqual(Array.from(t.images), Array.from(testPixels));
});

test("gzip is detected by magic bytes, not by file name", () => {
  const d = path.join(dir, "sniff");
  fs.mkdirSync(d);
  const p = path.join(d, "train-images-idx3-ubyte"); // gzipped content, no .gz suffix
  writeIdx(p, IMAGES, [2, 2, 2], patternImages(2, 4), true);
  assert.equal(readIdxImages(p).n, 2);
});

test("accepts the dotted MNIST file names", () => {
  const d = path.join(dir, "mnist");
  fs.mkdirSync(d);
  writeIdx(path.join(d, "train-images.idx3-ubyte"), IMAGES, [2, 2, 2], patternImages(2, 4));
  writeIdx(path.join(d, "train-labels.idx1-ubyte"), LABELS, [2], Uint8Array.from([7, 9]));
  const set = loadMnist(d, "train");
  assert.deepEqual(Array.from(set.labels!), [7, 9]);
  assert.equal(set.classes![7], "7");
});

test("bad magic number is a UserError naming the file", () => {
  const p = path.join(dir, "badmagic");
  writeIdx(p, LABELS, [4], new Uint8Array(4));
  assert.throws(() => readIdxImages(p), isUserError(p, "bad magic number 0x00000801", "0x00000803"));
  const q = path.join(dir, "badmagic2");
  writeIdx(q, IMAGES, [1, 2, 2], new Uint8Array(4));
  assert.throws(() => readIdxLabels(q), isUserError(q, "bad magic number 0x00000803", "0x00000801"));
});

test("truncated and oversized files are UserErrors", () => {
  const full = idxBytes(IMAGES, [3, 4, 4], patternImages(3, 16));
  const p = path.join(dir, "trunc");
  fs.writeFileSync(p, full.subarray(0, full.length - 1));
  assert.throws(() => readIdxImages(p), isUserError(p, "truncated", "3x4x4", "48", "47"));
  fs.writeFileSync(p, full.subarray(0, 10)); // inside the header
  assert.throws(() => readIdxImages(p), isUserError(p, "truncated"));
  fs.writeFileSync(p, Buffer.concat([full, Buffer.from([0])]));
  assert.throws(() => readIdxImages(p), isUserError(p, "too long", "49"));
  fs.writeFileSync(p, Buffer.alloc(0));
  assert.throws(() => readIdxImages(p), isUserError(p, "truncated"));
});

test("a corrupt gzip stream is a UserError", () => {
  const p = path.join(dir, "corrupt.gz");
  const gz = fs.readFileSync(path.join(dir, "fm", "train-images-idx3-ubyte.gz"));
  fs.writeFileSync(p, gz.subarray(0, gz.length - 8));
  assert.throws(() => readIdxImages(p), isUserError(p, "gzip"));
});

test("label count must match image count, and labels must be class indices", () => {
  const imgs = path.join(dir, "cnt-images");
  const labs = path.join(dir, "cnt-labels");
  writeIdx(imgs, IMAGES, [3, 2, 2], patternImages(3, 4));
  writeIdx(labs, LABELS, [2], Uint8Array.from([0, 1]));
  assert.throws(() => loadIdxPair(imgs, labs, FASHION_MNIST_CLASSES), isUserError(labs, "2 labels", "3 images"));
  writeIdx(labs, LABELS, [3], Uint8Array.from([0, 10, 1]));
  assert.throws(() => loadIdxPair(imgs, labs, FASHION_MNIST_CLASSES), isUserError(labs, "label 10", "index 1"));
});

test("missing directory and missing files are UserErrors", () => {
  const missing = path.join(dir, "nope");
  assert.throws(() => loadFashionMnist(missing, "train"), isUserError(missing, "directory not found"));
  const empty = path.join(dir, "empty");
  fs.mkdirSync(empty);
  assert.throws(() => loadFashionMnist(empty, "test"), isUserError(empty, "t10k-images-idx3-ubyte"));
  assert.throws(() => readIdxLabels(path.join(empty, "x")), isUserError(path.join(empty, "x"), "no such file"));
});

test("default directory is Debian's dataset-fashion-mnist", () => {
  assert.equal(FASHION_MNIST_DIR, "/usr/share/datasets/fashion-mnist");
});

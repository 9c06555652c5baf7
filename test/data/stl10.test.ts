import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { imageAt } from "../../src/data/dataset.js";
import { loadStl10, STL10_CLASSES, stl10HasSplit, stl10Reader } from "../../src/data/stl10.js";
import { isUserError, removeDir, tmpDir } from "./fixtures.js";

const IMAGE = 3 * 96 * 96;
const dir = tmpDir("stl10");
after(() => removeDir(dir));

// Value of pixel (row y, column x) of channel c of image i.
function px(i: number, c: number, y: number, x: number): number {
  return (i * 37 + c * 101 + y * 3 + x * 5) & 0xff;
}

// Images as the STL-10 binary stores them: per channel, column-major (x outer, y inner).
function xFile(first: number, n: number): Buffer {
  const buf = Buffer.alloc(n * IMAGE);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      for (let x = 0; x < 96; x++) {
        for (let y = 0; y < 96; y++) buf[i * IMAGE + c * 9216 + x * 96 + y] = px(first + i, c, y, x);
      }
    }
  }
  return buf;
}

function writeStl(d: string): void {
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, "train_X.bin"), xFile(0, 4));
  fs.writeFileSync(path.join(d, "train_y.bin"), Buffer.from([1, 10, 3, 4]));
  fs.writeFileSync(path.join(d, "test_X.bin"), xFile(10, 2));
  fs.writeFileSync(path.join(d, "test_y.bin"), Buffer.from([2, 2]));
  fs.writeFileSync(path.join(d, "unlabeled_X.bin"), xFile(20, 5));
}

function checkImage(img: Uint8Array, i: number): void {
  for (const [c, y, x] of [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 5, 90], [2, 95, 3], [2, 95, 95]]) {
    assert.equal(img[c * 9216 + y * 96 + x], px(i, c, y, x), `image ${i} pixel c${c} y${y} x${x}`);
  }
}

test("train split: transposed to row-major, labels 1..10 become 0..9", () => {
  const d = path.join(dir, "a");
  writeStl(d);
  const set = loadStl10(d, "train");
  assert.equal(set.n, 4);
  assert.deepEqual([set.channels, set.height, set.width], [3, 96, 96]);
  assert.deepEqual(Array.from(set.labels!), [0, 9, 2, 3]);
  assert.deepEqual(set.classes, STL10_CLASSES);
  for (let i = 0; i < 4; i++) checkImage(imageAt(set, i), i);
});

test("reader reads any range lazily; unlabeled has no labels; limit caps the count", () => {
  const d = path.join(dir, "a");
  const r = stl10Reader(d, "unlabeled");
  assert.equal(r.count, 5);
  const part = r.read(2, 2);
  assert.equal(part.n, 2);
  assert.equal(part.labels, null);
  checkImage(imageAt(part, 0), 22);
  checkImage(imageAt(part, 1), 23);
  assert.equal(r.read(5, 0).n, 0);
  assert.throws(() => r.read(4, 2), RangeError);
  const lim = loadStl10(d, "unlabeled", 3);
  assert.equal(lim.n, 3);
  checkImage(imageAt(lim, 2), 22);
  const t = stl10Reader(d, "test").read(1, 1);
  assert.deepEqual(Array.from(t.labels!), [1]);
  checkImage(imageAt(t, 0), 11);
});

test("finds stl10_binary/ and reads class_names.txt", () => {
  const d = path.join(dir, "nested");
  writeStl(path.join(d, "stl10_binary"));
  const names = STL10_CLASSES.map((c) => c.toUpperCase());
  fs.writeFileSync(path.join(d, "stl10_binary", "class_names.txt"), names.join("\n") + "\n");
  assert.deepEqual(loadStl10(d, "test").classes, names);
  assert.ok(stl10HasSplit(d, "unlabeled"));
});

test("wrong sizes, label counts and label values are UserErrors", () => {
  const d = path.join(dir, "bad");
  writeStl(d);
  const x = path.join(d, "train_X.bin");
  fs.truncateSync(x, 3 * IMAGE + 100);
  assert.throws(() => stl10Reader(d, "train"), isUserError(x, "multiple of 27648"));
  fs.writeFileSync(x, xFile(0, 4));
  const y = path.join(d, "train_y.bin");
  fs.writeFileSync(y, Buffer.from([1, 2, 3]));
  assert.throws(() => stl10Reader(d, "train"), isUserError(y, "3 labels", "4 images"));
  fs.writeFileSync(y, Buffer.from([1, 2, 0, 4]));
  assert.throws(() => stl10Reader(d, "train"), isUserError(y, "label 0", "1..10"));
  fs.unlinkSync(path.join(d, "unlabeled_X.bin"));
  assert.ok(!stl10HasSplit(d, "unlabeled"));
  assert.throws(() => stl10Reader(d, "unlabeled"), isUserError("unlabeled_X.bin", "no such file"));
});

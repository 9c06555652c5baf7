import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { CIFAR10_CLASSES, loadCifar10, readCifarBatch } from "../../src/data/cifar.js";
import { imageAt } from "../../src/data/dataset.js";
import { isUserError, pattern, removeDir, tmpDir } from "./fixtures.js";

const RECORD = 3073;
const dir = tmpDir("cifar");
after(() => removeDir(dir));

// Records whose pixels encode (global image number, byte index) and whose labels cycle.
function batch(first: number, n: number): Buffer {
  const buf = Buffer.alloc(n * RECORD);
  for (let i = 0; i < n; i++) {
    buf[i * RECORD] = (first + i) % 10;
    for (let k = 0; k < 3072; k++) buf[i * RECORD + 1 + k] = pattern(first + i, k);
  }
  return buf;
}

function writeCifar(d: string, perBatch = 2): void {
  fs.mkdirSync(d, { recursive: true });
  for (let b = 1; b <= 5; b++) fs.writeFileSync(path.join(d, `data_batch_${b}.bin`), batch((b - 1) * perBatch, perBatch));
  fs.writeFileSync(path.join(d, "test_batch.bin"), batch(100, 3));
}

test("loads the five train batches in order and the test batch", () => {
  const d = path.join(dir, "plain");
  writeCifar(d);
  const train = loadCifar10(d, "train");
  assert.equal(train.n, 10);
  assert.deepEqual([train.channels, train.height, train.width], [3, 32, 32]);
  assert.deepEqual(Array.from(train.labels!), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(train.classes, CIFAR10_CLASSES);
  for (const i of [0, 7, 9]) {
    const img = imageAt(train, i);
    // Record layout is R plane, G plane, B plane, each row-major: already CHW.
    for (const k of [0, 1023, 1024, 2047, 3071]) assert.equal(img[k], pattern(i, k));
  }
  const t = loadCifar10(d, "test");
  assert.equal(t.n, 3);
  assert.equal(imageAt(t, 2)[5], pattern(102, 5));
  assert.deepEqual(Array.from(t.labels!), [0, 1, 2]);
});

test("finds cifar-10-batches-bin/ and reads class names from batches.meta.txt", () => {
  const d = path.join(dir, "nested");
  writeCifar(path.join(d, "cifar-10-batches-bin"), 1);
  const names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
  fs.writeFileSync(path.join(d, "cifar-10-batches-bin", "batches.meta.txt"), names.join("\n") + "\n\n\n");
  const set = loadCifar10(d, "train");
  assert.equal(set.n, 5);
  assert.deepEqual(set.classes, names);
});

test("a size that is not a multiple of 3073 is a UserError", () => {
  const p = path.join(dir, "short.bin");
  fs.writeFileSync(p, batch(0, 2).subarray(0, 2 * RECORD - 1));
  assert.throws(() => readCifarBatch(p), isUserError(p, "6145", "3073"));
  fs.writeFileSync(p, Buffer.alloc(0));
  assert.throws(() => readCifarBatch(p), isUserError(p, "multiple of the 3073"));
});

test("a label outside the classes is a UserError", () => {
  const p = path.join(dir, "label.bin");
  const b = batch(0, 2);
  b[RECORD] = 10;
  fs.writeFileSync(p, b);
  assert.throws(() => readCifarBatch(p), isUserError(p, "label 10", "record 1"));
});

test("a missing batch file is a UserError naming it", () => {
  const d = path.join(dir, "missing");
  writeCifar(d);
  fs.unlinkSync(path.join(d, "data_batch_4.bin"));
  assert.throws(() => loadCifar10(d, "train"), isUserError("data_batch_4.bin", "no such file"));
  assert.throws(() => loadCifar10(path.join(dir, "absent"), "test"), isUserError("absent", "directory not found"));
});

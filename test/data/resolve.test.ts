import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { PNG } from "pngjs";
import { DATASET_FORMS, FolderReader, parseDatasetSpec, resolveDataset, sampleIndices } from "../../src/data/index.js";
import { isUserError, patternImages, removeDir, tmpDir, writeIdx, writePngFolder } from "./fixtures.js";

const root = tmpDir("resolve");
after(() => removeDir(root));

function writeIdxSplit(d: string, prefix: string, n: number, value: number): void {
  fs.mkdirSync(d, { recursive: true });
  writeIdx(path.join(d, `${prefix}-images-idx3-ubyte.gz`), 0x803, [n, 2, 2], new Uint8Array(n * 4).fill(value), true);
  writeIdx(path.join(d, `${prefix}-labels-idx1-ubyte.gz`), 0x801, [n], new Uint8Array(n).fill(3), true);
}

function writePng(file: string, rgb: [number, number, number]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const png = new PNG({ width: 4, height: 4 });
  for (let p = 0; p < 16; p++) png.data.set([...rgb, 255], p * 4);
  fs.writeFileSync(file, PNG.sync.write(png));
}

test("parses every valid form and rejects the rest with the list of forms", () => {
  assert.deepEqual(parseDatasetSpec("fashion-mnist"), { kind: "fashion-mnist", dir: null });
  assert.deepEqual(parseDatasetSpec("fashion-mnist:/d"), { kind: "fashion-mnist", dir: "/d" });
  assert.deepEqual(parseDatasetSpec("cifar10:/a:b"), { kind: "cifar10", dir: "/a:b" });
  for (const k of ["mnist", "stl10", "folder"]) assert.deepEqual(parseDatasetSpec(`${k}:x`), { kind: k, dir: "x" });
  assert.throws(() => parseDatasetSpec("imagenet"), isUserError('unknown dataset "imagenet"', ...DATASET_FORMS));
  assert.throws(() => parseDatasetSpec("cifar10"), isUserError("cifar10 needs a directory"));
  assert.throws(() => parseDatasetSpec("folder:"), isUserError("valid forms"));
});

test("fashion-mnist from opts.dataDir, with mean/std from train and a limit", async () => {
  const d = path.join(root, "fm");
  writeIdxSplit(d, "train", 6, 51);
  writeIdxSplit(d, "t10k", 2, 0);
  const r = await resolveDataset("fashion-mnist", { dataDir: d, limit: 4 });
  assert.equal(r.name, "fashion-mnist");
  assert.equal(r.train.n, 4);
  assert.equal(r.trainLabeled, r.train.set);
  assert.equal(r.test!.n, 2);
  assert.deepEqual(r.mean, [0.2]);
  assert.deepEqual(r.std, [0]);
  const explicit = await resolveDataset(`fashion-mnist:${d}`);
  assert.equal(explicit.train.n, 6);
  await assert.rejects(resolveDataset("fashion-mnist", { dataDir: path.join(root, "none") }), isUserError("none"));
});

test("mnist:DIR and cifar10:DIR", async () => {
  const m = path.join(root, "mnist");
  writeIdxSplit(m, "train", 3, 255);
  writeIdxSplit(m, "t10k", 1, 255);
  const r = await resolveDataset(`mnist:${m}`);
  assert.deepEqual([r.train.n, r.test!.n, r.mean[0]], [3, 1, 1]);
  const c = path.join(root, "cifar");
  fs.mkdirSync(c);
  const rec = Buffer.alloc(3073);
  rec.fill(255, 1, 1025); // red plane full, green and blue empty
  for (let b = 1; b <= 5; b++) fs.writeFileSync(path.join(c, `data_batch_${b}.bin`), rec);
  fs.writeFileSync(path.join(c, "test_batch.bin"), rec);
  const rc = await resolveDataset(`cifar10:${c}`);
  assert.equal(rc.train.n, 5);
  assert.deepEqual(rc.mean, [1, 0, 0]);
});

test("stl10:DIR pretrains on unlabeled (limited) + train; evaluates with train and test", async () => {
  const d = path.join(root, "stl");
  fs.mkdirSync(d);
  const IMG = 3 * 96 * 96;
  fs.writeFileSync(path.join(d, "train_X.bin"), Buffer.alloc(2 * IMG, 10));
  fs.writeFileSync(path.join(d, "train_y.bin"), Buffer.from([1, 2]));
  fs.writeFileSync(path.join(d, "test_X.bin"), Buffer.alloc(IMG));
  fs.writeFileSync(path.join(d, "test_y.bin"), Buffer.from([5]));
  fs.writeFileSync(path.join(d, "unlabeled_X.bin"), Buffer.alloc(4 * IMG, 20));
  const r = await resolveDataset(`stl10:${d}`, { limit: 3 });
  assert.equal(r.train.n, 5);
  assert.deepEqual(Array.from(r.train.labels!), [-1, -1, -1, 0, 1]);
  assert.equal(r.trainLabeled!.n, 2);
  assert.equal(r.test!.n, 1);
  assert.ok(Math.abs(r.mean[0] - (3 * 20 + 2 * 10) / 5 / 255) < 1e-12);
  fs.unlinkSync(path.join(d, "unlabeled_X.bin"));
  const noUnlabeled = await resolveDataset(`stl10:${d}`);
  assert.equal(noUnlabeled.train.n, 2);
});

test("folder:DIR with train/ and test/ splits, and a plain folder", async () => {
  const d = path.join(root, "imgs");
  writePng(path.join(d, "train", "a", "1.png"), [255, 0, 0]);
  writePng(path.join(d, "train", "b", "2.png"), [0, 0, 255]);
  writePng(path.join(d, "test", "a", "3.png"), [255, 0, 0]);
  writePng(path.join(d, "test", "b", "4.png"), [0, 0, 255]);
  const r = await resolveDataset(`folder:${d}`, { imageSize: 4, workers: 1 });
  assert.deepEqual([r.train.n, r.test!.n], [2, 2]);
  assert.deepEqual(r.train.classes, ["a", "b"]);
  assert.deepEqual(r.mean, [0.5, 0, 0.5]);
  assert.deepEqual(r.std, [0.5, 0, 0.5]);
  assert.equal(r.trainLabeled, r.train.set);
  const flat = path.join(root, "flatimgs");
  writePng(path.join(flat, "x.png"), [0, 0, 0]);
  const f = await resolveDataset(`folder:${flat}`, { imageSize: 4, channels: 1, workers: 1 });
  assert.deepEqual([f.train.n, f.train.channels, f.test, f.trainLabeled], [1, 1, null, null]);
});

test("folder:DIR streamed: the statistics and evaluation sets of the in-memory path, or capped samples", async () => {
  const d = path.join(root, "streamed");
  const image = { channels: 3, height: 4, width: 4, classes: ["a", "b", "c"], ids: null };
  const labelsOf = (n: number) => Int32Array.from({ length: n }, (_, i) => i % 3);
  await writePngFolder(path.join(d, "train"), { ...image, images: patternImages(12, 48), n: 12, labels: labelsOf(12) });
  await writePngFolder(path.join(d, "val"), { ...image, images: patternImages(9, 48), n: 9, labels: labelsOf(9) });
  const o = { imageSize: 4, workers: 1, seed: 3 };
  const memory = await resolveDataset(`folder:${d}`, { ...o, streaming: "never" });
  const auto = await resolveDataset(`folder:${d}`, o);
  assert.ok(auto.train.set !== null, "auto keeps a small folder in memory");
  const streamed = await resolveDataset(`folder:${d}`, { ...o, streaming: "always" });
  const capped = await resolveDataset(`folder:${d}`, { ...o, streaming: "always", evalBytes: 5 * 48, evalTrainLimit: 4 });
  const trainOnly = await resolveDataset(`folder:${d}`, { ...o, streaming: "always", evalSets: false });
  await trainOnly.train.close();
  assert.deepEqual([trainOnly.trainLabeled, trainOnly.test, trainOnly.mean], [null, null, memory.mean], "a rank that only trains decodes no evaluation sets");
  try {
    assert.ok(streamed.train instanceof FolderReader && streamed.train.set === null);
    assert.deepEqual([streamed.train.n, streamed.train.classes], [12, ["a", "b", "c"]]);
    assert.deepEqual(Array.from(streamed.train.labels!), Array.from(memory.train.labels!));
    assert.deepEqual([streamed.mean, streamed.std], [memory.mean, memory.std], "all 12 images are within the statistics sample");
    assert.deepEqual(streamed.trainLabeled, memory.trainLabeled);
    assert.deepEqual(streamed.test, memory.test);
    assert.deepEqual(streamed.notes, []);
    // Capped: the train sample is the one evaluation's own maxTrain subsampling picks.
    const pick = Array.from(sampleIndices(12, 4, 3, true));
    assert.deepEqual(capped.trainLabeled!.ids, pick.map((i) => memory.train.set!.ids![i]));
    assert.equal(capped.test!.n, 5);
    assert.equal(capped.notes.length, 2);
    assert.match(capped.notes[0], /fixed sample of 4 of the 12 labeled training images/);
  } finally {
    await streamed.train.close();
    await capped.train.close();
  }
});

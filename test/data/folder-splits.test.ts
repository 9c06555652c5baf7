// How a folder dataset is split for evaluation: its own train/ and test/ subfolders, a seeded,
// class-stratified held-out part of a folder of class subfolders, or no evaluation for a flat folder.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { resolveDataset, type ResolvedDataset } from "../../src/data/index.js";
import { stratifiedHoldout } from "../../src/data/holdout.js";
import { tinyImages } from "../eval/helpers.js";
import { isUserError, removeDir, tmpDir, writePngFolder } from "./fixtures.js";

const root = tmpDir("folder-splits");
after(() => removeDir(root));
const classes = join(root, "classes");
const split = join(root, "split");
const flat = join(root, "flat");

// Class sizes 20, 15, 10, 1 (labels in blocks, so the folder listing keeps them in this order).
const SIZES = [20, 15, 10, 1];
const NAMES = ["ant", "bee", "cat", "dog"];

function blockLabels(sizes: number[]): Int32Array {
  return Int32Array.from(sizes.flatMap((n, c) => Array.from({ length: n }, () => c)));
}

function countPerClass(labels: ArrayLike<number>, k: number): number[] {
  const out = new Array(k).fill(0);
  for (const l of Array.from(labels)) out[l]++;
  return out;
}

before(async () => {
  const n = SIZES.reduce((a, b) => a + b);
  const set = tinyImages(n, 3, 8, 1, 3);
  await writePngFolder(classes, { ...set, labels: blockLabels(SIZES), classes: NAMES });
  const two = (m: number, seed: number) => ({ ...tinyImages(m, 3, 8, 2, seed), classes: ["a", "b"] });
  await writePngFolder(join(split, "train"), two(12, 4));
  await writePngFolder(join(split, "test"), two(6, 5));
  await writePngFolder(flat, tinyImages(10, 3, 8, 1, 6, false));
});

test("stratifiedHoldout: round(n x fraction) per class, at least one of two or more, never a whole class", () => {
  const labels = blockLabels([10, 5, 1, 2, 3]);
  const s = stratifiedHoldout(labels, 0.2, 7);
  // By hand: 10 -> 2, 5 -> 1, 1 -> 0 (a single image stays in train), 2 -> max(1, round(0.4)) = 1, 3 -> round(0.6) = 1.
  assert.deepEqual(countPerClass(Array.from(s.test, (i) => labels[i]), 5), [2, 1, 0, 1, 1]);
  assert.deepEqual(countPerClass(Array.from(s.train, (i) => labels[i]), 5), [8, 4, 1, 1, 2]);
  // A partition of all indices, each part sorted.
  assert.deepEqual([...s.train, ...s.test].sort((a, b) => a - b), Array.from(labels, (_, i) => i));
  for (const part of [s.train, s.test]) assert.deepEqual(Array.from(part), Array.from(part).sort((a, b) => a - b));
  // fraction 0.5: 10 -> 5, 5 -> round(2.5) = 3; fraction 0.9 of 2 -> 1 (one must stay for training).
  assert.deepEqual(countPerClass(Array.from(stratifiedHoldout(labels, 0.5, 0).test, (i) => labels[i]), 5), [5, 3, 0, 1, 2]);
  assert.deepEqual(countPerClass(Array.from(stratifiedHoldout(labels, 0.9, 0).test, (i) => labels[i]), 5), [9, 4, 0, 1, 2]);
});

test("stratifiedHoldout: the same seed gives the same split, another seed another; unlabeled images stay in train", () => {
  const labels = blockLabels([50, 50]);
  const a = stratifiedHoldout(labels, 0.2, 1);
  assert.deepEqual(stratifiedHoldout(labels, 0.2, 1), a);
  assert.notDeepEqual(Array.from(stratifiedHoldout(labels, 0.2, 2).test), Array.from(a.test));
  // Growing class 1 does not move class 0's held-out images.
  const grown = blockLabels([50, 80]);
  const b = stratifiedHoldout(grown, 0.2, 1);
  assert.deepEqual(Array.from(b.test).filter((i) => i < 50), Array.from(a.test).filter((i) => i < 50));
  const mixed = Int32Array.from([-1, 0, 0, 0, 0, 0, -1]);
  const m = stratifiedHoldout(mixed, 0.2, 0);
  assert.equal(m.test.length, 1);
  assert.ok(m.train.includes(0) && m.train.includes(6));
  for (const f of [0, 1, -0.1, Number.NaN]) assert.throws(() => stratifiedHoldout(labels, f, 0), RangeError);
});

async function open(spec: string, o: Parameters<typeof resolveDataset>[1] = {}): Promise<ResolvedDataset> {
  return resolveDataset(spec, { imageSize: 8, workers: 1, ...o });
}

test("a folder of class subfolders: every image pretrains, a stratified 20% is the test split, the rest the probes' train split", async () => {
  for (const streaming of ["never", "always"] as const) {
    const d = await open(`folder:${classes}`, { seed: 5, streaming });
    try {
      assert.equal(d.train.n, 46, streaming);
      // 20 -> 4, 15 -> 3, 10 -> 2, 1 -> 0.
      assert.deepEqual(countPerClass(d.test!.labels!, 4), [4, 3, 2, 0], streaming);
      assert.deepEqual(countPerClass(d.trainLabeled!.labels!, 4), [16, 12, 8, 1], streaming);
      const testIds = new Set(d.test!.ids);
      assert.ok(d.trainLabeled!.ids!.every((id) => !testIds.has(id)), "no held-out image is a probe training image");
      assert.equal(d.testSplit, `held-out 20% of ${classes}, class-stratified, seed 5 (also seen unlabelled during pretraining)`);
      assert.equal(d.noLabels, undefined);
    } finally {
      await d.train.close();
    }
  }
});

test("the held-out split is the same in memory and streamed, the same for the same seed, and follows evalHoldout", async () => {
  const ids = async (o: Parameters<typeof resolveDataset>[1]) => {
    const d = await open(`folder:${classes}`, o);
    await d.train.close();
    return { test: d.test!.ids, train: d.trainLabeled!.ids, split: d.testSplit };
  };
  const a = await ids({ seed: 3, streaming: "never" });
  assert.deepEqual(await ids({ seed: 3, streaming: "never" }), a);
  assert.deepEqual(await ids({ seed: 3, streaming: "always" }), a);
  assert.notDeepEqual((await ids({ seed: 4, streaming: "never" })).test, a.test);
  const half = await ids({ seed: 3, evalHoldout: 0.5 });
  // 20 -> 10, 15 -> round(7.5) = 8, 10 -> 5, 1 -> 0.
  assert.equal(half.test!.length, 23);
  assert.match(half.split!, /^held-out 50% of /);
  await assert.rejects(open(`folder:${classes}`, { evalHoldout: 1 }), isUserError("evalHoldout must be in (0, 1), got 1"));
});

test("train/ and test/ subfolders are the splits; a flat folder has none and says why", async () => {
  const d = await open(`folder:${split}`);
  await d.train.close();
  assert.deepEqual([d.train.n, d.trainLabeled!.n, d.test!.n], [12, 12, 6]);
  assert.equal(d.testSplit, `${join(split, "test")} (the folder's own test split)`);
  const f = await open(`folder:${flat}`);
  await f.train.close();
  assert.equal(f.train.n, 10);
  assert.equal(f.test, null);
  assert.equal(f.trainLabeled, null);
  assert.match(f.noLabels!, /has no class subfolders/);
});

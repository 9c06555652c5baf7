import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { evaluateRepresentations, prepareSplits } from "../../src/eval/evaluate.js";
import { UserError } from "../../src/util/errors.js";
import { tinyImages } from "./helpers.js";

const C = 2, S = 6, CLASSES = 3;
const train = tinyImages(90, C, S, CLASSES, 1);
const testSet = tinyImages(30, C, S, CLASSES, 2);
const MEAN = [0.4, 0.4];
const STD = [0.25, 0.25];

// "Trained": flatten + a fixed random projection to 16 dims. "Random": all zeros (no information).
T.manualSeed(5);
const P = T.randn([C * S * S, 16]).keep();
const embedTrained = (x: T.Tensor) => x.flatten(1).mm(P);
const embedRandom = (x: T.Tensor) => T.zeros([x.size(0), 16], { device: x.device });

const fraction = (v: unknown) => typeof v === "number" && v >= 0 && v <= 1;

test("produces the eval.json structure with fractions in [0, 1]", () => {
  const logs: string[] = [];
  const before = T.liveTensors();
  const r = evaluateRepresentations({
    embedTrained, embedRandom, train, test: testSet, mean: MEAN, std: STD, knnK: 10, log: (m) => logs.push(m),
  });
  assert.equal(T.liveTensors(), before, "no tensor leaked");
  for (const v of [r.knn_top1, r.linear_top1, r.baselines.random_init.knn_top1, r.baselines.random_init.linear_top1, r.baselines.raw_pixels.linear_top1]) {
    assert.ok(fraction(v), `${v}`);
  }
  // The class patterns are easy: the projection and the pixels separate them; zeros cannot.
  assert.ok(r.knn_top1 > 0.9, `knn ${r.knn_top1}`);
  assert.ok(r.linear_top1 > 0.9, `linear ${r.linear_top1}`);
  assert.ok(r.baselines.raw_pixels.linear_top1 > 0.9);
  assert.ok(r.baselines.random_init.linear_top1 <= 0.34, `zeros ${r.baselines.random_init.linear_top1}`);
  assert.equal(r.train_images, 90);
  assert.equal(r.test_images, 30);
  assert.equal(r.max_train, null);
  assert.equal(r.feature_dim, 16);
  assert.equal(r.num_classes, 3);
  assert.deepEqual(r.knn, { k: 10, temperature: 0.1 });
  assert.ok(r.timings.total_s >= 0 && Object.keys(r.timings).length === 5);
  assert.ok(logs.length > 0);
  JSON.parse(JSON.stringify(r)); // plain JSON
});

test("maxTrain subsamples the train split deterministically", () => {
  const opts = { embedTrained, embedRandom, train, test: testSet, mean: MEAN, std: STD, knnK: 200, maxTrain: 40, seed: 9 };
  const a = evaluateRepresentations(opts);
  const b = evaluateRepresentations(opts);
  assert.equal(a.train_images, 40);
  assert.equal(a.max_train, 40);
  assert.equal(a.knn.k, 40, "k clamped to the bank size");
  const strip = (r: typeof a) => ({ ...r, timings: null });
  assert.deepEqual(strip(a), strip(b));
  const p1 = prepareSplits(train, testSet, 40, 9).train;
  const p2 = prepareSplits(train, testSet, 40, 10).train;
  assert.notDeepEqual(p1.images, p2.images, "another seed picks another subset");
});

test("unlabeled images (-1) are left out; a set without labels is a UserError", () => {
  const mixed = { ...train, labels: train.labels!.map((l, i) => (i < 30 ? -1 : l)) };
  assert.equal(prepareSplits(mixed, testSet, undefined, 0).train.n, 60);
  const unlabeled = { ...train, labels: null };
  assert.throws(() => evaluateRepresentations({ embedTrained, embedRandom, train: unlabeled, test: testSet, mean: MEAN, std: STD }), (e: unknown) => e instanceof UserError && /evaluation needs labels/.test(e.message));
  assert.throws(() => prepareSplits(train, { ...testSet, labels: null }, undefined, 0), /evaluation needs labels/);
  assert.throws(() => prepareSplits(train, tinyImages(5, 1, S, 3, 3), undefined, 0), UserError);
});

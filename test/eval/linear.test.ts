import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { linearProbe } from "../../src/eval/linear.js";
import { UserError } from "../../src/util/errors.js";
import { blobs, gaussians, kept } from "./helpers.js";

const D = 16;
const train = blobs(400, D, 4, 1.5, 11);
const testSet = blobs(200, D, 4, 1.5, 12);

function withFeatures<R>(fn: (ftr: T.Tensor, fte: T.Tensor) => R, scale = 1, shift = 0): R {
  const ftr = kept(train.x.map((v) => v * scale + shift), 400, D);
  const fte = kept(testSet.x.map((v) => v * scale + shift), 200, D);
  try {
    return fn(ftr, fte);
  } finally {
    ftr.dispose();
    fte.dispose();
  }
}

test("separable Gaussian blobs: ~100% test accuracy", () => {
  const r = withFeatures((a, b) => linearProbe(a, train.labels, b, testSet.labels, { epochs: 30 }));
  assert.ok(r.top1 >= 0.98, `test top-1 ${r.top1}`);
  assert.ok(r.trainTop1 >= 0.99, `train top-1 ${r.trainTop1}`);
  // 400 rows at batch 512 is one step per epoch, so minSteps (1000) sets the number of epochs.
  assert.equal(r.epochs, 1000);
  assert.ok(r.finalLoss < 0.25, `final loss ${r.finalLoss}`);
});

test("SGD with momentum also separates the blobs", () => {
  const r = withFeatures((a, b) => linearProbe(a, train.labels, b, testSet.labels, { optimizer: "sgd", epochs: 20, batchSize: 64, minSteps: 0 }));
  assert.equal(r.epochs, 20);
  assert.ok(r.top1 >= 0.98, `test top-1 ${r.top1}`);
});

test("shuffled labels: test accuracy near chance (1/4)", () => {
  const g = gaussians(99);
  const shuffled = (n: number) => Int32Array.from({ length: n }, () => Math.floor(((g() + 10) * 1000) % 4));
  const r = withFeatures((a, b) => linearProbe(a, shuffled(400), b, shuffled(200), { epochs: 30 }));
  assert.ok(r.top1 > 0.1 && r.top1 < 0.42, `test top-1 ${r.top1}`);
});

test("deterministic under a seed; restores the global generator", () => {
  const opts = { epochs: 5, batchSize: 32, minSteps: 0, seed: 3 };
  T.manualSeed(123);
  const a = withFeatures((x, y) => linearProbe(x, train.labels, y, testSet.labels, opts));
  const afterA = T.tidy(() => T.rand([4]).toList());
  T.manualSeed(123);
  const b = withFeatures((x, y) => linearProbe(x, train.labels, y, testSet.labels, opts));
  assert.deepEqual(a, b);
  T.manualSeed(123);
  const untouched = T.tidy(() => T.rand([4]).toList());
  assert.deepEqual(afterA, untouched, "the caller's random stream is unchanged by the probe");
  const c = withFeatures((x, y) => linearProbe(x, train.labels, y, testSet.labels, { ...opts, seed: 4 }));
  assert.notEqual(c.finalLoss, a.finalLoss, "another seed gives another batch order");
});

test("standardisation makes the result independent of the features' scale and offset", () => {
  const opts = { epochs: 10, batchSize: 50, minSteps: 0 };
  const a = withFeatures((x, y) => linearProbe(x, train.labels, y, testSet.labels, opts));
  const b = withFeatures((x, y) => linearProbe(x, train.labels, y, testSet.labels, opts), 1000, -50);
  assert.equal(b.top1, a.top1);
  assert.ok(Math.abs(a.finalLoss - b.finalLoss) < 1e-3, `${a.finalLoss} vs ${b.finalLoss}`);
});

test("constant features: predicts one class (no NaN) and frees its tensors", () => {
  const ftr = T.zeros([40, 8]).keep();
  const fte = T.zeros([20, 8]).keep();
  const before = T.liveTensors();
  const labels = Int32Array.from({ length: 40 }, (_, i) => (i < 30 ? 2 : i % 2));
  const r = linearProbe(ftr, labels, fte, Int32Array.from({ length: 20 }, (_, i) => (i < 5 ? 2 : 0)), { epochs: 3, minSteps: 0 });
  assert.equal(T.liveTensors(), before);
  assert.equal(r.top1, 0.25); // always the majority class 2
  assert.ok(Number.isFinite(r.finalLoss));
  ftr.dispose();
  fte.dispose();
});

test("rejects bad arguments with UserError", () => {
  withFeatures((a, b) => {
    assert.throws(() => linearProbe(a, train.labels.subarray(1), b, testSet.labels), UserError);
    assert.throws(() => linearProbe(a, train.labels, b, testSet.labels, { epochs: 0 }), UserError);
    assert.throws(() => linearProbe(a, train.labels, b, testSet.labels, { lr: -1 }), UserError);
    assert.throws(() => linearProbe(a, train.labels, b, testSet.labels, { optimizer: "lamb" as "sgd" }), UserError);
    assert.throws(() => linearProbe(a, train.labels, b, testSet.labels, { numClasses: 3 }), UserError);
  });
});

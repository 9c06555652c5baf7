import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { extractFeatures, extractFeaturesStream, rawPixelFeatures } from "../../src/eval/features.js";
import { batches, epochOrder } from "../../src/data/loader.js";
import { inMemoryData } from "../../src/data/training-data.js";
import { UserError } from "../../src/util/errors.js";
import { tinyImages } from "./helpers.js";

const MEAN = [0.4, 0.5];
const STD = [0.2, 0.25];

test("rawPixelFeatures is (x/255 − mean)/std per channel, flattened", () => {
  const set = tinyImages(5, 2, 3, 3, 1);
  const f = rawPixelFeatures(set, MEAN, STD);
  try {
    assert.deepEqual(f.shape, [5, 18]);
    assert.equal(f.dtype, "float32");
    assert.equal(f.device, "cpu");
    const got = f.toFloat32Array();
    for (let i = 0; i < set.images.length; i++) {
      const ch = Math.floor((i % 18) / 9);
      const want = (set.images[i] / 255 - MEAN[ch]) / STD[ch];
      assert.ok(Math.abs(got[i] - want) < 1e-5, `element ${i}: ${got[i]} vs ${want}`);
    }
  } finally {
    f.dispose();
  }
});

test("extractFeatures batches the set, keeps row order and frees everything but the result", () => {
  const set = tinyImages(11, 2, 4, 3, 2);
  // A fixed embedding: per-image channel means (two numbers per image).
  const embed = (x: T.Tensor) => x.mean([2, 3]);
  const ref = T.tidy(() => rawPixelFeatures(set, MEAN, STD).view(11, 2, 16).mean(2).toFloat32Array());
  const before = T.liveTensors();
  for (const batchSize of [1, 4, 11, 64]) {
    const f = extractFeatures(embed, set, { batchSize, mean: MEAN, std: STD });
    assert.deepEqual(f.shape, [11, 2]);
    const got = f.toFloat32Array();
    ref.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-5, `batch ${batchSize}, element ${i}`));
    assert.ok(f.kept, "the result is kept");
    f.dispose();
    assert.equal(T.liveTensors(), before, `batch ${batchSize}: no tensor leaked`);
  }
});

test("extractFeaturesStream gives extractFeatures' rows for a stream of batches, with labels, and leaks nothing", async () => {
  const set = { ...tinyImages(11, 2, 4, 3, 2), ids: Array.from({ length: 11 }, (_, i) => `img${i}`) };
  const embed = (x: T.Tensor) => x.mean([2, 3]);
  const whole = extractFeatures(embed, set, { mean: MEAN, std: STD });
  const ref = whole.toFloat32Array();
  whole.dispose();
  const before = T.liveTensors();
  for (const batchSize of [1, 4, 11]) {
    const stream = inMemoryData(set).batches(batches(epochOrder(11, 0, 0, { shuffle: false }), batchSize, false));
    const { features, ids, labels } = await extractFeaturesStream(embed, stream, { mean: MEAN, std: STD });
    assert.deepEqual(features.shape, [11, 2]);
    assert.deepEqual(Array.from(features.toFloat32Array()), Array.from(ref), `batch ${batchSize}`);
    assert.deepEqual(ids, set.ids);
    assert.deepEqual(labels, set.labels);
    features.dispose();
    assert.equal(T.liveTensors(), before, `batch ${batchSize}: no tensor leaked`);
  }
});

test("runs the embedding without recording gradients", () => {
  const set = tinyImages(3, 1, 2, 2, 3);
  const w = T.ones([4, 2]).requiresGrad_().keep();
  let recorded = true;
  const f = extractFeatures((x) => {
    const y = x.flatten(1).mm(w);
    recorded = y.requiresGrad;
    return y;
  }, set, { mean: [0.5], std: [0.5] });
  assert.equal(recorded, false);
  f.dispose();
  w.dispose();
});

test("bad inputs: mean/std length, zero std, wrong embedding shape", () => {
  const set = tinyImages(3, 2, 2, 2, 4);
  assert.throws(() => rawPixelFeatures(set, [0.5], [0.5]), UserError);
  assert.throws(() => rawPixelFeatures(set, MEAN, [0.2, 0]), UserError);
  assert.throws(() => extractFeatures((x) => x.flatten(1).sum(1), set, { mean: MEAN, std: STD }), /expected \[3, d\]/);
  assert.throws(() => extractFeatures((x) => x, set, { mean: MEAN, std: STD, batchSize: 0 }), UserError);
  const before = T.liveTensors();
  assert.throws(() => extractFeatures((x) => x.flatten(1).log().sub(1e9).exp().log(), set, { mean: MEAN, std: STD }), /non-finite/);
  assert.equal(T.liveTensors(), before, "nothing leaked on the error path");
});

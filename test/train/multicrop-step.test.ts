// Multi-crop in the training step (src/train/step.ts with augment.localViews): off, the step is BYOL's
// step to the bit; on, it reads nothing back, its device-scalar arithmetic (what a CUDA graph replays)
// matches the eager one, and a run trains, checkpoints its local predictor and resumes.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { channelStats, inMemoryData, type ImageSet, type ResolvedDataset } from "../../src/data/index.js";
import { presetConfig, setField, validateConfig, type TrainConfig } from "../../src/train/config.js";
import { resolveRecipe } from "../../src/train/recipe.js";
import { makeAugmenters, makeLearner, makeLocalViews, makeOptimizer } from "../../src/train/build.js";
import { TrainStep } from "../../src/train/step.js";
import { train } from "../../src/train/trainer.js";
import { loadCheckpoint, checkpointPath } from "../../src/train/checkpoint.js";
import { readMetrics } from "../../src/train/metrics.js";
import { makeViews } from "../../src/augment/index.js";
import { BYOL, MultiCropBYOL } from "../../src/byol/index.js";
import { UserError } from "../../src/util/errors.js";
import { removeDir, tmpDir } from "../data/fixtures.js";
import { tinyImages } from "../eval/helpers.js";

const root = tmpDir("multicrop-step");
after(() => removeDir(root));
before(() => T.setNumThreads(1));

const BATCH = 16;
const SIZE = 28;

function config(localViews: Partial<TrainConfig["augment"]["localViews"]> = {}, localPredictor: "shared" | "separate" = "separate"): TrainConfig {
  const cfg = presetConfig("smoke");
  Object.assign(cfg, { threads: 1, batchSize: BATCH, epochs: 1, logEverySteps: 4, checkpointEverySteps: 1000 });
  cfg.knn = { ...cfg.knn, everyEpochs: 0 };
  cfg.augment.localViews = { ...cfg.augment.localViews, ...localViews };
  cfg.augment.localPredictor = localPredictor;
  resolveRecipe(cfg, { channels: 1, side: SIZE });
  return validateConfig(cfg);
}

function batch(i: number): Uint8Array {
  return tinyImages(BATCH, 1, SIZE, 10, 100 + i).images;
}

function makeStep(cfg: TrainConfig, deviceScalars = false) {
  T.manualSeed(cfg.seed);
  const learner = makeLearner(cfg, 1);
  const optimizer = makeOptimizer(cfg, learner);
  const augmenters = makeAugmenters(cfg, 1, [0.3], [0.3]);
  const step = new TrainStep({
    learner, optimizer, augmenters, localViews: makeLocalViews(cfg, augmenters), probe: null, device: "cpu", bf16: false,
    batchShape: [BATCH, 1, SIZE, SIZE], deviceScalars,
  });
  const dispose = () => {
    step.dispose();
    optimizer.dispose();
    learner.dispose();
  };
  return { step, learner, optimizer, augmenters, dispose };
}

const floats = (sd: Record<string, T.Tensor>) => Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, Array.from(t.float().toFloat32Array())]));

test("augment.localViews.count = 0: the step is BYOL's two-view step, bit for bit", () => {
  // Today's step written out: two views, the symmetric loss, SGD, the EMA target.
  const off = config({ count: 0, outputSize: 8, minScale: 0.1, maxScale: 0.2 }, "separate");
  const s = makeStep(off);
  assert.ok(!(s.learner instanceof MultiCropBYOL) && s.learner instanceof BYOL);
  assert.equal(makeLocalViews(off, s.augmenters), null);
  const ref = makeStep(config());
  for (let i = 0; i < 3; i++) {
    const x = batch(i);
    T.manualSeed(50 + i);
    s.step.run(x, null, 0.05, 0.99);
    T.manualSeed(50 + i);
    T.tidy(() => {
      const [v1, v2] = makeViews(T.tensor(x, [BATCH, 1, SIZE, SIZE], { dtype: "uint8" }), ref.augmenters);
      const { loss } = ref.learner.forwardLoss(v1, v2);
      ref.optimizer.lr = 0.05;
      ref.optimizer.zeroGrad();
      loss.backward();
      ref.optimizer.step();
      ref.learner.updateTarget(0.99);
    });
  }
  assert.deepEqual(floats(s.learner.stateDict()), floats(ref.learner.stateDict()));
  s.dispose();
  ref.dispose();
});

test("with local views: no read-back per step, the CUDA graph's device-scalar arithmetic matches eager, and the local views count", () => {
  const on = config({ count: 2, outputSize: 12 }, "separate");
  const eager = makeStep(on);
  const dev = makeStep(on, true);
  const plain = makeStep(config());
  const counter = T.startCountingNativeCalls();
  let readBacks: number;
  try {
    for (let i = 0; i < 3; i++) {
      T.manualSeed(70 + i);
      eager.step.run(batch(i), null, 0.05, 0.98);
    }
  } finally {
    readBacks = counter.stop().readBacks;
  }
  assert.equal(readBacks, 0, "three steps with local views read nothing back");
  for (let i = 0; i < 3; i++) {
    T.manualSeed(70 + i);
    dev.step.run(batch(i), null, 0.05, 0.98);
    T.manualSeed(70 + i);
    plain.step.run(batch(i), null, 0.05, 0.98);
  }
  const [a, b, c] = [eager, dev, plain].map((s) => s.step.readStats().lastLoss);
  assert.ok(Number.isFinite(a!) && Math.abs(a! - b!) < 1e-4, `eager ${a} vs device scalars ${b}`);
  assert.ok(Math.abs(a! - c!) > 1e-4, "the local views change the loss");
  const sa = eager.learner.stateDict();
  const sb = dev.learner.stateDict();
  const diff = Math.max(...Object.keys(sa).filter((k) => sa[k]!.dtype === "float32").map((k) => T.tidy(() => sa[k]!.sub(sb[k]!).abs().max().item())));
  assert.ok(diff < 1e-4, `weights differ by ${diff}`);
  // The local predictor trained (it moved from its initialisation).
  const init = makeStep(on);
  const moved = T.tidy(() => sa["localPredictor.0.weight"]!.sub(init.learner.stateDict()["localPredictor.0.weight"]!).abs().max().item());
  assert.ok(moved > 0);
  for (const s of [eager, dev, plain, init]) s.dispose();
});

test("the config fields validate with one clear line each and can be --set", () => {
  const cfg = presetConfig("cpu");
  assert.deepEqual(cfg.augment.localViews.count, 0, "off by default");
  assert.equal(presetConfig("gpu").augment.localViews.count, 0);
  setField(cfg, "augment.localViews.count", "4");
  setField(cfg, "augment.localPredictor", "shared");
  assert.equal(validateConfig(cfg).augment.localViews.count, 4);
  const bad: [string, string, RegExp][] = [
    ["augment.localViews.count", "-1", /localViews\.count must be an integer in \[0, 16\]/],
    ["augment.localViews.count", "2.5", /localViews\.count/],
    ["augment.localViews.outputSize", "32", /localViews\.outputSize must be an integer in \[4, augment\.outputSize = 28\]/],
    ["augment.localViews.minScale", "0", /localViews\.minScale must be in \(0, 1\]/],
    ["augment.localViews.maxScale", "0.01", /localViews\.maxScale must be in \[minScale = 0\.05, 1\]/],
    ["augment.localPredictor", "both", /localPredictor must be shared or separate/],
  ];
  for (const [field, value, msg] of bad) {
    const c = presetConfig("cpu");
    setField(c, "augment.localViews.count", "2");
    setField(c, field, value);
    // (The bound on the local size waits for the recipe to resolve the global one from the data.)
    assert.throws(() => { validateConfig(c); resolveRecipe(c, { channels: 1, side: SIZE }); }, (e: unknown) => e instanceof UserError && msg.test(e.message) && !e.message.includes("\n"), `${field}=${value}`);
  }
  // Off, the local size is not tied to the global one.
  const off = presetConfig("cpu");
  setField(off, "augment.outputSize", "8");
  validateConfig(off);
});

function dataset(n: number): ResolvedDataset {
  const set: ImageSet = { ...tinyImages(n, 1, SIZE, 10, 3), classes: Array.from({ length: 10 }, (_, i) => `c${i}`) };
  const { mean, std } = channelStats(set);
  return { name: "tiny", train: inMemoryData(set), trainLabeled: set, test: null, mean, std, notes: [] };
}

test("a run with local views and a separate predictor trains, checkpoints the local predictor and resumes exactly", async () => {
  const cfg = () => Object.assign(config({ count: 2, outputSize: 12 }, "separate"), { epochs: 2, checkpointEverySteps: 4 });
  const data = dataset(8 * BATCH);
  const full = path.join(root, "full");
  await train(cfg(), data, { runDir: full, resume: false, quiet: true });
  const cut = path.join(root, "cut");
  await train(cfg(), data, { runDir: cut, resume: false, quiet: true, stopAfterStep: 8 });
  await train(cfg(), data, { runDir: cut, resume: true, quiet: true });
  const rows = readMetrics(path.join(full, "metrics.jsonl"));
  assert.ok(rows.length > 0 && rows.every((r) => Number.isFinite(r.loss)));
  const a = loadCheckpoint(checkpointPath(full));
  const b = loadCheckpoint(checkpointPath(cut));
  assert.ok("model.localPredictor.0.weight" in a.tensors);
  for (const k of Object.keys(a.tensors).filter((k) => k.startsWith("model."))) {
    assert.deepEqual(Array.from(a.tensors[k]!.float().toFloat32Array()), Array.from(b.tensors[k]!.float().toFloat32Array()), k);
  }
});

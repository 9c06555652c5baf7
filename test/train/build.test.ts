// makeOptimizer and peakLr on the learner a run really builds (its real parameter names): every bias
// and every BatchNorm scale and shift is excluded from weight decay and from LARS's trust ratio, every
// convolution kernel and linear weight gets both, and the peak learning rate is base × batch ×
// processes / 256. Checked by behaviour: one step from a known gradient against the update rule of
// SPEC §1 computed here in float64.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { presetConfig, type TrainConfig } from "../../src/train/config.js";
import { makeLearner, makeOptimizer, peakLr } from "../../src/train/build.js";
import { resolveRecipe } from "../../src/train/recipe.js";

T.setNumThreads(1);

/** Names a reader of torchvision's ResNet and of the MLP heads (Linear, BatchNorm, ReLU, Linear) knows. */
const EXCLUDED = [/\.bias$/, /(^|\.)bn\d\.weight$/, /\.downsample\.1\.weight$/, /^online\.projector\.1\.weight$/, /^predictor\.1\.weight$/];
const INCLUDED = [/(^|\.)conv\d\.weight$/, /\.downsample\.0\.weight$/, /^online\.projector\.[03]\.weight$/, /^predictor\.[03]\.weight$/];

function smokeConfig(over: (c: TrainConfig) => void): TrainConfig {
  const cfg = presetConfig("smoke");
  resolveRecipe(cfg, { channels: 1, side: 28 });
  cfg.threads = 1;
  over(cfg);
  return cfg;
}

/** A fixed, non-constant gradient for parameter i. */
function gradFor(i: number, n: number): Float32Array {
  const g = new Float32Array(n);
  for (let j = 0; j < n; j++) g[j] = 0.01 * Math.sin(0.37 * j + i) + 0.002 * (i % 3);
  return g;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

test("the learner's real parameter names split into excluded (biases, BatchNorm) and included (kernels, weights)", () => {
  const cfg = presetConfig("smoke");
  resolveRecipe(cfg, { channels: 1, side: 28 });
  const learner = makeLearner(cfg, 1);
  const names = learner.namedTrainableParameters().map(([n]) => n);
  const excluded = names.filter((n) => EXCLUDED.some((r) => r.test(n)));
  const included = names.filter((n) => INCLUDED.some((r) => r.test(n)));
  assert.equal(excluded.length + included.length, names.length, `every parameter is one or the other: ${names.filter((n) => !excluded.includes(n) && !included.includes(n))}`);
  // ResNet-18: 20 convolutions (17 + 3 downsample) and 20 BatchNorms; each head 2 Linear + 1 BatchNorm.
  assert.equal(included.length, 20 + 4);
  assert.equal(excluded.filter((n) => n.endsWith(".weight")).length, 20 + 2);
  assert.ok(names.includes("online.encoder.layer2.0.downsample.1.weight") && names.includes("online.encoder.bn1.bias"));
  learner.dispose();
});

for (const [name, mult] of [["lars", 1], ["sgd", 1], ["adamw", 1], ["lars", 10], ["sgd", 0.5]] as const) {
  test(`makeOptimizer(${name}): decay${name === "lars" ? " and trust ratio" : ""} on kernels and weights only${mult !== 1 ? `, the predictor at ${mult}x the learning rate` : ""}`, () => {
    const cfg = smokeConfig((c) => {
      c.optimizer.name = name;
      c.optimizer.predictorLrMultiplier = mult;
      c.optimizer.baseLr = 0.8; // × 32 / 256 = 0.1
      c.optimizer.weightDecay = 0.01;
      c.optimizer.trustCoefficient = 0.02;
      c.optimizer.momentum = 0.9;
    });
    T.manualSeed(3);
    const learner = makeLearner(cfg, 1);
    const opt = makeOptimizer(cfg, learner);
    const peak = 0.1;
    assert.ok(Math.abs(opt.lr - peak) < 1e-15, `the optimizer starts at peakLr: ${opt.lr}`);
    const named = learner.namedTrainableParameters();
    const before = named.map(([, p]) => Float64Array.from(p.toFloat32Array()));
    const grads = named.map(([, p], i) => gradFor(i, p.numel));
    named.forEach(([, p], i) => (p.grad = T.tensor(grads[i], p.shape)));
    opt.step();
    const wd = cfg.optimizer.weightDecay;
    const eta = cfg.optimizer.trustCoefficient;
    named.forEach(([n, p], i) => {
      const excluded = EXCLUDED.some((r) => r.test(n));
      // (Only the predictor's tensors follow the multiplier: the encoder and projector keep the scheduled rate.)
      const lr = n.startsWith("predictor.") ? peak * mult : peak;
      const w = before[i];
      const g = grads[i];
      const d = excluded ? 0 : wd;
      const u = Array.from(w, (wi, j) => g[j] + d * wi);
      let want: number[];
      if (name === "lars") {
        // First step: the momentum buffer is the (trust-scaled) update itself.
        const [wn, un] = [norm(w), norm(u)];
        const ratio = !excluded && wn > 0 && un > 0 ? (eta * wn) / un : 1;
        want = Array.from(w, (wi, j) => wi - lr * ratio * u[j]);
      } else if (name === "sgd") {
        want = Array.from(w, (wi, j) => wi - lr * u[j]);
      } else {
        // AdamW, first step: decoupled decay, then m̂/(√v̂ + ε) = g/(|g| + ε).
        want = Array.from(w, (wi, j) => wi * (1 - lr * d) - (lr * g[j]) / (Math.abs(g[j]) + 1e-8));
      }
      const got = p.toFloat32Array();
      let err = 0;
      let scale = 0;
      for (let j = 0; j < got.length; j++) {
        err = Math.max(err, Math.abs(got[j] - want[j]));
        scale = Math.max(scale, Math.abs(want[j]));
      }
      assert.ok(err <= 2e-6 * (1 + scale), `${n} (${excluded ? "excluded" : "included"}): off the rule by ${err}`);
    });
    opt.dispose();
    learner.dispose();
  });
}

test("peakLr is baseLr × batch × processes / 256, and makeOptimizer starts there", () => {
  for (const [base, batch, nproc] of [[0.3, 256, 1], [0.2, 32, 1], [0.3, 512, 4], [0.45, 64, 2]]) {
    const cfg = smokeConfig((c) => {
      c.optimizer.baseLr = base;
      c.batchSize = batch;
      c.nproc = nproc;
    });
    const want = (base * batch * nproc) / 256;
    assert.ok(Math.abs(peakLr(cfg) - want) < 1e-15, `base ${base}, batch ${batch}, ${nproc} processes: ${peakLr(cfg)} vs ${want}`);
    if (nproc === 2) {
      const learner = makeLearner(cfg, 1);
      const opt = makeOptimizer(cfg, learner);
      assert.ok(Math.abs(opt.lr - want) < 1e-15);
      opt.dispose();
      learner.dispose();
    }
  }
});

test("a predictor learning-rate multiple follows the schedule: every lr the loop sets reaches the predictor's groups times the multiple", () => {
  const cfg = smokeConfig((c) => {
    c.optimizer.predictorLrMultiplier = 10;
  });
  const learner = makeLearner(cfg, 1);
  const opt = makeOptimizer(cfg, learner);
  const predictor = new Set(learner.namedTrainableParameters().filter(([n]) => n.startsWith("predictor.")).map(([, p]) => p));
  assert.ok(predictor.size > 0);
  opt.lr = 0.02;
  for (const g of opt.groups) {
    const inPredictor = g.params.every((p) => predictor.has(p));
    assert.ok(inPredictor || g.params.every((p) => !predictor.has(p)), "a group holds predictor tensors only or none");
    assert.ok(Math.abs(g.lr - (inPredictor ? 0.2 : 0.02)) < 1e-15, `group of ${g.params.length}: lr ${g.lr}`);
  }
  assert.equal(opt.groups.length, 4, "decay and no-decay groups, for the predictor and for the rest");
  opt.dispose();
  learner.dispose();
});

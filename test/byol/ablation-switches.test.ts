// The ablation switches (config `ablation`, docs/ablations.md), each tested for what it changes: the
// module tree and names, the gradients that reach the target branch, the target's weights after a
// step; GroupNorm and weight standardisation against PyTorch; the encoders of every variant exported
// and loaded back; bad values and meaningless combinations as one line.
import assert from "node:assert/strict";
import path from "node:path";
import { after, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { GroupNorm, Identity, Sequential, WSConv2d, WSLinear, groupNormGroups, standardiseWeight, BatchNorm1d, Linear } from "../../src/nn/index.js";
import { presetConfig, setField, validateConfig, type TrainConfig } from "../../src/train/config.js";
import { resolveRecipe } from "../../src/train/recipe.js";
import { makeEncoder, makeLearner, makeOptimizer } from "../../src/train/build.js";
import { encoderTensorShapes, loadEncoder, saveEncoder } from "../../src/train/export.js";
import { targetTau } from "../../src/train/trainer.js";
import type { NormKind } from "../../src/nn/norm.js";
import { UserError } from "../../src/util/errors.js";
import { pythonTorchAvailable, runPython } from "../torch/helpers.js";
import { removeDir, tmpDir } from "../data/fixtures.js";

const root = tmpDir("ablation-switches");
after(() => removeDir(root));
const arr = (t: T.Tensor) => Array.from(t.toFloat32Array());
const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

function cfgWith(ab: Partial<TrainConfig["ablation"]>): TrainConfig {
  const c = presetConfig("smoke");
  c.channelsLast = false;
  // Fashion-MNIST's images (grey, 28 px): the views, their size and the stem as a run resolves them.
  resolveRecipe(c, { channels: 1, side: 28 });
  c.ablation = { ...c.ablation, ...ab };
  return validateConfig(c);
}

const views = (seed: number): [T.Tensor, T.Tensor] => {
  T.manualSeed(seed);
  return [T.randn([8, 1, 28, 28]).keep(), T.randn([8, 1, 28, 28]).keep()];
};

test("GroupNorm equals torch.nn.functional.group_norm; the group counts follow the stated rule", { skip: !pythonTorchAvailable() && "python3-torch is not installed" }, () => {
  assert.deepEqual([8, 16, 32, 64, 256, 1024, 24].map(groupNormGroups), [1, 2, 4, 8, 32, 32, 3]);
  const x = Array.from({ length: 2 * 8 * 3 * 3 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 5)));
  const w = Array.from({ length: 8 }, (_, i) => 0.5 + i * 0.1);
  const b = Array.from({ length: 8 }, (_, i) => i * 0.05 - 0.2);
  const gn = new GroupNorm(4, 8);
  T.noGrad(() => {
    gn.weight.copy_(T.tensor(w, [8]));
    gn.bias.copy_(T.tensor(b, [8]));
  });
  const ours = T.tidy(() => arr(gn.forward(T.tensor(x, [2, 8, 3, 3]))));
  const ref = runPython<number[]>(
    "import json, sys, torch, torch.nn.functional as F\nd = json.load(sys.stdin)\n" +
      "y = F.group_norm(torch.tensor(d['x']).reshape(2, 8, 3, 3), 4, torch.tensor(d['w']), torch.tensor(d['b']), 1e-5)\nprint(json.dumps(y.flatten().tolist()))",
    { x, w, b },
  );
  assert.ok(maxDiff(ours, ref) < 1e-5, `GroupNorm vs PyTorch: ${maxDiff(ours, ref)}`);
  assert.deepEqual(Object.keys(gn.stateDict()), ["weight", "bias"], "torch.nn.GroupNorm's names, no running statistics");
  assert.throws(() => new GroupNorm(3, 8), /cannot be split into 3 equal groups/);
});

test("GroupNorm under bf16 autocast on a CPU (a bf16 input beside float32 weights): float32 group_norm of that input", () => {
  const gn = new GroupNorm(2, 8);
  T.noGrad(() => gn.weight.copy_(T.tensor(Array.from({ length: 8 }, (_, i) => 0.5 + i * 0.1), [8])));
  const x = T.tensor(Array.from({ length: 2 * 8 * 2 * 2 }, (_, i) => Math.cos(i * 0.29) * (1 + (i % 3))), [2, 8, 2, 2]).to("bfloat16");
  // The cpu preset's convolutions hand GroupNorm bf16 activations: once refused by libtorch ("expected scalar type BFloat16 but found Float").
  const mixed = T.tidy(() => arr(T.autocast("cpu", "bfloat16", () => gn.forward(x))));
  const plain = T.tidy(() => arr(gn.forward(x.to("float32"))));
  assert.ok(maxDiff(mixed, plain) === 0, `bf16 input, float32 statistics: ${maxDiff(mixed, plain)}`);
});

test("weight standardisation: per output unit mean 0, variance 1; WS layers compute with the standardised weight and store the raw one", () => {
  T.manualSeed(1);
  const conv = new WSConv2d(3, 4, 3, { padding: 1, bias: false });
  const ws = standardiseWeight(conv.weight);
  const rows = ws.flatten(1);
  assert.ok(arr(rows.mean(1)).every((m) => Math.abs(m) < 1e-5));
  const v = arr(rows.var(1, { unbiased: false }));
  // var/(var + eps): PyTorch's default init gives these 27-input filters a variance near 0.01, so eps
  // (1e-5) takes about 0.1% off.
  assert.ok(v.every((x) => Math.abs(x - 1) < 3e-3), `variances ${v}`);
  const x = T.randn([2, 3, 5, 5]);
  const want = arr(T.conv2d(x, ws, null, [1, 1], [1, 1], [1, 1], 1));
  assert.ok(maxDiff(arr(conv.forward(x)), want) < 1e-5);
  assert.notDeepEqual(arr(conv.weight), arr(ws), "the stored weight is the raw one");
  const lin = new WSLinear(6, 3);
  const h = T.randn([4, 6]);
  assert.ok(maxDiff(arr(lin.forward(h)), arr(T.linear(h, standardiseWeight(lin.weight), lin.bias))) < 1e-5);
});

test("encoder normalisation: module tree and torchvision-style names per switch; exported encoders load back with the same outputs", () => {
  const cases: [NormKind, string, string[], string[]][] = [
    ["batchnorm", "BatchNorm2d", ["bn1.running_mean", "layer1.0.bn2.num_batches_tracked", "layer2.0.downsample.1.weight"], []],
    ["groupnorm-ws", "GroupNorm", ["bn1.weight", "bn1.bias", "layer2.0.downsample.1.bias"], ["bn1.running_mean", "bn1.num_batches_tracked"]],
    ["none", "Identity", ["conv1.weight", "layer2.0.downsample.0.weight"], ["bn1.weight", "layer2.0.downsample.1.weight"]],
  ];
  for (const [norm, cls, has, hasNot] of cases) {
    const cfg = cfgWith({ encoderNorm: norm });
    T.manualSeed(2);
    const enc = makeEncoder(cfg, 1);
    assert.equal(enc.child("bn1").constructor.name, cls, norm);
    assert.equal(enc.child("conv1").constructor.name, norm === "groupnorm-ws" ? "WSConv2d" : "Conv2d", norm);
    const keys = Object.keys(enc.stateDict());
    for (const k of has) assert.ok(keys.includes(k), `${norm}: ${k}`);
    for (const k of hasNot) assert.ok(!keys.includes(k), `${norm}: no ${k}`);
    // The shapes the export check expects are those of the built network.
    const want = encoderTensorShapes(cfg.encoder, 1, norm);
    assert.deepEqual([...want.keys()].sort(), [...keys].sort(), norm);
    // Export and load back (as byol embed and byol eval do): same outputs in eval mode.
    const file = path.join(root, `enc-${norm}.safetensors`);
    saveEncoder(file, enc, { encoder: cfg.encoder, channels: 1, height: 28, width: 28, mean: [0.3], std: [0.3], dataset: "t", normalization: norm });
    const { encoder: back, meta } = loadEncoder(file);
    assert.equal(meta.normalization, norm);
    enc.eval();
    const x = T.randn([3, 1, 28, 28]);
    assert.ok(maxDiff(arr(enc.forward(x)), arr(back.forward(x))) < 1e-5, `${norm}: loaded encoder's outputs`);
    // A file that says BatchNorm for GroupNorm weights is refused before any network is built.
    if (norm !== "batchnorm") {
      const lying = path.join(root, `lying-${norm}.safetensors`);
      saveEncoder(lying, enc, { encoder: cfg.encoder, channels: 1, height: 28, width: 28, mean: [0.3], std: [0.3], dataset: "t" });
      assert.throws(() => loadEncoder(lying), (e: Error) => e instanceof UserError && /is missing/.test(e.message));
    }
  }
});

test("head normalisation and the predictor switch: module tree and state-dict names", () => {
  const gn = makeLearner(cfgWith({ projectorNorm: "groupnorm-ws", predictorNorm: "none" }), 1);
  assert.ok(gn.online.projector.at(0) instanceof WSLinear && gn.online.projector.at(1) instanceof GroupNorm);
  assert.ok(gn.target.projector.at(1) instanceof GroupNorm, "the target's projector matches the online one");
  assert.ok(gn.predictor.at(0).constructor === Linear && gn.predictor.at(1) instanceof Identity);
  assert.deepEqual(Object.keys(gn.predictor.stateDict()), ["0.weight", "0.bias", "3.weight", "3.bias"]);
  const full = makeLearner(cfgWith({}), 1);
  assert.ok(full.predictor.at(1) instanceof BatchNorm1d);
  const noPred = makeLearner(cfgWith({ predictor: false }), 1);
  assert.ok(noPred.predictor instanceof Sequential && noPred.predictor.length === 0);
  assert.ok(!Object.keys(noPred.stateDict()).some((k) => k.startsWith("predictor.")));
  assert.equal(noPred.trainableParameters().length, full.trainableParameters().length - full.predictor.parameters().length);
  // Without a predictor the loss compares the online projection with the target's directly.
  const [v1, v2] = views(3);
  const { loss, proj1 } = noPred.forwardLoss(v1, v2);
  const z2 = noPred.targetProject(v2);
  const p2 = T.noGrad(() => noPred.online.projector.forward(noPred.online.encoder.forward(v2)));
  const z1 = noPred.targetProject(v1);
  const want = T.cosineSimilarity(proj1, z2, 1).mul(-2).add(2).add(T.cosineSimilarity(p2, z1, 1).mul(-2).add(2)).mean().item();
  assert.ok(Math.abs(loss.item() - want) < 1e-4, `${loss.item()} vs ${want}`);
});

test("target 'online' (τ = 0): one set of weights, no target tensors, the loss on the online projections; τ logged as 0", () => {
  const cfg = cfgWith({ target: "online" });
  const b = makeLearner(cfg, 1);
  assert.equal(b.target.encoder, b.online.encoder);
  assert.equal(b.target.projector, b.online.projector);
  assert.ok(!Object.keys(b.stateDict()).some((k) => k.startsWith("target.")), "no target tensors in the state dict (checkpoints)");
  const opt = makeOptimizer(cfg, b);
  const [v1, v2] = views(4);
  const before = arr(b.online.encoder.stateDict()["conv1.weight"]);
  T.tidy(() => {
    const { loss } = b.forwardLoss(v1, v2);
    opt.zeroGrad();
    loss.backward();
    opt.step();
  });
  b.updateTarget(0);
  const after = arr(b.target.encoder.stateDict()["conv1.weight"]);
  assert.ok(maxDiff(before, after) > 0, "the target moved with the online step (it is the online network)");
  assert.deepEqual(after, arr(b.online.encoder.stateDict()["conv1.weight"]));
  assert.equal(targetTau(cfg, 5, 100), 0);
  assert.equal(targetTau(cfgWith({ target: "frozen" }), 5, 100), 1);
  assert.ok(targetTau(cfgWith({}), 5, 100) > 0.98 && targetTau(cfgWith({}), 5, 100) < 1);
});

test("target 'frozen' (τ = 1): after steps the target's weights and statistics are its initial ones, the online network moved, and no gradient reached it", () => {
  const cfg = cfgWith({ target: "frozen" });
  const b = makeLearner(cfg, 1);
  const opt = makeOptimizer(cfg, b);
  const t0 = Object.fromEntries(Object.entries(b.stateDict()).map(([k, v]) => [k, arr(v)]));
  const [v1, v2] = views(5);
  for (let i = 0; i < 2; i++) {
    T.tidy(() => {
      const { loss } = b.forwardLoss(v1, v2);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
    for (const p of [...b.target.encoder.parameters(), ...b.target.projector.parameters()]) assert.equal(p.grad, null);
    b.updateTarget(targetTau(cfg, i, 10));
  }
  const sd = b.stateDict();
  // (The target's running statistics follow its own forward passes, as in BYOL; its weights never move.)
  const weights = Object.keys(sd).filter((k) => k.startsWith("target.") && /weight|bias/.test(k));
  assert.ok(weights.length > 10);
  for (const k of weights) assert.deepEqual(arr(sd[k]), t0[k], k);
  assert.ok(maxDiff(arr(sd["online.encoder.conv1.weight"]), t0["online.encoder.conv1.weight"]) > 0, "the online network trained");
  // The EMA target does move.
  const ema = makeLearner(cfgWith({}), 1);
  const e0 = arr(ema.target.encoder.stateDict()["conv1.weight"]);
  ema.updateTarget(0.5);
  assert.ok(maxDiff(arr(ema.target.encoder.stateDict()["conv1.weight"]), e0) > 0);
});

test("stop-gradient off (target online): the gradient also flows through the target branch; without a predictor it is exactly twice the stop-gradient one", () => {
  const grads = (ab: Partial<TrainConfig["ablation"]>) => {
    T.manualSeed(7);
    const b = makeLearner(cfgWith(ab), 1);
    const [v1, v2] = views(6);
    const { loss } = b.forwardLoss(v1, v2);
    loss.backward();
    return b.trainableParameters().map((p) => arr(p.grad!));
  };
  // L = D(z1, z2) + D(z2, z1) with D symmetric: dL = 2·(∂₁D dz1 + ∂₂D dz2); with the stop-gradient only
  // the first argument of each term carries gradient: half of that.
  const on = grads({ target: "online", predictor: false });
  const off = grads({ target: "online", predictor: false, stopGradient: false });
  const scale = on.flat().reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  assert.ok(scale > 0);
  on.forEach((g, i) => assert.ok(maxDiff(g.map((x) => 2 * x), off[i]) < 1e-4 * scale + 1e-7, `parameter ${i}`));
  // With a predictor the two differ in more than scale.
  const onP = grads({ target: "online" });
  const offP = grads({ target: "online", stopGradient: false });
  const enc = (g: number[][]) => g[0];
  const ratio = enc(offP).map((x, i) => x / enc(onP)[i]).filter(Number.isFinite);
  assert.ok(ratio.reduce((m, x) => Math.max(m, x), -Infinity) - ratio.reduce((m, x) => Math.min(m, x), Infinity) > 0.1, "the target branch's gradient is not a multiple of the online one");
});

test("switch values and combinations: defaults unchanged, --set parses them, bad ones are one clear line", () => {
  for (const p of ["cpu", "gpu", "smoke"]) {
    assert.deepEqual(presetConfig(p).ablation, { encoderNorm: "batchnorm", projectorNorm: "batchnorm", predictorNorm: "batchnorm", predictor: true, stopGradient: true, target: "ema" });
  }
  const c = presetConfig("smoke");
  setField(c, "ablation.encoderNorm", "groupnorm-ws");
  setField(c, "ablation.predictor", "false");
  setField(c, "ablation.predictorNorm", "batchnorm");
  setField(c, "ablation.target", "online");
  setField(c, "ablation.stopGradient", "false");
  validateConfig(c);
  assert.equal(JSON.parse(JSON.stringify(c)).ablation.encoderNorm, "groupnorm-ws", "config.json records the switches");
  const bad: [Partial<TrainConfig["ablation"]> | [string, string], RegExp][] = [
    [{ encoderNorm: "layernorm" as NormKind }, /^ablation\.encoderNorm must be batchnorm, groupnorm-ws or none, got "layernorm"$/],
    [{ target: "tau0" as "ema" }, /^ablation\.target must be ema, online \(τ = 0\) or frozen \(τ = 1\), got "tau0"$/],
    [{ stopGradient: false }, /^ablation\.stopGradient=false needs ablation\.target=online/],
    [{ stopGradient: false, target: "frozen" }, /frozen target takes no gradients/],
    [{ predictor: false, predictorNorm: "none" }, /^ablation\.predictorNorm=none means nothing with ablation\.predictor=false/],
    [["ablation.predictor", "no"], /^ablation\.predictor must be true or false, got "no"$/],
  ];
  for (const [ab, re] of bad) {
    assert.throws(() => {
      if (Array.isArray(ab)) setField(presetConfig("smoke"), ab[0], ab[1]);
      else cfgWith(ab);
    }, (e: Error) => e instanceof UserError && re.test(e.message) && !e.message.includes("\n"), String(re));
  }
});

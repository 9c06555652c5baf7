// The cudaGraph setting, the random generators' state in checkpoints (rng.cuda on a GPU), and the
// optimizers' device-scalar mode that a captured CUDA graph relies on.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { presetConfig, setField, validateConfig } from "../../src/train/config.js";
import { resolveTrainConfig } from "../../src/cli/train.js";
import { restoreRngStates, rngStateTensors } from "../../src/train/rng-state.js";
import { AdamW, LARS, SGD, type Optimizer } from "../../src/optim/index.js";
import { UserError } from "../../src/util/errors.js";

test("cudaGraph: auto by default, settable with --set, validated", () => {
  for (const p of ["cpu", "gpu", "smoke"]) assert.equal(presetConfig(p).cudaGraph, "auto");
  assert.equal(resolveTrainConfig({ set: ["cudaGraph=off"] }).cudaGraph, "off");
  assert.equal(resolveTrainConfig({ set: ["cudaGraph=on"] }).cudaGraph, "on");
  const c = presetConfig("cpu");
  setField(c, "cudaGraph", "sometimes");
  assert.throws(() => validateConfig(c), (e: Error) => e instanceof UserError && /cudaGraph must be auto, on or off, got "sometimes"/.test(e.message));
});

test("checkpoint generator states: rng.cuda only for a GPU run, restored to the training device", () => {
  const cpu = rngStateTensors("cpu");
  assert.deepEqual(Object.keys(cpu), ["rng.cpu"]);
  // A GPU run, with a stand-in for the CUDA generator (no GPU here): the state of the run's device is asked for.
  const asked: string[] = [];
  const fake = (device: string) => {
    asked.push(device);
    return T.tensor([device === "cpu" ? 1 : 2], undefined, { dtype: "uint8" });
  };
  const gpu = rngStateTensors("cuda:1", fake);
  assert.deepEqual(Object.keys(gpu).sort(), ["rng.cpu", "rng.cuda"]);
  assert.deepEqual(asked, ["cpu", "cuda:1"]);
  assert.equal(gpu["rng.cuda"].item(), 2);
  const restored: [number, string][] = [];
  const set = (t: T.Tensor, device: string) => restored.push([t.shape[0] === 1 ? t.item() : -1, device]);
  restoreRngStates(gpu, "cuda:1", set);
  assert.deepEqual(restored, [[1, "cpu"], [2, "cuda:1"]]);
  restored.length = 0;
  restoreRngStates(gpu, "cpu", set);
  assert.deepEqual(restored, [[1, "cpu"]], "a CPU run ignores a saved CUDA state");
  restored.length = 0;
  restoreRngStates(cpu, "cuda", set);
  assert.deepEqual(restored.map(([, d]) => d), ["cpu"], "a checkpoint without rng.cuda leaves the CUDA generator as seeded");
  // The real CPU generator: restoring a saved state repeats the draws.
  T.manualSeed(7);
  const saved = rngStateTensors("cpu");
  const a = T.rand([5]).toList();
  T.rand([3]);
  restoreRngStates(saved, "cpu");
  assert.deepEqual(T.rand([5]).toList(), a);
});

test("optimizers in device-scalar mode follow lr and step count written on the device", () => {
  const makers: [string, (p: T.Tensor[]) => Optimizer][] = [
    ["sgd", (p) => new SGD(p, { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 })],
    ["sgd-nesterov", (p) => new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true })],
    ["sgd-plain", (p) => new SGD(p, { lr: 0.1, weightDecay: 1e-3 })],
    ["lars", (p) => new LARS([{ params: p, lrScale: 0.5 }], { lr: 0.1, weightDecay: 1e-3, eta: 0.5 })],
    ["adamw", (p) => new AdamW(p, { lr: 0.01, weightDecay: 0.1 })],
  ];
  for (const [name, make] of makers) {
    T.manualSeed(0);
    const w0 = T.randn([4, 6]).keep();
    const grads = [0, 1, 2, 3].map(() => T.randn([4, 6]).keep());
    const run = (deviceScalars: boolean) => {
      const w = w0.clone().requiresGrad_().keep();
      const o = make([w]);
      if (deviceScalars) o.useDeviceScalars("cpu");
      grads.forEach((g, i) => {
        o.lr = 0.05 * (i + 1); // a schedule
        w.grad = g;
        o.step();
      });
      return { w, o };
    };
    const a = run(false);
    const b = run(true);
    assert.ok(b.o.usesDeviceScalars && !a.o.usesDeviceScalars);
    const diff = T.tidy(() => a.w.sub(b.w).abs().max().item());
    const moved = T.tidy(() => a.w.sub(w0).abs().max().item());
    assert.ok(moved > 1e-3, `${name}: the weights moved`);
    assert.ok(diff < 1e-5, `${name}: device-scalar result differs by ${diff}`);
    assert.equal(b.o.stepCount, 4);
    // A loaded step count reaches the device counter: AdamW's bias correction depends on it.
    if (name === "adamw") {
      const sd = Object.fromEntries(Object.entries(a.o.stateDict()).map(([k, v]) => [k, v.clone().keep()]));
      const c = run(true);
      c.o.loadStateDict(sd);
      const d = make([a.w.clone().requiresGrad_().keep()]);
      d.loadStateDict(sd);
      const wc = T.tidy(() => a.w.clone().keep());
      T.noGrad(() => c.w.copy_(wc));
      c.w.grad = grads[0];
      d.params[0].grad = grads[0];
      c.o.lr = d.lr = 0.01;
      c.o.step();
      d.step();
      assert.ok(T.tidy(() => c.w.sub(d.params[0]).abs().max().item()) < 1e-6, "after loadStateDict the device step count is the loaded one");
    }
  }
});

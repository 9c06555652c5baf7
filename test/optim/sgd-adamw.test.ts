// SGD (momentum, Nesterov, weight decay) and AdamW against torch.optim over three steps with fixed gradients.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { AdamW, LARS, Optimizer, SGD } from "../../src/optim/index.js";
import { UserError } from "../../src/util/errors.js";
import { assertClose, pythonTorchAvailable, runPython } from "../torch/helpers.js";

const noTorch = pythonTorchAvailable() ? false : "python3-torch is not installed";
const arr = (t: T.Tensor) => Array.from(t.toFloat32Array());

const W = [[0.5, -1, 2, 0.1], [0.3, 0.2]];
const GRADS = [
  [[0.1, 0.2, -0.3, 0.4], [0.5, -0.5]],
  [[-0.2, 0.1, 0.0, 0.3], [0.2, 0.1]],
  [[0.05, -0.1, 0.2, -0.3], [-0.4, 0.3]],
];

const ORACLE = `
import json, sys, torch
d = json.load(sys.stdin)
out = {}
for name, spec in d["cases"].items():
    ps = [torch.tensor(w, requires_grad=True) for w in d["w"]]
    groups = [{"params": [ps[0]]}, {"params": [ps[1]], "weight_decay": 0.0, "lr": spec["lr"] * 0.5}]
    kind = spec.pop("kind")
    opt = getattr(torch.optim, kind)(groups, **spec)
    for gs in d["grads"]:
        for p, g in zip(ps, gs): p.grad = torch.tensor(g)
        opt.step()
    out[name] = [p.detach().tolist() for p in ps]
print(json.dumps(out))
`;

const CASES: Record<string, { kind: string; lr: number; [k: string]: unknown }> = {
  sgd: { kind: "SGD", lr: 0.1 },
  sgd_momentum: { kind: "SGD", lr: 0.1, momentum: 0.9, weight_decay: 0.01 },
  sgd_nesterov: { kind: "SGD", lr: 0.1, momentum: 0.8, weight_decay: 0.02, nesterov: true },
  adamw: { kind: "AdamW", lr: 0.01, betas: [0.8, 0.95], eps: 1e-6, weight_decay: 0.1 },
};

function make(name: string, params: T.Tensor[]): Optimizer {
  const c = CASES[name];
  // second group: no weight decay, half the learning rate (as the oracle's groups)
  const groups = [{ params: [params[0]] }, { params: [params[1]], weightDecay: 0, lrScale: 0.5 }];
  if (c.kind === "SGD") return new SGD(groups, { lr: c.lr, momentum: c.momentum as number, weightDecay: c.weight_decay as number, nesterov: c.nesterov as boolean });
  return new AdamW(groups, { lr: c.lr, betas: c.betas as [number, number], eps: c.eps as number, weightDecay: c.weight_decay as number });
}

test("SGD and AdamW match torch.optim", { skip: noTorch }, () => {
  const ref = runPython<Record<string, number[][]>>(ORACLE, { w: W, grads: GRADS, cases: CASES });
  for (const name of Object.keys(CASES)) {
    const ps = W.map((w) => T.tensor(Float32Array.from(w)).requiresGrad_().keep());
    const opt = make(name, ps);
    for (const gs of GRADS) {
      ps.forEach((p, i) => (p.grad = T.tensor(Float32Array.from(gs[i]))));
      opt.step();
    }
    ps.forEach((p, i) => assertClose(arr(p), ref[name][i], 1e-6, 1e-5, `${name} param ${i}`));
    opt.dispose();
  }
});

test("lr setter honours each group's multiplier; parameters without a gradient are left alone", () => {
  const a = T.ones([2]).requiresGrad_().keep();
  const b = T.ones([2]).requiresGrad_().keep();
  const opt = new SGD([{ params: [a] }, { params: [b], lrScale: 0.1 }], { lr: 1 });
  opt.lr = 0.5;
  assert.equal(opt.lr, 0.5);
  assert.deepEqual(opt.groups.map((g) => g.lr), [0.5, 0.05]);
  a.grad = T.ones([2]);
  opt.step();
  assert.deepEqual(arr(a), [0.5, 0.5]);
  assert.deepEqual(arr(b), [1, 1]);
  opt.zeroGrad();
  assert.equal(a.grad, null);
  assert.throws(() => new SGD([a, a], { lr: 1 }), UserError);
  assert.throws(() => new SGD([a], { lr: -1 }), UserError);
  assert.throws(() => new SGD([a], { lr: 1, nesterov: true }), UserError);
});

test("optimizer state round-trips through stateDict: a resumed run continues identically", () => {
  for (const make of [
    (ps: T.Tensor[]) => new LARS(ps, { lr: 0.3, weightDecay: 0.01 }),
    (ps: T.Tensor[]) => new AdamW(ps, { lr: 0.01 }),
    (ps: T.Tensor[]) => new SGD(ps, { lr: 0.1, momentum: 0.9 }),
  ]) {
    const ps = W.map((w) => T.tensor(Float32Array.from(w)).requiresGrad_().keep());
    const opt = make(ps);
    const stepWith = (o: Optimizer, params: T.Tensor[], gs: number[][]) => {
      params.forEach((p, i) => (p.grad = T.tensor(Float32Array.from(gs[i]))));
      o.step();
    };
    stepWith(opt, ps, GRADS[0]);
    stepWith(opt, ps, GRADS[1]);
    const sd = opt.stateDict();
    assert.equal(sd.step.item(), 2);
    // resume: fresh parameters with the same values, fresh optimizer, loaded state
    const ps2 = ps.map((p) => T.noGrad(() => p.clone()).requiresGrad_().keep());
    const opt2 = make(ps2);
    opt2.loadStateDict(sd);
    assert.equal(opt2.stepCount, 2);
    stepWith(opt, ps, GRADS[2]);
    stepWith(opt2, ps2, GRADS[2]);
    ps.forEach((p, i) => assert.deepEqual(arr(ps2[i]), arr(p)));
    const bad = { ...sd, "state.0.momentum_buffer": T.zeros([3]), "state.0.exp_avg": T.zeros([3]) };
    assert.throws(() => opt2.loadStateDict(bad), (e: Error) => e instanceof UserError && /state\.0\./.test(e.message));
    assert.throws(() => opt2.loadStateDict({ ...sd, "state.9.foo": T.zeros([1]) }), UserError);
    opt.dispose();
    opt2.dispose();
  }
});

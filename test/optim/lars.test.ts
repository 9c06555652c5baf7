// One and two LARS steps against the formulas of SPEC §1 computed by hand (in float64 here).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { LARS, splitDecay } from "../../src/optim/index.js";
import { setForeach } from "../../src/optim/foreach.js";
import { assertClose } from "../torch/helpers.js";

const norm = (a: number[]) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));

/** The reference LARS step on plain arrays; returns [new w, new buffer]. */
function larsStep(w: number[], g: number[], buf: number[], o: { lr: number; mu: number; wd: number; eta: number; lars: boolean }): [number[], number[]] {
  const u = g.map((gi, i) => gi + o.wd * w[i]);
  const wn = norm(w);
  const un = norm(u);
  const ratio = o.lars && wn > 0 && un > 0 ? (o.eta * wn) / un : 1;
  const b = buf.map((bi, i) => o.mu * bi + ratio * u[i]);
  return [w.map((wi, i) => wi - o.lr * b[i]), b];
}

function param(values: number[], shape: number[]): T.Tensor {
  return T.tensor(Float32Array.from(values), shape).requiresGrad_().keep();
}
function setGrad(p: T.Tensor, g: number[]): void {
  p.grad = T.tensor(Float32Array.from(g), p.shape);
}
const arr = (t: T.Tensor) => Array.from(t.toFloat32Array());

const W0 = [1, -2, 3, 0.5, 0.25, -1];
const B0 = [0.3, -0.7];
const G1 = { w: [0.1, 0.2, -0.3, 0.05, -0.4, 0.6], b: [0.5, -0.25] };
const G2 = { w: [-0.2, 0.1, 0.3, 0.2, 0.1, -0.1], b: [0.1, 0.2] };
const opts = { lr: 0.4, momentum: 0.9, weightDecay: 0.05, eta: 0.02 };
const hp = { lr: opts.lr, mu: opts.momentum, wd: opts.weightDecay, eta: opts.eta };

function run(exclude: boolean): { w: number[]; b: number[] } {
  const w = param(W0, [2, 3]);
  const b = param(B0, [2]);
  const opt = exclude
    ? new LARS(splitDecay([["fc.weight", w], ["fc.bias", b]]), opts)
    : new LARS([w, b], opts);
  const out: { w: number[]; b: number[] }[] = [];
  for (const g of [G1, G2]) {
    setGrad(w, g.w);
    setGrad(b, g.b);
    opt.step();
    out.push({ w: arr(w), b: arr(b) });
  }
  opt.dispose();
  w.dispose();
  b.dispose();
  return out[1];
}

function expected(exclude: boolean): { w: number[]; b: number[] } {
  let [w, bw] = [W0, [0, 0, 0, 0, 0, 0]];
  let [b, bb] = [B0, [0, 0]];
  for (const g of [G1, G2]) {
    [w, bw] = larsStep(w, g.w, bw, { ...hp, lars: true });
    [b, bb] = larsStep(b, g.b, bb, exclude ? { ...hp, wd: 0, lars: false } : { ...hp, lars: true });
  }
  return { w, b };
}

test("LARS steps equal the hand-computed ones, with bias/BatchNorm exclusion", () => {
  const got = run(true);
  const want = expected(true);
  assertClose(got.w, want.w, 1e-6, 1e-5, "weight");
  assertClose(got.b, want.b, 1e-6, 1e-5, "bias");
  // the excluded bias took plain momentum SGD steps: b − lr·g₁, then − lr·(μ·g₁ + g₂)
  assertClose(got.b, B0.map((v, i) => v - 0.4 * G1.b[i] - 0.4 * (0.9 * G1.b[i] + G2.b[i])), 1e-6, 1e-5, "bias by hand");
});

test("LARS steps equal the hand-computed ones without exclusion", () => {
  const got = run(false);
  const want = expected(false);
  assertClose(got.w, want.w, 1e-6, 1e-5, "weight");
  assertClose(got.b, want.b, 1e-6, 1e-5, "bias");
  // with the trust ratio the bias moves far less than lr·g
  assert.ok(Math.abs(got.b[0] - B0[0]) < 0.1 * 0.4 * Math.abs(G1.b[0]));
});

test("trust ratio is 1 where a norm is 0; gradients are not modified; the fallback loop agrees", () => {
  const z = param([0, 0, 0, 0], [2, 2]);
  setGrad(z, [1, 2, 3, 4]);
  const opt = new LARS([z], { lr: 0.1, momentum: 0.9, weightDecay: 0.1, eta: 0.001 });
  opt.step();
  assertClose(arr(z), [-0.1, -0.2, -0.3, -0.4], 1e-7, 1e-6, "zero weight");
  const g = z.grad!;
  assert.deepEqual(arr(g), [1, 2, 3, 4]);
  setForeach(false);
  try {
    assertClose(run(true).w, expected(true).w, 1e-6, 1e-5, "fallback");
  } finally {
    setForeach(undefined);
  }
});

test("splitDecay puts biases and BatchNorm parameters (ndim ≤ 1) in a no-decay, no-LARS group", () => {
  const named: [string, T.Tensor][] = [
    ["conv1.weight", T.zeros([4, 3, 3, 3])], ["bn1.weight", T.zeros([4])], ["bn1.bias", T.zeros([4])], ["fc.weight", T.zeros([2, 4])], ["fc.bias", T.zeros([2])],
  ];
  const groups = splitDecay(named, { weightDecay: 1e-6 });
  assert.equal(groups.length, 2);
  assert.deepEqual(groups[0].names, ["conv1.weight", "fc.weight"]);
  assert.equal(groups[0].weightDecay, 1e-6);
  assert.equal(groups[0].lars, true);
  assert.deepEqual(groups[1].names, ["bn1.weight", "bn1.bias", "fc.bias"]);
  assert.equal(groups[1].weightDecay, 0);
  assert.equal(groups[1].lars, false);
});

// BYOL with multi-crop (src/byol/multicrop.ts): the loss against a hand computation from the same
// tensors, gradients on the online side only (and into the local predictor when it has its own), the
// running statistics untouched by the local pass, and the state dict with a local predictor.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { BYOL, MultiCropBYOL, type LocalPredictor } from "../../src/byol/index.js";
import { TinyEncoder } from "./tiny-encoder.js";
import { UserError } from "../../src/util/errors.js";

T.setNumThreads(1);
const arr = (t: T.Tensor) => Array.from(t.toFloat32Array());


const N = 4;
const M = 3;
const opts = () => ({ encoder: new TinyEncoder(), hiddenDim: 16, projectionDim: 5 });
function make(localPredictor: LocalPredictor, seed = 5): MultiCropBYOL {
  T.manualSeed(seed);
  return new MultiCropBYOL({ ...opts(), localPredictor });
}
function inputs(): { v1: T.Tensor; v2: T.Tensor; locals: T.Tensor } {
  T.manualSeed(9);
  return { v1: T.randn([N, 1, 8, 8]).keep(), v2: T.randn([N, 1, 8, 8]).keep(), locals: T.randn([M * N, 1, 5, 5]).keep() };
}

/** Rows of a [R, D] tensor as JS arrays. */
function rows(t: T.Tensor): number[][] {
  const [r, d] = t.shape as [number, number];
  const v = arr(t);
  return Array.from({ length: r }, (_, i) => v.slice(i * d, (i + 1) * d));
}
function cos(a: number[], b: number[]): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}
/** ℓ̄(p, z): the batch mean of 2 − 2·cos, in double precision. */
function lbar(p: number[][], z: number[][]): number {
  return p.reduce((s, row, i) => s + 2 - 2 * cos(row, z[i]!), 0) / p.length;
}

for (const kind of ["shared", "separate"] as const) {
  test(`${kind} predictor: the loss is Σ over all 2 + 2M pairs of ℓ̄, × 2 / (2 + 2M), from the same tensors by hand`, () => {
    const b = make(kind);
    const { v1, v2, locals } = inputs();
    const loss = b.forwardMultiCropLoss(v1, v2, locals).loss.item();
    // The parts, each view (and all local views together) as one batch, as the learner runs them.
    const head = b.localHead ?? b.predictor;
    const [p1, p2, pl, z1, z2] = T.tidy(() => [
      rows(b.predictor.forward(b.online.projector.forward(b.online.encoder.forward(v1)))),
      rows(b.predictor.forward(b.online.projector.forward(b.online.encoder.forward(v2)))),
      rows(head.forward(b.online.projector.forward(b.online.encoder.forward(locals)))),
      rows(b.targetProject(v1)),
      rows(b.targetProject(v2)),
    ]) as number[][][];
    let sum = lbar(p1!, z2!) + lbar(p2!, z1!);
    for (let j = 0; j < M; j++) {
      const pj = pl!.slice(j * N, (j + 1) * N);
      sum += lbar(pj, z1!) + lbar(pj, z2!);
    }
    const want = (sum * 2) / (2 + 2 * M);
    assert.ok(Math.abs(loss - want) < 1e-5, `${loss} vs ${want}`);
    // The global pairs alone are BYOL's loss; the local pairs really enter the multi-crop one.
    const global = b.forwardLoss(v1, v2).loss.item();
    assert.ok(Math.abs(global - (lbar(p1!, z2!) + lbar(p2!, z1!))) < 1e-5);
    assert.ok(Math.abs(loss - global) > 1e-4, "the local pairs change the loss");
    b.dispose();
  });
}

test("gradients reach the online networks (and the local predictor) only; the target gets none", () => {
  for (const kind of ["shared", "separate"] as const) {
    const b = make(kind);
    const { v1, v2, locals } = inputs();
    b.forwardMultiCropLoss(v1, v2, locals).loss.backward();
    for (const p of [...b.target.encoder.parameters(), ...b.target.projector.parameters()]) assert.equal(p.grad, null);
    const params = b.trainableParameters();
    assert.equal(params.length, 16 + (kind === "separate" ? 6 : 0));
    for (const p of params) {
      const g = p.grad;
      assert.ok(g !== null, kind);
      assert.ok(arr(g!).some((x) => x !== 0), `${kind}: a zero gradient`);
      g!.dispose();
    }
    b.dispose();
  }
});

test("the local views' gradient flows into the shared predictor; the separate one leaves it to the global views", () => {
  const grads = (kind: LocalPredictor | null) => {
    const b = make(kind ?? "shared");
    const { v1, v2, locals } = inputs();
    const loss = kind ? b.forwardMultiCropLoss(v1, v2, locals).loss : b.forwardLoss(v1, v2).loss.div(1 + M);
    loss.backward();
    const g = arr(b.predictor.child("3").param("weight").grad!);
    b.dispose();
    return g;
  };
  const globalOnly = grads(null); // the global pairs' share of the multi-crop loss: BYOL's loss / (1 + M)
  const separate = grads("separate");
  const shared = grads("shared");
  assert.ok(separate.every((x, i) => Math.abs(x - globalOnly[i]!) < 1e-6), "separate: the predictor sees only the global pairs");
  assert.ok(shared.some((x, i) => Math.abs(x - globalOnly[i]!) > 1e-5), "shared: the local pairs reach the predictor");
});

test("the local pass leaves the running statistics as the global views left them", () => {
  for (const kind of ["shared", "separate"] as const) {
    const a = make(kind);
    const plain = (() => {
      T.manualSeed(5);
      return new BYOL(opts());
    })();
    const { v1, v2, locals } = inputs();
    a.forwardMultiCropLoss(v1, v2, locals);
    plain.forwardLoss(v1, v2);
    const sa = a.stateDict();
    const sp = plain.stateDict();
    // Same seed, same weights (the local predictor is built last), and the same buffers after the step.
    for (const k of Object.keys(sp)) assert.deepEqual(arr(sa[k]!.float()), arr(sp[k]!.float()), `${kind}: ${k}`);
    a.dispose();
    plain.dispose();
  }
});

test("a separate local predictor is trained, saved under localPredictor. and loaded back; mismatches are UserErrors", () => {
  const a = make("separate", 1);
  const names = a.namedTrainableParameters().map(([n]) => n);
  assert.ok(names.includes("localPredictor.0.weight") && names.includes("localPredictor.3.bias"));
  const sd = a.stateDict();
  assert.ok("localPredictor.1.running_var" in sd);
  assert.notDeepEqual(arr(sd["localPredictor.0.weight"]!), arr(sd["predictor.0.weight"]!), "its own initialisation");
  const b = make("separate", 2);
  b.loadStateDict(sd);
  for (const [k, t] of Object.entries(b.stateDict())) assert.deepEqual(arr(t.float()), arr(sd[k]!.float()), k);
  // A plain BYOL checkpoint lacks the local predictor: strict refuses, non-strict reports it missing.
  T.manualSeed(3);
  const plain = new BYOL(opts());
  assert.throws(() => b.loadStateDict(plain.stateDict()), UserError);
  assert.ok(b.loadStateDict(plain.stateDict(), { strict: false }).missing.includes("localPredictor.0.weight"));
  const shared = make("shared");
  assert.throws(() => shared.loadStateDict(sd), UserError, "a shared learner has no localPredictor keys");
  assert.throws(() => new MultiCropBYOL({ ...opts(), localPredictor: "both" as LocalPredictor }), UserError);
  const { v1, v2 } = inputs();
  assert.throws(() => a.forwardMultiCropLoss(v1, v2, T.randn([N + 1, 1, 5, 5])), UserError);
  for (const x of [a, b, plain, shared]) x.dispose();
});

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { OnlineProbe } from "../../src/eval/online-probe.js";
import { UserError } from "../../src/util/errors.js";
import { blobs } from "./helpers.js";

const D = 16;

function batches(seed: number) {
  const { x, labels } = blobs(512, D, 4, 1.5, seed);
  const out: { x: T.Tensor; y: T.Tensor }[] = [];
  for (let s = 0; s < 512; s += 64) {
    out.push({
      x: T.tensor(x.subarray(s * D, (s + 64) * D), [64, D]).keep(),
      y: T.tensor(Int32Array.from(labels.subarray(s, s + 64)), [64]).to("int64").keep(),
    });
  }
  return out;
}

test("learns a separable problem; accuracy is tracked per epoch", () => {
  const data = batches(21);
  const probe = new OnlineProbe(D, 4, { lr: 1e-2 });
  const epochs: number[] = [];
  for (let e = 0; e < 5; e++) {
    for (const b of data) {
      const r = probe.step(b.x, b.y);
      assert.equal(r.count, 64);
      assert.ok(r.correct >= 0 && r.correct <= 64);
      assert.ok(Number.isFinite(r.loss));
    }
    const s = probe.endEpoch();
    assert.equal(s.count, 512);
    epochs.push(s.accuracy);
  }
  assert.ok(epochs[4] > 0.97, `last epoch accuracy ${epochs[4]}`);
  assert.ok(epochs[0] < epochs[4]);
  assert.ok(Number.isNaN(probe.epochStats().accuracy), "reset after endEpoch");
  probe.dispose();
  for (const b of data) (b.x.dispose(), b.y.dispose());
});

test("no gradient reaches the representation; works under noGrad", () => {
  const probe = new OnlineProbe(4, 2);
  const w = T.ones([3, 4]).requiresGrad_().keep();
  T.tidy(() => {
    const repr = T.randn([8, 3]).mm(w); // part of a graph, as the encoder's y would be
    probe.step(repr, T.tensor([0, 1, 0, 1, 0, 1, 0, 1], [8], { dtype: "int64" }));
    assert.equal(w.grad, null);
    T.noGrad(() => probe.step(repr.detach(), T.tensor([0, 1, 0, 1, 0, 1, 0, 1], [8], { dtype: "int64" })));
  });
  assert.ok(probe.weight.toList().some((v) => v !== 0), "the classifier itself was updated");
  probe.dispose();
  w.dispose();
});

test("skips unlabeled images (-1) and an all-unlabeled batch", () => {
  const probe = new OnlineProbe(2, 2);
  T.tidy(() => {
    const x = T.tensor([[1, 0], [0, 1], [1, 1]]);
    const r = probe.step(x, T.tensor([0, -1, 1], [3], { dtype: "int64" }));
    assert.equal(r.count, 2);
    assert.ok(Number.isFinite(r.loss));
    const none = probe.step(x, T.tensor([-1, -1, -1], [3], { dtype: "int64" }));
    assert.equal(none.count, 0);
  });
  assert.equal(probe.epochStats().count, 2);
  probe.dispose();
});

test("stateDict / loadStateDict reproduce the next step exactly", () => {
  const data = batches(5);
  const a = new OnlineProbe(D, 4);
  for (const b of data.slice(0, 3)) a.step(b.x, b.y);
  const saved = Object.fromEntries(Object.entries(a.stateDict()).map(([k, v]) => [k, v.clone().keep()]));
  const b = new OnlineProbe(D, 4);
  b.loadStateDict(saved);
  const ra = a.step(data[3].x, data[3].y);
  const rb = b.step(data[3].x, data[3].y);
  assert.deepEqual(ra, rb);
  assert.deepEqual(a.weight.toList(), b.weight.toList());
  const wrong = new OnlineProbe(D, 3);
  assert.throws(() => wrong.loadStateDict(saved), UserError);
  for (const t of Object.values(saved)) t.dispose();
  for (const p of [a, b, wrong]) p.dispose();
  for (const d of data) (d.x.dispose(), d.y.dispose());
});

test("bad shapes and options are UserErrors", () => {
  assert.throws(() => new OnlineProbe(0, 10), UserError);
  assert.throws(() => new OnlineProbe(8, 1), UserError);
  assert.throws(() => new OnlineProbe(8, 10, { lr: 0 }), UserError);
  const p = new OnlineProbe(8, 10);
  T.tidy(() => assert.throws(() => p.step(T.zeros([2, 7]), T.zeros([2], { dtype: "int64" })), UserError));
  p.dispose();
});

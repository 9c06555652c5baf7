import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { byolLoss, symmetricByolLoss } from "../../src/byol/index.js";
import { assertClose } from "../torch/helpers.js";

function cosRows(a: Float32Array, b: Float32Array, n: number, d: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let dot = 0, na = 0, nb = 0;
    for (let j = 0; j < d; j++) {
      const x = a[i * d + j], y = b[i * d + j];
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    out.push(dot / Math.sqrt(na * nb));
  }
  return out;
}

test("loss is 2 − 2cos per sample, equal to the squared distance of the normalised vectors", () => {
  T.manualSeed(0);
  const p = T.randn([6, 5]);
  const z = T.randn([6, 5]).mul(3);
  const l = byolLoss(p, z).toFloat32Array();
  const cos = cosRows(p.toFloat32Array(), z.toFloat32Array(), 6, 5);
  assertClose(Array.from(l), cos.map((c) => 2 - 2 * c), 1e-6, 1e-5, "2 - 2cos");
  const dist = T.normalize(p).sub(T.normalize(z)).square().sum(1).toFloat32Array();
  assertClose(Array.from(l), Array.from(dist), 1e-5, 1e-5, "squared distance");
  // same direction → 0, opposite → 4
  assertClose(Array.from(byolLoss(p, p.mul(2)).toFloat32Array()), new Array(6).fill(0), 1e-5, 0, "same");
  assertClose(Array.from(byolLoss(p, p.neg()).toFloat32Array()), new Array(6).fill(4), 1e-5, 0, "opposite");
});

test("loss is symmetric and sums the two directions; gradients reach p, not z", () => {
  T.manualSeed(1);
  const p1 = T.randn([4, 8]).requiresGrad_(), p2 = T.randn([4, 8]).requiresGrad_();
  const z1 = T.randn([4, 8]).requiresGrad_(), z2 = T.randn([4, 8]).requiresGrad_();
  assertClose(Array.from(byolLoss(p1, z1).toFloat32Array()), Array.from(byolLoss(z1, p1).toFloat32Array()), 1e-6, 1e-6, "ℓ(p, z) = ℓ(z, p)");
  const l = symmetricByolLoss(p1, z2, p2, z1);
  const swapped = symmetricByolLoss(p2, z1, p1, z2);
  assert.ok(Math.abs(l.item() - swapped.item()) < 1e-6);
  const manual = byolLoss(p1, z2).mean().item() + byolLoss(p2, z1).mean().item();
  assert.ok(Math.abs(l.item() - manual) < 1e-5);
  l.backward();
  for (const t of [p1, p2]) assert.notEqual(t.grad, null);
  for (const t of [z1, z2]) assert.equal(t.grad, null);
});

// Gradient checks: the backward of each neural-network op against central finite differences, in
// float64. The op's output is reduced with fixed random weights (L = Σ out·R) so that one backward
// checks a whole vector-Jacobian product, not only the gradient of a plain sum.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";

interface Input {
  name: string;
  shape: number[];
}

/** A deterministic pseudo-random float64 array in [-1, 1) (no seed shared with libtorch). */
function pseudoRandom(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Checks d(Σ op(inputs)·R)/d(input) from backward against (L(x+h) - L(x-h)) / 2h for every element
 * of every input.
 */
function gradcheck(op: (xs: T.Tensor[]) => T.Tensor, inputs: Input[], seed: number, tol = { atol: 1e-6, rtol: 1e-5 }): void {
  const values = inputs.map((inp, i) => pseudoRandom(numel(inp.shape), seed + 17 * i));
  const build = (requiresGrad: boolean) =>
    inputs.map((inp, i) => T.tensor(values[i], inp.shape, { dtype: "float64", requiresGrad }));
  let weights: Float64Array | null = null;
  let outShape: number[] = [];
  const loss = (xs: T.Tensor[]): T.Tensor => {
    const out = op(xs);
    if (!weights) {
      outShape = out.shape;
      weights = pseudoRandom(out.numel, seed + 1000);
    }
    assert.equal(out.dtype, "float64");
    return out.mul(T.tensor(weights, outShape, { dtype: "float64" })).sum();
  };

  // Analytical gradients.
  const analytic = T.tidy(() => {
    const xs = build(true);
    loss(xs).backward();
    return xs.map((x) => {
      const g = x.grad;
      assert.ok(g, "every input receives a gradient");
      return g.toArray() as Float64Array;
    });
  });

  // Central differences, one element at a time.
  const h = 1e-6;
  const lossAt = () => T.tidy(() => T.noGrad(() => loss(build(false)).item()));
  inputs.forEach((inp, i) => {
    const v = values[i];
    const numeric = new Float64Array(v.length);
    for (let j = 0; j < v.length; j++) {
      const keep = v[j];
      v[j] = keep + h;
      const plus = lossAt();
      v[j] = keep - h;
      const minus = lossAt();
      v[j] = keep;
      numeric[j] = (plus - minus) / (2 * h);
    }
    for (let j = 0; j < v.length; j++) {
      const a = analytic[i][j];
      const n = numeric[j];
      if (!(Math.abs(a - n) <= tol.atol + tol.rtol * Math.abs(n))) {
        assert.fail(`d/d${inp.name}[${j}]: backward gives ${a}, finite differences ${n}`);
      }
    }
  });
}

test("conv2d with stride, padding and bias", () => {
  const before = T.liveTensors();
  gradcheck(([x, w, b]) => T.conv2d(x, w, b, 2, 1), [
    { name: "input", shape: [2, 3, 5, 6] },
    { name: "weight", shape: [4, 3, 3, 3] },
    { name: "bias", shape: [4] },
  ], 1);
  gradcheck(([x, w]) => T.conv2d(x, w, null, [1, 2], [0, 1]), [
    { name: "input", shape: [1, 2, 4, 5] },
    { name: "weight", shape: [3, 2, 2, 3] },
  ], 2);
  assert.equal(T.liveTensors(), before, "the checker frees what it makes");
});

test("batch norm in training mode (input, weight and bias)", () => {
  // Training mode normalises with the batch's own statistics, so the input's gradient has the
  // terms through the mean and the variance; running statistics are updated on the side.
  const runningMean = T.zeros([3], { dtype: "float64" });
  const runningVar = T.ones([3], { dtype: "float64" });
  gradcheck(([x, w, b]) => T.batchNorm(x, w, b, runningMean, runningVar, true, 0.1, 1e-5), [
    { name: "input", shape: [4, 3, 2, 2] },
    { name: "weight", shape: [3] },
    { name: "bias", shape: [3] },
  ], 3, { atol: 1e-5, rtol: 1e-4 });
  gradcheck(([x]) => T.batchNorm(x, null, null, null, null, true), [{ name: "input", shape: [5, 2, 3, 1] }], 4, { atol: 1e-5, rtol: 1e-4 });
  assert.notDeepEqual(runningMean.toList(), [0, 0, 0], "running mean updated in training mode");
  runningMean.dispose();
  runningVar.dispose();
});

test("linear", () => {
  gradcheck(([x, w, b]) => T.linear(x, w, b), [
    { name: "input", shape: [3, 4] },
    { name: "weight", shape: [5, 4] },
    { name: "bias", shape: [5] },
  ], 5);
  gradcheck(([x, w]) => T.linear(x, w), [
    { name: "input", shape: [2, 3, 4] },
    { name: "weight", shape: [2, 4] },
  ], 6);
});

test("max_pool2d (with overlap and padding)", () => {
  // Random inputs have no ties within h, so the max is differentiable at the sampled point.
  gradcheck(([x]) => T.maxPool2d(x, 2), [{ name: "input", shape: [2, 2, 4, 6] }], 7);
  gradcheck(([x]) => T.maxPool2d(x, 3, 2, 1), [{ name: "input", shape: [1, 2, 5, 5] }], 8);
});

test("avg_pool2d (with stride and padding)", () => {
  gradcheck(([x]) => T.avgPool2d(x, 2), [{ name: "input", shape: [2, 2, 4, 6] }], 9);
  gradcheck(([x]) => T.avgPool2d(x, 3, 2, 1), [{ name: "input", shape: [1, 2, 5, 5] }], 10);
});

test("adaptive_avg_pool2d (sizes that do not divide: overlapping bins)", () => {
  gradcheck(([x]) => T.adaptiveAvgPool2d(x, [3, 2]), [{ name: "input", shape: [2, 2, 5, 7] }], 11);
  gradcheck(([x]) => T.adaptiveAvgPool2d(x, 1), [{ name: "input", shape: [2, 3, 4, 4] }], 12);
});

test("the checker catches a wrong gradient", () => {
  // A custom op whose backward is wrong on purpose: x·detach(x) has gradient x, not 2x.
  assert.throws(() => gradcheck(([x]) => x.mul(x.detach()), [{ name: "input", shape: [4] }], 13), /finite differences/);
});

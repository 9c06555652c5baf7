import { test } from "node:test";
import assert from "node:assert/strict";
import { embeddingMap, pca } from "../../src/eval/embedding-map.js";
import { l2NormalizeRows, topKNeighbors } from "../../src/eval/neighbors.js";
import { gaussians } from "./helpers.js";

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

// n points in d dims: offset + 6*a*u + 2*b*v + 0.1*noise, with u, v orthonormal and a, b, noise ~ N(0,1).
function stretched(n: number, d: number, u: number[], v: number[], seed = 1): Float32Array {
  const g = gaussians(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const a = g() * 6;
    const b = g() * 2;
    for (let j = 0; j < d; j++) x[i * d + j] = 3 + j + a * u[j]! + b * v[j]! + 0.1 * g();
  }
  return x;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

test("pca finds the known main axes in order", () => {
  const d = 8;
  const u = unit([1, 2, 0, -1, 0, 0, 3, 0]);
  // v orthogonal to u by construction: Gram-Schmidt on a second direction.
  const v0 = [0, 1, 1, 0, -2, 1, 0, 1];
  const v = unit(v0.map((x, i) => x - dot(v0, u) * u[i]!));
  assert.ok(Math.abs(dot(u, v)) < 1e-12);
  const n = 600;
  const r = pca(stretched(n, d, u, v), n, d);
  const c1 = r.components.subarray(0, d);
  const c2 = r.components.subarray(d, 2 * d);
  assert.ok(Math.abs(dot(c1, u)) > 0.999, `first component along u, |cos|=${Math.abs(dot(c1, u))}`);
  assert.ok(Math.abs(dot(c2, v)) > 0.999, `second component along v, |cos|=${Math.abs(dot(c2, v))}`);
  assert.ok(Math.abs(dot(c1, c2)) < 1e-9, "components orthogonal");
  assert.ok(Math.abs(Math.hypot(...c1) - 1) < 1e-9 && Math.abs(Math.hypot(...c2) - 1) < 1e-9, "unit length");
  // Variances ~36 and ~4 of a total ~40.08: explained ratios ordered and roughly 0.9 / 0.1.
  assert.ok(r.variances[0]! > r.variances[1]!);
  assert.ok(r.variances[0]! > 25 && r.variances[0]! < 50, `var1=${r.variances[0]}`);
  assert.ok(r.variances[1]! > 2.5 && r.variances[1]! < 6, `var2=${r.variances[1]}`);
  assert.ok(r.explainedRatio[0]! > 0.8 && r.explainedRatio[1]! > 0.05 && r.explainedRatio[0]! + r.explainedRatio[1]! > 0.99);
  // Points are the centred projections: zero mean, variance equal to the eigenvalue.
  assert.equal(r.points.length, n * 2);
  let m0 = 0;
  let v1 = 0;
  for (let i = 0; i < n; i++) {
    m0 += r.points[2 * i]!;
    v1 += r.points[2 * i]! ** 2;
  }
  assert.ok(Math.abs(m0 / n) < 1e-3);
  assert.ok(Math.abs(v1 / n - r.variances[0]!) / r.variances[0]! < 1e-4);
});

test("pca is deterministic and embeddingMap returns its n*2 points", () => {
  const d = 16;
  const u = unit(Array.from({ length: d }, (_, i) => Math.sin(i + 1)));
  const w = Array.from({ length: d }, (_, i) => Math.cos(3 * i));
  const v = unit(w.map((x, i) => x - dot(w, u) * u[i]!));
  const x = stretched(300, d, u, v, 7);
  const a = embeddingMap(x, 300, d);
  const b = embeddingMap(x, 300, d);
  assert.deepEqual(a, b);
  assert.deepEqual(a, pca(x, 300, d).points);
  // Sign convention: the largest-magnitude entry of each direction is positive.
  const comps = pca(x, 300, d).components;
  for (let c = 0; c < 2; c++) {
    const row = Array.from(comps.subarray(c * d, (c + 1) * d));
    const big = row.reduce((bi, val, i) => (Math.abs(val) > Math.abs(row[bi]!) ? i : bi), 0);
    assert.ok(row[big]! > 0);
  }
});

test("pca separates nearly equal leading variances", () => {
  // Axis-aligned variances 4.0, 3.9, 0.01...: close eigenvalues converge thanks to the wider block.
  const d = 6;
  const n = 400;
  const g = gaussians(3);
  const x = new Float32Array(n * d);
  const sd = [0.1, 2, 0.1, 1.975, 0.1, 0.1];
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = sd[j]! * g();
  const r = pca(x, n, d);
  const c1 = r.components.subarray(0, d);
  const c2 = r.components.subarray(d, 2 * d);
  // Whatever the sample ordering, the two leading directions span axes 1 and 3.
  assert.ok(c1[1]! ** 2 + c1[3]! ** 2 > 0.999 && c2[1]! ** 2 + c2[3]! ** 2 > 0.999);
  assert.ok(r.variances[0]! >= r.variances[1]!);
});

test("pca handles degenerate inputs", () => {
  assert.deepEqual(pca(new Float32Array(0), 0, 4).points, new Float32Array(0));
  const single = pca(Float32Array.from([1, 2, 3]), 1, 3);
  assert.deepEqual(Array.from(single.points), [0, 0]);
  assert.deepEqual(Array.from(single.explainedRatio), [0, 0]);
  const constant = pca(new Float32Array(30).fill(5), 10, 3);
  assert.ok(constant.points.every((p) => p === 0));
  // d = 1: one real direction, the second component is all zero.
  const line = pca(Float32Array.from([1, 2, 3, 4]), 4, 1);
  assert.deepEqual(Array.from(line.points), [-1.5, 0, -0.5, 0, 0.5, 0, 1.5, 0]);
  // Fewer points than dimensions (rank-deficient covariance) still yields orthonormal components.
  const g = gaussians(5);
  const wide = Float32Array.from({ length: 3 * 50 }, () => g());
  const rw = pca(wide, 3, 50);
  assert.ok(Math.abs(dot(rw.components.subarray(0, 50), rw.components.subarray(50, 100))) < 1e-9);
  assert.throws(() => pca(Float32Array.from([1, NaN]), 1, 2), /non-finite/);
  assert.throws(() => pca(new Float32Array(5), 2, 3), /expected 6 values/);
});

test("pca on embedding-sized data is fast enough for the report", () => {
  const n = 2000;
  const d = 128;
  const g = gaussians(11);
  const x = Float32Array.from({ length: n * d }, () => g());
  const t0 = performance.now();
  const r = pca(x, n, d);
  const ms = performance.now() - t0;
  assert.ok(r.variances[0]! >= r.variances[1]!);
  assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
});

// neighbors.ts lives beside the embedding map as the other report-side helper; tested here.
test("topKNeighbors returns cosine neighbours, most similar first", () => {
  const d = 2;
  const gallery = Float32Array.from([1, 0, 0, 1, -1, 0, 0.9, 0.1, 10, 10]);
  const query = Float32Array.from([2, 0, 0, -3]);
  const r = topKNeighbors(query, 2, gallery, 5, d, 3);
  assert.equal(r.k, 3);
  // Query 2 ties at similarity 0 between gallery 0 and 2: the lower index comes first.
  assert.deepEqual(Array.from(r.indices), [0, 3, 4, 0, 2, 3]);
  assert.ok(Math.abs(r.similarities[0]! - 1) < 1e-6);
  assert.ok(Math.abs(r.similarities[2]! - Math.SQRT1_2) < 1e-6, "scale does not matter (cosine)");
  assert.ok(r.similarities[0]! >= r.similarities[1]! && r.similarities[1]! >= r.similarities[2]!);
});

test("topKNeighbors ties, self-exclusion, clamping and zero vectors", () => {
  const g = Float32Array.from([1, 0, 1, 0, 0, 1, 0, 0]);
  // Equal similarities keep the lower gallery index first.
  assert.deepEqual(Array.from(topKNeighbors(Float32Array.from([1, 0]), 1, g, 4, 2, 2).indices), [0, 1]);
  const self = topKNeighbors(g.subarray(0, 4), 2, g, 4, 2, 1, { excludeSelf: true });
  assert.deepEqual(Array.from(self.indices), [1, 0]);
  const clamped = topKNeighbors(Float32Array.from([0, 1]), 1, g, 4, 2, 10, { excludeSelf: true });
  assert.equal(clamped.k, 3);
  assert.equal(clamped.indices.length, 3);
  assert.equal(clamped.indices[0], 2);
  const zero = l2NormalizeRows(Float32Array.from([0, 0, 3, 4]), 2, 2);
  assert.deepEqual(Array.from(zero), [0, 0, 0.6000000238418579, 0.800000011920929]);
  assert.throws(() => topKNeighbors(Float32Array.from([NaN, 0]), 1, g, 4, 2, 1), /non-finite/);
  assert.throws(() => topKNeighbors(g.subarray(0, 2), 1, g, 4, 2, 0), /positive integer/);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { knnPredict, knnTop1 } from "../../src/eval/knn.js";
import { UserError } from "../../src/util/errors.js";
import { gaussians, kept } from "./helpers.js";

// Five training points in 2-D (deliberately not unit length: the classifier normalises them).
//   a (1,0) class 0 · b (0,1) class 0 · c (−1,0) class 1 · d (1.6,1.2) class 1 · e (0.6,−0.8) class 1
// Query q = (4,3) has cosine similarities a 0.8, b 0.6, c −0.8, d 1.0, e 0.0.
const TRAIN = Float32Array.from([1, 0, 0, 2, -3, 0, 1.6, 1.2, 0.6, -0.8]);
const LABELS = Int32Array.from([0, 0, 1, 1, 1]);
const Q = Float32Array.from([4, 3]);

test("k=3, T=0.1: one very close neighbour outvotes two further ones", () => {
  // Neighbours d (class 1), a, b (class 0): class 1 scores e^10 = 22026, class 0 e^8 + e^6 = 3384.
  const pred = T.tidy(() => knnPredict(T.tensor(TRAIN, [5, 2]), LABELS, T.tensor(Q, [1, 2]), { k: 3, temperature: 0.1 }));
  assert.deepEqual([...pred], [1]);
});

test("k=3, T=1: the same neighbours vote for class 0", () => {
  // class 1: e^1 = 2.718; class 0: e^0.8 + e^0.6 = 2.226 + 1.822 = 4.048.
  const pred = T.tidy(() => knnPredict(T.tensor(TRAIN, [5, 2]), LABELS, T.tensor(Q, [1, 2]), { k: 3, temperature: 1 }));
  assert.deepEqual([...pred], [0]);
});

test("k larger than the train set uses every point", () => {
  // All five at T=1: class 0 e^0.8 + e^0.6 = 4.048; class 1 e^1 + e^-0.8 + e^0 = 4.167 → class 1,
  // which differs from the k=3 answer, so the extra points were counted.
  const { p10, p5 } = T.tidy(() => {
    const tr = T.tensor(TRAIN, [5, 2]);
    const q = T.tensor(Q, [1, 2]);
    return { p10: knnPredict(tr, LABELS, q, { k: 10, temperature: 1 }), p5: knnPredict(tr, LABELS, q, { k: 5, temperature: 1 }) };
  });
  assert.deepEqual([...p10], [1]);
  assert.deepEqual([...p5], [1]);
});

test("similarity is the cosine, not the dot product", () => {
  // f = (10, −5) has the largest dot product with q (25) but cosine only 0.45; d's cosine is 1.
  const train = Float32Array.from([...TRAIN, 10, -5]);
  const pred = T.tidy(() => knnPredict(T.tensor(train, [6, 2]), Int32Array.from([...LABELS, 0]), T.tensor(Q, [1, 2]), { k: 1 }));
  assert.deepEqual([...pred], [1]);
});

test("knnTop1 is the fraction of correct predictions", () => {
  // Queries: q (→1 at T=0.1), (1,0.01) next to a (→0), (−1,0.1) next to c (→1); truths 1, 0, 0.
  const acc = T.tidy(() =>
    knnTop1(T.tensor(TRAIN, [5, 2]), LABELS, T.tensor(Float32Array.from([4, 3, 1, 0.01, -1, 0.1]), [3, 2]), Int32Array.from([1, 0, 0]), { k: 1 }),
  );
  assert.equal(acc, 2 / 3);
});

// Plain double-precision reference: cosine similarities, top-k, exp(sim/T) votes, argmax (lowest class on ties).
function referenceKnn(train: Float32Array, labels: Int32Array, query: Float32Array, d: number, k: number, temp: number, classes: number): number[] {
  const n = labels.length;
  const m = query.length / d;
  const unit = (x: Float32Array, i: number) => {
    const v = Array.from(x.subarray(i * d, (i + 1) * d));
    const norm = Math.hypot(...v);
    return v.map((e) => e / norm);
  };
  const tr = Array.from({ length: n }, (_, i) => unit(train, i));
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    const q = unit(query, i);
    const sims = tr.map((t, j) => ({ j, s: t.reduce((acc, e, r) => acc + e * q[r], 0) }));
    sims.sort((a, b) => b.s - a.s);
    const scores = new Array(classes).fill(0);
    for (const { j, s } of sims.slice(0, Math.min(k, n))) scores[labels[j]] += Math.exp(s / temp);
    out.push(scores.indexOf(Math.max(...scores)));
  }
  return out;
}

test("matches a direct computation on random data, across chunk boundaries", () => {
  const g = gaussians(7);
  const n = 400, m = 150, d = 12, classes = 5;
  const train = Float32Array.from({ length: n * d }, g);
  const query = Float32Array.from({ length: m * d }, g);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % classes);
  const ftr = kept(train, n, d);
  const fte = kept(query, m, d);
  try {
    for (const [k, temp, chunk] of [[20, 0.1, 64], [200, 0.1, 256], [1, 0.5, 7], [1000, 0.07, 150]]) {
      const got = knnPredict(ftr, labels, fte, { k, temperature: temp, chunk, numClasses: classes });
      assert.deepEqual([...got], referenceKnn(train, labels, query, d, k, temp, classes), `k=${k} T=${temp} chunk=${chunk}`);
    }
  } finally {
    ftr.dispose();
    fte.dispose();
  }
});

test("frees every tensor it makes", () => {
  const ftr = kept(Float32Array.from({ length: 60 }, gaussians(3)), 20, 3);
  const fte = kept(Float32Array.from({ length: 30 }, gaussians(4)), 10, 3);
  const before = T.liveTensors();
  knnPredict(ftr, Int32Array.from({ length: 20 }, (_, i) => i % 2), fte, { k: 5, chunk: 3 });
  assert.equal(T.liveTensors(), before);
  ftr.dispose();
  fte.dispose();
});

test("rejects bad arguments with UserError", () => {
  T.tidy(() => {
    const tr = T.tensor(TRAIN, [5, 2]);
    const q = T.tensor(Q, [1, 2]);
    assert.throws(() => knnPredict(tr, Int32Array.from([0, 1]), q), UserError);
    assert.throws(() => knnPredict(tr, LABELS, T.zeros([1, 3])), UserError);
    assert.throws(() => knnPredict(tr, LABELS, q, { k: 0 }), UserError);
    assert.throws(() => knnPredict(tr, LABELS, q, { temperature: 0 }), UserError);
    assert.throws(() => knnPredict(tr, Int32Array.from([0, 0, -1, 1, 1]), q), UserError);
    assert.throws(() => knnPredict(tr, LABELS, q, { numClasses: 1 }), UserError);
  });
});

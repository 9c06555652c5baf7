// Weighted k-nearest-neighbour classifier on frozen features: the kNN monitor of InstDisc (Wu et al.
// 2018) as lightly and solo-learn use it for BYOL. Features are L2-normalised, so the dot product is
// the cosine similarity; each test row takes its k most similar training rows, each neighbour votes
// for its class with weight exp(sim / T), and the class with the largest summed weight wins.
//
// Test rows are processed in chunks against all training rows, so memory is bounded by
// chunk x n_train similarities (256 x 60 000 floats = 61 MB) whatever the size of the test set.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";

/** Settings of the weighted kNN classifier. */
export interface KnnOptions {
  /** Neighbours per test row (default 200, as lightly); clamped to the number of training rows. */
  k?: number;
  /** Temperature of the vote weights exp(sim / T) (default 0.1). */
  temperature?: number;
  /** Number of classes; default: largest training label + 1. */
  numClasses?: number;
  /** Test rows per chunk (default 256). */
  chunk?: number;
  /** Device to compute on; default: the training features' device. */
  device?: string;
}

export const KNN_DEFAULTS = { k: 200, temperature: 0.1, chunk: 256 } as const;

/** Predicted class per test row (int32, length n_test). */
export function knnPredict(trainFeat: T.Tensor, trainLabels: Int32Array, testFeat: T.Tensor, opts: KnnOptions = {}): Int32Array {
  const { n, m, k, temperature, numClasses, chunk } = checkArgs(trainFeat, trainLabels, testFeat, opts);
  const device = opts.device ?? trainFeat.device;
  const out = new Int32Array(m);
  T.noGrad(() =>
    T.tidy(() => {
      const train = T.normalize(trainFeat.to(device).to("float32"), 1); // [n, d]
      const trainT = train.t(); // [d, n] view: mm handles the transposed layout without a copy
      const labels = T.tensor(trainLabels, [n]).to(device).to("int64");
      for (let start = 0; start < m; start += chunk) {
        const len = Math.min(chunk, m - start);
        T.tidy(() => {
          const q = T.normalize(testFeat.narrow(0, start, len).to(device).to("float32"), 1);
          const sim = q.mm(trainT); // [len, n] cosine similarities
          const [top, idx] = sim.topk(k, 1, true, true); // [len, k]
          const weight = top.div(temperature).exp();
          const votes = labels.indexSelect(0, idx.flatten()).view(len, k);
          const scores = T.scatterAdd(T.zeros([len, numClasses], { device }), 1, votes, weight);
          // argmax returns the first maximum: a tie goes to the lower class index.
          const pred = scores.argmax(1).to("int32").to("cpu");
          out.set(pred.toArray() as Int32Array, start);
        });
      }
    }),
  );
  return out;
}

/** Top-1 accuracy (fraction in [0, 1]) of the weighted kNN classifier on the test rows. */
export function knnTop1(trainFeat: T.Tensor, trainLabels: Int32Array, testFeat: T.Tensor, testLabels: Int32Array, opts: KnnOptions = {}): number {
  if (testLabels.length !== testFeat.size(0)) {
    throw new UserError(`knn: ${testLabels.length} test labels for ${testFeat.size(0)} test rows`);
  }
  const pred = knnPredict(trainFeat, trainLabels, testFeat, opts);
  return accuracy(pred, testLabels);
}

/** Fraction of positions where pred equals truth (0 for empty input). */
export function accuracy(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  if (pred.length !== truth.length) throw new RangeError(`accuracy: ${pred.length} predictions for ${truth.length} labels`);
  if (pred.length === 0) return 0;
  let hit = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === truth[i]) hit++;
  return hit / pred.length;
}

function checkArgs(trainFeat: T.Tensor, trainLabels: Int32Array, testFeat: T.Tensor, opts: KnnOptions) {
  if (trainFeat.ndim !== 2 || testFeat.ndim !== 2) {
    throw new UserError(`knn: features must be 2-D [rows, dim], got [${trainFeat.shape}] and [${testFeat.shape}]`);
  }
  const [n, d] = trainFeat.shape;
  const [m, dt] = testFeat.shape;
  if (d !== dt) throw new UserError(`knn: train features have dimension ${d}, test features ${dt}`);
  if (n === 0) throw new UserError("knn: no training rows");
  if (trainLabels.length !== n) throw new UserError(`knn: ${trainLabels.length} train labels for ${n} train rows`);
  const k0 = opts.k ?? KNN_DEFAULTS.k;
  if (!Number.isInteger(k0) || k0 < 1) throw new UserError(`knn: k must be a positive integer, got ${k0}`);
  const temperature = opts.temperature ?? KNN_DEFAULTS.temperature;
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new UserError(`knn: temperature must be > 0, got ${temperature}`);
  const chunk = opts.chunk ?? KNN_DEFAULTS.chunk;
  if (!Number.isInteger(chunk) || chunk < 1) throw new UserError(`knn: chunk must be a positive integer, got ${chunk}`);
  let maxLabel = -1;
  for (let i = 0; i < n; i++) {
    const l = trainLabels[i];
    if (l < 0) throw new UserError(`knn: train label ${l} at row ${i} (unlabeled rows must be removed first)`);
    if (l > maxLabel) maxLabel = l;
  }
  const numClasses = opts.numClasses ?? maxLabel + 1;
  if (!Number.isInteger(numClasses) || numClasses <= maxLabel) {
    throw new UserError(`knn: numClasses ${numClasses} but train labels go up to ${maxLabel}`);
  }
  return { n, m, d, k: Math.min(k0, n), temperature, numClasses, chunk };
}

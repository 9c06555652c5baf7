// The paper's semi-supervised protocol as linear evaluation (BYOL, Grill et al. 2020, Table 2): the
// linear classifier is trained on 1% or 10% of the train labels only (class-balanced, seeded subsets)
// and scored on the whole test split. It reuses the features already extracted for the full protocol:
// a subset is a selection of their rows, so each fraction costs one small linear probe per encoder.
import * as T from "../torch/index.js";
import { prng, shuffleInPlace } from "../data/loader.js";
import { UserError } from "../util/errors.js";
import { linearProbe, type LinearProbeOptions } from "./linear.js";

/** The fractions of the paper's Table 2. */
export const LABEL_FRACTIONS = [0.01, 0.1] as const;

/** Test top-1 (fractions in [0, 1]) per label fraction, keyed as eval.json writes it ("0.01", "0.1"). */
export type LabelFractionScores = Record<string, { byol: number; random_init: number; raw_pixels: number }>;

// The random stream of the subsets, apart from the other uses of the evaluation seed.
const SUBSET_STREAM = 0x5ab5e7;

/**
 * Indices (ascending) of a class-balanced subset of the rows: from each class c with n_c rows,
 * max(1, round(fraction·n_c)) of them, drawn by one seeded shuffle of all rows (the first ones of each
 * class in that order), so the same labels and seed give the same subset, and for one seed a smaller
 * fraction's subset lies inside a larger one's. Rows labelled below 0 (unlabeled) are never picked.
 */
export function balancedSubset(labels: Int32Array, fraction: number, seed: number): Int32Array {
  if (!(fraction > 0 && fraction <= 1)) throw new UserError(`label fraction must be in (0, 1], got ${fraction}`);
  if (!Number.isInteger(seed)) throw new UserError(`label fraction subset: seed must be an integer, got ${seed}`);
  const perClass = new Map<number, number>();
  for (const l of labels) if (l >= 0) perClass.set(l, (perClass.get(l) ?? 0) + 1);
  const quota = new Map<number, number>();
  for (const [c, n] of perClass) quota.set(c, Math.max(1, Math.round(fraction * n)));
  const order = Int32Array.from({ length: labels.length }, (_, i) => i);
  shuffleInPlace(order, prng(seed, SUBSET_STREAM));
  const picked: number[] = [];
  for (const i of order) {
    const c = labels[i];
    const left = quota.get(c);
    if (c < 0 || !left) continue;
    picked.push(i);
    quota.set(c, left - 1);
  }
  return Int32Array.from(picked).sort();
}

/**
 * Linear top-1 on the test rows of a classifier trained on each fraction's subset of the train rows.
 * `trainFeat` [n, d] (CPU) and its labels; the subsets depend only on the labels and the seed, so every
 * encoder is scored on the same images. Returns the accuracy per fraction, keyed by String(fraction).
 */
export function fractionProbes(
  trainFeat: T.Tensor, trainLabels: Int32Array, testFeat: T.Tensor, testLabels: Int32Array,
  fractions: readonly number[], seed: number, opts: LinearProbeOptions,
): Record<string, number> {
  const out: Record<string, number> = {};
  // One CPU thread: each step multiplies at most [512, d] by [d, classes], far below what a thread pool
  // pays back, and on a busy machine its synchronisation dominated (measured with 2 threads while
  // other jobs ran: 72 s for one 1% probe on 128-d features, against 2.1 s with one thread).
  const cpu = (opts.device ?? trainFeat.device) === "cpu";
  const threads = T.getNumThreads();
  if (cpu) T.setNumThreads(1);
  try {
    for (const f of fractions) out[String(f)] = probeOne(trainFeat, trainLabels, testFeat, testLabels, f, seed, opts);
  } finally {
    if (cpu) T.setNumThreads(threads);
  }
  return out;
}

function probeOne(trainFeat: T.Tensor, trainLabels: Int32Array, testFeat: T.Tensor, testLabels: Int32Array, f: number, seed: number, opts: LinearProbeOptions): number {
  const idx = balancedSubset(trainLabels, f, seed);
  const rows = T.tidy(() => trainFeat.indexSelect(0, T.tensor(idx, [idx.length]).to("int64")).keep());
  try {
    const labels = Int32Array.from(idx, (i) => trainLabels[i]);
    return linearProbe(rows, labels, testFeat, testLabels, opts).top1;
  } finally {
    rows.dispose();
  }
}

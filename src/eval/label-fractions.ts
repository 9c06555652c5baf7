// The paper's semi-supervised protocol as linear evaluation (BYOL, Grill et al. 2020, Table 2): the
// linear classifier is trained on 1% or 10% of the train labels only (class-balanced, seeded subsets)
// and scored on the whole test split. A subset is a selection of rows of the features already
// extracted for the full protocol (evaluate.ts runs the linear protocol on it).
import { prng, shuffleInPlace } from "../data/loader.js";
import { UserError } from "../util/errors.js";

/** The fractions of the paper's Table 2. */
export const LABEL_FRACTIONS = [0.01, 0.1] as const;

// The random stream of the subsets, apart from the other uses of the evaluation seed.
const SUBSET_STREAM = 0x5ab5e7;

/**
 * Indices (ascending) of a class-balanced subset of the rows: from each class c with n_c rows,
 * max(1, round(fraction·n_c)) of them, drawn by one seeded shuffle of all rows (the first ones of each
 * class in that order), so the same labels and seed give the same subset, and for one seed a smaller
 * fraction's subset lies inside a larger one's. Rows labelled below 0 (unlabeled) are never picked,
 * nor rows listed in `exclude` (e.g. the validation split); the quotas still count every labelled row,
 * so "1%" stays 1% of the class's images when part of them is held out.
 */
export function balancedSubset(labels: Int32Array, fraction: number, seed: number, exclude?: Int32Array): Int32Array {
  if (!(fraction > 0 && fraction <= 1)) throw new UserError(`label fraction must be in (0, 1], got ${fraction}`);
  return stratifiedPick(labels, (n) => Math.max(1, Math.round(fraction * n)), seed, SUBSET_STREAM, exclude);
}

/**
 * The per-class quota of rows of each class in the order of one seeded shuffle (stream `stream`),
 * skipping unlabeled rows and those in `exclude`; indices ascending. Shared by the label-fraction
 * subsets and the validation split (validation-split.ts), which use different streams.
 */
export function stratifiedPick(labels: Int32Array, quotaOf: (classCount: number) => number, seed: number, stream: number, exclude?: Int32Array): Int32Array {
  if (!Number.isInteger(seed)) throw new UserError(`stratified subset: seed must be an integer, got ${seed}`);
  const perClass = new Map<number, number>();
  for (const l of labels) if (l >= 0) perClass.set(l, (perClass.get(l) ?? 0) + 1);
  const quota = new Map<number, number>();
  for (const [c, n] of perClass) quota.set(c, quotaOf(n));
  const skip = new Uint8Array(labels.length);
  if (exclude) for (const i of exclude) skip[i] = 1;
  const order = Int32Array.from({ length: labels.length }, (_, i) => i);
  shuffleInPlace(order, prng(seed, stream));
  const picked: number[] = [];
  for (const i of order) {
    const c = labels[i];
    const left = quota.get(c);
    if (c < 0 || !left || skip[i]) continue;
    picked.push(i);
    quota.set(c, left - 1);
  }
  return Int32Array.from(picked).sort();
}

// The validation split of the linear-evaluation protocol: a seeded, class-stratified part of the
// TRAIN split (never of the test split) on which the probe's weight decay is chosen. The probe that
// is scored on the test split is then retrained on the whole train split (linear-protocol.ts).
import { UserError } from "../util/errors.js";
import { stratifiedPick } from "./label-fractions.js";

/** The share of each class held out for validation (the paper's protocols hold out 10%). */
export const VALIDATION_FRACTION = 0.1;

// Its own random stream, apart from the label-fraction subsets' and the train subsample's.
const VALIDATION_STREAM = 0x7a11d;

/** Row indices (ascending) of the fitting part and the validation part of a labelled train split. */
export interface ValidationSplit {
  fit: Int32Array;
  val: Int32Array;
}

/**
 * From each class with n_c rows, round(fraction·n_c) rows go to validation (at least 1 when n_c ≥ 2,
 * and never all of them: at least one row of every class stays to fit on). Seeded: the same labels and
 * seed give the same split. Unlabeled rows (label < 0) are in neither part.
 */
export function validationSplit(labels: Int32Array, fraction: number, seed: number): ValidationSplit {
  if (!(fraction > 0 && fraction < 1)) throw new UserError(`validation fraction must be in (0, 1), got ${fraction}`);
  const val = stratifiedPick(labels, (n) => Math.min(n - 1, Math.max(1, Math.round(fraction * n))), seed, VALIDATION_STREAM);
  if (val.length === 0) throw new UserError("linear protocol: the train split is too small for a validation split (every class has a single image)");
  const inVal = new Uint8Array(labels.length);
  for (const i of val) inVal[i] = 1;
  const fit: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] >= 0 && !inVal[i]) fit.push(i);
  return { fit: Int32Array.from(fit), val };
}

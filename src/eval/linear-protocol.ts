// The linear-evaluation protocol (BYOL, Grill et al. 2020, §4 and App. D, after Kornblith et al.
// 2019): an ℓ2-regularised multinomial logistic regression on frozen features, its weight decay chosen
// on a validation split held out from the train split, then retrained on the whole train split with
// that value and scored once on the test split. The label-fraction protocol (Table 2) chooses on the
// same validation split; its classifier is the one fitted on the fraction's subset.
//
// Features are standardised per dimension with the mean and standard deviation of the whole train
// split (label-free statistics; the test split never contributes), the same map for the test rows and
// for every representation. Why: the penalty λ‖W‖² means the same thing only if the features have
// comparable scales, and a trained ResNet, a random one and raw pixels differ by orders of magnitude;
// standardised, one grid of λ covers them all, and no linear classifier loses separating power.
// Dimensions constant on the train split become 0.
//
// No learning rate: the solver is full-batch L-BFGS (logistic-lbfgs.ts), whose line search sets the
// step lengths, and the problem is convex, so the grid is over the weight decay alone (eval.json
// writes "lr": null in each grid point to say so).
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { accuracy } from "./knn.js";
import { covariancePreconditioner, fitLogisticLbfgs, type LogisticFit } from "./logistic-lbfgs.js";
import { predict as predictRows } from "./linear.js";
import type { ValidationSplit } from "./validation-split.js";

/** λ of the grid, strongest first: each fit starts from the previous one's solution (a warm start). */
export const WEIGHT_DECAY_GRID = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6] as const;

export interface ProtocolOptions {
  numClasses: number;
  /** The share of the train split held out (recorded; the split itself is passed in). */
  validationFraction: number;
  weightDecays?: readonly number[];
  /** L-BFGS iterations per grid point (default 30) and for the final fit (default 50). */
  gridIter?: number;
  finalIter?: number;
}

/** One point of the grid as eval.json writes it. */
export interface GridPoint {
  weight_decay: number;
  lr: null;
  val_top1: number;
}

/** The protocol's record for one representation (eval.json's linear_protocol.<name>). */
export interface ProtocolRecord {
  solver: "lbfgs";
  validation_fraction: number;
  /** Rows the grid's probes were fitted on, and validation rows they were scored on. */
  fit_images: number;
  validation_images: number;
  grid: GridPoint[];
  chosen: GridPoint;
  /** Rows the final probe was trained on (the whole train split, or the label fraction's subset). */
  train_images: number;
  /** The final probe's accuracy on its own training rows, and on the test split. */
  train_top1: number;
  test_top1: number;
  /** L-BFGS iterations of the final fit. */
  iterations: number;
}

/** Standardised copies (kept, float32, on `device`) of the train and test features; see the header. */
export function standardiseFeatures(train: T.Tensor, test: T.Tensor, device: string): { x: T.Tensor; xTest: T.Tensor } {
  if (train.ndim !== 2 || test.ndim !== 2 || train.size(1) !== test.size(1)) throw new UserError(`linear protocol: features [${train.shape}] and [${test.shape}] do not match`);
  return T.noGrad(() => T.tidy(() => {
    const x0 = train.to(device).to("float32");
    const mean = x0.mean(0, true);
    const std = x0.std(0, { unbiased: false, keepdim: true });
    const inv = T.where(std.gt(1e-12), std.reciprocal(), 0);
    return { x: x0.sub(mean).mul_(inv).keep(), xTest: test.to(device).to("float32").sub(mean).mul_(inv).keep() };
  }));
}

/** Index of the grid's best validation accuracy; on ties the first, i.e. the strongest regularisation. */
export function argmaxValidation(grid: readonly { val_top1: number }[]): number {
  if (grid.length === 0) throw new UserError("linear protocol: empty grid");
  let best = 0;
  for (let i = 1; i < grid.length; i++) if (grid[i].val_top1 > grid[best].val_top1) best = i;
  return best;
}

/**
 * The whole protocol on standardised features: the grid fitted on split.fit and scored on split.val,
 * the chosen λ refitted on every train row (warm-started from the chosen grid fit), scored on the test
 * rows. `subset`, if given (a label fraction's rows, inside split.fit), replaces split.fit for the grid
 * and the whole train split for the final probe, which is then the chosen grid fit itself.
 */
export function runLinearProtocol(
  x: T.Tensor, labels: Int32Array, xTest: T.Tensor, testLabels: Int32Array, split: ValidationSplit, o: ProtocolOptions,
  subset?: Int32Array,
): ProtocolRecord {
  const grid = o.weightDecays ?? WEIGHT_DECAY_GRID;
  if (grid.length === 0) throw new UserError("linear protocol: the weight-decay grid is empty");
  for (const wd of grid) if (!(wd > 0) || !Number.isFinite(wd)) throw new UserError(`linear protocol: weight decays must be > 0, got ${wd}`);
  if (labels.length !== x.size(0)) throw new UserError(`linear protocol: ${labels.length} labels for ${x.size(0)} rows`);
  const fitRows = subset ?? split.fit;
  const pick = (rows: Int32Array) => T.tidy(() => x.indexSelect(0, T.tensor(rows, [rows.length]).to("int64").to(x.device)).keep());
  const labelsOf = (rows: Int32Array) => Int32Array.from(rows, (i) => labels[i]);
  const xFit = pick(fitRows);
  const xVal = pick(split.val);
  const fitLabels = labelsOf(fitRows);
  const valLabels = labelsOf(split.val);
  // The preconditioner follows the rows being fitted (the subset's covariance for a label fraction).
  const pre = covariancePreconditioner(xFit, o.numClasses);
  const points: GridPoint[] = [];
  // Fits still held: the previous one (the next warm start) and the best so far; the rest are freed.
  const live = new Set<LogisticFit>();
  let prev: LogisticFit | null = null;
  let best: LogisticFit | null = null;
  try {
    for (const wd of grid) {
      const fit = fitLogisticLbfgs(xFit, fitLabels, o.numClasses, wd, { maxIter: o.gridIter ?? 30, precondition: pre.apply(wd) }, prev ?? undefined);
      live.add(fit);
      points.push({ weight_decay: wd, lr: null, val_top1: accuracy(predict(xVal, fit), valLabels) });
      if (argmaxValidation(points) === points.length - 1) best = fit;
      prev = fit;
      for (const f of live) if (f !== best && f !== prev) { disposeFit(f); live.delete(f); }
    }
    const chosen = points[argmaxValidation(points)];
    let final = best!;
    let trainX = xFit;
    let trainLabels: Int32Array = fitLabels;
    if (!subset) {
      // Retrained on the whole train split with the chosen λ (warm start: the same problem with 10% more
      // rows; the fitting part's covariance still preconditions it well, and a d×d product is saved).
      final = fitLogisticLbfgs(x, labels, o.numClasses, chosen.weight_decay, { maxIter: o.finalIter ?? 50, precondition: pre.apply(chosen.weight_decay) }, best!);
      live.add(final);
      trainX = x;
      trainLabels = labels;
    }
    return {
      solver: "lbfgs",
      validation_fraction: o.validationFraction,
      fit_images: fitRows.length,
      validation_images: split.val.length,
      grid: points,
      chosen,
      train_images: trainLabels.length,
      train_top1: accuracy(predict(trainX, final), trainLabels),
      test_top1: accuracy(predict(xTest, final), testLabels),
      iterations: final.iterations,
    };
  } finally {
    for (const f of live) disposeFit(f);
    pre.dispose();
    xFit.dispose();
    xVal.dispose();
  }
}

function disposeFit(f: LogisticFit): void {
  f.weight.dispose();
  f.bias.dispose();
}

/** The fit's predicted class per row. */
function predict(x: T.Tensor, fit: LogisticFit): Int32Array {
  return predictRows(x, fit.weight, fit.bias);
}

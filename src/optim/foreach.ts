// Multi-tensor updates for optimizers and EMA: one fused _foreach_* call per list where this libtorch
// has the operators (1.13 has these), and a plain per-tensor loop otherwise. Results are the same.
import * as T from "../torch/index.js";

let fused: boolean | undefined;

/** Whether the fused _foreach_* operators are available (checked once). BYOL_NO_FOREACH=1 forces the loop. */
export function hasForeach(): boolean {
  if (fused === undefined) {
    fused = process.env.BYOL_NO_FOREACH !== "1" &&
      ["_foreach_add_.List", "_foreach_add.List", "_foreach_mul_.Scalar", "_foreach_mul_.List", "_foreach_add_.Scalar",
        "_foreach_addcmul_.Scalar", "_foreach_addcdiv_.Scalar", "_foreach_div_.Scalar", "_foreach_norm.Scalar", "_foreach_sqrt."]
        .every((n) => {
          const [name, overload] = n.split(".");
          return T.hasOp(name, overload);
        });
  }
  return fused;
}

/** For tests: force the fallback (false) or re-detect (undefined). */
export function setForeach(value: boolean | undefined): void {
  fused = value === undefined ? undefined : value && hasForeach();
}

/** xs ← xs · s */
export function mulScalar_(xs: T.Tensor[], s: number): void {
  if (!xs.length) return;
  if (hasForeach()) T.foreach.mul_(xs, s);
  else for (const x of xs) x.mul_(s);
}

/** xs[i] ← xs[i] · ts[i] (ts may hold 0-d tensors, broadcast). */
export function mulTensors_(xs: T.Tensor[], ts: T.Tensor[]): void {
  if (!xs.length) return;
  if (hasForeach()) T.foreach.mul_(xs, ts);
  else xs.forEach((x, i) => x.mul_(ts[i]));
}

/** xs[i] ← xs[i] + alpha · ys[i] */
export function add_(xs: T.Tensor[], ys: T.Tensor[], alpha = 1): void {
  if (!xs.length) return;
  if (hasForeach()) T.foreach.add_(xs, ys, alpha);
  else xs.forEach((x, i) => x.add_(ys[i], alpha));
}

/**
 * xs[i] ← xs[i] + alpha · s · ys[i], where s is a number or a 0-d tensor read on the device (so that a
 * captured CUDA graph picks up a new value written into it before each replay).
 */
export function addScaled_(xs: T.Tensor[], ys: T.Tensor[], s: number | T.Tensor, alpha = 1): void {
  if (typeof s === "number") add_(xs, ys, alpha * s);
  else addcmul_(xs, ys, xs.map(() => s), alpha);
}

/** New tensors xs[i] / ys[i]. */
export function div(xs: T.Tensor[], ys: T.Tensor[]): T.Tensor[] {
  if (!xs.length) return [];
  if (hasForeach()) return T.callOp("_foreach_div", "List", xs, ys) as T.Tensor[];
  return xs.map((x, i) => x.div(ys[i]));
}

/** New tensors xs[i] + alpha · ys[i]. */
export function add(xs: T.Tensor[], ys: T.Tensor[], alpha = 1): T.Tensor[] {
  if (!xs.length) return [];
  if (hasForeach()) return T.callOp("_foreach_add", "List", xs, ys, alpha) as T.Tensor[];
  return xs.map((x, i) => x.add(ys[i], alpha));
}

/** xs ← xs + s */
export function addScalar_(xs: T.Tensor[], s: number): void {
  if (!xs.length) return;
  if (hasForeach()) T.foreach.addScalar_(xs, s);
  else for (const x of xs) x.add_(s);
}

/** xs ← xs / s */
export function divScalar_(xs: T.Tensor[], s: number): void {
  if (!xs.length) return;
  if (hasForeach()) T.callOp("_foreach_div_", "Scalar", xs, s);
  else for (const x of xs) x.div_(s);
}

/** xs ← xs + v · a · b */
export function addcmul_(xs: T.Tensor[], a: T.Tensor[], b: T.Tensor[], v = 1): void {
  if (!xs.length) return;
  if (hasForeach()) T.foreach.addcmul_(xs, a, b, v);
  else xs.forEach((x, i) => x.addcmul_(a[i], b[i], v));
}

/** xs ← xs + v · a / b */
export function addcdiv_(xs: T.Tensor[], a: T.Tensor[], b: T.Tensor[], v = 1): void {
  if (!xs.length) return;
  if (hasForeach()) T.callOp("_foreach_addcdiv_", "Scalar", xs, a, b, v);
  else xs.forEach((x, i) => x.addcdiv_(a[i], b[i], v));
}

/** New tensors √xs. */
export function sqrt(xs: T.Tensor[]): T.Tensor[] {
  if (!xs.length) return [];
  if (hasForeach()) return T.foreach.sqrt(xs);
  return xs.map((x) => x.sqrt());
}

/** The L2 norm of each tensor, as 0-d tensors. */
export function norms(xs: T.Tensor[]): T.Tensor[] {
  if (!xs.length) return [];
  if (hasForeach()) return T.foreach.norm(xs, 2);
  return xs.map((x) => x.norm());
}

/** xs ← xs + w · (ys − xs), i.e. (1 − w)·xs + w·ys: the EMA step of a target network. */
export function lerp_(xs: T.Tensor[], ys: T.Tensor[], w: number): void {
  if (!xs.length) return;
  if (hasForeach()) T.foreach.lerp_(xs, ys, w);
  else xs.forEach((x, i) => x.lerp_(ys[i], w));
}

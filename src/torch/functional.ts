// Free functions over tensors: joining, selection, neural-network ops, losses and fused updates.
import { native } from "./native.js";
import { hasOp, op } from "./op.js";
import { Tensor, TensorOrScalar } from "./tensor.js";

const O = {
  cat: op("cat"), stack: op("stack"), where: op("where", "self"), whereS: op("where", "ScalarOther"),
  conv2d: op("conv2d"), batchNorm: op("batch_norm"), linear: op("linear"), maxPool2d: op("max_pool2d"),
  avgPool2d: op("avg_pool2d"), adaptiveAvgPool2d: op("adaptive_avg_pool2d"), crossEntropy: op("cross_entropy_loss"),
  mse: op("mse_loss"), cosine: op("cosine_similarity"), gridSampler: op("grid_sampler"),
  affineGrid: op("affine_grid_generator"), constantPad: op("constant_pad_nd"), reflectionPad2d: op("reflection_pad2d"),
  upsampleBilinear: op("upsample_bilinear2d"), upsampleBicubic: op("upsample_bicubic2d"), oneHot: op("one_hot"),
  dropout: op("dropout"), einsum: op("einsum"), scatterAdd: op("scatter_add"), bincount: op("bincount"),
  foreachMulS: op("_foreach_mul_", "Scalar"), foreachMulL: op("_foreach_mul_", "List"),
  foreachMulSL: op("_foreach_mul_", "ScalarList"), foreachAddL: op("_foreach_add_", "List"),
  foreachAddS: op("_foreach_add_", "Scalar"), foreachAddcmul: op("_foreach_addcmul_", "Scalar"),
  foreachNorm: op("_foreach_norm", "Scalar"), foreachZero: op("_foreach_zero_"), foreachLerp: op("_foreach_lerp_", "Scalar"),
  foreachSqrt: op("_foreach_sqrt"), foreachDivL: op("_foreach_div_", "List"),
};

let hasLerp: boolean | undefined;
const ids = (ts: Tensor[]) => ts.map((t) => t.id);
const many = (hs: number[]) => hs.map((h) => new Tensor(h));

/** Concatenates tensors along dim. */
export function cat(ts: Tensor[], dim = 0): Tensor {
  return new Tensor(native.call(O.cat.handle, ids(ts), dim));
}
/** Stacks tensors of one shape along a new dim. */
export function stack(ts: Tensor[], dim = 0): Tensor {
  return new Tensor(native.call(O.stack.handle, ids(ts), dim));
}
/** cond ? a : b, element-wise with broadcasting. */
export function where(cond: Tensor, a: Tensor, b: TensorOrScalar): Tensor {
  return new Tensor(b instanceof Tensor ? native.call(O.where.handle, cond.id, a.id, b.id) : native.call(O.whereS.handle, cond.id, a.id, b));
}

// ---- neural-network ops ---------------------------------------------------------------------------------
/** 2-D convolution (torch.nn.functional.conv2d). */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, stride: number | number[] = 1, padding: number | number[] = 0, dilation: number | number[] = 1, groups = 1): Tensor {
  return new Tensor(native.call(O.conv2d.handle, x.id, w.id, bias?.id ?? null, stride, padding, dilation, groups));
}
/** x·wᵀ + bias (torch.nn.functional.linear). */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  return new Tensor(native.call(O.linear.handle, x.id, w.id, bias?.id ?? null));
}
/** Batch normalisation; in training mode updates running statistics in place (PyTorch's momentum convention). */
export function batchNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, runningMean: Tensor | null, runningVar: Tensor | null, training: boolean, momentum = 0.1, eps = 1e-5): Tensor {
  return new Tensor(native.call(O.batchNorm.handle, x.id, weight?.id ?? null, bias?.id ?? null, runningMean?.id ?? null, runningVar?.id ?? null, training, momentum, eps, true));
}
/** 2-D max pooling (stride defaults to the kernel size). */
export function maxPool2d(x: Tensor, kernel: number | number[], stride?: number | number[], padding: number | number[] = 0): Tensor {
  return new Tensor(native.call(O.maxPool2d.handle, x.id, kernel, stride ?? kernel, padding, 1, false));
}
/** 2-D average pooling (stride defaults to the kernel size). */
export function avgPool2d(x: Tensor, kernel: number | number[], stride?: number | number[], padding: number | number[] = 0): Tensor {
  return new Tensor(native.call(O.avgPool2d.handle, x.id, kernel, stride ?? kernel, padding, false, true, null));
}
/** Average pooling to a fixed output size. */
export function adaptiveAvgPool2d(x: Tensor, size: number | number[]): Tensor {
  return new Tensor(native.call(O.adaptiveAvgPool2d.handle, x.id, typeof size === "number" ? [size, size] : size));
}
/** Zeroes elements with probability p in training mode, scaling the rest by 1/(1 − p). */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return new Tensor(native.call(O.dropout.handle, x.id, p, training));
}
/** max(x, 0). */
export function relu(x: Tensor): Tensor {
  return x.relu();
}

// ---- losses and similarities ------------------------------------------------------------------------------
/** Mean cross-entropy of logits [N, C] against int64 class targets [N]. */
export function crossEntropy(logits: Tensor, target: Tensor, labelSmoothing = 0): Tensor {
  return new Tensor(native.call(O.crossEntropy.handle, logits.id, target.id, null, 1, -100, labelSmoothing));
}
/** Mean squared error. */
export function mseLoss(a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.call(O.mse.handle, a.id, b.id, 1));
}
/** Cosine similarity of a and b along dim. */
export function cosineSimilarity(a: Tensor, b: Tensor, dim = 1, eps = 1e-8): Tensor {
  return new Tensor(native.call(O.cosine.handle, a.id, b.id, dim, eps));
}
/** x / max(‖x‖_p, eps) along dim, as torch.nn.functional.normalize. */
export function normalize(x: Tensor, dim = 1, p = 2, eps = 1e-12): Tensor {
  const n = x.norm(p, dim, true);
  const c = n.clamp(eps);
  const e = c.expand(...x.shape);
  const out = x.div(e);
  n.dispose();
  c.dispose();
  e.dispose();
  return out;
}
/** One-hot rows (int64) of integer class indices. */
export function oneHot(t: Tensor, classes: number): Tensor {
  return new Tensor(native.call(O.oneHot.handle, t.id, classes));
}
/** Einstein summation, as torch.einsum. */
export function einsum(eq: string, ts: Tensor[]): Tensor {
  return new Tensor(native.call(O.einsum.handle, eq, ids(ts), null));
}
/** x with src added at index along dim (out of place), as torch.scatter_add. */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  return new Tensor(native.call(O.scatterAdd.handle, x.id, dim, index.id, src.id));
}

// ---- resampling -----------------------------------------------------------------------------------------
/** Resampling kernels of gridSample and interpolate. */
export type Interpolation = "bilinear" | "nearest" | "bicubic";
const INTERP = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const PADDING = { zeros: 0, border: 1, reflection: 2 } as const;
/** Samples x [N,C,H,W] at grid [N,Ho,Wo,2] of (x, y) in [-1, 1] (torch.nn.functional.grid_sample). */
export function gridSample(x: Tensor, grid: Tensor, mode: Interpolation = "bilinear", padding: keyof typeof PADDING = "zeros", alignCorners = false): Tensor {
  return new Tensor(native.call(O.gridSampler.handle, x.id, grid.id, INTERP[mode], PADDING[padding], alignCorners));
}
/** Sampling grid [N,H,W,2] for affine matrices theta [N,2,3] (torch.nn.functional.affine_grid). */
export function affineGrid(theta: Tensor, size: number[], alignCorners = false): Tensor {
  return new Tensor(native.call(O.affineGrid.handle, theta.id, size, alignCorners));
}
/** Pads the last dimensions: pad = [left, right, top, bottom, ...] as torch.nn.functional.pad. */
export function pad(x: Tensor, padding: number[], mode: "constant" | "reflect" = "constant", value = 0): Tensor {
  if (mode === "reflect") return new Tensor(native.call(O.reflectionPad2d.handle, x.id, padding));
  return new Tensor(native.call(O.constantPad.handle, x.id, padding, value));
}
/** Resizes x [N, C, H, W] to size, bilinear or bicubic (torch.nn.functional.interpolate). */
export function interpolate(x: Tensor, size: [number, number], mode: "bilinear" | "bicubic" = "bilinear", alignCorners = false): Tensor {
  const o = mode === "bicubic" ? O.upsampleBicubic : O.upsampleBilinear;
  return new Tensor(native.call(o.handle, x.id, size, alignCorners, null, null));
}

// ---- fused multi-tensor updates (one dispatcher call for a whole list) ------------------------------------
/** Fused updates of whole tensor lists, one dispatcher call each (torch._foreach_*). */
export const foreach = {
  mul_(xs: Tensor[], s: number | Tensor[] | number[]): void {
    if (typeof s === "number") native.callDrop(O.foreachMulS.handle, ids(xs), s);
    else if (s.length && s[0] instanceof Tensor) native.callDrop(O.foreachMulL.handle, ids(xs), ids(s as Tensor[]));
    else native.callDrop(O.foreachMulSL.handle, ids(xs), s);
  },
  add_(xs: Tensor[], ys: Tensor[], alpha = 1): void {
    native.callDrop(O.foreachAddL.handle, ids(xs), ids(ys), alpha);
  },
  addScalar_(xs: Tensor[], s: number): void {
    native.callDrop(O.foreachAddS.handle, ids(xs), s);
  },
  addcmul_(xs: Tensor[], a: Tensor[], b: Tensor[], value = 1): void {
    native.callDrop(O.foreachAddcmul.handle, ids(xs), ids(a), ids(b), value);
  },
  div_(xs: Tensor[], ys: Tensor[]): void {
    native.callDrop(O.foreachDivL.handle, ids(xs), ids(ys));
  },
  /** xs += w * (ys - xs): the EMA update of a target network in one call. */
  lerp_(xs: Tensor[], ys: Tensor[], w: number): void {
    if (hasLerp ??= hasOp("_foreach_lerp_", "Scalar")) {
      native.callDrop(O.foreachLerp.handle, ids(xs), ids(ys), w);
    } else {
      // libtorch 1.13 has no _foreach_lerp_: x ← (1 − w)·x + w·y with two fused calls.
      native.callDrop(O.foreachMulS.handle, ids(xs), 1 - w);
      native.callDrop(O.foreachAddL.handle, ids(xs), ids(ys), w);
    }
  },
  zero_(xs: Tensor[]): void {
    native.callDrop(O.foreachZero.handle, ids(xs));
  },
  norm(xs: Tensor[], p = 2): Tensor[] {
    return many(native.call(O.foreachNorm.handle, ids(xs), p));
  },
  sqrt(xs: Tensor[]): Tensor[] {
    return many(native.call(O.foreachSqrt.handle, ids(xs)));
  },
};

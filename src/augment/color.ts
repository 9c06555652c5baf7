// Point-wise colour operations on float batches [N, C, H, W] in [0, 1], each image with its own factor
// (a [N] tensor). The formulas are torchvision's: every adjustment blends the image with a reference
// (black, the mean grey level, the grey image) and clamps to [0, 1].
import * as T from "../torch/index.js";
import { perImage } from "./random.js";

// ITU-R 601-2 luma weights, as torchvision's rgb_to_grayscale.
export const LUMA = [0.2989, 0.587, 0.114] as const;

/** Grey level [N, 1, H, W] of RGB images (a one-channel batch is its own grey level). */
export function grayscale(x: T.Tensor): T.Tensor {
  if (x.size(1) === 1) return x.clone();
  return T.tidy(() =>
    x.narrow(1, 0, 1).mul(LUMA[0]).add_(x.narrow(1, 1, 1), LUMA[1]).add_(x.narrow(1, 2, 1), LUMA[2]),
  );
}

/** clamp(f·x + (1 − f)·ref, 0, 1) with f [N] per image; ref broadcasts against x. */
export function blend(x: T.Tensor, ref: T.Tensor | null, f: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const f4 = perImage(f);
    const out = x.mul(f4);
    if (ref) out.add_(ref.mul(f4.neg().add(1)));
    return out.clamp_(0, 1);
  });
}

/** x·b, clamped. */
export function adjustBrightness(x: T.Tensor, factor: T.Tensor): T.Tensor {
  return blend(x, null, factor);
}

/** Blend with the image's mean grey level. */
export function adjustContrast(x: T.Tensor, factor: T.Tensor): T.Tensor {
  return T.tidy(() => blend(x, grayscale(x).mean([1, 2, 3], true), factor));
}

/** Blend with the image's grey version (identity on one channel). */
export function adjustSaturation(x: T.Tensor, factor: T.Tensor): T.Tensor {
  if (x.size(1) === 1) return x.clone();
  return T.tidy(() => blend(x, grayscale(x), factor));
}

/** Images where mask [N] is set become grey (replicated over the channels). */
export function randomGrayscale(x: T.Tensor, mask: T.Tensor): T.Tensor {
  if (x.size(1) === 1) return x.clone();
  return T.tidy(() => T.where(perImage(mask), grayscale(x).expand(...x.shape), x));
}

/** Pixels ≥ threshold become 1 − x in the images where mask [N] is set (x in [0, 1]). */
export function solarize(x: T.Tensor, threshold: number, mask: T.Tensor | null = null): T.Tensor {
  return T.tidy(() => {
    // Per-image thresholds, +∞ where the mask is off: one broadcast comparison selects the pixels.
    const th = mask ? perImage(T.where(mask, T.full([x.size(0)], threshold, { device: x.device }), Infinity)) : null;
    const hit = th ? x.ge(th) : x.ge(threshold);
    // |x − hit| is 1 − x where hit and x elsewhere (x ∈ [0, 1]), exactly, without a slow `where`.
    const out = x.sub(hit.to(x.dtype));
    T.callOp("abs_", "", out);
    return out;
  });
}

/** Per-channel (scale, bias) [1, C, 1, 1] on a device such that x·scale + bias = (x − mean) / std. */
export function normalizeConstants(mean: readonly number[], std: readonly number[], device: string): [T.Tensor, T.Tensor] {
  return T.tidy(() => {
    const c = mean.length;
    const scale = T.tensor(std.map((s) => 1 / s), [1, c, 1, 1], { device });
    const bias = T.tensor(mean.map((m, i) => -m / std[i]!), [1, c, 1, 1], { device });
    return [scale, bias];
  });
}

/** (x − mean[c]) / std[c] per channel, as one fused multiply-add; pass cached constants to skip their upload. */
export function normalize(x: T.Tensor, mean: readonly number[], std: readonly number[], constants?: [T.Tensor, T.Tensor]): T.Tensor {
  return T.tidy(() => {
    const [scale, bias] = constants ?? normalizeConstants(mean, std, x.device);
    return T.callOp("addcmul", "", bias, x, scale, 1) as T.Tensor;
  });
}

/** The inverse of normalize, for display. */
export function denormalize(x: T.Tensor, mean: readonly number[], std: readonly number[]): T.Tensor {
  const out = x.clone();
  for (let c = 0; c < mean.length; c++) {
    const v = out.narrow(1, c, 1);
    v.mul_(std[c]!).add_(mean[c]!);
    v.dispose();
  }
  return out;
}

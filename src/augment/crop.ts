// Random resized crop and horizontal flip, batched: every image gets its own box, and all boxes are
// resampled in one affine_grid + grid_sample call. The flip is folded into the same affine map.
import * as T from "../torch/index.js";
import type { CropInterpolation } from "./config.js";
import { uniform } from "./random.js";

/** Candidate boxes drawn per image before falling back to the centre crop (torchvision uses 10 tries). */
const ATTEMPTS = 10;

/**
 * Boxes [n, 4] = (top, left, height, width) in whole pixels, as torchvision's RandomResizedCrop picks
 * them: area fraction ~ U(scale), aspect ratio log-uniform in `ratio`, the first of ten candidates that
 * fits the image, else a centre crop with the aspect ratio clamped into `ratio`. The ten tries are drawn
 * at once for the whole batch and the first valid one selected per image.
 */
export function sampleCropBoxes(
  n: number, height: number, width: number, scale: [number, number], ratio: [number, number], device: string,
): T.Tensor {
  return T.tidy(() => {
    const area = uniform([n, ATTEMPTS], scale[0], scale[1], device).mul(height * width);
    const aspect = uniform([n, ATTEMPTS], Math.log(ratio[0]), Math.log(ratio[1]), device).exp();
    const w = area.mul(aspect).sqrt().round();
    const h = area.div(aspect).sqrt().round();
    const fits = w.ge(1).logicalAnd(w.le(width)).logicalAnd(h.ge(1)).logicalAnd(h.le(height)).float();
    // argmax returns the first maximum, i.e. the first candidate that fits; amax says whether any did.
    const first = fits.argmax(1, true);
    const anyFits = fits.amax(1).gt(0);
    const [fh, fw] = centreFallback(height, width, ratio);
    const hSel = T.where(anyFits, h.gather(1, first).squeeze(1), fh);
    const wSel = T.where(anyFits, w.gather(1, first).squeeze(1), fw);
    // Position uniform over the valid offsets, like randint(0, side − size + 1); the centre on fallback.
    const maxTop = hSel.neg().add(height);
    const maxLeft = wSel.neg().add(width);
    const top = T.where(anyFits, uniform([n], 0, 1, device).mul(maxTop.add(1)).floor().minimum(maxTop), Math.floor((height - fh) / 2));
    const left = T.where(anyFits, uniform([n], 0, 1, device).mul(maxLeft.add(1)).floor().minimum(maxLeft), Math.floor((width - fw) / 2));
    return T.stack([top, left, hSel, wSel], 1);
  });
}

// torchvision's fallback: the whole image, cut down to the nearest allowed aspect ratio.
function centreFallback(height: number, width: number, ratio: [number, number]): [number, number] {
  const inRatio = width / height;
  if (inRatio < ratio[0]) return [Math.min(height, Math.round(width / ratio[0])), width];
  if (inRatio > ratio[1]) return [height, Math.min(width, Math.round(height * ratio[1]))];
  return [height, width];
}

// Cubic convolution with a = −0.75, the kernel of PyTorch's bicubic interpolate and grid_sample.
const A = -0.75;
/** Weight of a tap at distance d ≤ 1. */
function cubicNear(d: T.Tensor): T.Tensor {
  return d.mul(A + 2).sub(A + 3).mul(d).mul(d).add(1);
}
/** Weight of a tap at distance 1 ≤ d ≤ 2. */
function cubicFar(d: T.Tensor): T.Tensor {
  return d.mul(A).sub(5 * A).mul(d).add(8 * A).mul(d).sub(4 * A);
}

/**
 * Resampling matrices [N, size, inSize] for one axis: row u of image n holds the weights with which
 * output pixel u mixes the input pixels. Output u samples the input at start + (u + 0.5)·len/size − 0.5
 * (back to front where flip is set); taps past the image read its edge pixel.
 */
function axisWeights(
  start: T.Tensor, len: T.Tensor, size: number, inSize: number, interpolation: CropInterpolation, flip: T.Tensor | null,
): T.Tensor {
  const n = start.size(0);
  const device = start.device;
  let frac = T.arange(0, size, 1, { dtype: "float32", device }).add(0.5).div(size).view(1, size);
  if (flip) frac = T.where(flip.view(n, 1), frac.neg().add(1), frac);
  const pos = frac.mul(len.view(n, 1)).add(start.view(n, 1)).sub(0.5);
  const base = pos.floor();
  const t = pos.sub(base);
  const one = t.neg().add(1);
  const [first, weights] = interpolation === "bilinear"
    ? [0, [one, t]]
    : [-1, [cubicFar(t.add(1)), cubicNear(t), cubicNear(one), cubicFar(one.add(1))]];
  const index = weights.map((_, k) => base.add(first + k).clamp_(0, inSize - 1));
  // Taps clamped onto the same edge pixel add up, which is exactly edge replication. The clamped
  // indices are non-decreasing along the taps, so each run of equal ones is summed here, in a fixed
  // order, into its last tap (the others become 0): the scatter below then adds at most one non-zero
  // value per matrix entry, and CUDA's atomic adds cannot make the result depend on their order.
  for (let k = 1; k < weights.length; k++) {
    const same = index[k]!.eq(index[k - 1]!);
    weights[k] = weights[k]!.add(T.where(same, weights[k - 1]!, 0));
    weights[k - 1] = weights[k - 1]!.maskedFill(same, 0);
  }
  return T.callOp(
    "scatter_add", "", T.zeros([n, size, inSize], { device }), 2, T.stack(index, 2).long(), T.stack(weights, 2),
  ) as T.Tensor;
}

/**
 * Crops each image of x [N, C, H, W] (float; computed in float32) to its box [N, 4] = (top, left, height, width) in pixels
 * and resizes it to size×size; images where `flip` [N] (bool) is set are mirrored left-right.
 * Output pixel u samples the input at left + (u + 0.5)·width/size − 0.5, the half-pixel convention of
 * torch's interpolate, so a box of exactly size×size pixels returns those pixels unchanged. Samples
 * that reach past the box read the neighbouring image pixels (past the image border: the edge pixel),
 * as grid_sample with border padding would. Bicubic overshoot is clamped to [0, 1].
 *
 * Boxes are axis-aligned, so the resampling is separable: two batched matrix products with per-image
 * [size, W] and [size, H] weight matrices. On CPUs that is 2-3x faster than grid_sample (bicubic), and
 * on GPUs it is two cuBLAS calls.
 */
export function resizedCrop(
  x: T.Tensor, boxes: T.Tensor, size: number, interpolation: CropInterpolation, flip: T.Tensor | null = null,
): T.Tensor {
  return T.tidy(() => {
    const [n, c, height, width] = x.shape as [number, number, number, number];
    const b = boxes.to(x.device).float();
    const rows = axisWeights(b.select(1, 0), b.select(1, 2), size, height, interpolation, null); // [N, S, H]
    const cols = axisWeights(b.select(1, 1), b.select(1, 3), size, width, interpolation, flip); // [N, S, W]
    // Columns first: [N, C·H, W] × [N, W, S] → [N, C·H, S]; then rows: [N·C, S, H] × [N·C, H, S].
    const narrowed = x.float().reshape(n, c * height, width).matmul(cols.transpose(1, 2));
    const perChannel = rows.unsqueeze(1).expand(n, c, size, height).reshape(n * c, size, height);
    const out = perChannel.matmul(narrowed.view(n * c, height, size)).view(n, c, size, size);
    return interpolation === "bicubic" ? out.clamp_(0, 1) : out;
  });
}

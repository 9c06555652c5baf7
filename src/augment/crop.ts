// Random resized crop and horizontal flip, batched and free of host round trips: every image gets its
// own box, chosen among candidates by torchvision's rejection rule in a few tensor ops, and all boxes
// (flips folded in) are resampled by one grid_sample call, on the grids affine_grid would give for
// each box's affine map (built directly: the map has no rotation, so a grid is scale·base + shift).
import * as T from "../torch/index.js";
import type { CropInterpolation } from "./config.js";

/** Candidate boxes drawn per image before falling back to the centre crop (torchvision uses 10 tries). */
export const ATTEMPTS = 10;
/** Rows of a candidate table: the random tries and the fallback. */
export const CANDIDATES = ATTEMPTS + 1;

// torchvision's fallback: the whole image, cut down to the nearest allowed aspect ratio.
export function centreFallback(height: number, width: number, ratio: [number, number]): [number, number] {
  const inRatio = width / height;
  if (inRatio < ratio[0]) return [Math.min(height, Math.round(width / ratio[0])), width];
  if (inRatio > ratio[1]) return [height, Math.min(width, Math.round(height * ratio[1]))];
  return [height, width];
}

/**
 * The uniform ranges (lo, span) of one image's candidate table, [CANDIDATES, 4] row-major: per row the
 * area in pixels ~ U(scale)·H·W, the log aspect ratio ~ U(log ratio), and two uniforms in [0, 1) that
 * place the box (left, top). The last row has span 0: the fallback box, with a position that lands
 * on torchvision's centre offset ⌊(side − size)/2⌋ (see selectCropBoxes).
 */
export function candidateRanges(height: number, width: number, scale: [number, number], ratio: [number, number]): { lo: number[]; span: number[] } {
  const lo: number[] = [];
  const span: number[] = [];
  const hw = height * width;
  for (let k = 0; k < ATTEMPTS; k++) {
    lo.push(scale[0] * hw, Math.log(ratio[0]), 0, 0);
    span.push((scale[1] - scale[0]) * hw, Math.log(ratio[1]) - Math.log(ratio[0]), 1, 1);
  }
  const [fh, fw] = centreFallback(height, width, ratio);
  // floor(u·(side − size + 1)) = ⌊(side − size)/2⌋ for u = (⌊(side − size)/2⌋ + 0.5)/(side − size + 1).
  const centre = (side: number, size: number) => (Math.floor((side - size) / 2) + 0.5) / (side - size + 1);
  lo.push(fw * fh, Math.log(fw / fh), centre(width, fw), centre(height, fh));
  span.push(0, 0, 0, 0);
  return { lo, span };
}

/** Device constants of the box selection and of the sampling grid for input images of H×W. */
export interface CropConstants {
  /** (W, H) and (W + 1, H + 1), [1, 1, 1, 2]. */
  limit: T.Tensor;
  limitPlusOne: T.Tensor;
  /** (1, −1) [1, 1, 1, 2]: w = √(area·e^{+log r}), h = √(area·e^{−log r}). */
  aspectSign: T.Tensor;
  /** Priorities CANDIDATES … 1 [1, CANDIDATES, 1, 1]: the first fitting candidate has the largest. */
  priority: T.Tensor;
  /** Whether a rounded side can be 0 (tiny areas); only then is the lower bound checked. */
  checkLower: boolean;
  ones: T.Tensor;
  /** (1/W, 1/H), (−1/W, 1/H) (a flip) and (2/W, 2/H), [1, 1, 1, 2]; −1 [1, 1, 1, 1]. */
  inverse: T.Tensor;
  inverseFlip: T.Tensor;
  twiceInverse: T.Tensor;
  minusOne: T.Tensor;
  /** The output pixel centres (x_j, y_i) = ((2j + 1)/S − 1, (2i + 1)/S − 1), [1, S, S, 2]. */
  base: T.Tensor;
}

export function cropConstants(height: number, width: number, minArea: number, minAspect: number, size: number, device: string): CropConstants {
  const f = (data: number[], shape: number[]) => T.tensor(Float32Array.from(data), shape, { device });
  const base: number[] = [];
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) base.push((2 * j + 1) / size - 1, (2 * i + 1) / size - 1);
  return {
    limit: f([width, height], [1, 1, 1, 2]),
    limitPlusOne: f([width + 1, height + 1], [1, 1, 1, 2]),
    aspectSign: f([1, -1], [1, 1, 1, 2]),
    priority: f(Array.from({ length: CANDIDATES }, (_, k) => CANDIDATES - k), [1, CANDIDATES, 1, 1]),
    checkLower: minArea * minAspect < 0.25,
    ones: f([1, 1], [1, 1, 1, 2]),
    inverse: f([1 / width, 1 / height], [1, 1, 1, 2]),
    inverseFlip: f([-1 / width, 1 / height], [1, 1, 1, 2]),
    twiceInverse: f([2 / width, 2 / height], [1, 1, 1, 2]),
    minusOne: f([-1], [1, 1, 1, 1]),
    base: f(base, [1, size, size, 2]),
  };
}

export interface CropBoxes {
  /** (w, h) [n, 1, 1, 2]. */
  size: T.Tensor;
  /** (left, top) [n, 1, 1, 2]. */
  pos: T.Tensor;
}

/**
 * torchvision's RandomResizedCrop choice on device, from a candidate table [n, CANDIDATES, 1, 4] of
 * (area, log ratio, u_left, u_top): w = round(√(area·r)), h = round(√(area/r)), the first candidate
 * with 1 ≤ w ≤ W and 1 ≤ h ≤ H (the last row, the fallback, always fits), and the position
 * ⌊u·(side − size + 1)⌋, i.e. uniform over the valid offsets like randint(0, side − size + 1).
 */
export function selectCropBoxes(candidates: T.Tensor, k: CropConstants): CropBoxes {
  const [area, logRatio, u] = T.callOp("split_with_sizes", "", candidates, [1, 1, 2], 3) as T.Tensor[];
  const wh = logRatio!.mul(k.aspectSign); // [n, CANDIDATES, 1, 2]
  T.callOp("exp_", "", wh);
  wh.mul_(area!).sqrt_();
  T.callOp("round_", "", wh);
  const fits = k.checkLower ? wh.clampTensor(k.ones, k.limit).eq(wh) : wh.le(k.limit);
  // argmax of the priorities of the fitting candidates: the first that fits.
  const first = fits.mul(k.priority).amin(3, true).argmax(1, true); // [n, 1, 1, 1]
  const size = T.callOp("take_along_dim", "", wh, first, 1) as T.Tensor;
  const uSel = T.callOp("take_along_dim", "", u!, first, 1) as T.Tensor;
  // u < 1 exactly, and a correctly rounded product u·(s + 1) stays below s + 1: no clamp needed.
  const pos = (T.callOp("rsub", "Tensor", size, k.limitPlusOne, 1) as T.Tensor).mul_(uSel);
  T.callOp("floor_", "", pos);
  return { size, pos };
}

/**
 * The sampling grid [n, S, S, 2] that maps the output square onto each box (flip [n, 1, 1, 1] mirrors
 * it): the affine_grid of theta = [[±w/W, 0, (2·left + w)/W − 1], [0, h/H, (2·top + h)/H − 1]] with
 * align_corners = false, built directly as scale·base + shift since the map has no rotation.
 */
export function cropGrid(boxes: CropBoxes, flip: T.Tensor | null, k: CropConstants): T.Tensor {
  const scale = boxes.size.mul(flip ? T.where(flip, k.inverseFlip, k.inverse) : k.inverse);
  const shift = (T.callOp("addcmul", "", k.minusOne, boxes.size, k.inverse, 1) as T.Tensor).addcmul_(boxes.pos, k.twiceInverse);
  return T.callOp("addcmul", "", shift, scale, k.base, 1) as T.Tensor;
}

/**
 * Resamples x [n, C, H, W] (float32) on the grid: one grid_sample call for all images. Output pixel u
 * samples the input at left + (u + 0.5)·w/size − 0.5 (torch's half-pixel convention, so a box of
 * exactly size×size pixels returns those pixels); samples past the box read the neighbouring pixels,
 * past the image border the edge pixel (border padding). Bicubic overshoot is clamped to [0, 1].
 */
export function sampleBoxes(x: T.Tensor, grid: T.Tensor, interpolation: CropInterpolation): T.Tensor {
  const out = T.gridSample(x, grid, interpolation, "border");
  return interpolation === "bicubic" ? out.clamp_(0, 1) : out;
}

/**
 * Boxes [n, 4] = (top, left, height, width) in whole pixels, as torchvision's RandomResizedCrop picks
 * them: area fraction ~ U(scale), aspect ratio log-uniform in `ratio`, the first of ten candidates that
 * fits the image, else a centre crop with the aspect ratio clamped into `ratio`.
 */
export function sampleCropBoxes(
  n: number, height: number, width: number, scale: [number, number], ratio: [number, number], device: string,
): T.Tensor {
  return T.tidy(() => {
    const { lo, span } = candidateRanges(height, width, scale, ratio);
    const loT = T.tensor(Float32Array.from(lo), [1, CANDIDATES, 1, 4], { device });
    const spanT = T.tensor(Float32Array.from(span), [1, CANDIDATES, 1, 4], { device });
    const cand = T.callOp("addcmul", "", loT, T.rand([n, CANDIDATES, 1, 4], { device }), spanT, 1) as T.Tensor;
    const k = cropConstants(height, width, scale[0] * height * width, Math.min(ratio[0], 1 / ratio[1]), 1, device);
    const { size, pos } = selectCropBoxes(cand, k);
    return T.cat([pos.flip([3]), size.flip([3])], 3).view(n, 4);
  });
}

/**
 * Crops each image of x [N, C, H, W] (float) to its box [N, 4] = (top, left, height, width) in pixels
 * and resizes it to size×size; images where `flip` [N] (bool) is set are mirrored left-right.
 */
export function resizedCrop(
  x: T.Tensor, boxes: T.Tensor, size: number, interpolation: CropInterpolation, flip: T.Tensor | null = null,
): T.Tensor {
  return T.tidy(() => {
    const [n, , height, width] = x.shape as [number, number, number, number];
    const b = boxes.to(x.device).float().view(n, 2, 1, 2).flip([3]); // ((left, top), (w, h))
    const k = cropConstants(height, width, 1, 1, size, x.device);
    const grid = cropGrid({ size: b.narrow(1, 1, 1), pos: b.narrow(1, 0, 1) }, flip ? flip.view(n, 1, 1, 1) : null, k);
    return sampleBoxes(x.float(), grid, interpolation);
  });
}

// The configuration of one view's augmentation pipeline, and its validation. Every field is a plain
// number so that a config can be written to config.json and read back unchanged.
import { UserError } from "../util/errors.js";

export type CropInterpolation = "bilinear" | "bicubic";

/** The augmentation pipeline of one view (BYOL's T or T′): crop, flip, colour jitter, grayscale, blur, solarize, normalisation. */
export interface ViewConfig {
  /** Side of the square output image in pixels. */
  outputSize: number;
  /** Random resized crop: area fraction range, aspect-ratio range (sampled log-uniformly), resampling. */
  crop: { scale: [number, number]; ratio: [number, number]; interpolation: CropInterpolation };
  /** Probability of a horizontal flip. */
  flipP: number;
  /**
   * Colour jitter, applied to an image with probability p, its four steps in a random order per image.
   * brightness/contrast/saturation s draw a factor from U[max(0, 1 − s), 1 + s]; hue h a shift from
   * U[−h, h] (fractions of a full turn, at most 0.5). 0 switches a step off.
   */
  jitter: { p: number; brightness: number; contrast: number; saturation: number; hue: number };
  grayscaleP: number;
  /** Gaussian blur with σ ~ U(sigma); the kernel side is kernelFraction of the output side, made odd. */
  blur: { p: number; sigma: [number, number]; kernelFraction: number };
  /** Pixels ≥ threshold (on the [0, 1] scale) are inverted with probability p per image. */
  solarize: { p: number; threshold: number };
  /** Per-channel normalisation applied last: (x − mean) / std. */
  mean: number[];
  std: number[];
}

/** Odd kernel side for a blur over `fraction` of `side` (23 for 224 at 10%, 3 for 28 or 32, 1 = no blur). */
export function blurKernelSize(side: number, fraction: number): number {
  return 2 * Math.floor((side * fraction) / 2) + 1;
}

function finite(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new UserError(`augment: ${name} must be a finite number, got ${String(v)}`);
  return v;
}

function prob(v: unknown, name: string): void {
  const p = finite(v, name);
  if (p < 0 || p > 1) throw new UserError(`augment: ${name} must be a probability in [0, 1], got ${p}`);
}

function nonNegative(v: unknown, name: string): void {
  if (finite(v, name) < 0) throw new UserError(`augment: ${name} must be ≥ 0, got ${v}`);
}

function range(v: unknown, name: string, lo: number, hi: number, loOpen: boolean): void {
  if (!Array.isArray(v) || v.length !== 2) throw new UserError(`augment: ${name} must be a pair [min, max], got ${JSON.stringify(v)}`);
  const a = finite(v[0], `${name}[0]`);
  const b = finite(v[1], `${name}[1]`);
  if (a > b) throw new UserError(`augment: ${name} is an empty range [${a}, ${b}] (min > max)`);
  if ((loOpen ? a <= lo : a < lo) || b > hi) {
    throw new UserError(`augment: ${name} [${a}, ${b}] must lie in ${loOpen ? "(" : "["}${lo}, ${hi}]`);
  }
}

/** Throws UserError naming the first bad field of cfg for images with `channels` channels. */
export function validateViewConfig(cfg: ViewConfig, channels: number): void {
  if (channels !== 1 && channels !== 3) throw new UserError(`augment: images must have 1 or 3 channels, got ${channels}`);
  if (!Number.isInteger(cfg.outputSize) || cfg.outputSize < 1) {
    throw new UserError(`augment: outputSize must be a positive integer, got ${cfg.outputSize}`);
  }
  range(cfg.crop?.scale, "crop.scale", 0, 1, true);
  range(cfg.crop?.ratio, "crop.ratio", 0, Infinity, true);
  if (cfg.crop.interpolation !== "bilinear" && cfg.crop.interpolation !== "bicubic") {
    throw new UserError(`augment: crop.interpolation must be "bilinear" or "bicubic", got ${JSON.stringify(cfg.crop.interpolation)}`);
  }
  prob(cfg.flipP, "flipP");
  prob(cfg.jitter?.p, "jitter.p");
  nonNegative(cfg.jitter.brightness, "jitter.brightness");
  nonNegative(cfg.jitter.contrast, "jitter.contrast");
  nonNegative(cfg.jitter.saturation, "jitter.saturation");
  nonNegative(cfg.jitter.hue, "jitter.hue");
  if (cfg.jitter.hue > 0.5) throw new UserError(`augment: jitter.hue must be in [0, 0.5], got ${cfg.jitter.hue}`);
  prob(cfg.grayscaleP, "grayscaleP");
  prob(cfg.blur?.p, "blur.p");
  range(cfg.blur.sigma, "blur.sigma", 0, Infinity, true);
  const kf = finite(cfg.blur.kernelFraction, "blur.kernelFraction");
  if (kf <= 0 || kf > 1) throw new UserError(`augment: blur.kernelFraction must be in (0, 1], got ${kf}`);
  // Reflect padding needs the half-kernel to be smaller than the image side.
  const k = blurKernelSize(cfg.outputSize, kf);
  if (cfg.blur.p > 0 && (k - 1) / 2 >= cfg.outputSize) {
    throw new UserError(`augment: blur kernel ${k} is too large for output size ${cfg.outputSize}`);
  }
  prob(cfg.solarize?.p, "solarize.p");
  const th = finite(cfg.solarize.threshold, "solarize.threshold");
  if (th < 0 || th > 1) throw new UserError(`augment: solarize.threshold must be in [0, 1], got ${th}`);
  for (const [name, arr] of [["mean", cfg.mean], ["std", cfg.std]] as const) {
    if (!Array.isArray(arr) || arr.length !== channels) {
      throw new UserError(`augment: ${name} must have ${channels} value(s) for ${channels}-channel images, got ${JSON.stringify(arr)}`);
    }
    arr.forEach((v, i) => finite(v, `${name}[${i}]`));
  }
  cfg.std.forEach((v, i) => {
    if (v <= 0) throw new UserError(`augment: std[${i}] must be > 0, got ${v}`);
  });
}

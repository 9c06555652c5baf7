// `byol preview`: a PNG that shows what the network is taught. One row per image: the original, a gap,
// `samples` draws of view 1, a gap, `samples` draws of view 2, un-normalised for display.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { type Channels, encodeGrid, imageGridFromList } from "../util/png.js";
import { denormalize } from "./color.js";
import type { ViewAugmenter } from "./view.js";

export interface PreviewOptions {
  /** Draws of each view per image. Default 4. */
  samples?: number;
  /** Seed of the draws (the generator's previous state is restored afterwards). Default 0. */
  seed?: number;
  /** Integer upscale of every tile; default makes small images about 96 px. */
  scale?: number;
  /** Device the views are computed on. Default "cpu". */
  device?: string;
}

/** Float [N, C, S, S] in [0, 1] → uint8 NCHW bytes. */
function toBytes(x: T.Tensor): Uint8Array {
  return T.tidy(() => x.clamp(0, 1).mul(255).round().to("uint8").to("cpu").toArray() as Uint8Array);
}

function tiles(bytes: Uint8Array, count: number, plane: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => bytes.subarray(i * plane, (i + 1) * plane));
}

/**
 * Renders images (uint8 NCHW, n images of c×h×w) beside views drawn by augs; returns PNG bytes.
 * The originals are resized to the views' output size when it differs.
 */
export function renderPreview(
  images: Uint8Array, n: number, c: number, h: number, w: number,
  augs: readonly [ViewAugmenter, ViewAugmenter], opts: PreviewOptions = {},
): Buffer {
  const samples = opts.samples ?? 4;
  const seed = opts.seed ?? 0;
  const device = opts.device ?? "cpu";
  if (c !== 1 && c !== 3) throw new UserError(`preview: images must have 1 or 3 channels, got ${c}`);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`preview: need at least one image, got ${n}`);
  if (!Number.isInteger(samples) || samples < 1) throw new UserError(`preview: samples must be a positive integer, got ${samples}`);
  if (images.length < n * c * h * w) throw new UserError(`preview: expected ${n * c * h * w} bytes for ${n}x${c}x${h}x${w} images, got ${images.length}`);
  const size = augs[0].cfg.outputSize;
  if (augs[1].cfg.outputSize !== size) throw new UserError(`preview: the two views have different output sizes (${size} and ${augs[1].cfg.outputSize})`);

  const devType = device.startsWith("cuda") ? "cuda" : "cpu";
  const saved = T.getRngState(devType === "cuda" ? device : "cpu").keep();
  let originals: Uint8Array;
  let views: Uint8Array[];
  try {
    T.manualSeed(seed);
    [originals, views] = T.tidy(() => {
      const x = T.tensor(images.subarray(0, n * c * h * w), [n, c, h, w], { device });
      let shown = x.float().div_(255);
      if (h !== size || w !== size) shown = T.interpolate(shown, [size, size], "bilinear").clamp_(0, 1);
      // One batch holds every sample: each copy of an image draws its own parameters.
      const batch = x.repeat(samples, 1, 1, 1);
      const out = augs.map((a) => toBytes(denormalize(a.apply(batch), a.cfg.mean, a.cfg.std)));
      return [toBytes(shown), out] as [Uint8Array, Uint8Array[]];
    });
  } finally {
    T.setRngState(saved, devType === "cuda" ? device : "cpu");
    saved.dispose();
  }

  const plane = c * size * size;
  const orig = tiles(originals, n, plane);
  const v = views.map((b) => tiles(b, n * samples, plane));
  const gap = new Uint8Array(plane).fill(255);
  const cells: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    cells.push(orig[i]!, gap);
    for (let s = 0; s < samples; s++) cells.push(v[0]![s * n + i]!);
    cells.push(gap);
    for (let s = 0; s < samples; s++) cells.push(v[1]![s * n + i]!);
  }
  const scale = opts.scale ?? Math.max(1, Math.floor(96 / size));
  return encodeGrid(imageGridFromList(cells, c as Channels, size, size, 3 + 2 * samples, { scale, pad: 2 }));
}

// Multi-crop's local views (SwAV, Caron et al. 2020): besides BYOL's two global views, a few small
// random-resized crops of every image, each with its own random draws per image. All local views of a
// batch are one ViewPlan, so they cost one more batched pass (a fixed number of native calls, whatever
// the batch size and the number of local views), and come out as one stacked batch for the network.
//
// Photometric pipeline: local view j takes the global view (j mod 2)'s (T for even j, T′ for odd j),
// with its own crop range and output size. Alternating keeps the local views' augmentation mix the
// same as the global pair's (half strongly blurred, half sometimes solarized) without inventing a
// third pipeline; taking T′ alone would solarize a fifth of every local view and hardly blur any.
// With an odd count, T gets one more than T′.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { type ViewConfig, validateViewConfig } from "./config.js";
import { ViewPlan, type ViewDraws } from "./plan.js";
import { runPlan } from "./view.js";

/** How many local views, their side in pixels and the range of their crop's area fraction. */
export interface LocalViewsConfig {
  count: number;
  outputSize: number;
  minScale: number;
  maxScale: number;
}

/** Throws a UserError naming the first bad field of a local-views config. */
export function validateLocalViews(lv: LocalViewsConfig): void {
  const bad = (name: string, want: string, got: unknown) => new UserError(`augment: localViews.${name} must be ${want}, got ${JSON.stringify(got)}`);
  if (!Number.isInteger(lv.count) || lv.count < 0) throw bad("count", "a non-negative integer", lv.count);
  if (!Number.isInteger(lv.outputSize) || lv.outputSize < 1) throw bad("outputSize", "a positive integer", lv.outputSize);
  if (!(typeof lv.minScale === "number" && lv.minScale > 0 && lv.minScale <= 1)) throw bad("minScale", "in (0, 1]", lv.minScale);
  if (!(typeof lv.maxScale === "number" && lv.maxScale >= lv.minScale && lv.maxScale <= 1)) throw bad("maxScale", `in [minScale, 1]`, lv.maxScale);
}

/** The ViewConfigs of the local views: view j is global view (j mod 2)'s pipeline with the local crop and size. */
export function localViewConfigs(globals: readonly [ViewConfig, ViewConfig], lv: LocalViewsConfig): ViewConfig[] {
  validateLocalViews(lv);
  return Array.from({ length: lv.count }, (_, j) => {
    const cfg = structuredClone(globals[j % 2]!);
    cfg.outputSize = lv.outputSize;
    cfg.crop.scale = [lv.minScale, lv.maxScale];
    return cfg;
  });
}

/** The local views of a batch, drawn and rendered in one batched pass. */
export class LocalViewAugmenter {
  readonly count: number;
  readonly outputSize: number;
  readonly channels: number;
  readonly cfgs: readonly ViewConfig[];
  readonly plan: ViewPlan;

  constructor(globals: readonly [ViewConfig, ViewConfig], lv: LocalViewsConfig, channels: number) {
    const cfgs = localViewConfigs(globals, lv);
    if (cfgs.length === 0) throw new UserError("augment: localViews.count must be at least 1 for a local-view augmenter");
    for (const c of cfgs) validateViewConfig(c, channels);
    this.count = cfgs.length;
    this.outputSize = lv.outputSize;
    this.channels = channels;
    this.cfgs = cfgs;
    this.plan = new ViewPlan(cfgs, channels);
  }

  /**
   * x: [N, C, H, W] uint8 or float (0..1). Returns the local views as one float32 batch
   * [count·N, C, S, S], view-major (local view j of image i at row j·N + i), normalised.
   * `drawn` sees the random draws (for tests).
   */
  apply(x: T.Tensor, drawn?: (d: ViewDraws) => void): T.Tensor {
    return runPlan(this.plan, x, this.channels, drawn, true)[0]!;
  }
}

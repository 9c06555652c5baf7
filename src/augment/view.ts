// One view's pipeline (BYOL's T or T′): crop+flip → colour jitter → grayscale → blur → solarize →
// normalise, on a whole batch at once on the batch's device, every image with its own random draws.
// The work is a ViewPlan (plan.ts); makeViews runs both views of a batch as one plan when they allow it.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { type ViewConfig, blurKernelSize, validateViewConfig } from "./config.js";
import { ViewPlan, type ViewDraws, incompatibility } from "./plan.js";

/** One view's augmentation pipeline applied to a whole batch on its device, every image with its own random draws. */
export class ViewAugmenter {
  readonly cfg: ViewConfig;
  readonly channels: number;
  readonly blurKernel: number;
  /** This view alone as a batched pass. */
  readonly plan: ViewPlan;
  // Passes shared with a partner view (makeViews), created on first use and kept with their constants.
  private readonly pairs = new Map<ViewAugmenter, ViewPlan | null>();

  constructor(cfg: ViewConfig, channels: number) {
    validateViewConfig(cfg, channels);
    this.cfg = structuredClone(cfg);
    this.channels = channels;
    this.blurKernel = blurKernelSize(cfg.outputSize, cfg.blur.kernelFraction);
    this.plan = new ViewPlan([this.cfg], channels);
  }

  /**
   * x: [N, C, H, W] uint8 (0..255) or float (0..1) on any device. Returns a new float32 tensor
   * [N, C, outputSize, outputSize] on the same device, normalised; x itself is left alone.
   */
  apply(x: T.Tensor): T.Tensor {
    return runPlan(this.plan, x, this.channels)[0]!;
  }

  /** The pass that computes this view and `other` together, or null when their configs forbid it. */
  pairedWith(other: ViewAugmenter): ViewPlan | null {
    let p = this.pairs.get(other);
    if (p === undefined) {
      p = other.channels === this.channels && !incompatibility(this.cfg, other.cfg) ? new ViewPlan([this.cfg, other.cfg], this.channels) : null;
      this.pairs.set(other, p);
    }
    return p;
  }
}

/**
 * Draws and renders the views of `plan` for the batch x: one tensor per view, or (`stacked`) one
 * tensor [V·N, C, S, S] holding them all, view-major.
 */
export function runPlan(plan: ViewPlan, x: T.Tensor, channels: number, drawn?: (d: ViewDraws) => void, stacked = false): T.Tensor[] {
  // shape, dtype, device and requires_grad in one native call.
  const [shape, code, device, requiresGrad] = T.native.info(x.id) as [number[], number, string, boolean];
  if (shape.length !== 4) throw new UserError(`augment: expected a batch [N, C, H, W], got shape [${shape}]`);
  if (shape[1] !== channels) {
    throw new UserError(`augment: this view is configured for ${channels}-channel images, got a batch of shape [${shape}]`);
  }
  const dtype = T.dtypeFromCode(code);
  if (dtype !== "uint8" && !T.isFloating(dtype)) throw new UserError(`augment: images must be uint8 or float, got ${dtype}`);
  const [n, , h, w] = shape as [number, number, number, number];
  // Every intermediate belongs to this one scope and is freed by one native call at its end.
  const run = () =>
    T.tidy(() => {
      const d = plan.draw(n, h, w, device);
      drawn?.(d);
      return plan.render(x, dtype === "uint8", shape, device, d, stacked);
    });
  // Gradients never flow into augmentation; switching them off costs two native calls, so only when
  // the input would otherwise record a graph.
  return requiresGrad ? T.noGrad(run) : run();
}

/** BYOL's two views of one batch: each view draws its own parameters for every image. */
export function makeViews(batch: T.Tensor, augs: readonly [ViewAugmenter, ViewAugmenter]): [T.Tensor, T.Tensor] {
  const pair = augs[0].pairedWith(augs[1]);
  if (pair) return runPlan(pair, batch, augs[0].channels) as [T.Tensor, T.Tensor];
  const v1 = augs[0].apply(batch);
  try {
    return [v1, augs[1].apply(batch)];
  } catch (e) {
    v1.dispose();
    throw e;
  }
}

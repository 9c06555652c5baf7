// One view's pipeline (BYOL's T or T′): crop+flip → colour jitter → grayscale → blur → solarize →
// normalise, on a whole batch at once on the batch's device, every image with its own random draws.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { type ViewConfig, blurKernelSize, validateViewConfig } from "./config.js";
import { normalize, normalizeConstants, randomGrayscale, solarize } from "./color.js";
import { resizedCrop, sampleCropBoxes } from "./crop.js";
import { gaussianBlur } from "./blur.js";
import { HUE, activeSteps, colorJitter, sampleJitter } from "./jitter.js";
import { coin, uniform } from "./random.js";

/** One view's augmentation pipeline applied to a whole batch on its device, every image with its own random draws. */
export class ViewAugmenter {
  readonly cfg: ViewConfig;
  readonly channels: number;
  readonly blurKernel: number;
  // Normalisation constants per device, uploaded once (kept: they live as long as the augmenter).
  private readonly constants = new Map<string, [T.Tensor, T.Tensor]>();

  constructor(cfg: ViewConfig, channels: number) {
    validateViewConfig(cfg, channels);
    this.cfg = structuredClone(cfg);
    this.channels = channels;
    this.blurKernel = blurKernelSize(cfg.outputSize, cfg.blur.kernelFraction);
  }

  /**
   * x: [N, C, H, W] uint8 (0..255) or float (0..1) on any device. Returns a new float32 tensor
   * [N, C, outputSize, outputSize] on the same device, normalised; x itself is left alone.
   */
  apply(x: T.Tensor): T.Tensor {
    const shape = x.shape;
    if (shape.length !== 4) throw new UserError(`augment: expected a batch [N, C, H, W], got shape [${shape}]`);
    if (shape[1] !== this.channels) {
      throw new UserError(`augment: this view is configured for ${this.channels}-channel images, got a batch of shape [${shape}]`);
    }
    const dtype = x.dtype;
    if (dtype !== "uint8" && !T.isFloating(dtype)) throw new UserError(`augment: images must be uint8 or float, got ${dtype}`);
    const cfg = this.cfg;
    const [n, c, h, w] = shape as [number, number, number, number];
    const device = x.device;
    // Gradients never flow into augmentation; not recording them saves the graph bookkeeping.
    return T.noGrad(() => {
      // Each stage runs in its own scope, so at most two full-size images per stage are alive at once.
      // uint8 / 255 yields float32 in one op.
      let cur = T.tidy(() => (dtype === "uint8" ? x.div(255) : x.float()));
      const stage = (fn: (t: T.Tensor) => T.Tensor): void => {
        const next = T.tidy(() => fn(cur));
        cur.dispose();
        cur = next;
      };
      stage((t) => {
        const boxes = sampleCropBoxes(n, h, w, cfg.crop.scale, cfg.crop.ratio, device);
        const flip = cfg.flipP > 0 ? coin(n, cfg.flipP, device) : null;
        return resizedCrop(t, boxes, cfg.outputSize, cfg.crop.interpolation, flip);
      });
      const steps = activeSteps(cfg.jitter, c);
      if (cfg.jitter.p > 0 && steps.length > 0) {
        stage((t) => colorJitter(t, sampleJitter(n, cfg.jitter, c, device), steps.includes(HUE)));
      }
      if (c === 3 && cfg.grayscaleP > 0) stage((t) => randomGrayscale(t, coin(n, cfg.grayscaleP, device)));
      if (cfg.blur.p > 0 && this.blurKernel > 1) {
        stage((t) => {
          const mask = cfg.blur.p < 1 ? coin(n, cfg.blur.p, device) : null;
          return gaussianBlur(t, uniform([n], cfg.blur.sigma[0], cfg.blur.sigma[1], device), this.blurKernel, mask);
        });
      }
      if (cfg.solarize.p > 0) stage((t) => solarize(t, cfg.solarize.threshold, coin(n, cfg.solarize.p, device)));
      stage((t) => normalize(t, cfg.mean, cfg.std, this.normConstants(device)));
      return cur;
    });
  }

  private normConstants(device: string): [T.Tensor, T.Tensor] {
    let c = this.constants.get(device);
    if (!c) {
      c = normalizeConstants(this.cfg.mean, this.cfg.std, device);
      c.forEach((t) => t.keep());
      this.constants.set(device, c);
    }
    return c;
  }
}

/** BYOL's two views of one batch: each view draws its own parameters for every image. */
export function makeViews(batch: T.Tensor, augs: readonly [ViewAugmenter, ViewAugmenter]): [T.Tensor, T.Tensor] {
  const v1 = augs[0].apply(batch);
  try {
    return [v1, augs[1].apply(batch)];
  } catch (e) {
    v1.dispose();
    throw e;
  }
}

// Colour jitter with its steps (brightness, contrast, saturation, hue) in a random order per image.
// The batch walks through one "slot" per active step; in slot k every image applies the step its own
// permutation puts there. Brightness, contrast and saturation are all blends clamp(f·x + (1 − f)·ref)
// that differ only in the reference (black, mean grey, grey image), so one fused blend per slot serves
// all three: per image, the weights of the references are (1 − f) for the selected one and 0 for the
// others, and images whose slot holds the hue step blend with f = 1 (identity). Hue is applied where
// its slot comes up (see HueStrategy).
import * as T from "../torch/index.js";
import type { ViewConfig } from "./config.js";
import { grayscale } from "./color.js";
import { adjustHue } from "./hue.js";
import { coin, perImage, uniform } from "./random.js";

/** Step ids. */
export const BRIGHTNESS = 0, CONTRAST = 1, SATURATION = 2, HUE = 3;

export interface JitterParams {
  /** [N] factors; 1 (or a hue shift of 0) where a step is off or the image is not jittered. */
  brightness: T.Tensor;
  contrast: T.Tensor;
  saturation: T.Tensor;
  hue: T.Tensor;
  /**
   * [N, K] int64 step ids: row i is the order in which image i applies the K active steps (a random
   * permutation of them; steps that are off, or colour-only steps on one channel, are left out).
   */
  order: T.Tensor;
}

/** The steps that can change an image under cfg (K of them), in id order. */
export function activeSteps(cfg: ViewConfig["jitter"], channels: number): number[] {
  const colour = channels === 3;
  const on = [cfg.brightness > 0, cfg.contrast > 0, colour && cfg.saturation > 0, colour && cfg.hue > 0];
  return [BRIGHTNESS, CONTRAST, SATURATION, HUE].filter((s) => on[s]);
}

function factor(n: number, strength: number, applied: T.Tensor, device: string): T.Tensor {
  if (strength === 0) return T.ones([n], { device });
  return T.where(applied, uniform([n], Math.max(0, 1 - strength), 1 + strength, device), 1);
}

/** Draws every image's jitter: whether it is applied (probability p), its factors and its step order. */
export function sampleJitter(n: number, cfg: ViewConfig["jitter"], channels: number, device: string): JitterParams {
  return T.tidy(() => {
    const applied = coin(n, cfg.p, device);
    const colour = channels === 3;
    const steps = activeSteps(cfg, channels);
    // A uniformly random permutation per image: the ranks of K uniform draws, mapped to step ids.
    const ranks = T.rand([n, Math.max(1, steps.length)], { device }).argsort(1);
    const ids = T.tensor(steps.length ? steps : [BRIGHTNESS], undefined, { dtype: "int64", device });
    return {
      brightness: factor(n, cfg.brightness, applied, device),
      contrast: factor(n, cfg.contrast, applied, device),
      saturation: colour ? factor(n, cfg.saturation, applied, device) : T.ones([n], { device }),
      hue: colour && cfg.hue > 0 ? T.where(applied, uniform([n], -cfg.hue, cfg.hue, device), 0) : T.zeros([n], { device }),
      order: ids.index([ranks]),
    };
  });
}

/**
 * How the hue step finds its images. "masked": every slot rotates the whole batch and keeps the images
 * whose slot holds hue (K× the hue work, but no host round trip: best where launches dominate, on
 * GPUs). "gathered": the images are grouped by the slot of their hue step (one small read-back of K
 * counts) and each slot rotates only its group (the hue work done once: best on CPUs). Both give the
 * same result.
 */
export type HueStrategy = "masked" | "gathered";

/** Applies jitter parameters to x [N, C, H, W] in [0, 1]; hueOn = false skips the hue computation. */
export function colorJitter(
  x: T.Tensor, p: JitterParams, hueOn = x.size(1) === 3, strategy: HueStrategy = x.device === "cpu" ? "gathered" : "masked",
): T.Tensor {
  const colour = x.size(1) === 3;
  const slots = p.order.size(1);
  const blendFactors = T.tidy(() => T.stack([p.brightness, p.contrast, p.saturation, T.onesLike(p.brightness)], 1));
  const groups = hueOn && strategy === "gathered" ? hueGroups(p.order) : null;
  let out = x;
  for (let slot = 0; slot < slots; slot++) {
    const next = T.tidy(() => {
      const step = p.order.select(1, slot);
      const f = blendFactors.gather(1, step.unsqueeze(1)).squeeze(1);
      const rest = f.neg().add(1);
      const grey = colour ? grayscale(out) : out;
      // f·x + (1 − f)·mean(grey) where contrast is selected + (1 − f)·grey where saturation is.
      const bias = grey.mean([1, 2, 3], true).mul(perImage(rest.mul(step.eq(CONTRAST))));
      const blended: T.Tensor = T.callOp("addcmul", "", bias, out, perImage(f), 1);
      if (colour) blended.addcmul_(grey, perImage(rest.mul(step.eq(SATURATION))));
      blended.clamp_(0, 1);
      if (!hueOn) return blended;
      if (!groups) return T.where(perImage(step.eq(HUE)), adjustHue(blended, p.hue), blended);
      const idx = groups[slot];
      if (idx) T.callOp("index_copy_", "", blended, 0, idx, adjustHue(blended.indexSelect(0, idx), p.hue.indexSelect(0, idx)));
      return blended;
    });
    if (out !== x) out.dispose();
    out = next;
  }
  blendFactors.dispose();
  groups?.forEach((g) => g?.dispose());
  return out === x ? x.clone() : out;
}

/** Per slot, the indices of the images whose hue step sits in that slot (null where none). */
function hueGroups(order: T.Tensor): (T.Tensor | null)[] {
  return T.tidy(() => {
    const slots = order.size(1);
    const isHue = order.eq(HUE);
    // Images without a hue step (none when hue is active) get slot `slots` and are never selected.
    const slotOfHue = T.where(isHue.float().amax(1).gt(0), isHue.float().argmax(1), slots);
    const bySlot = slotOfHue.argsort(0);
    const counts = T.oneHot(slotOfHue, slots + 1).sum(0).toList();
    let start = 0;
    return counts.slice(0, slots).map((c) => {
      const g = c > 0 ? bySlot.narrow(0, start, c) : null;
      start += c;
      return g;
    });
  });
}

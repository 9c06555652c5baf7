// Colour jitter with its steps (brightness, contrast, saturation, hue) in a random order per image, in
// a number of ops that does not depend on the batch size, and without a host round trip.
//
// Brightness, contrast and saturation are blends clamp(f·x + (1 − f)·ref) with references black, the
// mean grey level and the grey image: per image an affine colour map y = M·x + B·mean(x) with
// M = f·I + [saturation]·(1 − f)·1·lumaᵀ and B = [contrast]·(1 − f)·1·lumaᵀ, so one "slot" serves all
// three and each image picks its step per slot (one batched matmul, then a clamp). Hue is not affine;
// it runs once for the whole batch, between two phases of slots: phase A holds the steps an image
// applies before its hue step, phase C those after it (K − 1 slots each for K active steps), the
// unused slots get the identity. Steps that are off have factor 1, i.e. the identity.
import * as T from "../torch/index.js";
import { LUMA } from "./color.js";
import { hueChannelIds, hueDiffMatrix, hueOffsets, hueRotate } from "./hue.js";

/** Step ids. IDENTITY is the extra row of the factor table that slots without a step use. */
export const BRIGHTNESS = 0, CONTRAST = 1, SATURATION = 2, HUE = 3, IDENTITY = 4;
export const STEPS = 4;

/** The steps that can change an image under cfg, in id order. */
export function activeSteps(cfg: { brightness: number; contrast: number; saturation: number; hue: number }, channels: number): number[] {
  const colour = channels === 3;
  const on = [cfg.brightness > 0, cfg.contrast > 0, colour && cfg.saturation > 0, colour && cfg.hue > 0];
  return [BRIGHTNESS, CONTRAST, SATURATION, HUE].filter((s) => on[s]);
}

/** One batch's jitter draws, shaped for the batched application. */
export interface JitterDraws {
  /** [N, 5, 1]: brightness, contrast, saturation factors, then 1 (hue's row) and 1 (identity). */
  factors: T.Tensor;
  /** [N, 4, 1] int64: each image's order of the four step ids (a permutation; steps that are off come last). */
  order: T.Tensor;
  /** [N, 1, 1] hue shifts in turns. */
  hue: T.Tensor;
}

/** The layout of the slots for K active steps, with or without hue, and its device constants. */
export interface JitterConstants {
  slots: number;
  hueOn: boolean;
  channels: number;
  /** Where hue runs: before slot `hueSlot` (= K − 1), when hueOn. */
  hueSlot: number;
  /** [S] int64: the order column each slot reads (phase A: j, phase C: j + 1). */
  source: T.Tensor | null;
  /** [1, S, 1]: slot s keeps its step iff k·sign > threshold, k the position of hue in the order. */
  sign: T.Tensor | null;
  threshold: T.Tensor | null;
  /** Factor table rows (f, g, h) = c0 + f·c1 per step id, [1, 5, 3]. */
  c0: T.Tensor;
  c1: T.Tensor;
  /** Coefficients (f, g, h) → M [C·C] and → B/P [C·C] (the mean is folded into B). */
  basisM: T.Tensor;
  basisB: T.Tensor;
  hueIds: T.Tensor | null;
  hueDiff: T.Tensor | null;
}

/** Constants for images of `channels` channels and P pixels, K = `active` steps, hue among them or not. */
export function jitterConstants(active: number, hueOn: boolean, channels: number, pixels: number, device: string): JitterConstants {
  const f = (data: number[], shape: number[], dtype: "float32" | "int64" = "float32") =>
    T.tensor(dtype === "int64" ? BigInt64Array.from(data, BigInt) : Float32Array.from(data), shape, { device });
  const phase = active - 1;
  const slots = hueOn ? 2 * phase : active;
  const j = Array.from({ length: phase }, (_, i) => i);
  // (f, g, h) per step: brightness (f, 0, 0); contrast (f, 0, 1 − f); saturation (f, 1 − f, 0);
  // hue and identity (1, 0, 0) (their factors are 1).
  const c0 = [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0];
  const c1 = [1, 0, 0, 1, 0, -1, 1, -1, 0, 1, 0, 0, 1, 0, 0];
  const luma = channels === 3 ? [...LUMA] : [1];
  const c = channels;
  const eye = Array.from({ length: c * c }, (_, i) => (Math.floor(i / c) === i % c ? 1 : 0));
  const grey = Array.from({ length: c * c }, (_, i) => luma[i % c]!);
  const zero = Array(c * c).fill(0);
  return {
    slots, hueOn, channels, hueSlot: phase,
    source: hueOn ? f([...j, ...j.map((v) => v + 1)], [slots], "int64") : null,
    sign: hueOn ? f([...j.map(() => 1), ...j.map(() => -1)], [1, slots, 1]) : null,
    threshold: hueOn ? f([...j.map((v) => v + 0.5), ...j.map((v) => -v - 0.5)], [1, slots, 1]) : null,
    c0: f(c0, [1, 5, 3]),
    c1: f(c1, [1, 5, 3]),
    basisM: f([...eye, ...grey, ...zero], [3, c * c]),
    basisB: f([...zero, ...zero, ...grey.map((v) => v / pixels)], [3, c * c]),
    hueIds: hueOn ? hueChannelIds(device) : null,
    hueDiff: hueOn ? hueDiffMatrix(device) : null,
  };
}

/**
 * Applies each image's jitter to x [n, C, P] in [0, 1] (P pixels per channel); returns [N, C, P].
 * With hue on, `order` must hold all four step ids in each row.
 */
export function applyJitter(x: T.Tensor, n: number, d: JitterDraws, k: JitterConstants): T.Tensor {
  const c = k.channels;
  let steps: T.Tensor; // [N, S, 1] step id per slot (IDENTITY where a slot is unused)
  if (k.hueOn) {
    const hueAt = d.order.argsort(1).narrow(1, HUE, 1); // [N, 1, 1]: position of the hue step
    const keep = hueAt.mul(k.sign!).gt(k.threshold!);
    steps = T.where(keep, d.order.indexSelect(1, k.source!), IDENTITY);
  } else {
    steps = d.order.narrow(1, 0, k.slots);
  }
  const table = T.callOp("addcmul", "", k.c0, d.factors, k.c1, 1) as T.Tensor; // [N, 5, 3]
  const coef = T.callOp("take_along_dim", "", table, steps, 1) as T.Tensor; // [N, S, 3]
  const ms = T.callOp("unbind", "int", coef.matmul(k.basisM).view(n, k.slots, c, c), 1) as T.Tensor[];
  const bs = T.callOp("unbind", "int", coef.matmul(k.basisB).view(n, k.slots, c, c, 1), 1) as T.Tensor[];
  // Each slot in a scope of its own, its input freed as soon as its output exists: at most two
  // full-size images (and the hue step's few) are alive at once, for one release call per slot.
  let out = x;
  for (let s = 0; s < k.slots; s++) {
    const next = T.tidy(() => {
      const cur = k.hueOn && s === k.hueSlot ? hueRotate(out, hueOffsets(d.hue, k.hueIds!), k.hueDiff!) : out;
      // B·mean(x) as one contraction over channels and pixels; then M·x + that, clamped.
      const bias = T.einsum("nicz,ncp->niz", [bs[s]!, cur]);
      // One channel: M is a scale [n, 1, 1], and a broadcast multiply-add beats n tiny matrix products.
      const y = (c === 1 ? T.callOp("addcmul", "", bias, ms[s]!, cur, 1) : T.callOp("baddbmm", "", bias, ms[s]!, cur, 1, 1)) as T.Tensor;
      return y.clamp_(0, 1);
    });
    if (out !== x) out.dispose();
    out = next;
  }
  return out;
}

/** Per-image jitter parameters in the form of torchvision's functional ops (for tests and tools). */
export interface JitterParams {
  /** [N] factors (1: no change) and hue shifts in turns (0: no change). */
  brightness: T.Tensor;
  contrast: T.Tensor;
  saturation: T.Tensor;
  hue: T.Tensor;
  /** [N, K] int64 step ids: the order in which each image applies its steps (K = 4 on 3 channels, 2 on one). */
  order: T.Tensor;
}

/** Applies jitter parameters to x [N, C, H, W] in [0, 1], through the same batched path as the views. */
export function colorJitter(x: T.Tensor, p: JitterParams): T.Tensor {
  return T.tidy(() => {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const device = x.device;
    const one = T.onesLike(p.brightness);
    const factors = T.stack([p.brightness, p.contrast, p.saturation, one, one], 1).view(n, 5, 1).to(device);
    let order = p.order.to(device);
    const given = order.size(1);
    // One channel orders brightness and contrast; saturation and hue (identity there) come last.
    if (given < STEPS) order = T.cat([order, T.arange(given, STEPS, 1, { device }).view(1, -1).expand(n, STEPS - given)], 1);
    const hueOn = c === 3;
    const k = jitterConstants(hueOn ? STEPS : given, hueOn, c, h * w, device);
    const draws = { factors, order: order.view(n, STEPS, 1), hue: p.hue.to(device).view(n, 1, 1) };
    return applyJitter(x.float().reshape(n, c, h * w), n, draws, k).view(n, c, h, w);
  });
}

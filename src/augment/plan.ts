// One batched pass for one or more views of a batch (BYOL's T and T′ together): every random
// parameter of every image of every view is drawn at once, as one uniform tensor mapped onto its
// ranges, and applied in a fixed number of ops, on the batch's device, without reading anything back
// to the host. The op count does not depend on the batch size, so the host cost of the views is
// constant, and the whole pass could be captured in a CUDA graph.
//
// The views' images are stacked view-major ([V·N, C, S, S], view v at rows v·N … v·N + N − 1), so
// per-view constants broadcast as [V, 1, …] and the views come apart with one unbind.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { type ViewConfig, blurKernelSize } from "./config.js";
import { LUMA } from "./color.js";
import {
  CANDIDATES, type CropBoxes, type CropConstants, candidateRanges, cropConstants, cropGrid, sampleBoxes, selectCropBoxes,
} from "./crop.js";
import { type JitterConstants, type JitterDraws, STEPS, activeSteps, applyJitter, jitterConstants } from "./jitter.js";
import { blurTaps, blurWithKernels, deltaKernel, kernelsOf } from "./blur.js";

// Columns of the uniform table, per image.
const CROP = CANDIDATES * 4; // candidate table [CANDIDATES, 4]
const FACTORS = 5; // brightness, contrast, saturation, 1, 1
const KEYS = STEPS; // sort keys of the four steps: their order
const COINS = 6; // σ, then u − p for flip, jitter, grayscale, blur, solarize (a coin is u − p < 0)
const BLOCKS = [CROP, FACTORS, KEYS, 1, COINS];
const COLUMNS = BLOCKS.reduce((a, b) => a + b, 0);

/** Every random draw of a batch of V·N images (view-major). */
export interface ViewDraws {
  /** Crop boxes: (w, h) and (left, top) [V·N, 1, 1, 2] in input pixels. */
  boxes: CropBoxes;
  /** [V·N, 1, 1, 1] bool each: mirrored; jitter applied; made grey; blurred; solarized. */
  flip: T.Tensor;
  jittered: T.Tensor;
  grey: T.Tensor;
  blurred: T.Tensor;
  solarized: T.Tensor;
  /** Blur σ [V·N, 1, 1] (drawn for every image; only the blurred ones use it). */
  sigma: T.Tensor;
  /** Jitter factors, step order and hue shifts (drawn for every image; only the jittered ones use them). */
  jitter: JitterDraws;
}

interface DeviceConstants {
  lo: T.Tensor; // [V, 1, COLUMNS]
  span: T.Tensor;
  crop: CropConstants;
  jitter: JitterConstants | null;
  taps: T.Tensor | null;
  delta: T.Tensor | null;
  greyMix: T.Tensor | null; // [1, C, C, 1]
  eyeMix: T.Tensor | null;
  normScale: T.Tensor; // [V, 1, C, 1, 1]
  normBias: T.Tensor;
}

/** Why two configs cannot share one pass (null when they can). */
export function incompatibility(a: ViewConfig, b: ViewConfig): string | null {
  if (a.outputSize !== b.outputSize) return "output sizes differ";
  if (a.crop.interpolation !== b.crop.interpolation) return "interpolations differ";
  const blurs = [a, b].filter((c) => c.blur.p > 0).map((c) => blurKernelSize(c.outputSize, c.blur.kernelFraction));
  if (blurs.length === 2 && blurs[0] !== blurs[1]) return "blur kernel sizes differ";
  if (a.solarize.p > 0 && b.solarize.p > 0 && a.solarize.threshold !== b.solarize.threshold) return "solarize thresholds differ";
  return null;
}

/** The batched pass for the views `cfgs` (validated configs) of images with `channels` channels. */
export class ViewPlan {
  readonly views: number;
  readonly size: number;
  readonly kernel: number;
  readonly steps: number[];
  readonly hueOn: boolean;
  readonly flipOn: boolean;
  readonly jitterOn: boolean;
  readonly greyOn: boolean;
  readonly blurOn: boolean;
  readonly solarizeOn: boolean;
  private readonly threshold: number;
  private readonly constants = new Map<string, DeviceConstants>();

  constructor(readonly cfgs: readonly ViewConfig[], readonly channels: number) {
    for (let i = 1; i < cfgs.length; i++) {
      const why = incompatibility(cfgs[0]!, cfgs[i]!);
      if (why) throw new UserError(`augment: views cannot share one pass: ${why}`);
    }
    const any = (f: (c: ViewConfig) => boolean) => cfgs.some(f);
    this.views = cfgs.length;
    this.size = cfgs[0]!.outputSize;
    const blurred = cfgs.filter((c) => c.blur.p > 0);
    this.kernel = blurred.length ? blurKernelSize(this.size, blurred[0]!.blur.kernelFraction) : 1;
    const active = new Set(cfgs.flatMap((c) => activeSteps(c.jitter, channels)));
    this.steps = [...active].sort((a, b) => a - b);
    this.hueOn = active.has(3);
    this.flipOn = any((c) => c.flipP > 0);
    this.jitterOn = this.steps.length > 0 && any((c) => c.jitter.p > 0);
    this.greyOn = channels === 3 && any((c) => c.grayscaleP > 0);
    this.blurOn = this.kernel > 1;
    this.solarizeOn = any((c) => c.solarize.p > 0);
    this.threshold = cfgs.find((c) => c.solarize.p > 0)?.solarize.threshold ?? 1;
  }

  /** Draws every parameter of n images per view for inputs of height × width, on `device`. */
  draw(n: number, height: number, width: number, device: string): ViewDraws {
    const k = this.constantsFor(device, height, width);
    const v = this.views;
    const u = T.callOp("addcmul", "", k.lo, T.rand([v, n, COLUMNS], { device }), k.span, 1) as T.Tensor;
    const [crop, factors, keys, hue, coins] = T.callOp("split_with_sizes", "", u.view(v * n, COLUMNS, 1), BLOCKS, 1) as T.Tensor[];
    const [sigma, flip, jittered, grey, blurred, solarized] = T.callOp(
      "unbind", "int", coins!.view(v * n, COINS, 1, 1, 1), 1,
    ) as T.Tensor[];
    return {
      boxes: selectCropBoxes(crop!.view(v * n, CANDIDATES, 1, 4), k.crop),
      flip: flip!.lt(0), jittered: jittered!.lt(0), grey: grey!.lt(0), blurred: blurred!.lt(0), solarized: solarized!.lt(0),
      sigma: sigma!.view(v * n, 1, 1),
      jitter: { factors: factors!, order: keys!.argsort(1), hue: hue! },
    };
  }

  /**
   * Renders the views of x [N, C, H, W] (uint8 0..255 or float 0..1, already checked) with draws for
   * them: V float32 tensors [N, C, S, S], normalised; or, when `stacked`, one tensor [V·N, C, S, S]
   * (view-major), as one batch for the network (multi-crop's local views).
   */
  render(x: T.Tensor, uint8: boolean, shape: readonly number[], device: string, d: ViewDraws, stacked = false): T.Tensor[] {
    const [n, c, h, w] = shape as [number, number, number, number];
    const k = this.constantsFor(device, h, w);
    const v = this.views;
    const vn = v * n;
    const s = this.size;
    // Each stage runs in a scope of its own and frees its input when done, so that only a few full-size
    // batches are alive at once; that costs two release calls per stage, each freeing many handles.
    let out = T.tidy(() => {
      let input = uint8 ? x.div(255) : x.float();
      if (v > 1) input = input.repeat(v, 1, 1, 1);
      return sampleBoxes(input, cropGrid(d.boxes, this.flipOn ? d.flip : null, k.crop), this.cfgs[0]!.crop.interpolation);
    });
    if (this.jitterOn) {
      out = stage(out, (t) => {
        const jittered = applyJitter(t.view(vn, c, s * s), vn, d.jitter, k.jitter!).view(vn, c, s, s);
        return T.where(d.jittered, jittered, t);
      });
    }
    if (this.blurOn || this.greyOn) {
      out = stage(out, (t) => {
        const mix = this.greyOn ? T.where(d.grey, k.greyMix!, k.eyeMix!) : null; // [V·N, C, C, 1]
        if (!this.blurOn) return T.einsum("nijz,njhw->nihw", [mix!, t]);
        const kernels = kernelsOf(d.sigma, k.taps!, vn, this.kernel, d.blurred, k.delta!);
        return blurWithKernels(t, kernels, this.kernel, mix, [vn, c, s, s]);
      });
    }
    if (this.solarizeOn) {
      out = stage(out, (t) => {
        // Pixels ≥ threshold become 1 − x where the coin fell; elsewhere the threshold 2 never hits.
        const threshold = T.callOp("where", "Scalar", d.solarized, this.threshold, 2) as T.Tensor;
        return T.where(t.ge(threshold), T.callOp("rsub", "Scalar", t, 1, 1) as T.Tensor, t);
      });
    }
    const views = T.tidy(() => {
      const normalised = T.callOp("addcmul", "", k.normBias, out.view(v, n, c, s, s), k.normScale, 1) as T.Tensor;
      return stacked ? [normalised.view(vn, c, s, s)] : T.callOp("unbind", "int", normalised, 0) as T.Tensor[];
    });
    out.dispose();
    return views;
  }

  private constantsFor(device: string, height: number, width: number): DeviceConstants {
    const key = `${device}|${height}|${width}`;
    let k = this.constants.get(key);
    if (!k) {
      k = T.tidy(() => this.makeConstants(device, height, width));
      for (const t of Object.values(k)) keepAll(t);
      this.constants.set(key, k);
    }
    return k;
  }

  private makeConstants(device: string, height: number, width: number): DeviceConstants {
    const c = this.channels;
    const lo: number[] = [];
    const span: number[] = [];
    let minArea = Infinity;
    let minAspect = Infinity;
    for (const cfg of this.cfgs) {
      const r = candidateRanges(height, width, cfg.crop.scale, cfg.crop.ratio);
      lo.push(...r.lo);
      span.push(...r.span);
      minArea = Math.min(minArea, cfg.crop.scale[0] * height * width);
      minAspect = Math.min(minAspect, cfg.crop.ratio[0], 1 / cfg.crop.ratio[1]);
      const on = new Set(activeSteps(cfg.jitter, c));
      const j = cfg.jitter;
      for (const [step, strength] of [[0, j.brightness], [1, j.contrast], [2, j.saturation]] as const) {
        const a = on.has(step) ? Math.max(0, 1 - strength) : 1;
        lo.push(a);
        span.push(on.has(step) ? 1 + strength - a : 0);
      }
      lo.push(1, 1);
      span.push(0, 0);
      // Keys: the active steps in a uniformly random order, the others after them in id order.
      for (let step = 0; step < STEPS; step++) {
        const active = this.steps.includes(step);
        lo.push(active ? 0 : 2 + step);
        span.push(active ? 1 : 0);
      }
      const hue = on.has(3) ? j.hue : 0;
      lo.push(-hue);
      span.push(2 * hue);
      lo.push(cfg.blur.sigma[0], -cfg.flipP, -j.p, -(c === 3 ? cfg.grayscaleP : 0), -cfg.blur.p, -cfg.solarize.p);
      span.push(cfg.blur.sigma[1] - cfg.blur.sigma[0], 1, 1, 1, 1, 1);
    }
    const v = this.views;
    const f = (data: number[], shape: number[]) => T.tensor(Float32Array.from(data), shape, { device });
    const eye = Array.from({ length: c * c }, (_, i) => (Math.floor(i / c) === i % c ? 1 : 0));
    const grey = Array.from({ length: c * c }, (_, i) => (c === 3 ? LUMA[i % c]! : 1));
    return {
      lo: f(lo, [v, 1, COLUMNS]),
      span: f(span, [v, 1, COLUMNS]),
      crop: cropConstants(height, width, minArea, minAspect, this.size, device),
      jitter: this.jitterOn ? jitterConstants(this.steps.length, this.hueOn, c, this.size * this.size, device) : null,
      taps: this.blurOn ? blurTaps(this.kernel, device) : null,
      delta: this.blurOn ? deltaKernel(this.kernel, device) : null,
      greyMix: this.greyOn ? f(grey, [1, c, c, 1]) : null,
      eyeMix: this.greyOn ? f(eye, [1, c, c, 1]) : null,
      normScale: f(this.cfgs.flatMap((cfg) => cfg.std.map((s) => 1 / s)), [v, 1, c, 1, 1]),
      normBias: f(this.cfgs.flatMap((cfg) => cfg.mean.map((m, i) => -m / cfg.std[i]!)), [v, 1, c, 1, 1]),
    };
  }
}

/** fn(cur) computed in a scope of its own; cur is freed as soon as the result exists. */
function stage(cur: T.Tensor, fn: (t: T.Tensor) => T.Tensor): T.Tensor {
  const next = T.tidy(() => fn(cur));
  cur.dispose();
  return next;
}

function keepAll(v: unknown): void {
  if (v instanceof T.Tensor) v.keep();
  else if (v && typeof v === "object") for (const x of Object.values(v)) keepAll(x);
}

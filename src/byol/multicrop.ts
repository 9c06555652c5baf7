// BYOL with multi-crop (SwAV's local views, as later BYOL variants use them): besides the two global
// views v₁, v₂, M small local views of every image go through the online network only (encoder →
// projector → predictor, or a predictor of their own), and each predicts the target projections of
// BOTH global views (stop-gradient). The target never sees a local view.
//
// The loss. With ℓ̄(p, z) = mean over the batch of 2 − 2·cos(p, z), and p_j the online prediction of
// local view j:
//
//   L = [ ℓ̄(p₁, z′₂) + ℓ̄(p₂, z′₁) + Σ_{j=1..M} Σ_{g=1,2} ℓ̄(p_j, z′_g) ] · 2 / (2 + 2M)
//
// i.e. every (prediction, target) pair weighs the same, the sum is divided by the number of pairs
// (2 + 2M, as SwAV's and DINO's multi-crop losses), and multiplied by 2 so that L stays on BYOL's
// scale [0, 8]: with M = 0 it is exactly the symmetric BYOL loss. Normalising by the pair count keeps
// the gradient's size, and so the meaning of the learning rate, independent of M.
//
// BatchNorm. All M local views of a batch go through the online network as ONE batch of M·N images
// (SwAV and DINO likewise run all crops of one resolution together): one forward whatever M, and the
// local views' BatchNorm statistics are those of their own resolution, never mixed with the global
// views' (each global view stays its own batch, as in BYOL). The local pass leaves the online
// network's running statistics as the global views left them: evaluation runs the encoder in eval
// mode on full-size images, and statistics of 12-pixel crops (layer4 at one pixel) would skew it.
//
// Local predictor. Predictor-based methods are reported to be unstable with multi-crop unless the
// local views get their own predictor: `localPredictor: "separate"` gives them one (same shape as the
// predictor, its own initialisation, trained with everything else, saved under "localPredictor.").
import * as T from "../torch/index.js";
import { mlpHead } from "../nn/mlp.js";
import type { Module } from "../nn/module.js";
import { BatchNormBase } from "../nn/layers/batchnorm.js";
import type { Sequential } from "../nn/layers/sequential.js";
import { UserError } from "../util/errors.js";
import { BYOL, type BYOLOptions, type ForwardLossResult } from "./learner.js";
import { byolLoss } from "./loss.js";

/** Which predictor the local views use: the global views' ("shared") or one of their own ("separate"). */
export type LocalPredictor = "shared" | "separate";

/** BYOL's options and the local views' predictor. */
export interface MultiCropBYOLOptions extends BYOLOptions {
  /** "shared" (default): the local views use the global views' predictor; "separate": their own. */
  localPredictor?: LocalPredictor;
}

const LOCAL_PREFIX = "localPredictor.";

/** BYOL whose forward also takes the local views of multi-crop. */
export class MultiCropBYOL extends BYOL {
  readonly localPredictor: LocalPredictor;
  /** The local views' own predictor ("separate"), or null ("shared"). */
  readonly localHead: Sequential | null;

  constructor(opts: MultiCropBYOLOptions) {
    super(opts);
    this.localPredictor = opts.localPredictor ?? "shared";
    if (this.localPredictor !== "shared" && this.localPredictor !== "separate") {
      throw new UserError(`BYOL: localPredictor must be "shared" or "separate", got "${String(opts.localPredictor)}"`);
    }
    // Built after every other network, so that the base networks draw the same initial weights as a
    // plain BYOL's from the same seed.
    this.localHead = this.localPredictor === "separate"
      ? mlpHead(this.projectionDim, this.predictorHiddenDim, this.projectionDim).to(this.device)
      : null;
  }

  /**
   * The multi-crop loss (see the file's comment) for the global views v1, v2 [N, C, H, W] and the
   * local views stacked view-major [M·N, C, S, S] (LocalViewAugmenter's output; M = rows / N).
   */
  forwardMultiCropLoss(v1: T.Tensor, v2: T.Tensor, locals: T.Tensor): ForwardLossResult {
    const n = v1.shape[0]!;
    const rows = locals.shape[0]!;
    if (rows < n || rows % n !== 0) throw new UserError(`BYOL: local views must stack M·${n} images, got ${rows}`);
    const m = rows / n;
    return T.tidy(() => {
      const enc = this.online.encoder;
      const proj = this.online.projector;
      const y1 = enc.forward(v1);
      const o1 = proj.forward(y1);
      const p1 = this.predictor.forward(o1);
      const y2 = enc.forward(v2);
      const p2 = this.predictor.forward(proj.forward(y2));
      const [z1, z2] = T.noGrad(() => [this.targetProject(v1), this.targetProject(v2)]);
      const global = byolLoss(p1, z2).add_(byolLoss(p2, z1)).mean();
      // The local pass: batch statistics, running statistics left alone.
      const head = this.localHead ?? this.predictor;
      const pl = withoutRunningStats([enc, proj, head], () => head.forward(proj.forward(enc.forward(locals))));
      // ℓ(p_j, z′_g) for every local view j and global view g at once: [M, 2, N].
      const d = pl.shape[1]!;
      const zg = T.stack([z1, z2]).to("float32").view(1, 2, n, d);
      const cos = T.cosineSimilarity(pl.to("float32").view(m, 1, n, d), zg, 3);
      const local = cos.mul(-2).add(2); // [M, 2, N]
      // L = (global + Σ_{j,g} ℓ̄(p_j, z′_g)) · 2 / (2 + 2M), with Σ_{j,g} ℓ̄ = 2M · mean over [M, 2, N].
      const loss = global.add(local.mean().mul(2 * m)).div(m + 1);
      return { loss, repr1: y1.detach(), proj1: o1.detach() };
    });
  }

  override train(mode = true): this {
    super.train(mode);
    this.localHead?.train(mode);
    return this;
  }

  override namedTrainableParameters(): [string, T.Tensor][] {
    return [...super.namedTrainableParameters(), ...(this.localHead?.namedParameters("localPredictor") ?? [])];
  }

  override trainableParameters(): T.Tensor[] {
    return [...super.trainableParameters(), ...(this.localHead?.parameters() ?? [])];
  }

  override stateDict(): Record<string, T.Tensor> {
    return { ...super.stateDict(), ...(this.localHead?.stateDict("localPredictor") ?? {}) };
  }

  /** As BYOL's, plus the local predictor's tensors under "localPredictor." when it has one. */
  override loadStateDict(sd: Record<string, T.Tensor>, opts: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const strict = opts.strict ?? true;
    const rest: Record<string, T.Tensor> = {};
    const local: Record<string, T.Tensor> = {};
    for (const [k, v] of Object.entries(sd)) {
      if (k.startsWith(LOCAL_PREFIX) && this.localHead) local[k.slice(LOCAL_PREFIX.length)] = v;
      else rest[k] = v;
    }
    // Check the local predictor's keys and shapes before anything is copied.
    const missing: string[] = [];
    if (this.localHead) {
      for (const [k, t] of Object.entries(this.localHead.stateDict())) {
        const src = local[k];
        if (!src) missing.push(LOCAL_PREFIX + k);
        else if (src.shape.join() !== t.shape.join()) {
          throw new UserError(`BYOL state dict key ${LOCAL_PREFIX + k}: shape [${src.shape}] does not match the model's [${t.shape}]`);
        }
      }
      if (strict && missing.length) throw new UserError(`BYOL state dict does not match the model: missing ${missing[0]} (${missing.length} missing)`);
    }
    const r = super.loadStateDict(rest, opts);
    this.localHead?.loadStateDict(local, { strict: false });
    return { missing: [...r.missing, ...missing], unexpected: r.unexpected };
  }

  override to(device: string): this {
    super.to(device);
    this.localHead?.to(device);
    return this;
  }

  override dispose(): void {
    super.dispose();
    this.localHead?.dispose();
  }

  /** The learner's modules with BatchNorm layers (for cross-replica BatchNorm). */
  extraModules(): Module[] {
    return this.localHead ? [this.localHead] : [];
  }
}

/**
 * Runs fn with every BatchNorm of `modules` that tracks running statistics normalising by batch
 * statistics without updating them (nor its batch counter). A host-side switch: nothing is copied on
 * the device, and the running buffers are not written, so autograd's saved tensors stay valid.
 */
function withoutRunningStats<R>(modules: Module[], fn: () => R): R {
  const layers = modules.flatMap((m) => m.modules()).filter((m): m is BatchNormBase => m instanceof BatchNormBase && m.trackRunningStats);
  const set = (on: boolean) => layers.forEach((bn) => ((bn as { trackRunningStats: boolean }).trackRunningStats = on));
  set(false);
  try {
    return fn();
  } finally {
    set(true);
  }
}

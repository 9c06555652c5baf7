// The BYOL learner (Grill et al. 2020): an online network (encoder → projector → predictor) regresses the
// target network's (encoder → projector) projection of the other view. The target gets no gradients; after
// each optimizer step it moves towards the online network by an exponential moving average.
//
// Target BatchNorm buffers. The target runs in training mode (batch statistics, as the official code), so
// its running statistics never affect the loss. updateTarget nevertheless moves them by the same EMA as the
// parameters (running_mean/var ← τ·target + (1 − τ)·online; num_batches_tracked copied), so that the target
// network stays a consistent, usable model in eval mode (e.g. when its encoder is exported or monitored):
// its running statistics then describe activations of weights close to its own. Without this they would
// only follow the target's own forward passes, which PyTorch also does, and which we keep as well.
//
// Ablation switches (the defaults are BYOL as published; src/train/config.ts `ablation`):
// - predictor: false → no predictor; the online projection is compared with the target's directly.
// - target: "ema" (τ schedule), "online" (τ = 0: the target IS the online network, one set of
//   weights, SimSiam-style; its projections are the online projections of the other view, so no
//   extra forward pass), "frozen" (τ = 1: the target keeps its initial weights for ever).
// - stopGradient: false → the loss's gradient also flows through the target's projections z′ into
//   the network that made them. That is only meaningful when that network is the online one
//   (target "online"): the gradient then reaches the shared weights through both branches.
// - projectorNorm / predictorNorm: BatchNorm, GroupNorm + weight standardisation, or none.
import * as T from "../torch/index.js";
import { Module } from "../nn/module.js";
import { mlpHead } from "../nn/mlp.js";
import type { NormKind } from "../nn/norm.js";
import { Sequential } from "../nn/layers/sequential.js";
import { UserError } from "../util/errors.js";
import * as F from "../optim/foreach.js";
import { byolLoss } from "./loss.js";

/** What BYOL trains: any Module mapping images [N, C, H, W] to representations [N, outDim]. */
export type Encoder = Module & { outDim: number };

/** How to build a BYOL learner around an encoder. */
export interface BYOLOptions {
  /** The online encoder; any module mapping images to [N, outDim]. */
  encoder: Encoder;
  /** Builds a fresh encoder for an independently initialised target (default: clone + resetParameters). */
  makeEncoder?: () => Module;
  /** Output size of projector and predictor (default 256). */
  projectionDim?: number;
  /** Hidden size of the projector (default 4096). */
  hiddenDim?: number;
  /** Hidden size of the predictor (default hiddenDim). */
  predictorHiddenDim?: number;
  /**
   * "independent" (default, as the official code): the target gets its own random initialisation.
   * "copy": the target starts as an exact copy of the online network.
   */
  targetInit?: "independent" | "copy";
  /** false: no predictor (the online projection is regressed onto the target's). Default true. */
  predictor?: boolean;
  /** false: the loss's gradient also flows through the target branch (needs target "online"). Default true. */
  stopGradient?: boolean;
  /** "ema" (default): moving-average target; "online": the online network itself (τ = 0); "frozen": never updated (τ = 1). */
  target?: TargetMode;
  /** Normalisation in the projector's and predictor's hidden layer (default "batchnorm"). */
  projectorNorm?: NormKind;
  predictorNorm?: NormKind;
}

/** How the target network relates to the online one (see the file comment). */
export type TargetMode = "ema" | "online" | "frozen";

/** The result of one BYOL forward pass on a pair of views. */
export interface ForwardLossResult {
  /** Scalar loss mean(ℓ(p₁, z′₂) + ℓ(p₂, z′₁)), attached to the online network's graph. */
  loss: T.Tensor;
  /** The online representation y of view 1, detached (for an online linear probe). */
  repr1: T.Tensor;
  /** The online projection z of view 1, detached (for the collapse metric). */
  proj1: T.Tensor;
}

export interface OnlineNetwork {
  encoder: Module;
  projector: Sequential;
}

export interface TargetNetwork {
  encoder: Module;
  projector: Sequential;
}

const PREFIXES = ["online.encoder.", "online.projector.", "predictor.", "target.encoder.", "target.projector."] as const;

/** The BYOL learner: online network (encoder, projector, predictor), EMA target network (encoder, projector), the symmetric loss and the target update. */
export class BYOL {
  readonly online: OnlineNetwork;
  readonly predictor: Sequential;
  readonly target: TargetNetwork;
  readonly projectionDim: number;
  readonly hiddenDim: number;
  readonly predictorHiddenDim: number;
  readonly targetInit: "independent" | "copy";
  readonly targetMode: TargetMode;
  readonly stopGradient: boolean;
  readonly hasPredictor: boolean;
  private trainingMode = true;

  constructor(opts: BYOLOptions) {
    const enc = opts.encoder;
    if (!(enc instanceof Module)) throw new UserError("BYOL: encoder must be a Module");
    if (!Number.isInteger(enc.outDim) || enc.outDim < 1) throw new UserError("BYOL: encoder must have a positive integer outDim (the size of its output y)");
    this.projectionDim = opts.projectionDim ?? 256;
    this.hiddenDim = opts.hiddenDim ?? 4096;
    this.predictorHiddenDim = opts.predictorHiddenDim ?? this.hiddenDim;
    this.targetInit = opts.targetInit ?? "independent";
    if (this.targetInit !== "independent" && this.targetInit !== "copy") throw new UserError(`BYOL: targetInit must be "independent" or "copy", got "${opts.targetInit}"`);
    this.targetMode = opts.target ?? "ema";
    this.stopGradient = opts.stopGradient ?? true;
    this.hasPredictor = opts.predictor ?? true;
    if (!["ema", "online", "frozen"].includes(this.targetMode)) throw new UserError(`BYOL: target must be "ema", "online" or "frozen", got "${opts.target}"`);
    if (!this.stopGradient && this.targetMode !== "online") {
      throw new UserError(`BYOL: stopGradient off needs target "online" (without the stop-gradient the loss's gradient flows into the target branch, so it must be the online network; a "${this.targetMode}" target takes no gradients)`);
    }
    const device = enc.device;
    const pNorm = opts.projectorNorm ?? "batchnorm";
    this.online = { encoder: enc, projector: mlpHead(enc.outDim, this.hiddenDim, this.projectionDim, pNorm).to(device) };
    // Without a predictor an empty Sequential passes the projection through (no tensors).
    this.predictor = this.hasPredictor ? mlpHead(this.projectionDim, this.predictorHiddenDim, this.projectionDim, opts.predictorNorm ?? "batchnorm").to(device) : new Sequential();
    if (this.targetMode === "online") {
      // One set of weights: the target is the online network.
      this.target = this.online;
      return;
    }
    let tEnc: Module;
    let tProj: Sequential;
    if (this.targetInit === "copy") {
      tEnc = enc.clone();
      tProj = this.online.projector.clone();
    } else {
      tEnc = opts.makeEncoder ? opts.makeEncoder().to(device) : enc.clone().resetParameters();
      tProj = mlpHead(enc.outDim, this.hiddenDim, this.projectionDim, pNorm).to(device);
      const a = Object.keys(enc.stateDict());
      const b = Object.keys(tEnc.stateDict());
      if (a.length !== b.length || a.some((k, i) => k !== b[i])) throw new UserError("BYOL: makeEncoder() built an encoder with other tensors than the online encoder");
    }
    tEnc.requiresGrad_(false).train();
    tProj.requiresGrad_(false).train();
    this.target = { encoder: tEnc, projector: tProj };
  }

  get training(): boolean {
    return this.trainingMode;
  }

  /** Sets the online network's and predictor's mode. A separate target always stays in training mode (batch statistics). */
  train(mode = true): this {
    this.trainingMode = mode;
    this.online.encoder.train(mode);
    this.online.projector.train(mode);
    this.predictor.train(mode);
    return this;
  }

  /** Whether the target is the online network itself (target "online": one set of weights). */
  get sharesTarget(): boolean {
    return this.target === this.online;
  }

  eval(): this {
    return this.train(false);
  }

  /** [name, tensor] of the trained parameters: online encoder, online projector and predictor. */
  namedTrainableParameters(): [string, T.Tensor][] {
    return [
      ...this.online.encoder.namedParameters("online.encoder"),
      ...this.online.projector.namedParameters("online.projector"),
      ...this.predictor.namedParameters("predictor"),
    ];
  }

  trainableParameters(): T.Tensor[] {
    return [...this.online.encoder.parameters(), ...this.online.projector.parameters(), ...this.predictor.parameters()];
  }

  /**
   * The symmetric BYOL loss for two views [N, C, H, W] of the same images. Each view goes through the
   * networks as its own batch (BatchNorm statistics per view); the target runs under noGrad.
   */
  forwardLoss(v1: T.Tensor, v2: T.Tensor): ForwardLossResult {
    return T.tidy(() => {
      const y1 = this.online.encoder.forward(v1);
      const o1 = this.online.projector.forward(y1);
      const p1 = this.predictor.forward(o1);
      const y2 = this.online.encoder.forward(v2);
      const o2 = this.online.projector.forward(y2);
      const p2 = this.predictor.forward(o2);
      // A shared target's projections are the online ones (the same network on the same views).
      const [z1, z2] = this.sharesTarget ? [o1, o2] : T.noGrad(() => [this.targetProject(v1), this.targetProject(v2)]);
      const sg = this.stopGradient;
      const loss = byolLoss(p1, z2, sg).add_(byolLoss(p2, z1, sg)).mean();
      return { loss, repr1: y1.detach(), proj1: o1.detach() };
    });
  }

  /** The target's projection z′ of a batch (no gradients, training-mode BatchNorm). */
  targetProject(x: T.Tensor): T.Tensor {
    return T.noGrad(() => T.tidy(() => this.target.projector.forward(this.target.encoder.forward(x))));
  }

  /**
   * ξ ← τ·ξ + (1 − τ)·θ for the target's parameters and BatchNorm running statistics (one fused call
   * where the libtorch has _foreach_*), and num_batches_tracked copied from the online network.
   * τ may be a 0-d tensor on the networks' device (read there, so a captured CUDA graph follows a τ
   * written into it before each replay); it is not range-checked then (that would read it back).
   * `oneMinusTau`, a second such tensor holding 1 − τ computed on the host in double precision, makes
   * the result match the numeric path's rounding (1 − τ in float32 on the device differs in its last bits).
   */
  updateTarget(tau: number | T.Tensor, oneMinusTau?: T.Tensor): void {
    if (typeof tau === "number" && !(tau >= 0 && tau <= 1)) throw new UserError(`BYOL: tau must be in [0, 1], got ${tau}`);
    // A shared target follows the online network by being it; a frozen one never moves.
    if (this.targetMode !== "ema") return;
    const tf: T.Tensor[] = [];
    const of: T.Tensor[] = [];
    const ti: T.Tensor[] = [];
    const oi: T.Tensor[] = [];
    const pairs: [Module, Module][] = [
      [this.target.encoder, this.online.encoder],
      [this.target.projector, this.online.projector],
    ];
    for (const [t, o] of pairs) {
      tf.push(...t.parameters());
      of.push(...o.parameters());
      const tb = t.buffers();
      const ob = o.buffers();
      if (tb.length !== ob.length) throw new Error("BYOL: online and target networks have different buffers");
      tb.forEach((b, i) => {
        // Float buffers (running statistics) are averaged; integer ones (counters) are copied.
        if (b.dtype === "int64" || b.dtype === "int32") {
          ti.push(b);
          oi.push(ob[i]);
        } else {
          tf.push(b);
          of.push(ob[i]);
        }
      });
    }
    if (tf.length !== of.length) throw new Error("BYOL: online and target networks have different parameters");
    T.noGrad(() => T.tidy(() => {
      if (typeof tau === "number") {
        if (tau !== 1) F.lerp_(tf, of, 1 - tau);
      } else {
        // ξ ← τ·ξ + (1 − τ)·θ with the weights as device tensors.
        F.mulTensors_(tf, tf.map(() => tau));
        const w = oneMinusTau ?? tau.neg().add(1);
        F.addcmul_(tf, of, tf.map(() => w));
      }
      ti.forEach((b, i) => b.copy_(oi[i]));
    }));
  }

  /**
   * The online encoder's representation y of images [N, C, H, W], computed in eval mode without
   * gradients in batches of batchSize; the previous mode is restored. Returns [N, outDim] on the images'
   * device (each batch runs on the encoder's device).
   */
  embed(images: T.Tensor, batchSize = 256): T.Tensor {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`embed: batchSize must be a positive integer, got ${batchSize}`);
    const enc = this.online.encoder;
    const modes = enc.modules().map((m) => m.training);
    enc.eval();
    try {
      return T.noGrad(() =>
        T.tidy(() => {
          const n = images.shape[0];
          const parts: T.Tensor[] = [];
          // Batches move to the encoder's device and the results back to the images' device, so that a
          // large CPU dataset can be embedded on a GPU a batch at a time.
          const inDevice = images.device;
          const encDevice = enc.device;
          const move = inDevice !== encDevice;
          for (let s = 0; s < n; s += batchSize) {
            const batch = images.narrow(0, s, Math.min(batchSize, n - s));
            const y = enc.forward(move ? batch.to(encDevice) : batch);
            parts.push(move ? y.to(inDevice) : y);
          }
          return parts.length === 1 ? parts[0] : T.cat(parts, 0);
        }),
      );
    } finally {
      enc.modules().forEach((m, i) => (m.training = modes[i]));
    }
  }

  /** Every tensor under "online.encoder.", "online.projector.", "predictor.", "target.encoder.", "target.projector.". */
  stateDict(): Record<string, T.Tensor> {
    const out: Record<string, T.Tensor> = {};
    this.namedParts().forEach(([p, m]) => Object.assign(out, m.stateDict(p.slice(0, -1))));
    return out;
  }

  /** Loads a stateDict(); strict (default) requires every key of all five parts and nothing else. */
  loadStateDict(sd: Record<string, T.Tensor>, opts: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const strict = opts.strict ?? true;
    const named = this.namedParts();
    const parts = named.map(([, m]) => m);
    const prefixes = named.map(([p]) => p);
    const unexpected = Object.keys(sd).filter((k) => !prefixes.some((p) => k.startsWith(p)));
    if (strict && unexpected.length) throw new UserError(`BYOL state dict: unexpected key ${unexpected[0]}${unexpected.length > 1 ? ` (+${unexpected.length - 1} more)` : ""}`);
    const split = prefixes.map((p) => Object.fromEntries(Object.entries(sd).filter(([k]) => k.startsWith(p)).map(([k, v]) => [k.slice(p.length), v])));
    // Check every part (shapes and keys) before copying anything.
    const missing: string[] = [];
    prefixes.forEach((p, i) => {
      const own = parts[i].stateDict();
      for (const k of Object.keys(own)) if (!(k in split[i])) missing.push(p + k);
      for (const k of Object.keys(split[i])) {
        if (!(k in own)) unexpected.push(p + k);
        else {
          const a = split[i][k].shape;
          const b = own[k].shape;
          if (a.length !== b.length || a.some((d, j) => d !== b[j])) throw new UserError(`BYOL state dict key ${p + k}: shape [${a}] does not match the model's [${b}]`);
        }
      }
    });
    if (strict && (missing.length || unexpected.length)) {
      const first = missing.length ? `missing ${missing[0]}` : `unexpected ${unexpected[0]}`;
      throw new UserError(`BYOL state dict does not match the model: ${first} (${missing.length} missing, ${unexpected.length} unexpected)`);
    }
    parts.forEach((m, i) => m.loadStateDict(split[i], { strict: false }));
    return { missing, unexpected };
  }

  /** Moves all five parts to a device (build optimizers afterwards). */
  to(device: string): this {
    for (const m of this.parts()) m.to(device);
    return this;
  }

  get device(): string {
    return this.online.encoder.device;
  }

  dispose(): void {
    for (const m of this.parts()) m.dispose();
  }

  private parts(): Module[] {
    return this.namedParts().map(([, m]) => m);
  }

  // Each network once under its state-dict prefix: a shared target ("online") has no tensors of its own.
  private namedParts(): [string, Module][] {
    const all: Module[] = [this.online.encoder, this.online.projector, this.predictor, this.target.encoder, this.target.projector];
    return PREFIXES.map((p, i) => [p, all[i]] as [string, Module]).slice(0, this.sharesTarget ? 3 : 5);
  }
}

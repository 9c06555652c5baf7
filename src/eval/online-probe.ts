// The online linear classifier of DeepMind's BYOL: trained during pretraining on sg(y), the encoder's
// output for the first view, so that label accuracy can be watched as the representation forms. The
// input is detached, so no gradient reaches the encoder; the classifier has its own optimizer and is
// not part of the BYOL loss. (The official code adds its loss to BYOL's and steps one LARS optimizer
// over both; since the input is detached the two are independent, so a separate optimizer only
// changes the classifier's own learning rate.)
//
// Its input is standardised per dimension by a BatchNorm without affine parameters (batch statistics
// while training, running statistics in predict), as linear probes commonly do: raw representations are
// unnormalised ReLU averages whose scale drifts as pretraining goes, and without it the classifier
// learns slowly (measured: 31% after 180 steps on a frozen random encoder's features, where the
// standardised offline probe reaches over 70%).
//
// Weights start at zero, so creating a probe draws nothing from the random generator and does not
// shift the pretraining's random stream. Images labelled -1 (unlabeled images in a mixed set) are
// ignored.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import type { Optimizer } from "../optim/index.js";
import { headOptimizer, HEAD_LR, type HeadOptimizerName } from "./head-optimizer.js";

export interface OnlineProbeOptions {
  /** Learning rate (default 1e-3 for AdamW, 0.1 for SGD); constant unless the caller sets `lr`. */
  lr?: number;
  /** Weight decay on the weight matrix (default 0). */
  weightDecay?: number;
  /** Device of the classifier; must be the device of the representations (default "cpu"). */
  device?: string;
  /** "adamw" (default) or "sgd" with momentum 0.9. */
  optimizer?: HeadOptimizerName;
}

export interface OnlineProbeStep {
  /** Mean cross-entropy over the labelled images of the batch (NaN when none is labelled). */
  loss: number;
  /** Labelled images the classifier got right (before this step's update). */
  correct: number;
  /** Labelled images in the batch. */
  count: number;
}

export interface OnlineProbeEpoch {
  /** Mean loss over the labelled images seen since the last reset (NaN when none). */
  loss: number;
  /** Fraction right over the same images (NaN when none). */
  accuracy: number;
  count: number;
}

/** The online linear classifier trained during pretraining on the detached representation, to watch label accuracy as it forms. */
export class OnlineProbe {
  readonly dim: number;
  readonly numClasses: number;
  readonly weight: T.Tensor;
  readonly bias: T.Tensor;
  /** Running mean and variance of the inputs (the standardising BatchNorm's buffers). */
  readonly runningMean: T.Tensor;
  readonly runningVar: T.Tensor;
  private readonly opt: Optimizer;
  private lossSum = 0;
  private correctSum = 0;
  private countSum = 0;

  constructor(dim: number, numClasses: number, opts: OnlineProbeOptions = {}) {
    if (!Number.isInteger(dim) || dim < 1) throw new UserError(`online probe: dimension must be a positive integer, got ${dim}`);
    if (!Number.isInteger(numClasses) || numClasses < 2) throw new UserError(`online probe: needs at least 2 classes, got ${numClasses}`);
    const optimizer = opts.optimizer ?? "adamw";
    const lr = opts.lr ?? HEAD_LR[optimizer];
    const weightDecay = opts.weightDecay ?? 0;
    if (!(lr > 0) || !Number.isFinite(lr)) throw new UserError(`online probe: learning rate must be > 0, got ${lr}`);
    if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw new UserError(`online probe: weight decay must be >= 0, got ${weightDecay}`);
    const device = opts.device ?? "cpu";
    this.dim = dim;
    this.numClasses = numClasses;
    this.weight = T.zeros([numClasses, dim], { device }).requiresGrad_().keep();
    this.bias = T.zeros([numClasses], { device }).requiresGrad_().keep();
    this.runningMean = T.zeros([dim], { device }).keep();
    this.runningVar = T.ones([dim], { device }).keep();
    this.opt = headOptimizer(optimizer, this.weight, this.bias, lr, weightDecay);
  }

  /** The learning rate of the next step (set it to follow a schedule). */
  get lr(): number {
    return this.opt.lr;
  }
  set lr(v: number) {
    this.opt.lr = v;
  }

  /**
   * One optimizer step on a batch: repr [b, dim] (detached here; any dtype), labels [b] integer class
   * indices on the same device (-1 = unlabeled, skipped). Works inside noGrad too.
   */
  step(repr: T.Tensor, labels: T.Tensor): OnlineProbeStep {
    if (repr.ndim !== 2 || repr.size(1) !== this.dim) throw new UserError(`online probe: expected representations [b, ${this.dim}], got [${repr.shape}]`);
    if (labels.ndim !== 1 || labels.size(0) !== repr.size(0)) throw new UserError(`online probe: ${labels.shape} labels for ${repr.size(0)} representations`);
    const r = T.enableGrad(() =>
      T.tidy(() => {
        const target = labels.to("int64");
        const labelled = target.ge(0);
        const count = labelled.sum().item();
        if (count === 0) return { loss: NaN, correct: 0, count: 0 };
        const x = this.standardise(repr, repr.size(0) > 1);
        const logits = T.linear(x, this.weight, this.bias);
        // cross_entropy skips target -100 (its ignore_index) and averages over the rest.
        const loss = T.crossEntropy(logits, T.where(labelled, target, -100));
        this.opt.zeroGrad();
        loss.backward();
        this.opt.step();
        // One read-back for both numbers (each read is a device sync on a GPU).
        const correct = logits.detach().argmax(1).eq(target).sum().to("float32");
        const [l, c] = T.stack([loss.detach(), correct]).toList();
        return { loss: l, correct: c, count };
      }),
    );
    if (r.count > 0) {
      this.lossSum += r.loss * r.count;
      this.correctSum += r.correct;
      this.countSum += r.count;
    }
    return r;
  }

  /**
   * The same optimizer step without any read-back, for a training step that must not wait for the
   * device (and may be captured in a CUDA graph): every label must be a class (≥ 0; the caller checks,
   * it has them on the host), and the number right (before the update) is added to `correct`, a float32
   * 0-d tensor on the probe's device. The epoch statistics of step() are not kept.
   */
  stepOnDevice(repr: T.Tensor, labels: T.Tensor, correct: T.Tensor): void {
    if (repr.ndim !== 2 || repr.size(1) !== this.dim) throw new UserError(`online probe: expected representations [b, ${this.dim}], got [${repr.shape}]`);
    if (labels.ndim !== 1 || labels.size(0) !== repr.size(0)) throw new UserError(`online probe: ${labels.shape} labels for ${repr.size(0)} representations`);
    T.enableGrad(() =>
      T.tidy(() => {
        const target = labels.to("int64");
        const logits = T.linear(this.standardise(repr, repr.size(0) > 1), this.weight, this.bias);
        const loss = T.crossEntropy(logits, target);
        this.opt.zeroGrad();
        loss.backward();
        this.opt.step();
        T.noGrad(() => correct.add_(logits.detach().argmax(1).eq(target).sum().to("float32")));
      }),
    );
  }

  /** Device-scalar mode for the probe's optimizer (see Optimizer.useDeviceScalars), for CUDA graphs. */
  useDeviceScalars(device: string): void {
    this.opt.useDeviceScalars(device);
  }

  /** Counts a step a CUDA graph replayed (the optimizer's host-side step count, saved in checkpoints). */
  countReplayedStep(): void {
    this.opt.stepCount++;
  }

  /** The optimizer's step count (a failed graph capture puts back the one it had before). */
  get optimizerSteps(): number {
    return this.opt.stepCount;
  }
  set optimizerSteps(n: number) {
    this.opt.stepCount = n;
  }

  /** Predicted classes for a batch of representations (int64 tensor on the probe's device). */
  predict(repr: T.Tensor): T.Tensor {
    return T.noGrad(() => T.tidy(() => T.linear(this.standardise(repr, false), this.weight, this.bias).argmax(1)));
  }

  // (x − μ)/σ per dimension: batch statistics (which also update the running ones) or the running ones.
  private standardise(repr: T.Tensor, batchStats: boolean): T.Tensor {
    return T.noGrad(() => T.batchNorm(repr.detach().to("float32"), null, null, this.runningMean, this.runningVar, batchStats));
  }

  /** Loss and accuracy over the steps since the last reset. */
  epochStats(): OnlineProbeEpoch {
    const c = this.countSum;
    return { loss: c ? this.lossSum / c : NaN, accuracy: c ? this.correctSum / c : NaN, count: c };
  }

  /** Returns the epoch's statistics and starts a new epoch. */
  endEpoch(): OnlineProbeEpoch {
    const s = this.epochStats();
    this.lossSum = this.correctSum = this.countSum = 0;
    return s;
  }

  /** Classifier and optimizer state as named tensors (live handles: serialise or copy them). */
  stateDict(): Record<string, T.Tensor> {
    const out: Record<string, T.Tensor> = { weight: this.weight, bias: this.bias, running_mean: this.runningMean, running_var: this.runningVar };
    for (const [k, v] of Object.entries(this.opt.stateDict())) out[`opt.${k}`] = v;
    return out;
  }

  loadStateDict(state: Record<string, T.Tensor>): void {
    const w = state.weight;
    const b = state.bias;
    if (!w || !b) throw new UserError("online probe: checkpoint has no classifier weight/bias");
    if (w.shape.join() !== this.weight.shape.join() || b.shape.join() !== this.bias.shape.join()) {
      throw new UserError(`online probe: checkpoint classifier is [${w.shape}], this run's is [${this.weight.shape}]`);
    }
    const mean = state.running_mean;
    const variance = state.running_var;
    if (!mean || !variance) throw new UserError("online probe: checkpoint has no input statistics (running_mean/running_var)");
    T.noGrad(() => {
      this.weight.copy_(w);
      this.bias.copy_(b);
      this.runningMean.copy_(mean);
      this.runningVar.copy_(variance);
    });
    const opt: Record<string, T.Tensor> = {};
    for (const [k, v] of Object.entries(state)) if (k.startsWith("opt.")) opt[k.slice(4)] = v;
    this.opt.loadStateDict(opt);
  }

  dispose(): void {
    this.opt.dispose();
    this.weight.dispose();
    this.bias.dispose();
    this.runningMean.dispose();
    this.runningVar.dispose();
  }
}

// Batch normalisation over channels (dim 1) with PyTorch's semantics and names: weight, bias,
// running_mean, running_var, num_batches_tracked (int64). In training mode the batch statistics are
// used and the running statistics move by `momentum` (new = (1 − m)·old + m·batch, unbiased variance);
// in eval mode the running statistics are used.
import * as T from "../../torch/index.js";
import { UserError } from "../../util/errors.js";
import { Module } from "../module.js";

/** BatchNorm settings, as torch.nn.BatchNorm's arguments. */
export interface BatchNormOptions {
  eps?: number;
  momentum?: number;
  /** Learnable per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); without them batch statistics are always used. */
  trackRunningStats?: boolean;
}

/** Batch normalisation over dim 1 with learnable scale and shift and running statistics for eval mode, as torch.nn.BatchNorm. */
abstract class BatchNormBase extends Module {
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  protected abstract readonly dims: number[];

  constructor(readonly numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new UserError(`${this.constructor.name}: number of features must be a positive integer, got ${numFeatures}`);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    if (!(this.eps > 0)) throw new UserError(`${this.constructor.name}: eps must be positive, got ${this.eps}`);
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new UserError(`${this.constructor.name}: momentum must be in [0, 1], got ${this.momentum}`);
    this.registerParameter("weight", this.affine ? T.empty([numFeatures]) : null);
    this.registerParameter("bias", this.affine ? T.empty([numFeatures]) : null);
    if (this.trackRunningStats) {
      this.registerBuffer("running_mean", T.zeros([numFeatures]));
      this.registerBuffer("running_var", T.ones([numFeatures]));
      this.registerBuffer("num_batches_tracked", T.zeros([], { dtype: "int64" }));
    } else {
      this.registerBuffer("running_mean", null);
      this.registerBuffer("running_var", null);
      this.registerBuffer("num_batches_tracked", null);
    }
    this.resetOwnParameters();
  }

  get weight(): T.Tensor | null {
    return this.optionalParam("weight");
  }
  get bias(): T.Tensor | null {
    return this.optionalParam("bias");
  }
  get runningMean(): T.Tensor | null {
    return this.optionalBuffer("running_mean");
  }
  get runningVar(): T.Tensor | null {
    return this.optionalBuffer("running_var");
  }
  get numBatchesTracked(): T.Tensor | null {
    return this.optionalBuffer("num_batches_tracked");
  }

  /** Running statistics back to mean 0, variance 1, count 0. */
  resetRunningStats(): void {
    T.noGrad(() => {
      this.runningMean?.zero_();
      this.runningVar?.fill_(1);
      this.numBatchesTracked?.zero_();
    });
  }

  protected override resetOwnParameters(): void {
    this.resetRunningStats();
    T.noGrad(() => {
      this.weight?.fill_(1);
      this.bias?.zero_();
    });
  }

  forward(x: T.Tensor): T.Tensor {
    const shape = x.shape;
    if (!this.dims.includes(shape.length) || shape[1] !== this.numFeatures) {
      throw new UserError(`${this.constructor.name}(${this.numFeatures}): expected a ${this.dims.join("-D or ")}-D input with ${this.numFeatures} channels in dim 1, got shape [${shape}]`);
    }
    const useBatchStats = this.training || !this.trackRunningStats;
    if (this.training) {
      let values = shape[0];
      for (let i = 2; i < shape.length; i++) values *= shape[i];
      if (values <= 1) throw new UserError(`${this.constructor.name}: training needs more than 1 value per channel, got input shape [${shape}]`);
      // The count is kept for PyTorch compatibility (torch increments it here, in the module, too).
      if (this.trackRunningStats) T.noGrad(() => this.numBatchesTracked!.add_(1));
    }
    const updateStats = this.training && this.trackRunningStats;
    return T.batchNorm(
      x, this.weight, this.bias,
      useBatchStats && !updateStats ? null : this.runningMean,
      useBatchStats && !updateStats ? null : this.runningVar,
      useBatchStats, this.momentum, this.eps,
    );
  }
}

/** BatchNorm over [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormBase {
  protected readonly dims = [2, 3];
}

/** BatchNorm over [N, C, H, W]. */
export class BatchNorm2d extends BatchNormBase {
  protected readonly dims = [4];
}

/** Either BatchNorm layer. */
export type BatchNorm = BatchNorm1d | BatchNorm2d;
export { BatchNormBase };

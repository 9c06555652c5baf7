// Cross-replica BatchNorm (as in the BYOL paper: statistics over the global batch of all processes).
//
// In training, with a process group of more than one rank: each rank computes its per-channel mean and
// sum of squared deviations (M2) and its count; one differentiable all-reduce gathers every rank's triple
// (each rank writes its row of a [worldSize, 2C+1] table, zeros elsewhere, and the sum is the table);
// the global mean and variance follow from Chan's parallel combination,
//   mean = Σ nᵣ·meanᵣ / N,   M2 = Σ M2ᵣ + Σ nᵣ·(meanᵣ − mean)²,   var = M2 / N,
// which stays accurate where E[x²] − E[x]² would cancel. Gradients flow back through the all-reduce to
// every rank's inputs, so the result equals BatchNorm over the concatenated batch, forward and backward.
// In eval mode, or without a group (or with one rank), it is ordinary BatchNorm. Parameter and buffer
// names are BatchNorm's, so state dicts are interchangeable.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { BatchNormBase, type BatchNormOptions } from "./layers/batchnorm.js";
import { Module } from "./module.js";

export class SyncBatchNorm extends BatchNormBase {
  // Any input [N, C, ...] (torch.nn.SyncBatchNorm accepts 2-D to 5-D).
  protected readonly dims = [2, 3, 4, 5];

  constructor(numFeatures: number, opts: BatchNormOptions = {}, public processGroup: T.ProcessGroup | null = null) {
    super(numFeatures, opts);
  }

  /** A SyncBatchNorm that takes over bn's tensors (the very same ones: optimizers holding them stay valid). */
  static from(bn: BatchNormBase, processGroup: T.ProcessGroup | null): SyncBatchNorm {
    const s = new SyncBatchNorm(bn.numFeatures, { eps: bn.eps, momentum: bn.momentum, affine: bn.affine, trackRunningStats: bn.trackRunningStats }, processGroup);
    s.adopt(bn);
    return s;
  }

  private adopt(bn: BatchNormBase): void {
    const take = (map: Map<string, T.Tensor | null>, name: string, t: T.Tensor | null) => {
      const mine = map.get(name);
      if (mine && mine !== t) mine.dispose();
      map.set(name, t);
    };
    take(this._params, "weight", bn.weight);
    take(this._params, "bias", bn.bias);
    take(this._buffers, "running_mean", bn.runningMean);
    take(this._buffers, "running_var", bn.runningVar);
    take(this._buffers, "num_batches_tracked", bn.numBatchesTracked);
    this.training = bn.training;
  }

  override forward(x: T.Tensor): T.Tensor {
    const pg = this.processGroup;
    if (!this.training || !pg || pg.worldSize === 1) return super.forward(x);
    const shape = x.shape;
    const C = this.numFeatures;
    if (shape.length < 2 || shape.length > 5 || shape[1] !== C) {
      throw new UserError(`SyncBatchNorm(${C}): expected an input [N, ${C}, ...] of 2 to 5 dimensions, got shape [${shape}]`);
    }
    let count = shape[0];
    for (let i = 2; i < shape.length; i++) count *= shape[i];
    if (count < 1) throw new UserError(`SyncBatchNorm(${C}): empty input of shape [${shape}]`);
    if (this.trackRunningStats) T.noGrad(() => this.numBatchesTracked!.add_(1));
    const world = pg.worldSize;
    const rank = pg.rank;
    const dims = [0, ...shape.slice(2).map((_, i) => i + 2)];
    const bshape = [1, C, ...shape.slice(2).map(() => 1)];
    return T.tidy(() => {
      // Statistics in float32 even when autocast hands us bf16/fp16 activations.
      const xf = x.dtype === "float32" || x.dtype === "float64" ? x : x.float();
      const [varLocal, meanLocal] = T.callOp("aten::var_mean", "correction", xf, dims, 0, false) as [T.Tensor, T.Tensor];
      const row = T.cat([meanLocal, varLocal.mul(count), T.full([1], count, { dtype: xf.dtype, device: xf.device })]);
      const width = 2 * C + 1;
      const parts: T.Tensor[] = [];
      if (rank > 0) parts.push(T.zeros([rank * width], { dtype: xf.dtype, device: xf.device }));
      parts.push(row);
      if (rank < world - 1) parts.push(T.zeros([(world - 1 - rank) * width], { dtype: xf.dtype, device: xf.device }));
      const table = pg.allReduceDifferentiable(T.cat(parts)).view(world, width);
      const means = table.narrow(1, 0, C);
      const m2s = table.narrow(1, C, C);
      const counts = table.narrow(1, 2 * C, 1);
      const total = counts.sum();
      const mean = means.mul(counts).sum(0).div(total);
      const m2 = m2s.sum(0).add(means.sub(mean).square().mul(counts).sum(0));
      const variance = m2.div(total);
      const invstd = variance.add(this.eps).rsqrt();
      const w = this.weight;
      const b = this.bias;
      const scale = w ? invstd.mul(w) : invstd;
      // (x − mean)·scale + bias, not x·scale + (bias − mean·scale): the latter cancels catastrophically
      // on channels whose variance is tiny next to their mean (scale ≈ 1/√eps there).
      let y = xf.sub(mean.view(...bshape)).mul(scale.view(...bshape));
      if (b) y = y.add(b.view(...bshape));
      if (y.dtype !== x.dtype) y = y.to(x.dtype);
      if (this.trackRunningStats) {
        T.noGrad(() => {
          const m = this.momentum;
          // Running variance is unbiased (N − 1), as in PyTorch.
          const unbiased = variance.mul(total.div(total.sub(1)));
          this.runningMean!.mul_(1 - m).add_(mean.detach().to(this.runningMean!.dtype), m);
          this.runningVar!.mul_(1 - m).add_(unbiased.detach().to(this.runningVar!.dtype), m);
        });
      }
      return y;
    });
  }
}

type WithChildren = { _children: Map<string, Module> };

/**
 * Replaces every BatchNorm in the tree by a SyncBatchNorm on processGroup, sharing its tensors (as
 * torch.nn.SyncBatchNorm.convert_sync_batchnorm). Fields of the parents that pointed at a replaced layer
 * are pointed at its replacement. SyncBatchNorms already in the tree move to processGroup. Returns the
 * root, or its replacement when the root itself is a BatchNorm.
 */
export function convertSyncBatchNorm<M extends Module>(root: M, processGroup: T.ProcessGroup | null): M {
  if (root instanceof SyncBatchNorm) {
    root.processGroup = processGroup;
    return root;
  }
  if (root instanceof BatchNormBase) return SyncBatchNorm.from(root, processGroup) as unknown as M;
  for (const m of root.modules()) {
    for (const [name, child] of m.namedChildren()) {
      if (child instanceof SyncBatchNorm) {
        child.processGroup = processGroup;
      } else if (child instanceof BatchNormBase) {
        const s = SyncBatchNorm.from(child, processGroup);
        (m as unknown as WithChildren)._children.set(name, s);
        const fields = m as unknown as Record<string, unknown>;
        for (const k of Object.keys(fields)) {
          const v = fields[k];
          if (v === child) fields[k] = s;
          else if (Array.isArray(v) && v.includes(child)) fields[k] = v.map((e) => (e === child ? s : e));
        }
      }
    }
  }
  return root;
}

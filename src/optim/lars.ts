// LARS as BYOL's official code orders it (SPEC §1), per parameter w with gradient g:
//   u = g + wd·w                                   (weight decay; wd = 0 in excluded groups)
//   u ← u · η‖w‖/‖u‖   (1 where either norm is 0)  (trust ratio; skipped in groups with lars: false)
//   b ← μ·b + u                                    (momentum)
//   w ← w − lr·b                                   (step)
// Biases and BatchNorm parameters go in a group with weightDecay 0 and lars false (see splitDecay).
// The norms of a whole group are computed in one call and the ratios with a handful of vector ops, so
// the cost does not grow with the number of tensors (no per-tensor host round trips).
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import * as F from "./foreach.js";
import { GroupStep, Optimizer, ParamGroup } from "./optimizer.js";

/** LARS's hyperparameters: learning rate, momentum, weight decay, trust coefficient η. */
export interface LARSOptions {
  lr: number;
  /** Default 0.9. */
  momentum?: number;
  /** Default 1.5e-6 (BYOL, 1000 epochs). */
  weightDecay?: number;
  /** Trust coefficient η, default 1e-3. */
  eta?: number;
}

/** LARS in BYOL's order: weight decay, trust ratio η‖w‖/‖u‖, momentum, step. */
export class LARS extends Optimizer {
  readonly momentum: number;
  readonly eta: number;

  constructor(groups: ParamGroup[] | T.Tensor[], opts: LARSOptions) {
    super(groups, { lr: opts.lr, weightDecay: opts.weightDecay ?? 1.5e-6 }, ["momentum_buffer"]);
    this.momentum = opts.momentum ?? 0.9;
    this.eta = opts.eta ?? 1e-3;
    if (!(this.momentum >= 0 && this.momentum < 1)) throw new UserError(`LARS: momentum must be in [0, 1), got ${opts.momentum}`);
    if (!(this.eta > 0) || !Number.isFinite(this.eta)) throw new UserError(`LARS: eta must be a positive number, got ${opts.eta}`);
  }

  /** η‖w‖/‖u‖ for each pair, 1 where a norm is 0, as 0-d tensors (on the parameters' device). */
  trustRatios(params: T.Tensor[], updates: T.Tensor[]): T.Tensor[] {
    return T.tidy(() => {
      const w = T.stack(F.norms(params));
      const u = T.stack(F.norms(updates));
      const ok = w.gt(0).logicalAnd(u.gt(0));
      const ratio = T.where(ok, w.mul(this.eta).div(u), 1);
      return T.callOp("unbind", "int", ratio, 0) as T.Tensor[];
    });
  }

  protected updateGroup({ group, params, grads, state, lrT }: GroupStep): void {
    const { weightDecay: wd } = group;
    // A number, or the group's learning rate as a 0-d device tensor (device-scalar mode).
    const lr = lrT ?? group.lr;
    const bufs = state.momentum_buffer;
    const u = wd ? F.add(grads, params, wd) : grads;
    F.mulScalar_(bufs, this.momentum);
    if (group.lars) {
      // b ← μ·b + u·ratio in one fused call, so the gradients themselves are never scaled in place.
      F.addcmul_(bufs, u, this.trustRatios(params, u));
    } else {
      F.add_(bufs, u);
    }
    F.addScaled_(params, bufs, lr, -1);
  }
}

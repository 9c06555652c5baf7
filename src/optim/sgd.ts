// SGD with momentum, Nesterov momentum and (coupled) weight decay, as torch.optim.SGD without dampening:
//   d = g + wd·p;  b ← μ·b + d;  p ← p − lr·(nesterov ? d + μ·b : b)
// (without momentum: p ← p − lr·d). Each line is one fused multi-tensor call per group.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import * as F from "./foreach.js";
import { GroupStep, Optimizer, ParamGroup } from "./optimizer.js";

/** SGD's hyperparameters: learning rate, momentum, Nesterov, weight decay. */
export interface SGDOptions {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** SGD with momentum and coupled weight decay, as torch.optim.SGD without dampening. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(groups: ParamGroup[] | T.Tensor[], opts: SGDOptions) {
    super(groups, { lr: opts.lr, weightDecay: opts.weightDecay ?? 0 }, (opts.momentum ?? 0) > 0 ? ["momentum_buffer"] : []);
    this.momentum = opts.momentum ?? 0;
    this.nesterov = opts.nesterov ?? false;
    if (!(this.momentum >= 0 && this.momentum < 1)) throw new UserError(`SGD: momentum must be in [0, 1), got ${opts.momentum}`);
    if (this.nesterov && this.momentum === 0) throw new UserError("SGD: Nesterov momentum needs a momentum > 0");
  }

  protected updateGroup({ group, params, grads, state, lrT }: GroupStep): void {
    const { weightDecay: wd } = group;
    // A number, or the group's learning rate as a 0-d device tensor (device-scalar mode).
    const lr = lrT ?? group.lr;
    const mu = this.momentum;
    if (mu === 0) {
      F.addScaled_(params, wd ? F.add(grads, params, wd) : grads, lr, -1);
      return;
    }
    const bufs = state.momentum_buffer;
    if (this.nesterov) {
      const d = wd ? F.add(grads, params, wd) : grads;
      F.mulScalar_(bufs, mu);
      F.add_(bufs, d);
      F.addScaled_(params, d, lr, -1);
      F.addScaled_(params, bufs, lr, -mu);
    } else {
      F.mulScalar_(bufs, mu);
      F.add_(bufs, grads);
      if (wd) F.add_(bufs, params, wd);
      F.addScaled_(params, bufs, lr, -1);
    }
  }
}

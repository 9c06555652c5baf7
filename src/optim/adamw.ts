// AdamW (decoupled weight decay), as torch.optim.AdamW:
//   w ← w·(1 − lr·wd);  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²
//   w ← w − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)
// The step count t is the optimizer's (all parameters step together).
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import * as F from "./foreach.js";
import { GroupStep, Optimizer, ParamGroup } from "./optimizer.js";

/** AdamW's hyperparameters (torch.optim.AdamW's defaults where omitted). */
export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Default 0.01 (PyTorch's). */
  weightDecay?: number;
}

/** AdamW with decoupled weight decay, as torch.optim.AdamW. */
export class AdamW extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;

  constructor(groups: ParamGroup[] | T.Tensor[], opts: AdamWOptions = {}) {
    super(groups, { lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? 1e-2 }, ["exp_avg", "exp_avg_sq"]);
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    for (const b of this.betas) if (!(b >= 0 && b < 1)) throw new UserError(`AdamW: betas must be in [0, 1), got [${this.betas}]`);
    if (!(this.eps > 0)) throw new UserError(`AdamW: eps must be positive, got ${opts.eps}`);
  }

  protected updateGroup({ group, params, grads, state, lrT, tT }: GroupStep, t: number): void {
    const { lr, weightDecay: wd } = group;
    const [b1, b2] = this.betas;
    const m = state.exp_avg;
    const v = state.exp_avg_sq;
    if (lrT && tT) {
      this.updateOnDevice(params, grads, m, v, wd, lrT, tT);
      return;
    }
    if (wd) F.mulScalar_(params, 1 - lr * wd);
    F.mulScalar_(m, b1);
    F.add_(m, grads, 1 - b1);
    F.mulScalar_(v, b2);
    F.addcmul_(v, grads, grads, 1 - b2);
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    const denom = F.sqrt(v);
    F.divScalar_(denom, Math.sqrt(bc2));
    F.addScalar_(denom, this.eps);
    F.addcdiv_(params, m, denom, -lr / bc1);
  }

  // The same update with lr and t read from 0-d device tensors (device-scalar mode, for CUDA graphs):
  // βᵗ = exp(t·ln β) and the step size lr/(1 − β₁ᵗ) are computed on the device.
  private updateOnDevice(params: T.Tensor[], grads: T.Tensor[], m: T.Tensor[], v: T.Tensor[], wd: number, lrT: T.Tensor, tT: T.Tensor): void {
    const [b1, b2] = this.betas;
    const rep = (x: T.Tensor) => params.map(() => x);
    if (wd) F.mulTensors_(params, rep(lrT.mul(-wd).add(1)));
    F.mulScalar_(m, b1);
    F.add_(m, grads, 1 - b1);
    F.mulScalar_(v, b2);
    F.addcmul_(v, grads, grads, 1 - b2);
    const bc1 = tT.mul(Math.log(b1)).exp().neg().add(1);
    const bc2 = tT.mul(Math.log(b2)).exp().neg().add(1);
    const denom = F.sqrt(v);
    F.mulTensors_(denom, rep(bc2.rsqrt()));
    F.addScalar_(denom, this.eps);
    F.addScaled_(params, F.div(m, denom), lrT.div(bc1), -1);
  }
}

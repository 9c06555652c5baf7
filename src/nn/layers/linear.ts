// Fully connected layer y = x·Wᵀ + b with PyTorch's names (weight [out, in], bias [out]) and init.
import * as T from "../../torch/index.js";
import { UserError } from "../../util/errors.js";
import { WeightedLayer } from "./weighted.js";

/** Fully connected layer y = x·Wᵀ + b, as torch.nn.Linear. */
export class Linear extends WeightedLayer {
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    for (const [what, v] of [["in features", inFeatures], ["out features", outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new UserError(`Linear: ${what} must be a positive integer, got ${v}`);
    }
    this.registerParameter("weight", T.empty([outFeatures, inFeatures]));
    this.registerParameter("bias", opts.bias ?? true ? T.empty([outFeatures]) : null);
    this.resetOwnParameters();
  }

  forward(x: T.Tensor): T.Tensor {
    return T.linear(x, this.weight, this.bias);
  }
}

// The optimizer of an evaluation head (a linear classifier: weight [classes, d] and bias [classes]):
// AdamW or SGD with momentum 0.9 from src/optim, with weight decay on the weight matrix only.
import type * as T from "../torch/index.js";
import { AdamW, SGD, type Optimizer } from "../optim/index.js";
import { UserError } from "../util/errors.js";

export type HeadOptimizerName = "adamw" | "sgd";

/** Default peak learning rates per optimizer, for standardised or ReLU-scale inputs. */
export const HEAD_LR: Record<HeadOptimizerName, number> = { adamw: 1e-3, sgd: 0.1 };

export function headOptimizer(name: HeadOptimizerName, weight: T.Tensor, bias: T.Tensor, lr: number, weightDecay: number): Optimizer {
  const groups = [
    { params: [weight], names: ["weight"], weightDecay },
    { params: [bias], names: ["bias"], weightDecay: 0 },
  ];
  if (name === "adamw") return new AdamW(groups, { lr, weightDecay });
  if (name === "sgd") return new SGD(groups, { lr, momentum: 0.9, weightDecay });
  throw new UserError(`unknown optimizer "${name}" for an evaluation head (expected adamw or sgd)`);
}

// Activation and shape layers without parameters.
import * as T from "../../torch/index.js";
import { Module } from "../module.js";

/** max(x, 0), as torch.nn.ReLU. */
export class ReLU extends Module {
  /** inplace overwrites the input (saves memory; only where the input is not needed afterwards). */
  constructor(readonly inplace = false) {
    super();
  }
  forward(x: T.Tensor): T.Tensor {
    return this.inplace ? x.relu_() : x.relu();
  }
}

/** Flattens dims startDim..endDim into one (default: everything but the batch dimension). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: T.Tensor): T.Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

/** Returns its input unchanged (a placeholder, e.g. for a removed classifier or max-pool). */
export class Identity extends Module {
  forward(x: T.Tensor): T.Tensor {
    return x;
  }
}

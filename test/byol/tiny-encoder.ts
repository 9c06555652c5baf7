// A user's own encoder for the learner tests: any Module with outDim can be BYOL's encoder.
import * as T from "../../src/torch/index.js";
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Module, ReLU } from "../../src/nn/index.js";

/** conv 3x3 (1 → 6) → BatchNorm → ReLU → global average pool: [N, 1, H, W] → [N, 6]. */
export class TinyEncoder extends Module {
  readonly outDim = 6;
  constructor() {
    super();
    this.registerModule("conv", new Conv2d(1, 6, 3, { padding: 1 }));
    this.registerModule("bn", new BatchNorm2d(6));
    this.registerModule("relu", new ReLU());
    this.registerModule("pool", new AdaptiveAvgPool2d(1));
  }
  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => this.child("pool").forward(this.child("relu").forward(this.child("bn").forward(this.child("conv").forward(x)))).flatten(1));
  }
}

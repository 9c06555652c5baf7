// The shared part of layers with a weight and an optional bias (Linear, Conv2d): accessors and
// PyTorch's default initialisation of both.
import * as T from "../../torch/index.js";
import { Module } from "../module.js";
import { defaultLayerInit_ } from "../init.js";

export abstract class WeightedLayer extends Module {
  get weight(): T.Tensor {
    return this.param("weight");
  }
  get bias(): T.Tensor | null {
    return this.optionalParam("bias");
  }

  protected override resetOwnParameters(): void {
    defaultLayerInit_(this.weight, this.bias);
  }
}

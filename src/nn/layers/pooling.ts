// 2-D pooling layers (no parameters).
import * as T from "../../torch/index.js";
import { Module } from "../module.js";

type Size2 = number | [number, number];

/** 2-D max pooling, as torch.nn.MaxPool2d. */
export class MaxPool2d extends Module {
  readonly stride: Size2;
  constructor(readonly kernelSize: Size2, stride?: Size2 | null, readonly padding: Size2 = 0) {
    super();
    this.stride = stride ?? kernelSize;
  }
  forward(x: T.Tensor): T.Tensor {
    return T.maxPool2d(x, this.kernelSize, this.stride, this.padding);
  }
}

/** Average pooling; padded zeros count in the average (PyTorch's count_include_pad=True). */
export class AvgPool2d extends Module {
  readonly stride: Size2;
  constructor(readonly kernelSize: Size2, stride?: Size2 | null, readonly padding: Size2 = 0) {
    super();
    this.stride = stride ?? kernelSize;
  }
  forward(x: T.Tensor): T.Tensor {
    return T.avgPool2d(x, this.kernelSize, this.stride, this.padding);
  }
}

/** Average pooling to a fixed output size (1 = global average pooling). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Size2) {
    super();
  }
  forward(x: T.Tensor): T.Tensor {
    return T.adaptiveAvgPool2d(x, this.outputSize);
  }
}

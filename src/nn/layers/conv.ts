// 2-D convolution with PyTorch's parameter names (weight [out, in/groups, kh, kw], bias [out]) and init.
import * as T from "../../torch/index.js";
import { UserError } from "../../util/errors.js";
import { WeightedLayer } from "./weighted.js";

/** Stride, padding, dilation, groups and bias of a 2-D convolution. */
export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === "number" ? [v, v] : v);

/** 2-D convolution, as torch.nn.Conv2d (weight [out, in/groups, kh, kw], optional bias). */
export class Conv2d extends WeightedLayer {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | [number, number], opts: Conv2dOptions = {}) {
    super();
    this.kernelSize = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    this.groups = opts.groups ?? 1;
    for (const [what, v] of [["in channels", inChannels], ["out channels", outChannels], ["groups", this.groups]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new UserError(`Conv2d: ${what} must be a positive integer, got ${v}`);
    }
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new UserError(`Conv2d: channels (${inChannels} in, ${outChannels} out) must be divisible by groups (${this.groups})`);
    }
    this.registerParameter("weight", T.empty([outChannels, inChannels / this.groups, ...this.kernelSize]));
    this.registerParameter("bias", opts.bias ?? true ? T.empty([outChannels]) : null);
    this.resetOwnParameters();
  }

  forward(x: T.Tensor): T.Tensor {
    return T.conv2d(x, this.weight, this.bias, this.stride, this.padding, this.dilation, this.groups);
  }
}

// Group normalisation (Wu & He 2018) with torch.nn.GroupNorm's semantics and names (weight, bias; no
// running statistics: it normalises each sample over groups of channels, so it behaves the same in
// training and eval mode and needs no batch).
import * as T from "../../torch/index.js";
import { UserError } from "../../util/errors.js";
import { Module } from "../module.js";

/** Normalisation over groups of channels (dim 1) of each sample, with a per-channel scale and shift, as torch.nn.GroupNorm. */
export class GroupNorm extends Module {
  readonly eps: number;

  constructor(readonly numGroups: number, readonly numChannels: number, opts: { eps?: number } = {}) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || !Number.isInteger(numChannels) || numChannels % numGroups !== 0) {
      throw new UserError(`GroupNorm: ${numChannels} channels cannot be split into ${numGroups} equal groups`);
    }
    this.eps = opts.eps ?? 1e-5;
    this.registerParameter("weight", T.empty([numChannels]));
    this.registerParameter("bias", T.empty([numChannels]));
    this.resetOwnParameters();
  }

  get weight(): T.Tensor {
    return this.param("weight");
  }
  get bias(): T.Tensor {
    return this.param("bias");
  }

  protected override resetOwnParameters(): void {
    T.noGrad(() => {
      this.weight.fill_(1);
      this.bias.zero_();
    });
  }

  forward(x: T.Tensor): T.Tensor {
    if (x.shape.length < 2 || x.shape[1] !== this.numChannels) {
      throw new UserError(`GroupNorm(${this.numGroups}, ${this.numChannels}): expected an input with ${this.numChannels} channels in dim 1, got shape [${x.shape}]`);
    }
    // Normalised in the parameters' dtype (float32): under bf16 autocast on a CPU, libtorch 1.13 hands
    // group_norm the previous convolution's bf16 output beside float32 weights and refuses the mix,
    // where CUDA's autocast runs group_norm in float32 anyway. The next layer casts back as it needs.
    const input = x.dtype === this.weight.dtype ? x : x.to(this.weight.dtype);
    return T.callOp("aten::group_norm", "", input, this.numGroups, this.weight, this.bias, this.eps, true) as T.Tensor;
  }
}

/**
 * The group count used wherever the configuration asks for GroupNorm: Wu & He's default of 32 groups,
 * but never fewer than 8 channels in a group (so fewer groups for narrow layers; 1 group, i.e. a
 * LayerNorm over channels, below 16 channels). Why the floor: the cpu preset's early stages have 16
 * and 32 channels and its last stage runs at 2x2 pixels, where 32 groups would normalise over a
 * handful of values each; and in a head, whose input [N, C] has no pixels, a group of one channel
 * would normalise every value to 0. Wu & He (Table 3) found 8-16 channels per group as good as 32 groups.
 */
export function groupNormGroups(channels: number): number {
  for (let g = Math.min(32, Math.floor(channels / 8)); g > 1; g--) if (channels % g === 0) return g;
  return 1;
}

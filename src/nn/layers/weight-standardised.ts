// Weight standardisation (Qiao et al. 2019), the companion of GroupNorm in Richemond et al. 2020 ("BYOL
// works even without batch statistics"): each output unit's weights are standardised over their fan-in,
// ŵ = (w − mean) / sqrt(var + eps), before every use. The stored tensor is the raw w under PyTorch's name
// ("weight"), so the parameter count and names are a plain Conv2d's / Linear's; the layer class, and an
// exported encoder's metadata, say that the weights are standardised when used.
import * as T from "../../torch/index.js";
import { Conv2d } from "./conv.js";
import { Linear } from "./linear.js";

/** Added to the variance: keeps a (near-)constant filter finite; small against the He-initialised weights' variance. */
export const WS_EPS = 1e-5;

/** w standardised over every dim but the first (the output unit): mean 0 and (biased) variance 1 per unit. */
export function standardiseWeight(w: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const flat = w.flatten(1);
    const mean = flat.mean(1, true);
    const v = flat.var(1, { unbiased: false, keepdim: true });
    return flat.sub(mean).div(v.add(WS_EPS).sqrt()).reshape(...w.shape);
  });
}

/** A Conv2d whose weight is standardised per output channel at every forward pass. */
export class WSConv2d extends Conv2d {
  override forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => T.conv2d(x, standardiseWeight(this.weight), this.bias, this.stride, this.padding, this.dilation, this.groups));
  }
}

/** A Linear layer whose weight is standardised per output unit at every forward pass. */
export class WSLinear extends Linear {
  override forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => T.linear(x, standardiseWeight(this.weight), this.bias));
  }
}

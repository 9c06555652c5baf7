// BYOL's projector and predictor heads: Linear → BatchNorm1d → ReLU → Linear, as a Sequential so the
// tensor names are PyTorch's ("0.weight", "1.running_mean", "3.bias", ...). The normalisation can be
// switched (src/nn/norm.ts): GroupNorm after a weight-standardised Linear, or none (an Identity at
// index 1, so that the names of the two Linears stay "0.*" and "3.*" in every variant).
import { ReLU } from "./layers/activation.js";
import { Linear } from "./layers/linear.js";
import { Sequential } from "./layers/sequential.js";
import { linearFor, normLayer, type NormKind } from "./norm.js";

/** BYOL's projector and predictor: Linear(inDim, hiddenDim) → BatchNorm1d (or `norm`) → ReLU → Linear(hiddenDim, outDim). */
export function mlpHead(inDim: number, hiddenDim: number, outDim: number, norm: NormKind = "batchnorm"): Sequential {
  return new Sequential(linearFor(norm, inDim, hiddenDim), normLayer(norm, hiddenDim, false), new ReLU(true), new Linear(hiddenDim, outDim));
}

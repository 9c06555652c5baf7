// BYOL's projector and predictor heads: Linear → BatchNorm1d → ReLU → Linear, as a Sequential so the
// tensor names are PyTorch's ("0.weight", "1.running_mean", "3.bias", ...).
import { BatchNorm1d } from "./layers/batchnorm.js";
import { ReLU } from "./layers/activation.js";
import { Linear } from "./layers/linear.js";
import { Sequential } from "./layers/sequential.js";

/** BYOL's projector and predictor: Linear(inDim, hiddenDim) → BatchNorm1d → ReLU → Linear(hiddenDim, outDim). */
export function mlpHead(inDim: number, hiddenDim: number, outDim: number): Sequential {
  return new Sequential(new Linear(inDim, hiddenDim), new BatchNorm1d(hiddenDim), new ReLU(true), new Linear(hiddenDim, outDim));
}

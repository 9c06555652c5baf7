// Weight initialisations with PyTorch's formulas (torch.nn.init), applied in place without autograd.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";

export type Nonlinearity = "linear" | "relu" | "leaky_relu" | "tanh" | "sigmoid";
export type FanMode = "fan_in" | "fan_out";

/** [fan_in, fan_out] of a weight shaped [out, in, ...kernel] as torch.nn.init._calculate_fan_in_and_fan_out. */
export function fans(shape: number[]): [number, number] {
  if (shape.length < 2) throw new UserError(`fan in/out needs a tensor with at least 2 dimensions, got shape [${shape}]`);
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i];
  return [shape[1] * receptive, shape[0] * receptive];
}

/** torch.nn.init.calculate_gain. */
export function gain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case "linear":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu":
      return Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
  }
}

export function uniform_(t: T.Tensor, low: number, high: number): T.Tensor {
  T.noGrad(() => t.uniform_(low, high));
  return t;
}

export function normal_(t: T.Tensor, mean = 0, std = 1): T.Tensor {
  T.noGrad(() => t.normal_(mean, std));
  return t;
}

export function constant_(t: T.Tensor, value: number): T.Tensor {
  T.noGrad(() => t.fill_(value));
  return t;
}

export function zeros_(t: T.Tensor): T.Tensor {
  T.noGrad(() => t.zero_());
  return t;
}

export function ones_(t: T.Tensor): T.Tensor {
  return constant_(t, 1);
}

/** He uniform: U(−b, b), b = gain·√(3/fan). `a` is the leaky-ReLU slope (PyTorch's layers use a = √5). */
export function kaimingUniform_(t: T.Tensor, a = 0, mode: FanMode = "fan_in", nonlinearity: Nonlinearity = "leaky_relu"): T.Tensor {
  const [fin, fout] = fans(t.shape);
  const fan = mode === "fan_in" ? fin : fout;
  const bound = gain(nonlinearity, a) * Math.sqrt(3 / fan);
  return uniform_(t, -bound, bound);
}

/** He normal: N(0, std²), std = gain/√fan (torchvision's ResNet uses fan_out and relu). */
export function kaimingNormal_(t: T.Tensor, a = 0, mode: FanMode = "fan_in", nonlinearity: Nonlinearity = "leaky_relu"): T.Tensor {
  const [fin, fout] = fans(t.shape);
  const fan = mode === "fan_in" ? fin : fout;
  return normal_(t, 0, gain(nonlinearity, a) / Math.sqrt(fan));
}

/**
 * The default initialisation of PyTorch's Conv2d and Linear (reset_parameters): weight
 * kaiming_uniform(a=√5), i.e. U(−1/√fan_in, 1/√fan_in), and bias U(−1/√fan_in, 1/√fan_in).
 */
export function defaultLayerInit_(weight: T.Tensor, bias: T.Tensor | null): void {
  kaimingUniform_(weight, Math.sqrt(5));
  if (bias) {
    const [fin] = fans(weight.shape);
    const bound = fin > 0 ? 1 / Math.sqrt(fin) : 0;
    uniform_(bias, -bound, bound);
  }
}

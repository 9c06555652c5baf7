// Gaussian blur with a σ of its own per image, batched: the batch is folded into the channels of a
// single image ([1, N·C, H, W]) and filtered by grouped convolutions, one 1-D pass per axis, with
// reflect padding as torchvision's GaussianBlur. The vertical pass can also mix each image's colour
// channels by a matrix of its own (random grayscale, which commutes with a per-channel blur).
import * as T from "../torch/index.js";

/** Kernel taps −0.5·t² for t = −(k−1)/2 … (k−1)/2, [1, 1, k] (torchvision's tap positions). */
export function blurTaps(k: number, device: string): T.Tensor {
  const half = (k - 1) / 2;
  return T.tensor(Float32Array.from({ length: k }, (_, i) => -0.5 * (i - half) ** 2), [1, 1, k], { device });
}

/** The delta kernel [1, 1, 1, k]: convolving with it changes nothing. */
export function deltaKernel(k: number, device: string): T.Tensor {
  return T.tensor(Float32Array.from({ length: k }, (_, i) => (i === (k - 1) / 2 ? 1 : 0)), [1, 1, 1, k], { device });
}

/**
 * Normalised Gaussian kernels [n, 1, 1, k] for σ [n, 1, 1] (taps from blurTaps): softmax(−t²/2σ²) is
 * exp(−t²/2σ²) / Σ exp(−t²/2σ²) in one op. Images where `blurred` [n, 1, 1, 1] is false get the delta.
 */
export function kernelsOf(sigma: T.Tensor, taps: T.Tensor, n: number, k: number, blurred: T.Tensor | null, delta: T.Tensor | null): T.Tensor {
  const kern = taps.div(sigma.square()).softmax(2).view(n, 1, 1, k);
  return blurred ? T.where(blurred, kern, delta!) : kern;
}

/**
 * Blurs each image of x [N, C, H, W] with its kernel [N, 1, 1, k] of side k (k odd, (k−1)/2 < H and W); where
 * `mix` [N, C, C, 1] is given, output channel i of image n is Σ_j mix[n, i, j]·(blurred channel j).
 */
export function blurWithKernels(x: T.Tensor, kernels: T.Tensor, k: number, mix: T.Tensor | null, shape: readonly number[]): T.Tensor {
  const [n, c, h, w] = shape as [number, number, number, number];
  const half = (k - 1) / 2;
  const padded = T.pad(x.view(1, n * c, h, w), [half, half, half, half], "reflect");
  const perChannel = kernels.expand(n, c, 1, k);
  const rows = mix
    ? T.conv2d(padded, mix.mul(kernels).view(n * c, c, k, 1), null, 1, 0, 1, n)
    : T.conv2d(padded, perChannel.reshape(n * c, 1, k, 1), null, 1, 0, 1, n * c);
  const cols = T.conv2d(rows, perChannel.reshape(n * c, 1, 1, k), null, 1, 0, 1, n * c);
  // A normalised kernel can still overshoot 1 by an ulp; keep the [0, 1] contract exact.
  return cols.view(n, c, h, w).clamp_(0, 1);
}

/** Normalised 1-D Gaussian kernels [N, k] for σ [N]; images where `mask` [N] is false get the delta kernel. */
export function gaussianKernels(sigma: T.Tensor, k: number, mask: T.Tensor | null = null): T.Tensor {
  return T.tidy(() => {
    const n = sigma.size(0);
    const device = sigma.device;
    const m = mask ? mask.view(n, 1, 1, 1) : null;
    return kernelsOf(sigma.view(n, 1, 1), blurTaps(k, device), n, k, m, m ? deltaKernel(k, device) : null).view(n, k);
  });
}

/** Gaussian blur with σ [N] per image, kernel side k, applied where mask [N] is set. */
export function gaussianBlur(x: T.Tensor, sigma: T.Tensor, k: number, mask: T.Tensor | null = null): T.Tensor {
  if (k <= 1) return x.clone();
  return T.tidy(() => {
    const shape = x.shape;
    return blurWithKernels(x.contiguous(), gaussianKernels(sigma, k, mask).view(shape[0]!, 1, 1, k), k, null, shape);
  });
}

// Gaussian blur with a σ of its own per image, batched: the batch is folded into the channels of a
// single image ([1, N·C, H, W]) and filtered by a depthwise (groups = N·C) convolution, one 1-D pass
// per axis, with reflect padding as torchvision's GaussianBlur.
import * as T from "../torch/index.js";

/**
 * Normalised 1-D Gaussian kernels [N, k] for σ [N] (torchvision's: taps at −(k−1)/2 … (k−1)/2).
 * Images where `mask` [N] is false get the delta kernel, so the convolution leaves them unchanged.
 */
export function gaussianKernels(sigma: T.Tensor, k: number, mask: T.Tensor | null = null): T.Tensor {
  return T.tidy(() => {
    const half = (k - 1) / 2;
    const taps = T.linspace(-half, half, k, { device: sigma.device }).view(1, k);
    const pdf = taps.div(sigma.view(-1, 1)).square().mul(-0.5).exp();
    const kern = pdf.div(pdf.sum(1, true));
    if (!mask) return kern;
    const delta = T.zeros([1, k], { device: sigma.device });
    delta.narrow(1, half, 1).fill_(1);
    return T.where(mask.view(-1, 1), kern, delta);
  });
}

/** Blurs each image of x [N, C, H, W] in [0, 1] with its own kernel [N, k] (k odd, (k−1)/2 < H and W). */
export function blurWithKernels(x: T.Tensor, kernels: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const [n, c, h, w] = x.shape;
    const k = kernels.size(1);
    const half = (k - 1) / 2;
    const folded = x.reshape(1, n * c, h, w);
    const perChannel = kernels.unsqueeze(1).expand(n, c, k).reshape(n * c, 1, 1, k);
    const padded = T.pad(folded, [half, half, half, half], "reflect");
    const rows = T.conv2d(padded, perChannel, null, 1, 0, 1, n * c);
    const cols = T.conv2d(rows, perChannel.view(n * c, 1, k, 1), null, 1, 0, 1, n * c);
    // A normalised kernel can still overshoot 1 by an ulp; keep the [0, 1] contract exact.
    return cols.view(n, c, h, w).clamp_(0, 1);
  });
}

/** Gaussian blur with σ [N] per image, kernel side k, applied where mask [N] is set. */
export function gaussianBlur(x: T.Tensor, sigma: T.Tensor, k: number, mask: T.Tensor | null = null): T.Tensor {
  if (k <= 1) return x.clone();
  return T.tidy(() => blurWithKernels(x, gaussianKernels(sigma, k, mask)));
}

// The collapse metric of Chen & He 2021 (SimSiam, §4): the standard deviation over the batch of the
// L2-normalised online projection, averaged over its d dimensions and multiplied by √d. For outputs
// spread over the unit sphere every dimension has a std near 1/√d, so the metric reads ≈ 1; when every
// image maps to the same vector the std is 0. It is a device tensor: the training step keeps it on
// the device and reads it back only on logging steps.
import * as T from "../torch/index.js";

/**
 * The collapse metric of projections z [N, d] as a 0-d float32 tensor on z's device: mean over dims of
 * the unbiased (N − 1) std over the batch of z/‖z‖, times √d. Unbiased as torch.std's default, which
 * the SimSiam measurement used; N ≥ 2.
 */
export function collapseMetric(z: T.Tensor): T.Tensor {
  const [n, d] = z.shape;
  if (z.shape.length !== 2 || n < 2) throw new Error(`collapseMetric: expected projections [N >= 2, d], got [${z.shape}]`);
  return T.noGrad(() => T.tidy(() => T.normalize(z.detach().to("float32"), 1).std(0).mean().mul(Math.sqrt(d))));
}

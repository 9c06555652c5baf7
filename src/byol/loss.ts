// BYOL's regression loss: the squared distance of L2-normalised vectors, ‖p̄ − z̄‖² = 2 − 2·cos(p, z).
import * as T from "../torch/index.js";

/**
 * Per-sample loss [N] between online predictions p [N, D] and target projections z [N, D]. z is
 * detached (stop-gradient), so gradients reach p only; with `stopGradient` false (an ablation) they
 * reach z too. The cosine is taken in float32 even when the
 * heads ran in bf16 under autocast: a bf16 loss near its floor (8 significant bits) would round the
 * small differences between steps away.
 */
export function byolLoss(p: T.Tensor, z: T.Tensor, stopGradient = true): T.Tensor {
  return T.tidy(() => T.cosineSimilarity(p.to("float32"), (stopGradient ? z.detach() : z).to("float32"), 1).mul(-2).add(2));
}

/** The symmetric loss averaged over the batch: mean(ℓ(p₁, z₂) + ℓ(p₂, z₁)), a scalar in [0, 8]. */
export function symmetricByolLoss(p1: T.Tensor, z2: T.Tensor, p2: T.Tensor, z1: T.Tensor): T.Tensor {
  return T.tidy(() => byolLoss(p1, z2).add_(byolLoss(p2, z1)).mean());
}

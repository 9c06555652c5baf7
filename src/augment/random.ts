// Per-image random parameters, drawn as one tensor per parameter from libtorch's default generator on
// the batch's device, so `manualSeed` reproduces them and nothing waits on the host.
import * as T from "../torch/index.js";

/** [n] booleans, each true with probability p. */
export function coin(n: number, p: number, device: string): T.Tensor {
  return T.tidy(() => T.rand([n], { device }).lt(p));
}

/** [...shape] floats uniform on [lo, hi). */
export function uniform(shape: number[], lo: number, hi: number, device: string): T.Tensor {
  return T.empty(shape, { device }).uniform_(lo, hi);
}

/** A [n, 1, 1, 1] view of a per-image tensor, to broadcast over [n, C, H, W]. */
export function perImage(t: T.Tensor): T.Tensor {
  return t.view(-1, 1, 1, 1);
}

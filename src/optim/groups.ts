// Parameter groups for self-supervised training: weight decay (and LARS's trust ratio) apply to weight
// matrices and convolution kernels only; biases and BatchNorm scales/shifts (every tensor with at most
// one dimension) are excluded from both, as BYOL's official code does.
import type * as T from "../torch/index.js";
import type { ParamGroup } from "./optimizer.js";

/** Whether a parameter gets no weight decay and no LARS trust ratio: biases and every tensor of at most one dimension (BatchNorm). */
export function isExcludedFromDecay(name: string, p: T.Tensor): boolean {
  return p.ndim <= 1 || name.endsWith(".bias") || name === "bias";
}

/**
 * [decay group (optimizer's weight decay, trust ratio on), no-decay group (weightDecay 0, lars false)];
 * an empty group is left out.
 */
export function splitDecay(namedParams: [string, T.Tensor][], opts: { weightDecay?: number; lrScale?: number } = {}): ParamGroup[] {
  const decay: ParamGroup = { params: [], names: [], lars: true, lrScale: opts.lrScale };
  if (opts.weightDecay !== undefined) decay.weightDecay = opts.weightDecay;
  const noDecay: ParamGroup = { params: [], names: [], weightDecay: 0, lars: false, lrScale: opts.lrScale };
  for (const [name, p] of namedParams) {
    const g = isExcludedFromDecay(name, p) ? noDecay : decay;
    g.params.push(p);
    g.names!.push(name);
  }
  return [decay, noDecay].filter((g) => g.params.length > 0);
}

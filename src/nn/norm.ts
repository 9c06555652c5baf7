// The normalisation choices of the ablation switches (src/train/config.ts `ablation`), as layer
// factories: "batchnorm" (BYOL as published), "groupnorm-ws" (GroupNorm after weight-standardised
// convolutions/linears, Richemond et al. 2020) or "none" (an Identity, no tensors).
import { BatchNorm1d, BatchNorm2d } from "./layers/batchnorm.js";
import { Conv2d, type Conv2dOptions } from "./layers/conv.js";
import { Linear } from "./layers/linear.js";
import { Identity } from "./layers/activation.js";
import { GroupNorm, groupNormGroups } from "./layers/groupnorm.js";
import { WSConv2d, WSLinear } from "./layers/weight-standardised.js";
import type { Module } from "./module.js";

/** Which normalisation a network uses. */
export type NormKind = "batchnorm" | "groupnorm-ws" | "none";
/** The values of a normalisation switch. */
export const NORM_KINDS: readonly NormKind[] = ["batchnorm", "groupnorm-ws", "none"];

/** The normalisation layer over `channels` (2-D maps when `spatial`, else [N, C] vectors). */
export function normLayer(kind: NormKind, channels: number, spatial: boolean): Module {
  if (kind === "batchnorm") return spatial ? new BatchNorm2d(channels) : new BatchNorm1d(channels);
  if (kind === "groupnorm-ws") return new GroupNorm(groupNormGroups(channels), channels);
  return new Identity();
}

/** The convolution that precedes a normalisation of this kind (weight-standardised with GroupNorm). */
export function convFor(kind: NormKind, inC: number, outC: number, k: number, opts: Conv2dOptions): Conv2d {
  return kind === "groupnorm-ws" ? new WSConv2d(inC, outC, k, opts) : new Conv2d(inC, outC, k, opts);
}

/** The linear layer that precedes a normalisation of this kind. */
export function linearFor(kind: NormKind, inF: number, outF: number): Linear {
  return kind === "groupnorm-ws" ? new WSLinear(inF, outF) : new Linear(inF, outF);
}

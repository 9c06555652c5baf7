// Gradient switches and multi-root backward.
import { native } from "./native.js";
import { Tensor } from "./tensor.js";

/** Runs fn with gradient recording off (torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording on (torch.enable_grad()). */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Whether operations are currently recorded for autograd. */
export function isGradEnabled(): boolean {
  return native.gradEnabled();
}

/** Backward from several roots at once (torch.autograd.backward). */
export function backward(roots: Tensor[], grads?: (Tensor | null)[], opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
  native.backward(roots.map((t) => t.id), grads ? grads.map((g) => g?.id ?? null) : null, opts.retainGraph ?? false, opts.createGraph ?? false);
}

// Learning-rate and EMA schedules of BYOL (SPEC §1), as pure functions of the step.
import { UserError } from "../util/errors.js";

function checkSteps(step: number, total: number): number {
  if (!(total > 0) || !Number.isFinite(total)) throw new UserError(`schedule: total steps must be positive, got ${total}`);
  return Math.min(Math.max(step, 0), total);
}

/**
 * Linear warm-up from 0 to peakLr over warmupSteps (lr = peak·k/W), then cosine decay from peakLr to
 * finalLr at totalSteps: final + (peak − final)·(1 + cos(π·(k − W)/(K − W)))/2. Steps outside [0, K] clamp.
 */
export function warmupCosineLr(step: number, totalSteps: number, warmupSteps: number, peakLr: number, finalLr = 0): number {
  const k = checkSteps(step, totalSteps);
  if (warmupSteps < 0) throw new UserError(`schedule: warm-up steps must be ≥ 0, got ${warmupSteps}`);
  const w = Math.min(warmupSteps, totalSteps);
  if (k < w) return (peakLr * k) / w;
  const span = totalSteps - w;
  if (span <= 0) return peakLr;
  const progress = (k - w) / span;
  return finalLr + (peakLr - finalLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** The linear scaling rule: base × batch / 256. */
export function scaleLr(baseLr: number, batchSize: number): number {
  return (baseLr * batchSize) / 256;
}

/** BYOL's target decay rate: τ_k = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2, from τ_base at k = 0 to 1 at k = K. */
export function byolTau(step: number, totalSteps: number, tauBase: number): number {
  const k = checkSteps(step, totalSteps);
  if (!(tauBase >= 0 && tauBase <= 1)) throw new UserError(`schedule: tau base must be in [0, 1], got ${tauBase}`);
  return 1 - ((1 - tauBase) * (Math.cos((Math.PI * k) / totalSteps) + 1)) / 2;
}

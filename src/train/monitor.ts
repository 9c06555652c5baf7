// The kNN monitor of training: kNN top-1 of the online encoder at epoch ends, on fixed subsets of the
// labelled train split (the bank) and of the test split, run the way the final evaluation runs the
// encoder (eval mode, the running BatchNorm statistics; see src/train/evaluate-run.ts), so that the
// last epoch's reading and eval.json's knn_top1 differ only by the subsets' size.
import * as T from "../torch/index.js";
import { sampleSubset, subset, type ImageSet, type ResolvedDataset } from "../data/index.js";
import { extractFeatures } from "../eval/features.js";
import { knnTop1 } from "../eval/knn.js";
import type { BYOL } from "../byol/learner.js";
import type { TrainConfig } from "./config.js";

export interface MonitorSets {
  bank: ImageSet;
  query: ImageSet;
}

/** The labeled train set and test set the kNN monitor uses, subsampled deterministically. */
export function monitorSets(data: ResolvedDataset, cfg: TrainConfig): MonitorSets | null {
  if (!data.trainLabeled?.labels || !data.test?.labels) return null;
  return { bank: sampleSubset(data.trainLabeled, cfg.knn.monitorTrain, cfg.seed), query: sampleSubset(data.test, cfg.knn.monitorTest, cfg.seed) };
}

const FEATURE_BATCH = 512;

/** kNN top-1 of the current online encoder on the monitor subsets (the learner is left in eval mode). */
export function monitorKnn(learner: BYOL, m: MonitorSets, data: ResolvedDataset, cfg: TrainConfig): number {
  const embed = (x: T.Tensor) => learner.online.encoder.forward(x);
  return T.tidy(() => T.noGrad(() => {
    learner.eval();
    const fo = { batchSize: FEATURE_BATCH, device: cfg.device, mean: data.mean, std: data.std };
    const bank = extractFeatures(embed, m.bank, fo);
    const query = extractFeatures(embed, m.query, fo);
    const acc = knnTop1(bank, m.bank.labels!, query, m.query.labels!, { k: cfg.knn.k, temperature: cfg.knn.temperature, numClasses: m.bank.classes?.length });
    bank.dispose();
    query.dispose();
    return acc;
  }));
}

/**
 * Seconds one monitor call will take, estimated from one timed feature batch (after an untimed one)
 * scaled to the monitor's image count; the kNN itself (a [query × bank] product and a top-k) is left
 * out, a small part next to the forward passes. The learner's mode is restored.
 */
export function estimateMonitorS(learner: BYOL, m: MonitorSets, data: ResolvedDataset, cfg: TrainConfig): number {
  const n = Math.min(FEATURE_BATCH, m.bank.n);
  const sample = subset(m.bank, Array.from({ length: n }, (_, i) => i));
  const embed = (x: T.Tensor) => learner.online.encoder.forward(x);
  const fo = { batchSize: FEATURE_BATCH, device: cfg.device, mean: data.mean, std: data.std };
  const wasTraining = learner.training;
  learner.eval();
  try {
    extractFeatures(embed, sample, fo).dispose();
    const t0 = performance.now();
    extractFeatures(embed, sample, fo).dispose();
    const perImageS = (performance.now() - t0) / 1000 / n;
    return perImageS * (m.bank.n + m.query.n);
  } finally {
    learner.train(wasTraining);
  }
}

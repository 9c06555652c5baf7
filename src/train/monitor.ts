// The monitors of training at epoch ends: kNN top-1 of the online encoder on fixed subsets of the
// labelled train split (the bank) and of the test split, and the online probe's classifier applied to
// those clean test images. The encoder runs as the final evaluation runs it (eval mode, with the
// BatchNorm running statistics training left; src/train/evaluate-run.ts), so the last epoch's kNN
// and eval.json's knn_top1 differ only by the subsets' size.
//
// Why the readings sit below the evaluation's (measured with bench/monitor-check.ts, cpu preset,
// Fashion-MNIST):
//   - the subsets: on one encoder 10k/2k images read 67.7% where the full 60k/10k splits read 73.5%
//     (150 trained steps), 50.8% against 55.1% (a frozen encoder, weights at initialisation);
//   - the running statistics are right for a trained encoder (73.5%, full splits) and worse when
//     recomputed on clean images (70.9%) or left at their initial 0/1 (44.9% on the subsets); but a
//     never-trained encoder reads best with its initial 0/1 statistics, where BatchNorm is nearly an
//     identity (frozen weights: 65.0% with 0/1, 58.3% recomputed on clean images, 50.8% with the
//     statistics of augmented views, on the subsets). The evaluation's random-init baseline is such
//     an encoder, so it is no reference for the monitor of an encoder that trains;
//   - the online probe's epoch accuracy is over augmented first views, counted before each update,
//     while the representation moves: 28.2% after 150 steps, where its classifier scores 41.6% on
//     clean test images and an offline linear probe on the same features 74.0%. The clean reading
//     (online_linear_clean_top1) separates the views' part from the probe's lag.
import * as T from "../torch/index.js";
import { sampleSubset, subset, type ImageSet, type ResolvedDataset } from "../data/index.js";
import { extractFeatures } from "../eval/features.js";
import { accuracy, knnTop1 } from "../eval/knn.js";
import type { OnlineProbe } from "../eval/online-probe.js";
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

export interface MonitorReading {
  /** kNN top-1 on the monitor subsets. */
  knn: number;
  /** The online probe's classifier on the clean test subset (when a probe is given). */
  probeClean?: number;
}

/** The monitors on the current online encoder (the learner is left in eval mode). */
export function monitorKnn(learner: BYOL, m: MonitorSets, data: ResolvedDataset, cfg: TrainConfig, probe?: OnlineProbe | null): MonitorReading {
  const embed = (x: T.Tensor) => learner.online.encoder.forward(x);
  return T.tidy(() => T.noGrad(() => {
    learner.eval();
    const fo = { batchSize: FEATURE_BATCH, device: cfg.device, mean: data.mean, std: data.std };
    const bank = extractFeatures(embed, m.bank, fo);
    const query = extractFeatures(embed, m.query, fo);
    const knn = knnTop1(bank, m.bank.labels!, query, m.query.labels!, { k: cfg.knn.k, temperature: cfg.knn.temperature, numClasses: m.bank.classes?.length });
    // The query features are already there: the probe's reading on clean images costs one product.
    const probeClean = probe ? accuracy(probe.predict(query.to(cfg.device)).to("int32").to("cpu").toArray() as Int32Array, m.query.labels!) : undefined;
    bank.dispose();
    query.dispose();
    return probeClean === undefined ? { knn } : { knn, probeClean };
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

// The evaluation behind eval.json: the trained encoder against two baselines, all scored on the test
// split in the same run (SPEC §4):
//   - trained:      kNN and linear probe on the BYOL encoder's representation y;
//   - random_init:  the same architecture at its random initialisation (what training adds);
//   - raw_pixels:   a linear probe on the normalised pixels themselves (what any encoder must beat).
// Optionally each of the three also gets linear probes trained on 1% and 10% of the train labels (the
// paper's semi-supervised protocol, label-fractions.ts), on the same features.
// Features are extracted once per encoder and split, then shared by the kNN and the linear probe.
import * as T from "../torch/index.js";
import { subset, type ImageSet } from "../data/dataset.js";
import { sampleIndices } from "../data/loader.js";
import { UserError } from "../util/errors.js";
import { extractFeatures, rawPixelFeatures, type EmbedFn } from "./features.js";
import { KNN_DEFAULTS, knnTop1 } from "./knn.js";
import { linearProbe, type LinearProbeOptions } from "./linear.js";
import { fractionProbes, type LabelFractionScores } from "./label-fractions.js";

/** Inputs of evaluateRepresentations. */
export interface EvaluateOptions {
  /** The trained encoder, in eval mode: normalised images [b, C, H, W] → y [b, d]. */
  embedTrained: EmbedFn;
  /** The same architecture at random initialisation (the baseline). */
  embedRandom: EmbedFn;
  /** Optionally another random initialisation, scored as `baselines.other_init` (kNN and linear only). */
  embedOther?: EmbedFn;
  /** Labelled train split (the kNN bank and the linear probe's training data). */
  train: ImageSet;
  /** Labelled test split (every accuracy is measured here). */
  test: ImageSet;
  /** Per-channel normalisation of pixels in [0, 1] (the dataset's statistics). */
  mean: number[];
  std: number[];
  device?: string;
  /** Images per encoder forward pass (default 256). */
  batchSize?: number;
  /** kNN neighbours (default 200) and temperature (default 0.1). */
  knnK?: number;
  knnT?: number;
  /** Linear-probe settings (its seed defaults to `seed`). */
  linear?: LinearProbeOptions;
  /** Seed of the train subsample and the linear probe's batch order (default 0). */
  seed?: number;
  /** Use at most this many train images (a fixed random subset) for the kNN bank and the probes. */
  maxTrain?: number;
  /** Label fractions (e.g. [0.01, 0.1]) whose class-balanced train subsets get their own linear probe; default none. */
  labelFractions?: readonly number[];
  /** Progress messages. */
  log?: (msg: string) => void;
}

export interface EncoderScores {
  knn_top1: number;
  linear_top1: number;
}

/** Scores of the trained encoder and both baselines on the test split, with counts and timings. */
export interface EvaluationResult extends EncoderScores {
  baselines: {
    random_init: EncoderScores;
    other_init?: EncoderScores;
    raw_pixels: { linear_top1: number };
  };
  /** Train images used (after removing unlabeled ones and subsampling) and test images scored. */
  train_images: number;
  test_images: number;
  /** The subsample cap that was asked for, or null for the whole train split. */
  max_train: number | null;
  num_classes: number;
  feature_dim: number;
  knn: { k: number; temperature: number };
  /** Linear probe on the trained features: its train accuracy and epochs run. */
  linear: { train_top1: number; epochs: number };
  /** Linear top-1 from each label fraction's subset, for the three representations (absent without fractions). */
  label_fractions?: LabelFractionScores;
  /** Seconds spent in each part (label_fractions_s, with fractions only: all their probes, counted in no other part). */
  timings: { features_s: number; knn_s: number; linear_s: number; baselines_s: number; label_fractions_s?: number; total_s: number };
}

/** Scores a trained encoder (kNN and linear probe) against a random-init encoder and raw pixels, all on the same test split. */
export function evaluateRepresentations(o: EvaluateOptions): EvaluationResult {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const seed = o.seed ?? 0;
  const { train, test, numClasses } = prepareSplits(o.train, o.test, o.maxTrain, seed);
  const trainLabels = train.labels!;
  const testLabels = test.labels!;
  const k = o.knnK ?? KNN_DEFAULTS.k;
  const temperature = o.knnT ?? KNN_DEFAULTS.temperature;
  const device = o.device ?? "cpu";
  const featureOpts = { batchSize: o.batchSize, device, mean: o.mean, std: o.std };
  const linearOpts: LinearProbeOptions = { device, numClasses, seed, ...o.linear };
  const fractions = o.labelFractions ?? [];
  const timings: EvaluationResult["timings"] = { features_s: 0, knn_s: 0, linear_s: 0, baselines_s: 0, ...(fractions.length ? { label_fractions_s: 0 } : {}), total_s: 0 };
  let fractionsS = 0;
  // Linear probes on the fractions' subsets of rows of features already extracted.
  const fractionScores = (ftr: T.Tensor, fte: T.Tensor, name: string): Record<string, number> => {
    if (fractions.length === 0) return {};
    const t = performance.now();
    const r = fractionProbes(ftr, trainLabels, fte, testLabels, fractions, seed, linearOpts);
    fractionsS += since(t);
    log(`evaluation: ${name}: linear top-1 from ${fractions.map((f) => `${f * 100}%`).join(" / ")} of the labels: ${Object.values(r).map((a) => `${(a * 100).toFixed(2)}%`).join(" / ")}`);
    return r;
  };
  const since = (t: number) => (performance.now() - t) / 1000;

  // Features of one encoder on both splits, then its kNN and linear scores; the features are freed
  // before the next encoder runs, so at most one encoder's features are held at a time.
  const score = (embed: EmbedFn, name: string, addTo: "main" | "baseline", withFractions = true) => {
    let t = performance.now();
    log(`evaluation: ${name}: features of ${train.n} train and ${test.n} test images`);
    const ftr = extractFeatures(embed, train, featureOpts);
    let fte: T.Tensor | null = null;
    try {
      fte = extractFeatures(embed, test, featureOpts);
      const featS = since(t);
      t = performance.now();
      const knn = knnTop1(ftr, trainLabels, fte, testLabels, { k, temperature, numClasses, device });
      const knnS = since(t);
      t = performance.now();
      log(`evaluation: ${name}: kNN top-1 ${(knn * 100).toFixed(2)}%; training the linear probe`);
      const lin = linearProbe(ftr, trainLabels, fte, testLabels, linearOpts);
      const linS = since(t);
      log(`evaluation: ${name}: linear top-1 ${(lin.top1 * 100).toFixed(2)}%`);
      const fr = withFractions ? fractionScores(ftr, fte, name) : {};
      if (addTo === "main") {
        timings.features_s += featS;
        timings.knn_s += knnS;
        timings.linear_s += linS;
      } else {
        timings.baselines_s += featS + knnS + linS;
      }
      return { knn, lin, fr, dim: ftr.size(1) };
    } finally {
      ftr.dispose();
      fte?.dispose();
    }
  };

  const trained = score(o.embedTrained, "BYOL encoder", "main");
  const random = score(o.embedRandom, "random-init encoder", "baseline");
  const other = o.embedOther ? score(o.embedOther, "other-init encoder", "baseline", false) : null;

  const tRaw = performance.now();
  const fractionsBefore = fractionsS;
  log(`evaluation: raw pixels: linear probe on ${train.channels * train.height * train.width}-dimensional pixels`);
  const rtr = rawPixelFeatures(train, o.mean, o.std);
  let raw: number;
  let rawFr: Record<string, number>;
  try {
    const rte = rawPixelFeatures(test, o.mean, o.std);
    try {
      raw = linearProbe(rtr, trainLabels, rte, testLabels, linearOpts).top1;
      rawFr = fractionScores(rtr, rte, "raw pixels");
    } finally {
      rte.dispose();
    }
  } finally {
    rtr.dispose();
  }
  log(`evaluation: raw pixels: linear top-1 ${(raw * 100).toFixed(2)}%`);
  timings.baselines_s += since(tRaw) - (fractionsS - fractionsBefore);
  if (fractions.length) timings.label_fractions_s = fractionsS;
  timings.total_s = since(t0);
  for (const key of Object.keys(timings) as (keyof typeof timings)[]) timings[key] = Math.round(timings[key]! * 100) / 100;

  return {
    knn_top1: trained.knn,
    linear_top1: trained.lin.top1,
    baselines: {
      random_init: { knn_top1: random.knn, linear_top1: random.lin.top1 },
      ...(other ? { other_init: { knn_top1: other.knn, linear_top1: other.lin.top1 } } : {}),
      raw_pixels: { linear_top1: raw },
    },
    train_images: train.n,
    test_images: test.n,
    max_train: o.maxTrain ?? null,
    num_classes: numClasses,
    feature_dim: trained.dim,
    knn: { k: Math.min(k, train.n), temperature },
    linear: { train_top1: trained.lin.trainTop1, epochs: trained.lin.epochs },
    ...(fractions.length ? { label_fractions: Object.fromEntries(fractions.map((f) => [String(f), { byol: trained.fr[String(f)], random_init: random.fr[String(f)], raw_pixels: rawFr[String(f)] }])) } : {}),
    timings,
  };
}

/**
 * Checks that both splits are labelled and shaped alike, drops images labelled -1 (unlabeled images in
 * a mixed set), and subsamples the train split to maxTrain images with a fixed seed.
 */
export function prepareSplits(train: ImageSet, test: ImageSet, maxTrain: number | undefined, seed: number): { train: ImageSet; test: ImageSet; numClasses: number } {
  if (!train.labels || !test.labels) throw new UserError("evaluation needs labels: the train and test splits must both be labelled");
  if (train.channels !== test.channels || train.height !== test.height || train.width !== test.width) {
    throw new UserError(`evaluation: train images are ${train.channels}x${train.height}x${train.width}, test images ${test.channels}x${test.height}x${test.width}`);
  }
  if (maxTrain !== undefined && (!Number.isInteger(maxTrain) || maxTrain < 1)) throw new UserError(`evaluation: maxTrain must be a positive integer, got ${maxTrain}`);
  let tr = labelled(train);
  const te = labelled(test);
  if (tr.n === 0) throw new UserError("evaluation needs labels: the train split has no labelled images");
  if (te.n === 0) throw new UserError("evaluation needs labels: the test split has no labelled images");
  if (maxTrain !== undefined && tr.n > maxTrain) {
    // A fixed random subset, kept in the original order (the order does not change any score).
    tr = subset(tr, sampleIndices(tr.n, maxTrain, seed, true));
  }
  let maxLabel = 0;
  for (const l of tr.labels!) maxLabel = Math.max(maxLabel, l);
  for (const l of te.labels!) maxLabel = Math.max(maxLabel, l);
  const named = train.classes?.length ?? test.classes?.length ?? 0;
  return { train: tr, test: te, numClasses: Math.max(named, maxLabel + 1) };
}

function labelled(set: ImageSet): ImageSet {
  const labels = set.labels!;
  let unlabeled = 0;
  for (const l of labels) if (l < 0) unlabeled++;
  if (unlabeled === 0) return set;
  const keep: number[] = [];
  for (let i = 0; i < set.n; i++) if (labels[i] >= 0) keep.push(i);
  return subset(set, keep);
}

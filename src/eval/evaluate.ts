// The evaluation behind eval.json: the trained encoder against baselines, all scored on the test
// split in the same run (SPEC §4):
//   - trained:      kNN and the linear protocol on the BYOL encoder's representation y;
//   - random_init (and any other named encoder, e.g. other_init): the same architecture untrained;
//   - raw_pixels:   the linear protocol on the normalised pixels themselves (what any encoder must beat).
// The linear protocol (linear-protocol.ts): weight decay chosen on a seeded, class-stratified
// validation split of the train split, the probe retrained on the whole train split, scored once on
// the test split; optionally also from 1% and 10% of the train labels (subsets drawn from the part
// outside the validation split, chosen on the same validation split).
// Features are extracted once per representation, standardised once, then shared by every probe; at
// most one representation's features are held at a time.
import * as T from "../torch/index.js";
import { subset, type ImageSet } from "../data/dataset.js";
import { sampleIndices } from "../data/loader.js";
import { UserError } from "../util/errors.js";
import { extractFeatures, rawPixelFeatures, type EmbedFn } from "./features.js";
import { KNN_DEFAULTS, knnTop1 } from "./knn.js";
import { balancedSubset } from "./label-fractions.js";
import { runLinearProtocol, standardiseFeatures, type ProtocolRecord } from "./linear-protocol.js";
import { VALIDATION_FRACTION, validationSplit } from "./validation-split.js";

/** Settings of the linear protocol (defaults in linear-protocol.ts and validation-split.ts). */
export interface LinearProtocolOptions {
  validationFraction?: number;
  weightDecays?: readonly number[];
  gridIter?: number;
  finalIter?: number;
}

/** Inputs of evaluateRepresentations. */
export interface EvaluateOptions {
  /** The trained encoder, in eval mode: normalised images [b, C, H, W] → y [b, d]. */
  embedTrained: EmbedFn;
  /** The same architecture untrained (the random_init baseline). */
  embedRandom: EmbedFn;
  /** More untrained encoders, each scored like random_init under its own name in `baselines`. */
  embedOthers?: { name: string; embed: EmbedFn }[];
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
  /** Linear-protocol settings. */
  linear?: LinearProtocolOptions;
  /** Seed of the train subsample, the validation split and the label-fraction subsets (default 0). */
  seed?: number;
  /** Use at most this many train images (a fixed random subset) for the kNN bank and the probes. */
  maxTrain?: number;
  /** Label fractions (e.g. [0.01, 0.1]) whose class-balanced train subsets get their own linear protocol; default none. */
  labelFractions?: readonly number[];
  /** Progress messages. */
  log?: (msg: string) => void;
}

export interface EncoderScores {
  knn_top1: number;
  linear_top1: number;
}

/** Per label fraction: test top-1 per representation, and each one's protocol record. */
export type LabelFractionResult = { [name: string]: number | Record<string, ProtocolRecord>; linear_protocol: Record<string, ProtocolRecord> };

/** Scores of the trained encoder and the baselines on the test split, with counts and timings. */
export interface EvaluationResult extends EncoderScores {
  baselines: { random_init: EncoderScores; raw_pixels: { linear_top1: number } } & Record<string, { knn_top1?: number; linear_top1: number }>;
  /** The linear protocol's search and final probe per representation ("byol", the baselines' names). */
  linear_protocol: Record<string, ProtocolRecord>;
  /** Train images used (after removing unlabeled ones and subsampling) and test images scored. */
  train_images: number;
  test_images: number;
  /** The subsample cap that was asked for, or null for the whole train split. */
  max_train: number | null;
  num_classes: number;
  feature_dim: number;
  knn: { k: number; temperature: number };
  /** Per fraction ("0.01", "0.1"): linear top-1 per representation and the protocol records (absent without fractions). */
  label_fractions?: Record<string, LabelFractionResult>;
  /** Seconds spent in each part (label_fractions_s, with fractions only: all their probes, counted in no other part). */
  timings: { features_s: number; knn_s: number; linear_s: number; baselines_s: number; label_fractions_s?: number; total_s: number };
}

/** Scores a trained encoder (kNN and the linear protocol) against untrained encoders and raw pixels, all on the same test split. */
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
  const validationFraction = o.linear?.validationFraction ?? VALIDATION_FRACTION;
  // One validation split and one subset per fraction for every representation: all are scored on the same images.
  const split = validationSplit(trainLabels, validationFraction, seed);
  const fractions = o.labelFractions ?? [];
  const subsets = fractions.map((f) => balancedSubset(trainLabels, f, seed, split.val));
  const protocolOpts = { numClasses, validationFraction, ...o.linear };
  const timings: EvaluationResult["timings"] = { features_s: 0, knn_s: 0, linear_s: 0, baselines_s: 0, ...(fractions.length ? { label_fractions_s: 0 } : {}), total_s: 0 };
  const since = (t: number) => (performance.now() - t) / 1000;
  const pct = (a: number) => `${(a * 100).toFixed(2)}%`;

  // One representation: its features on both splits (from `features`), its kNN (optional), the linear
  // protocol, and the label fractions' protocols; the features are freed before the next one.
  const score = (name: string, label: string, features: () => { ftr: T.Tensor; fte: T.Tensor }, withKnn: boolean, addTo: "main" | "baseline", withFractions = true) => {
    let t = performance.now();
    log(`evaluation: ${label}: features of ${train.n} train and ${test.n} test images`);
    const { ftr, fte } = features();
    let std: { x: T.Tensor; xTest: T.Tensor } | null = null;
    try {
      const featS = since(t);
      t = performance.now();
      const knn = withKnn ? knnTop1(ftr, trainLabels, fte, testLabels, { k, temperature, numClasses, device }) : NaN;
      const knnS = since(t);
      if (withKnn) log(`evaluation: ${label}: kNN top-1 ${pct(knn)}`);
      t = performance.now();
      std = standardiseFeatures(ftr, fte, device);
      const lin = runLinearProtocol(std.x, trainLabels, std.xTest, testLabels, split, protocolOpts);
      const linS = since(t);
      log(`evaluation: ${label}: linear top-1 ${pct(lin.test_top1)} (weight decay ${lin.chosen.weight_decay} chosen on ${lin.validation_images} validation images; train top-1 ${pct(lin.train_top1)})`);
      t = performance.now();
      const fr = (withFractions ? subsets : []).map((rows) => runLinearProtocol(std!.x, trainLabels, std!.xTest, testLabels, split, protocolOpts, rows));
      if (fr.length) {
        timings.label_fractions_s! += since(t);
        log(`evaluation: ${label}: linear top-1 from ${fractions.map((f) => `${f * 100}%`).join(" / ")} of the labels: ${fr.map((r) => pct(r.test_top1)).join(" / ")}`);
      }
      if (addTo === "main") {
        timings.features_s += featS;
        timings.knn_s += knnS;
        timings.linear_s += linS;
      } else {
        timings.baselines_s += featS + knnS + linS;
      }
      return { name, knn, lin, fr, dim: ftr.size(1) };
    } finally {
      ftr.dispose();
      fte.dispose();
      std?.x.dispose();
      std?.xTest.dispose();
    }
  };
  const encoderFeatures = (embed: EmbedFn) => () => {
    const ftr = extractFeatures(embed, train, featureOpts);
    try {
      return { ftr, fte: extractFeatures(embed, test, featureOpts) };
    } catch (e) {
      ftr.dispose();
      throw e;
    }
  };
  const pixelFeatures = () => {
    const ftr = rawPixelFeatures(train, o.mean, o.std);
    try {
      return { ftr, fte: rawPixelFeatures(test, o.mean, o.std) };
    } catch (e) {
      ftr.dispose();
      throw e;
    }
  };

  const others = o.embedOthers ?? [];
  for (const { name } of others) {
    if (["byol", "random_init", "raw_pixels", "linear_protocol"].includes(name) || !/^[a-z0-9_]+$/.test(name)) throw new UserError(`evaluation: "${name}" cannot name a baseline`);
  }
  const trained = score("byol", "BYOL encoder", encoderFeatures(o.embedTrained), true, "main");
  const baselines = [
    score("random_init", "random-init encoder", encoderFeatures(o.embedRandom), true, "baseline"),
    // (Extra initialisations are compared on all labels only: their label-fraction probes would lengthen every evaluation.)
    ...others.map((b) => score(b.name, b.name.replace(/_/g, " "), encoderFeatures(b.embed), true, "baseline", false)),
  ];
  const raw = score("raw_pixels", "raw pixels", pixelFeatures, false, "baseline");
  const all = [trained, ...baselines, raw];
  timings.total_s = since(t0);
  for (const key of Object.keys(timings) as (keyof typeof timings)[]) timings[key] = Math.round(timings[key]! * 100) / 100;

  return {
    knn_top1: trained.knn,
    linear_top1: trained.lin.test_top1,
    baselines: {
      ...Object.fromEntries(baselines.map((b) => [b.name, { knn_top1: b.knn, linear_top1: b.lin.test_top1 }])),
      raw_pixels: { linear_top1: raw.lin.test_top1 },
    } as EvaluationResult["baselines"],
    linear_protocol: Object.fromEntries(all.map((r) => [r.name, r.lin])),
    train_images: train.n,
    test_images: test.n,
    max_train: o.maxTrain ?? null,
    num_classes: numClasses,
    feature_dim: trained.dim,
    knn: { k: Math.min(k, train.n), temperature },
    ...(fractions.length ? {
      label_fractions: Object.fromEntries(fractions.map((f, i) => [String(f), {
        ...Object.fromEntries(all.filter((r) => r.fr.length).map((r) => [r.name, r.fr[i].test_top1])),
        linear_protocol: Object.fromEntries(all.filter((r) => r.fr.length).map((r) => [r.name, r.fr[i]])),
      } as LabelFractionResult])),
    } : {}),
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

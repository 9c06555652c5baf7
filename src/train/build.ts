// Builds the pieces a run is made of from its configuration: encoder, BYOL learner, optimizer,
// augmenters. `byol eval` uses the same factory to rebuild an encoder or a random-init baseline.
import * as T from "../torch/index.js";
import { resnet18, resnet34, resnet50, type ResNet } from "../nn/resnet.js";
import { BYOL, type Encoder } from "../byol/learner.js";
import { MultiCropBYOL } from "../byol/multicrop.js";
import { LARS, SGD, AdamW, splitDecay, type Optimizer } from "../optim/index.js";
import { LocalViewAugmenter, ViewAugmenter, presetByName } from "../augment/index.js";
import type { ResolveOptions } from "../data/index.js";
import type { TrainConfig } from "./config.js";

/** The configured ResNet encoder on the configured device (channels-last if configured). */
export function makeEncoder(cfg: TrainConfig, channels: number): ResNet {
  const stem = cfg.encoder.stem;
  if (stem === "auto") throw new Error(`encoder.stem is "auto": resolve the recipe from the data first (resolveRecipe in src/train/recipe.ts)`);
  const opts = {
    inChannels: channels,
    stem,
    stemStride: cfg.encoder.stemStride,
    widthMultiplier: cfg.encoder.widthMultiplier,
    stageWidths: cfg.encoder.stageWidths,
    norm: cfg.ablation.encoderNorm,
  };
  const make = { resnet18, resnet34, resnet50 }[cfg.encoder.arch];
  const enc = make(opts);
  if (cfg.device !== "cpu") enc.to(cfg.device);
  if (cfg.channelsLast) enc.toChannelsLast?.();
  return enc;
}

/** A factory of freshly initialised encoders: a user's own architecture, or the configured ResNet. */
export type EncoderFactory = () => Encoder;

/**
 * The BYOL learner of the configuration. `customEncoder` (a library user's own architecture) replaces
 * the configured ResNet; it is called once per network, each call returning new random weights.
 */
export function makeLearner(cfg: TrainConfig, channels: number, customEncoder?: EncoderFactory): BYOL {
  const make = customEncoder ? () => placeEncoder(cfg, customEncoder()) : () => makeEncoder(cfg, channels);
  const opts = {
    encoder: make(),
    makeEncoder: make,
    projectionDim: cfg.projector.outDim,
    hiddenDim: cfg.projector.hiddenDim,
    predictorHiddenDim: cfg.predictor.hiddenDim,
    targetInit: cfg.targetInit,
    predictor: cfg.ablation.predictor,
    stopGradient: cfg.ablation.stopGradient,
    target: cfg.ablation.target,
    projectorNorm: cfg.ablation.projectorNorm,
    predictorNorm: cfg.ablation.predictorNorm,
  };
  // Multi-crop only when local views are on: without them the learner is exactly BYOL's.
  const learner = cfg.augment.localViews.count > 0
    ? new MultiCropBYOL({ ...opts, localPredictor: cfg.augment.localPredictor })
    : new BYOL(opts);
  if (cfg.device !== "cpu") learner.to(cfg.device);
  return learner;
}

/** A user's encoder moved to the configured device and memory format, as makeEncoder places its ResNet. */
export function placeEncoder(cfg: TrainConfig, enc: Encoder): Encoder {
  if (cfg.device !== "cpu") enc.to(cfg.device);
  if (cfg.channelsLast) enc.toChannelsLast();
  return enc;
}

/** The peak learning rate: base × batch / 256 (SPEC §1), with the global batch across processes. */
export function peakLr(cfg: TrainConfig): number {
  return (cfg.optimizer.baseLr * cfg.batchSize * cfg.nproc) / 256;
}

export function makeOptimizer(cfg: TrainConfig, learner: BYOL): Optimizer {
  const o = cfg.optimizer;
  const named = learner.namedTrainableParameters();
  // The predictors (BYOL's and multi-crop's local one) may learn at a multiple of the scheduled rate:
  // their own groups, each group's lr = scheduled lr × lrScale.
  const mult = o.predictorLrMultiplier;
  const isPredictor = ([n]: [string, T.Tensor]) => n.startsWith("predictor.") || n.startsWith("localPredictor.");
  const parts: [[string, T.Tensor][], number][] = mult === 1 ? [[named, 1]] : [[named.filter((e) => !isPredictor(e)), 1], [named.filter(isPredictor), mult]];
  const groups = parts.filter(([ps]) => ps.length > 0).flatMap(([ps, lrScale]) => o.excludeBiasAndNorm
    ? splitDecay(ps, { weightDecay: o.weightDecay, lrScale })
    : [{ params: ps.map(([, p]) => p), names: ps.map(([n]) => n), weightDecay: o.weightDecay, lars: true, lrScale }]);
  const lr = peakLr(cfg);
  if (o.name === "lars") return new LARS(groups, { lr, momentum: o.momentum, weightDecay: o.weightDecay, eta: o.trustCoefficient });
  if (o.name === "sgd") return new SGD(groups, { lr, momentum: o.momentum, weightDecay: o.weightDecay });
  return new AdamW(groups, { lr, weightDecay: o.weightDecay });
}

export function makeAugmenters(cfg: TrainConfig, channels: number, mean: number[], std: number[]): [ViewAugmenter, ViewAugmenter] {
  const { preset, outputSize } = cfg.augment;
  if (preset === "auto" || outputSize === "auto") throw new Error(`augment.preset/outputSize are "auto": resolve the recipe from the data first (resolveRecipe in src/train/recipe.ts)`);
  const [a, b] = presetByName(preset, outputSize, mean, std);
  const min = cfg.augment.minScale;
  if (min !== null) for (const v of [a, b]) v.crop.scale = [min, Math.max(min, v.crop.scale[1])];
  return [new ViewAugmenter(a, channels), new ViewAugmenter(b, channels)];
}

/** Multi-crop's local views (null when augment.localViews.count is 0), built on the global pair's pipelines. */
export function makeLocalViews(cfg: TrainConfig, augs: readonly [ViewAugmenter, ViewAugmenter]): LocalViewAugmenter | null {
  const lv = cfg.augment.localViews;
  return lv.count > 0 ? new LocalViewAugmenter([augs[0].cfg, augs[1].cfg], lv, augs[0].channels) : null;
}

/** Intra-op threads: the configured count, or every core the process may use. */
export async function applyThreads(cfg: TrainConfig): Promise<number> {
  const os = await import("node:os");
  const n = cfg.threads > 0 ? cfg.threads : Math.max(1, Math.floor(os.availableParallelism() / Math.max(1, Number(process.env.LOCAL_WORLD_SIZE ?? cfg.nproc))));
  T.setNumThreads(n);
  return n;
}

/**
 * How a run reads its dataset. A streamed folder's evaluation samples use the run's seed and hold
 * enough labeled train images for both the linear probe's cap and the kNN monitor's bank.
 */
export function datasetOptions(cfg: TrainConfig): ResolveOptions {
  const maxTrain = cfg.linearEval.maxTrain;
  return {
    dataDir: cfg.dataDir ?? undefined, limit: cfg.datasetLimit ?? undefined, onBadImage: cfg.onBadImage,
    // A folder is decoded as the recipe chose (src/train/recipe.ts), else RGB at imageSize.
    imageSize: cfg.resolvedRecipe?.folderDecode?.size ?? cfg.imageSize, channels: cfg.resolvedRecipe?.folderDecode?.channels,
    streaming: cfg.dataStreaming, seed: cfg.seed, evalHoldout: cfg.evalHoldout, evalTrainLimit: maxTrain === null ? undefined : Math.max(maxTrain, cfg.knn.monitorTrain),
  };
}

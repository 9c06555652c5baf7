// The BYOL training loop: data order, two views, online/target step, schedules, online probe, kNN
// monitor, metrics, checkpoints, Ctrl-C and NaN handling. One process or one rank of many.
import { join } from "node:path";
import * as T from "../torch/index.js";
import { epochOrder, batches, sampleSubset, type ImageSet, type ResolvedDataset } from "../data/index.js";
import { warmupCosineLr, byolTau } from "../optim/schedules.js";
import { OnlineProbe } from "../eval/online-probe.js";
import { extractFeatures } from "../eval/features.js";
import { knnTop1 } from "../eval/knn.js";
import type { BYOL } from "../byol/learner.js";
import type { ResNet } from "../nn/resnet.js";
import type { Optimizer } from "../optim/index.js";
import { UserError } from "../util/errors.js";
import { ensureDir, writeFileAtomic } from "../util/file-writes.js";
import { effectivePrecision, type TrainConfig } from "./config.js";
import { makeAugmenters, makeLearner, makeOptimizer, peakLr } from "./build.js";
import { addPrefix, assertCompatible, checkpointPath, fromCheckpoint, loadCheckpoint, saveCheckpoint, withPrefix } from "./checkpoint.js";
import { MetricsLog, type MetricRow } from "./metrics.js";
import { makeProgress } from "./progress.js";

/** What data-parallel training needs from the process group (src/torch/distributed.ts provides it). */
export interface DataParallel {
  rank: number;
  worldSize: number;
  /** Copies rank 0's values into these tensors on every rank. */
  broadcast(tensors: T.Tensor[]): void;
  /** Replaces each parameter's gradient by the mean over ranks. */
  averageGradients(params: T.Tensor[]): void;
  /** Element-wise mean over ranks of a few numbers (for logging). */
  meanOf(values: number[]): number[];
  /** Swaps the learner's BatchNorm layers for cross-replica ones (optional). */
  syncBatchNorm?(learner: BYOL): void;
}

export interface TrainOptions {
  runDir: string;
  resume: boolean;
  /** Stop (with a checkpoint) after this global step; for tests of resume and interruption. */
  stopAfterStep?: number;
  quiet?: boolean;
  dp?: DataParallel | null;
}

export interface TrainResult {
  learner: BYOL;
  step: number;
  epoch: number;
  wallS: number;
  interrupted: boolean;
}

function isRank0(o: TrainOptions): boolean {
  return !o.dp || o.dp.rank === 0;
}

/** The labeled train set and test set the kNN monitor uses, subsampled deterministically. */
function monitorSets(data: ResolvedDataset, cfg: TrainConfig): { bank: ImageSet; query: ImageSet } | null {
  if (!data.trainLabeled?.labels || !data.test?.labels) return null;
  return { bank: sampleSubset(data.trainLabeled, cfg.knn.monitorTrain, cfg.seed), query: sampleSubset(data.test, cfg.knn.monitorTest, cfg.seed) };
}

export async function train(cfg: TrainConfig, data: ResolvedDataset, opts: TrainOptions): Promise<TrainResult> {
  const rank0 = isRank0(opts);
  const bf16 = effectivePrecision(cfg) === "bf16";
  const dp = opts.dp ?? null;
  const worldSize = dp?.worldSize ?? 1;
  // In memory or streamed from a folder: the same batches for the same indices either way.
  const set = data.train;
  const channels = set.channels;
  if (set.n < cfg.batchSize * worldSize) {
    throw new UserError(`dataset has ${set.n} images, fewer than one global batch of ${cfg.batchSize * worldSize}`);
  }
  ensureDir(join(opts.runDir, "checkpoints"));

  T.manualSeed(cfg.seed);
  const learner = makeLearner(cfg, channels);
  // Cross-replica BatchNorm: statistics over the global batch, as the paper's large-batch runs.
  if (cfg.syncBatchNorm && dp?.syncBatchNorm) dp.syncBatchNorm(learner);
  const optimizer = makeOptimizer(cfg, learner);
  const augs = makeAugmenters(cfg, channels, data.mean, data.std);
  const numClasses = set.classes?.length ?? 0;
  const probe = cfg.onlineProbe.enabled && set.labels && numClasses > 1
    ? new OnlineProbe((learner.online.encoder as ResNet).outDim, numClasses, { lr: cfg.onlineProbe.lr, weightDecay: 0, device: cfg.device })
    : null;

  // Every rank must start from the same weights: rank 0's.
  if (dp) dp.broadcast([...learner.namedTrainableParameters().map(([, p]) => p), ...Object.values(learner.stateDict())]);
  // Each rank draws its own augmentations.
  if (dp) T.manualSeed(cfg.seed * 1000 + dp.rank + 1);

  const perRankOrderLength = Math.ceil(set.n / worldSize);
  const stepsPerEpoch = Math.floor(perRankOrderLength / cfg.batchSize);
  const totalSteps = cfg.epochs * stepsPerEpoch;
  const warmupSteps = Math.round(cfg.optimizer.warmupEpochs * stepsPerEpoch);
  const lrPeak = peakLr(cfg);

  let step = 0;
  let startEpoch = 0;
  let skipInEpoch = 0;
  let wallBefore = 0;
  // The online probe's accuracy is counted over an epoch; a checkpoint mid-epoch carries the count so
  // that a resumed epoch reports what the uninterrupted one would.
  let probeCorrect = 0;
  let probeSeen = 0;
  const metrics = new MetricsLog(join(opts.runDir, "metrics.jsonl"), rank0);
  const ckPath = checkpointPath(opts.runDir);
  if (opts.resume) {
    const { meta, tensors } = loadCheckpoint(ckPath, { config: cfg, stepsPerEpoch });
    assertCompatible(meta.config, cfg, ckPath);
    fromCheckpoint(ckPath, () => {
      learner.loadStateDict(withPrefix(tensors, "model"));
      optimizer.loadStateDict(withPrefix(tensors, "optim"));
      if (probe) probe.loadStateDict(withPrefix(tensors, "probe"));
      // One process continues its generator exactly; ranks of a data-parallel run (whose count may
      // differ from the run that saved) each draw a fresh stream derived from the step.
      if (dp) T.manualSeed(cfg.seed * 1000003 + meta.step * 131 + dp.rank + 1);
      else T.setRngState(tensors["rng.cpu"]);
    });
    for (const t of Object.values(tensors)) t.dispose();
    step = meta.step;
    startEpoch = meta.epoch;
    skipInEpoch = meta.stepInEpoch;
    wallBefore = Number(meta.extra.wallS ?? 0);
    probeCorrect = Number(meta.extra.probeCorrect ?? 0);
    probeSeen = Number(meta.extra.probeSeen ?? 0);
    metrics.truncateAfter(step);
    if (rank0 && !opts.quiet) process.stderr.write(`resuming ${opts.runDir} at step ${step} (epoch ${startEpoch})\n`);
  }

  // A checkpoint is written only from a finite state: weights can diverge (an infinite BatchNorm
  // variance, say) a step or two before the loss shows it, and such a state must not replace a good one.
  const save = (epoch: number, stepInEpoch: number, wallS: number) => {
    if (!rank0) return;
    T.tidy(() => {
      const tensors: Record<string, T.Tensor> = {};
      addPrefix(learner.stateDict(), "model", tensors);
      addPrefix(optimizer.stateDict(), "optim", tensors);
      if (probe) addPrefix(probe.stateDict(), "probe", tensors);
      const bad = firstNonFinite(tensors);
      if (bad) {
        throw new UserError(`training diverged by step ${step}: ${bad} is not finite; training stopped; ${keptNote()}`);
      }
      tensors["rng.cpu"] = T.getRngState();
      // (At an epoch boundary the counts are of the finished epoch; a resume there starts them afresh.)
      saveCheckpoint(opts.runDir, { step, epoch, stepInEpoch, config: cfg, extra: { wallS, probeCorrect, probeSeen } }, tensors);
    });
  };

  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  const progress = makeProgress(totalSteps, { enabled: rank0 && !opts.quiet, plainEvery: cfg.logEverySteps * 10 });
  const monitor = monitorSets(data, cfg);
  const t0 = performance.now();
  const wall = () => wallBefore + (performance.now() - t0) / 1000;
  let intervalStart = performance.now();
  let intervalImages = 0;
  let lastLoss = NaN;
  let lastGoodStep = opts.resume ? step : -1;
  const keptNote = () => (lastGoodStep >= 0 ? `the last good checkpoint (step ${lastGoodStep}) is kept at ${ckPath}` : "no checkpoint was written yet");
  const shape = [cfg.batchSize, channels, set.height, set.width];

  try {
    for (let epoch = startEpoch; epoch < cfg.epochs && !interrupted; epoch++) {
      const order = epochOrder(set.n, cfg.seed, epoch, { shuffle: true, rank: dp?.rank ?? 0, worldSize });
      const epochBatches = batches(order, cfg.batchSize, true);
      if (epoch !== startEpoch || skipInEpoch === 0) probeCorrect = probeSeen = 0;
      learner.train();
      // A resumed epoch starts at its next batch; the batches before it are never read.
      let b = epoch === startEpoch ? skipInEpoch : 0;
      for await (const batch of set.batches(epochBatches.slice(b))) {
        const lr = warmupCosineLr(step, totalSteps, warmupSteps, lrPeak);
        const tau = byolTau(step, totalSteps, cfg.tauBase);
        optimizer.lr = lr;
        const out = T.tidy(() => {
          let x = T.tensor(batch.images, shape, { dtype: "uint8" });
          if (cfg.device !== "cpu") x = x.to(cfg.device);
          const [v1, v2] = [augs[0].apply(x), augs[1].apply(x)];
          const { loss, repr1 } = bf16
            ? T.autocast(cfg.device.startsWith("cuda") ? "cuda" : "cpu", "bfloat16", () => learner.forwardLoss(v1, v2))
            : learner.forwardLoss(v1, v2);
          optimizer.zeroGrad();
          loss.backward();
          const lossValue = loss.item();
          if (!Number.isFinite(lossValue)) return { lossValue, probe: null };
          if (dp) dp.averageGradients(learner.trainableParameters());
          optimizer.step();
          learner.updateTarget(tau);
          let probeOut = null;
          if (probe && batch.labels) {
            const labels = batch.labels;
            const valid = labels.every((l) => l >= 0);
            if (valid) probeOut = probe.step(repr1, T.tensor(labels, undefined, { dtype: "int64", device: cfg.device }));
          }
          return { lossValue, probe: probeOut };
        });
        if (!Number.isFinite(out.lossValue)) {
          throw new UserError(`loss became ${out.lossValue} at step ${step + 1} (lr ${lr.toExponential(3)}); training stopped; ${keptNote()}`);
        }
        step++;
        lastLoss = out.lossValue;
        if (out.probe) {
          probeCorrect += out.probe.correct;
          probeSeen += cfg.batchSize;
        }
        intervalImages += cfg.batchSize * worldSize;
        const epochEnd = b === epochBatches.length - 1;
        if (step % cfg.logEverySteps === 0 || epochEnd) {
          const now = performance.now();
          const ips = intervalImages / ((now - intervalStart) / 1000);
          intervalStart = now;
          intervalImages = 0;
          const lossMean = dp ? dp.meanOf([lastLoss])[0] : lastLoss;
          const row: MetricRow = { step, epoch: epoch + (b + 1) / epochBatches.length, loss: lossMean, lr, tau, img_per_s: ips };
          if (epochEnd) {
            if (probeSeen > 0) row.online_linear_top1 = probeCorrect / probeSeen;
            const everyK = cfg.knn.everyEpochs;
            if (monitor && everyK > 0 && ((epoch + 1) % everyK === 0 || epoch + 1 === cfg.epochs) && rank0) {
              row.knn_top1 = monitorKnn(learner, monitor, data, cfg);
              learner.train();
              progress.log(`epoch ${epoch + 1}: kNN top-1 ${(row.knn_top1 * 100).toFixed(2)}%` + (row.online_linear_top1 !== undefined ? `, online linear ${(Number(row.online_linear_top1) * 100).toFixed(2)}%` : ""));
            }
          }
          metrics.append(row);
          progress.update(step, { epoch: epoch + 1, loss: lossMean, imgPerS: ips, lr });
        }
        const stopNow = interrupted || (opts.stopAfterStep !== undefined && step >= opts.stopAfterStep);
        if (step % cfg.checkpointEverySteps === 0 || stopNow) {
          const done = b + 1;
          if (done === epochBatches.length) save(epoch + 1, 0, wall());
          else save(epoch, done, wall());
          lastGoodStep = step;
        }
        if (stopNow) {
          interrupted = true;
          break;
        }
        // Let signals (Ctrl-C) reach their handlers between steps.
        await new Promise((r) => setImmediate(r));
        b++;
      }
    }
    if (!interrupted) {
      save(cfg.epochs, 0, wall());
    }
  } finally {
    progress.stop();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  return { learner, step, epoch: cfg.epochs, wallS: wall(), interrupted };
}

/** The name of the first floating-point tensor holding an inf or NaN, or null (one fused norm per call). */
function firstNonFinite(tensors: Record<string, T.Tensor>): string | null {
  const names = Object.keys(tensors).filter((k) => ["float32", "float64", "float16", "bfloat16"].includes(tensors[k].dtype));
  const norms = T.foreach.norm(names.map((k) => tensors[k]));
  const values = T.stack(norms).toFloat32Array();
  const i = values.findIndex((v) => !Number.isFinite(v));
  return i < 0 ? null : names[i];
}

/** kNN top-1 of the current online encoder on the monitor subsets. */
function monitorKnn(learner: BYOL, m: { bank: ImageSet; query: ImageSet }, data: ResolvedDataset, cfg: TrainConfig): number {
  const embed = (x: T.Tensor) => learner.online.encoder.forward(x);
  return T.tidy(() => T.noGrad(() => {
    learner.eval();
    const fo = { batchSize: 512, device: cfg.device, mean: data.mean, std: data.std };
    const bank = extractFeatures(embed, m.bank, fo);
    const query = extractFeatures(embed, m.query, fo);
    const acc = knnTop1(bank, m.bank.labels!, query, m.query.labels!, { k: cfg.knn.k, temperature: cfg.knn.temperature, numClasses: m.bank.classes?.length });
    bank.dispose();
    query.dispose();
    return acc;
  }));
}

export function writeConfig(runDir: string, cfg: TrainConfig): void {
  ensureDir(runDir);
  writeFileAtomic(join(runDir, "config.json"), JSON.stringify(cfg, null, 2) + "\n");
}

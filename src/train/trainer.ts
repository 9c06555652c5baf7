// The BYOL training loop: data order, schedules, kNN monitor, metrics, checkpoints, Ctrl-C and NaN
// handling, around the training step (./step.ts: views, online/target step, online probe). One process
// or one rank of many. The loop reads the step's device-side statistics back only on logging steps and
// before a checkpoint, so on a GPU the host runs ahead of the device between them.
import { join } from "node:path";
import * as T from "../torch/index.js";
import { epochOrder, batches, type ResolvedDataset } from "../data/index.js";
import { warmupCosineLr, byolTau } from "../optim/schedules.js";
import { OnlineProbe } from "../eval/online-probe.js";
import type { BYOL } from "../byol/learner.js";
import type { Encoder } from "../byol/learner.js";
import type { Optimizer } from "../optim/index.js";
import { UserError } from "../util/errors.js";
import { ensureDir, writeFileAtomic } from "../util/file-writes.js";
import { effectivePrecision, type TrainConfig } from "./config.js";
import { makeAugmenters, makeLearner, makeLocalViews, makeOptimizer, peakLr, type EncoderFactory } from "./build.js";
import { addPrefix, assertCompatible, checkpointPath, fromCheckpoint, loadCheckpoint, saveCheckpoint, withPrefix } from "./checkpoint.js";
import { MetricsLog, type MetricRow } from "./metrics.js";
import { makeProgress } from "./progress.js";
import { TrainStep, type DataParallel, type StepStats } from "./step.js";
import { restoreRngStates, rngStateTensors } from "./rng-state.js";
import { estimateMonitorS, monitorKnn, monitorSets } from "./monitor.js";
import { BudgetedTotal, finishPlan, planMonitorS, replanBudget, type BudgetPlan } from "./time-budget.js";
import { ENCODER_STEP0_FILE, runEncoderMeta, saveEncoder } from "./export.js";
import { CollapseWatch } from "./collapse-watch.js";

export type { DataParallel } from "./step.js";

/** Where and how the training loop runs. */
export interface TrainOptions {
  runDir: string;
  resume: boolean;
  /** Stop (with a checkpoint) after this global step; for tests of resume and interruption. */
  stopAfterStep?: number;
  quiet?: boolean;
  dp?: DataParallel | null;
  /** Builds the encoder instead of the configured ResNet (see makeLearner). */
  makeEncoder?: EncoderFactory;
}

/** The learner after the training loop, and where it stopped. */
export interface TrainResult {
  learner: BYOL;
  step: number;
  epoch: number;
  wallS: number;
  interrupted: boolean;
  /** Whether steps were captured and replayed as a CUDA graph ("on") or ran eagerly ("off"). */
  cudaGraph: "on" | "off";
}

function isRank0(o: TrainOptions): boolean {
  return !o.dp || o.dp.rank === 0;
}

/** The BYOL training loop on an opened dataset: writes metrics.jsonl and checkpoints, resumes, stops cleanly on Ctrl-C or a non-finite state. */
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
  const learner = makeLearner(cfg, channels, opts.makeEncoder);
  // Cross-replica BatchNorm: statistics over the global batch, as the paper's large-batch runs.
  if (cfg.syncBatchNorm && dp?.syncBatchNorm) dp.syncBatchNorm(learner);
  const optimizer = makeOptimizer(cfg, learner);
  const augs = makeAugmenters(cfg, channels, data.mean, data.std);
  const numClasses = set.classes?.length ?? 0;
  const probe = cfg.onlineProbe.enabled && set.labels && numClasses > 1
    ? new OnlineProbe((learner.online.encoder as Encoder).outDim, numClasses, { lr: cfg.onlineProbe.lr, weightDecay: 0, device: cfg.device })
    : null;

  // Every rank must start from the same weights: rank 0's.
  if (dp) dp.broadcast([...learner.namedTrainableParameters().map(([, p]) => p), ...Object.values(learner.stateDict())]);
  // The weights BYOL starts from, for the evaluation's random-init baseline; a resumed run keeps the
  // file its first start wrote (a run folder from before this file existed has none).
  if (rank0 && !opts.resume) saveEncoder(join(opts.runDir, ENCODER_STEP0_FILE), learner.online.encoder, runEncoderMeta(cfg, data, Boolean(opts.makeEncoder)));
  // Each rank draws its own augmentations.
  if (dp) T.manualSeed(cfg.seed * 1000 + dp.rank + 1);

  const perRankOrderLength = Math.ceil(set.n / worldSize);
  const stepsPerEpoch = Math.floor(perRankOrderLength / cfg.batchSize);
  let totalSteps = plannedTotal(cfg, stepsPerEpoch);
  const warmupSteps = Math.round(cfg.optimizer.warmupEpochs * stepsPerEpoch);
  const lrPeak = peakLr(cfg);

  let step = 0;
  let startEpoch = 0;
  let skipInEpoch = 0;
  let wallBefore = 0;
  // The online probe's accuracy is counted over an epoch; a checkpoint mid-epoch carries the count so
  // that a resumed epoch reports what the uninterrupted one would.
  let probeCorrectAtResume = 0;
  let probeSeen = 0;
  const metrics = new MetricsLog(join(opts.runDir, "metrics.jsonl"), rank0);
  const ckPath = checkpointPath(opts.runDir);
  if (opts.resume) {
    const { meta, tensors } = loadCheckpoint(ckPath, { config: cfg, stepsPerEpoch });
    // A budgeted run writes config.json at each re-plan but checkpoints on its own schedule: the
    // checkpoint's plan is the one the saved state belongs to (the resumed run re-plans from there).
    if (cfg.timeBudgetS !== null && meta.config.timeBudgetS === cfg.timeBudgetS && meta.config.resolved && JSON.stringify(meta.config.resolved) !== JSON.stringify(cfg.resolved)) {
      cfg.epochs = meta.config.epochs;
      cfg.resolved = meta.config.resolved;
      totalSteps = plannedTotal(cfg, stepsPerEpoch);
      if (rank0) writeConfig(opts.runDir, cfg);
    }
    assertCompatible(meta.config, cfg, ckPath);
    fromCheckpoint(ckPath, () => {
      learner.loadStateDict(withPrefix(tensors, "model"));
      optimizer.loadStateDict(withPrefix(tensors, "optim"));
      if (probe) probe.loadStateDict(withPrefix(tensors, "probe"));
      // One process continues its generator exactly; ranks of a data-parallel run (whose count may
      // differ from the run that saved) each draw a fresh stream derived from the step.
      if (dp) T.manualSeed(cfg.seed * 1000003 + meta.step * 131 + dp.rank + 1);
      else restoreRngStates(tensors, cfg.device);
    });
    for (const t of Object.values(tensors)) t.dispose();
    step = meta.step;
    startEpoch = meta.epoch;
    skipInEpoch = meta.stepInEpoch;
    wallBefore = Number(meta.extra.wallS ?? 0);
    probeCorrectAtResume = Number(meta.extra.probeCorrect ?? 0);
    probeSeen = Number(meta.extra.probeSeen ?? 0);
    metrics.truncateAfter(step);
    if (rank0 && !opts.quiet) process.stderr.write(`resuming ${opts.runDir} at step ${step} (epoch ${startEpoch})\n`);
  }

  const shape = [cfg.batchSize, channels, set.height, set.width];
  const trainStep = new TrainStep({
    learner, optimizer, augmenters: augs, localViews: makeLocalViews(cfg, augs), probe, device: cfg.device, bf16, batchShape: shape, dp, cudaGraph: cfg.cudaGraph,
    warn: (line) => process.stderr.write(line + "\n"),
  });
  trainStep.setStep(step);
  trainStep.setProbeCorrect(probeCorrectAtResume);
  if (rank0 && !opts.quiet && (cfg.device !== "cpu" || cfg.cudaGraph === "on")) process.stderr.write(`CUDA graphs: ${trainStep.graphMode} (${trainStep.graphReason})\n`);

  // The step's device-side statistics, read back at most once per step (logging and checkpoint share it).
  let statsAt = -1;
  let stats: StepStats | null = null;
  const readStats = (): StepStats => {
    if (statsAt !== step || !stats) {
      stats = trainStep.readStats();
      statsAt = step;
    }
    if (stats.nonFinite) {
      const bad = stats.firstBadStep;
      const lrAt = warmupCosineLr(bad - 1, totalSteps, warmupSteps, lrPeak);
      throw new UserError(`loss became ${stats.firstBadLoss} at step ${bad} (lr ${lrAt.toExponential(3)}); training stopped; ${keptNote()}`);
    }
    return stats;
  };

  // A checkpoint is written only from a finite state: weights can diverge (an infinite BatchNorm
  // variance, say) a step or two before the loss shows it, and such a state must not replace a good one.
  const save = (epoch: number, stepInEpoch: number, wallS: number) => {
    // Every rank checks its own losses (and so stops with the same message as rank 0).
    const probeCorrect = readStats().probeCorrect;
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
      Object.assign(tensors, rngStateTensors(cfg.device));
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
  // Readings at the ends of every this many epochs (none without labelled sets).
  const monitorEvery = monitor ? cfg.knn.everyEpochs : 0;
  // A time budget not yet turned into a plan: time the first steps, then plan the total steps (time-budget.ts).
  const budget = cfg.timeBudgetS !== null && cfg.resolved === null && step < stepsPerEpoch
    ? new BudgetedTotal({
      budgetS: cfg.timeBudgetS, stepsPerEpoch, provisionalTotal: totalSteps, stepsBefore: step, elapsedBeforeS: wallBefore,
      monitorEveryEpochs: monitorEvery,
      // (Only rank 0 runs the monitor: the mean over ranks times their count is its cost.)
      agree: dp ? (m) => { const [s, p, e] = dp.meanOf([m.secondsPerStep, m.monitorS * worldSize, m.elapsedS]); return { secondsPerStep: s, monitorS: p, elapsedS: e }; } : undefined,
    })
    : null;
  const monitorReadingS = () => (monitor && rank0 && monitorEvery > 0 ? estimateMonitorS(learner, monitor, data, cfg) : 0);
  const t0 = performance.now();
  const wall = () => wallBefore + (performance.now() - t0) / 1000;
  const collapseWatch = new CollapseWatch();
  let intervalStart = performance.now();
  let intervalImages = 0;
  let lastGoodStep = opts.resume ? step : -1;
  // What re-plans measure: the steps run since the plan (or this process's start) and their seconds,
  // the monitor's readings timed apart (their count and seconds, by this process).
  let anchor = { step, wallS: wallBefore, monitorS: 0 };
  let monitorSpentS = 0;
  let monitorReadings = 0;
  // Where the run stands: the epoch and the batches of it done (what the final checkpoint records).
  let at = { epoch: startEpoch, stepInEpoch: skipInEpoch };
  function keptNote(): string {
    return lastGoodStep >= 0 ? `the last good checkpoint (step ${lastGoodStep}) is kept at ${ckPath}` : "no checkpoint was written yet";
  }

  try {
    // The plan may end inside an epoch: the loop runs to the total step count, not to whole epochs.
    for (let epoch = startEpoch; step < totalSteps && !interrupted; epoch++) {
      const order = epochOrder(set.n, cfg.seed, epoch, { shuffle: true, rank: dp?.rank ?? 0, worldSize });
      const epochBatches = batches(order, cfg.batchSize, true);
      if (epoch !== startEpoch || skipInEpoch === 0) {
        probeSeen = 0;
        trainStep.setProbeCorrect(0);
      }
      learner.train();
      // A resumed epoch starts at its next batch; the batches before it are never read.
      let b = epoch === startEpoch ? skipInEpoch : 0;
      for await (const batch of set.batches(epochBatches.slice(b))) {
        const lr = warmupCosineLr(step, totalSteps, warmupSteps, lrPeak);
        const tau = targetTau(cfg, step, totalSteps);
        if (trainStep.run(batch.images, batch.labels ?? null, lr, tau)) probeSeen += cfg.batchSize;
        step++;
        const plan = budget?.stepDone(monitorReadingS) ?? null;
        if (plan) {
          totalSteps = adoptPlan(cfg, plan, opts, progress);
          anchor = { step, wallS: wall(), monitorS: monitorSpentS };
        }
        intervalImages += cfg.batchSize * worldSize;
        const epochEnd = b === epochBatches.length - 1;
        at = epochEnd ? { epoch: epoch + 1, stepInEpoch: 0 } : { epoch, stepInEpoch: b + 1 };
        // The run's last step (the plan may end it inside an epoch): logged and checkpointed below.
        const runEnd = step >= totalSteps;
        if (step % cfg.logEverySteps === 0 || epochEnd || runEnd) {
          const now = performance.now();
          const ips = intervalImages / ((now - intervalStart) / 1000);
          intervalStart = now;
          intervalImages = 0;
          const st = readStats();
          const lossMean = dp ? dp.meanOf([st.lastLoss])[0] : st.lastLoss;
          const row: MetricRow = { step, epoch: epoch + (b + 1) / epochBatches.length, loss: lossMean, lr, tau, img_per_s: ips, collapse: st.collapse };
          const collapsed = collapseWatch.observe(step, st.collapse);
          if (collapsed && rank0) progress.log(collapsed);
          if (epochEnd || runEnd) {
            // (A run that ends inside an epoch reports the probe over the part it ran.)
            if (probeSeen > 0) row.online_linear_top1 = st.probeCorrect / probeSeen;
            // No reading at the last step: the final evaluation replaces it (on the full splits).
            if (monitor && epochEnd && !runEnd && monitorEvery > 0 && (epoch + 1) % monitorEvery === 0 && rank0) {
              const t = performance.now();
              const reading = monitorKnn(learner, monitor, data, cfg, probe);
              monitorSpentS += (performance.now() - t) / 1000;
              monitorReadings++;
              row.knn_top1 = reading.knn;
              if (reading.probeClean !== undefined) row.online_linear_clean_top1 = reading.probeClean;
              learner.train();
              progress.log(`epoch ${epoch + 1}: kNN top-1 ${(row.knn_top1 * 100).toFixed(2)}%` + (row.online_linear_top1 !== undefined ? `, online linear ${(Number(row.online_linear_top1) * 100).toFixed(2)}%` : "") + (reading.probeClean !== undefined ? ` (${(reading.probeClean * 100).toFixed(2)}% on clean test images)` : ""));
            }
          }
          metrics.append(row);
          progress.update(step, { epoch: epoch + 1, loss: lossMean, imgPerS: ips, lr });
        }
        // The plan against the steps measured since it was made: every replanEverySteps steps and at
        // epoch ends, re-made when another total fits (every rank at the same steps, with the same means).
        const every = cfg.replanEverySteps;
        const measured = step - anchor.step;
        if (cfg.timeBudgetS !== null && cfg.resolved && !plan && !runEnd && every > 0 && (epochEnd || step % every === 0) && measured >= MIN_MEASURED_STEPS) {
          const now = wall();
          const stepS = (now - anchor.wallS - (monitorSpentS - anchor.monitorS)) / measured;
          // (Only rank 0 runs the monitor: the mean over ranks times their count is its cost.)
          const local = [stepS, monitorReadings > 0 ? (monitorSpentS / monitorReadings) * worldSize : 0, monitorReadings > 0 ? 1 : 0, now];
          const [secondsPerStep, measuredMonitorS, anyReading, elapsedS] = dp ? dp.meanOf(local) : local;
          // Before the first reading the plan's estimate of one stands.
          const monitorS = anyReading > 0 ? measuredMonitorS : planMonitorS(cfg.resolved, monitorEvery);
          const remade = replanBudget(cfg.resolved, {
            budgetS: cfg.timeBudgetS, stepsDone: step, elapsedS, stepsPerEpoch, secondsPerStep: Math.max(secondsPerStep, 1e-6), monitorS, monitorEveryEpochs: monitorEvery,
          });
          if (remade) totalSteps = adoptPlan(cfg, remade, opts, progress, totalSteps);
        }
        const stopNow = interrupted || (opts.stopAfterStep !== undefined && step >= opts.stopAfterStep);
        // (A checkpoint right after the first plan, so that a resume never meets a checkpoint without
        // it; the last step's is written after the loop.)
        if ((step % cfg.checkpointEverySteps === 0 || stopNow || plan) && !(runEnd && !stopNow)) {
          save(at.epoch, at.stepInEpoch, wall());
          lastGoodStep = step;
        }
        if (stopNow) {
          interrupted = true;
          break;
        }
        if (runEnd) break;
        // Let signals (Ctrl-C) reach their handlers between steps.
        await new Promise((r) => setImmediate(r));
        b++;
      }
    }
    if (!interrupted) {
      if (cfg.timeBudgetS !== null && cfg.resolved) {
        // config.json (and the last checkpoint) record the seconds trained and what was left of the budget.
        cfg.resolved = finishPlan(cfg.resolved, wall(), monitorSpentS);
        if (rank0) writeConfig(opts.runDir, cfg);
      }
      save(at.epoch, at.stepInEpoch, wall());
    }
  } finally {
    trainStep.dispose();
    progress.stop();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  return { learner, step, epoch: at.epoch + at.stepInEpoch / stepsPerEpoch, wallS: wall(), interrupted, cudaGraph: trainStep.graphMode };
}

/** τ of a step: BYOL's schedule, or the fixed 0 (target "online") or 1 ("frozen") of the ablations. */
export function targetTau(cfg: TrainConfig, step: number, totalSteps: number): number {
  const t = cfg.ablation.target;
  return t === "online" ? 0 : t === "frozen" ? 1 : byolTau(step, totalSteps, cfg.tauBase);
}

/** The name of the first floating-point tensor holding an inf or NaN, or null (one fused norm per call). */
function firstNonFinite(tensors: Record<string, T.Tensor>): string | null {
  const names = Object.keys(tensors).filter((k) => ["float32", "float64", "float16", "bfloat16"].includes(tensors[k].dtype));
  const norms = T.foreach.norm(names.map((k) => tensors[k]));
  const values = T.stack(norms).toFloat32Array();
  const i = values.findIndex((v) => !Number.isFinite(v));
  return i < 0 ? null : names[i];
}

/** Steps a re-plan needs measured since the plan (or this process's start) before it trusts their mean. */
const MIN_MEASURED_STEPS = 5;

/**
 * The run's total steps: the time budget's plan when there is one (scaled should the epochs have
 * another length now, e.g. a resume with another process count), else the configured epochs.
 */
function plannedTotal(cfg: TrainConfig, stepsPerEpoch: number): number {
  const r = cfg.resolved;
  if (!r) return cfg.epochs * stepsPerEpoch;
  return r.stepsPerEpoch === stepsPerEpoch ? r.totalSteps : Math.max(1, Math.round((r.totalSteps / r.stepsPerEpoch) * stepsPerEpoch));
}

/** Sets the run's total steps to the time budget's plan, records it in config.json; the new total steps. */
function adoptPlan(cfg: TrainConfig, plan: BudgetPlan, opts: TrainOptions, progress: ReturnType<typeof makeProgress>, previousTotal?: number): number {
  cfg.epochs = plan.epochs;
  cfg.resolved = plan;
  cfg.optimizer.warmupEpochs = Math.min(cfg.optimizer.warmupEpochs, plan.totalSteps / plan.stepsPerEpoch);
  if (isRank0(opts)) writeConfig(opts.runDir, cfg);
  progress.setTotal(plan.totalSteps);
  const re = plan.replanned;
  const epochs = (plan.totalSteps / plan.stepsPerEpoch).toFixed(2);
  // Re-plans come every few steps and mostly move the total by a step or two: only a change of at
  // least 2% is worth a line (config.json records every plan).
  if (re && previousTotal !== undefined && Math.abs(plan.totalSteps - previousTotal) < Math.max(2, 0.02 * previousTotal)) return plan.totalSteps;
  progress.log(re
    ? `time budget ${plan.budgetS} s: ${re.atStep} steps took ${re.elapsedS.toFixed(0)} s (${(re.secondsPerStep ?? 0).toFixed(3)} s/step since the plan) -> re-planned to ${plan.totalSteps} steps (${epochs} epochs, ${plan.plannedS} s)`
    : `time budget ${plan.budgetS} s: ${plan.secondsPerStep.toFixed(3)} s/step, ${(plan.monitorS ?? 0).toFixed(1)} s per kNN monitor reading (${plan.monitorReadings ?? 0}) -> ${plan.totalSteps} steps (${epochs} epochs, ${plan.plannedS} s planned)`);
  return plan.totalSteps;
}

export function writeConfig(runDir: string, cfg: TrainConfig): void {
  ensureDir(runDir);
  writeFileAtomic(join(runDir, "config.json"), JSON.stringify(cfg, null, 2) + "\n");
}

// A whole training run as one call, for `byol train` and for library users alike: configuration
// from a preset and overrides, the dataset opened from its name, pretraining, the exported encoder,
// and the evaluation with eval.json and report.html.
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { resolveDataset, type ResolvedDataset } from "../data/index.js";
import type { BYOL, Encoder } from "../byol/learner.js";
import { UserError } from "../util/errors.js";
import { IoError } from "../util/io-error.js";
import {
  applyOverrides, effectivePrecision, presetConfig, validateConfig, type PresetName, type TrainConfig,
} from "./config.js";
import { applyThreads, datasetOptions, type EncoderFactory } from "./build.js";
import { train as trainLoop, writeConfig, type DataParallel } from "./trainer.js";
import { evaluateRun, type RunEvaluation } from "./evaluate-run.js";
import { ENCODER_FILE, saveEncoder } from "./export.js";
import { checkpointPath, checkpointStep } from "./checkpoint.js";
import { checkRunFolder } from "./run-folder.js";

/** Any part of a configuration, nested objects partial too. */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** What a library user passes for a configuration: a preset (default "cpu") and any fields to change. */
export type ConfigInput = DeepPartial<TrainConfig> & { preset?: PresetName };

/**
 * The full configuration from a preset and overrides, validated, with "auto" precision resolved.
 * Unknown fields and invalid values are UserErrors. An epoch count given in `over` wins over the
 * preset's time budget (`timeBudgetS`), as `--epochs` does on the command line.
 */
export function resolveConfig(over: ConfigInput = {}): TrainConfig {
  const cfg = applyOverrides(presetConfig(over.preset ?? "cpu"), over);
  if (over.epochs !== undefined && over.timeBudgetS === undefined) {
    cfg.timeBudgetS = null;
    cfg.resolved = null;
  }
  return finishConfig(cfg);
}

/** Validates a configuration and records what the run will actually do: "auto" precision becomes fp32 or bf16. */
export function finishConfig(cfg: TrainConfig): TrainConfig {
  validateConfig(cfg);
  cfg.precision = effectivePrecision(cfg);
  return cfg;
}

/** The default run folder: runs/<local date>_<time>. */
export function defaultRunDir(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return join("runs", `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}`);
}

/** Options of trainRun. */
export interface RunOptions {
  /** The run folder (default runs/<date-time>). It must not hold a run unless `resume` is set. */
  runDir?: string;
  /** Continue the run in runDir from its last checkpoint. */
  resume?: boolean;
  /** Evaluate after training (default true; skipped anyway when the dataset has no labels). */
  evaluate?: boolean;
  /**
   * The user's own encoder architecture, replacing the configured ResNet: any Module mapping
   * normalised images [N, C, H, W] to [N, outDim], with `outDim` set. Called for the online and the
   * target network and for the random-init baseline; each call must return fresh random weights.
   */
  encoder?: EncoderFactory;
  /** One line per event (dataset, progress summary, results). Default: stderr, nothing when quiet. */
  log?: (line: string) => void;
  /** No progress bar and, without `log`, no lines. */
  quiet?: boolean;
  /** Stop with a checkpoint after this global step (tests of interruption and resume). */
  stopAfterStep?: number;
  /** Data-parallel context when this process is one rank of several. */
  dp?: DataParallel | null;
  /** Called once training ends, before rank 0 exports and evaluates (a barrier across ranks). */
  afterTraining?: () => void;
}

/** What trainRun hands back; the run folder holds the same on disk. */
export interface RunResult {
  runDir: string;
  /** The configuration the run used (config.json). */
  config: TrainConfig;
  /** The trained online encoder, in eval mode, on the configured device. */
  encoder: Encoder;
  /** The learner (online, target and predictor networks). */
  learner: BYOL;
  /** The per-channel normalisation the encoder expects its [0, 1] pixels to get. */
  mean: number[];
  std: number[];
  step: number;
  wallS: number;
  /** True when training stopped early (Ctrl-C, stopAfterStep); nothing is exported then. */
  interrupted: boolean;
  /** eval.json's contents, or null when the run was not evaluated (see `noEvaluation`). */
  evaluation: RunEvaluation | null;
  /** Why there is no evaluation, when there is none. */
  noEvaluation: string | null;
}

/**
 * Trains a BYOL encoder as `byol train` does: resolves the configuration (a preset and overrides)
 * and the dataset it names, pretrains, writes config.json, metrics.jsonl, checkpoints/ and
 * encoder.safetensors, then evaluates (eval.json, report.html) when the dataset has labels.
 */
export async function trainRun(config: ConfigInput = {}, opts: RunOptions = {}): Promise<RunResult> {
  // A full configuration (config.json, or the command's resolved one) passes through unchanged.
  const cfg = resolveConfig(structuredClone(config));
  const runDir = opts.runDir ?? defaultRunDir();
  const rank0 = !opts.dp || opts.dp.rank === 0;
  // A new run writes only into a new or empty folder, a resumed one only into a run folder. Ranks
  // other than 0 leave the check to rank 0 (which may already have written config.json).
  if (rank0 && (process.env.RANK ?? "0") === "0") checkRunFolder(runDir, Boolean(opts.resume));
  const log = opts.log ?? ((s: string) => rank0 && !opts.quiet && process.stderr.write(s + "\n"));
  if (cfg.device !== "cpu") T.resolveDevice(cfg.device);
  const threads = await applyThreads(cfg);
  // Only rank 0 evaluates: other ranks of a streamed folder need no evaluation sets.
  const data = await resolveDataset(cfg.dataset, { ...datasetOptions(cfg), evalSets: rank0 });
  try {
    return await runOn(cfg, data, runDir, threads, log, opts);
  } catch (e) {
    // A failed write (full disk, read-only folder) says what is still good.
    if (e instanceof IoError) throw e.withNote(keptNote(runDir));
    throw e;
  } finally {
    await data.train.close();
  }
}

/** What a failed run leaves: its last checkpoint (written atomically, so complete) if there is one. */
function keptNote(runDir: string): string {
  const path = checkpointPath(runDir);
  const step = checkpointStep(path);
  return step === null ? "no checkpoint was written" : `the last good checkpoint, step ${step}, is at ${path}`;
}

async function runOn(cfg: TrainConfig, data: ResolvedDataset, runDir: string, threads: number, log: (s: string) => void, opts: RunOptions): Promise<RunResult> {
  const dp = opts.dp ?? null;
  const rank0 = !dp || dp.rank === 0;
  // Printed once the inputs are known to be good, so that a bad input is reported in one line.
  log(`byol-ts: libtorch ${T.torchVersion()}, device ${cfg.device}, ${threads} thread(s), preset ${cfg.preset}, run folder ${runDir}`);
  log(`dataset ${data.name}: ${data.train.n} pretraining images ${data.train.channels}x${data.train.height}x${data.train.width}` +
    (data.train.set ? "" : " (streamed from disk)") + (data.test ? `, ${data.test.n} test images` : ""));
  if (data.testSplit) log(`test split: ${data.testSplit}`);
  for (const note of data.notes) log(note);
  if (rank0) writeConfig(runDir, cfg);
  const result = await trainLoop(cfg, data, {
    runDir, resume: Boolean(opts.resume), stopAfterStep: opts.stopAfterStep, quiet: opts.quiet, dp, makeEncoder: opts.encoder,
  });
  opts.afterTraining?.();
  const encoder = result.learner.online.encoder as Encoder;
  encoder.eval();
  const out: RunResult = {
    runDir, config: cfg, encoder, learner: result.learner, mean: data.mean, std: data.std, step: result.step, wallS: result.wallS,
    interrupted: result.interrupted, evaluation: null, noEvaluation: null,
  };
  if (result.interrupted) {
    out.noEvaluation = "training was interrupted";
    return out;
  }
  if (!rank0) {
    out.noEvaluation = "only rank 0 evaluates";
    return out;
  }
  saveEncoder(join(runDir, ENCODER_FILE), encoder, {
    encoder: cfg.encoder, channels: data.train.channels, height: data.train.height, width: data.train.width,
    mean: data.mean, std: data.std, dataset: data.name, ...(opts.encoder ? { custom: true } : {}), normalization: cfg.ablation.encoderNorm,
  });
  log(`trained ${result.step} steps in ${result.wallS.toFixed(0)} s; wrote ${join(runDir, ENCODER_FILE)}`);
  if (opts.evaluate === false) {
    out.noEvaluation = "evaluation was not asked for";
    return out;
  }
  if (!data.test?.labels || !data.trainLabeled?.labels) {
    out.noEvaluation = data.noLabels ?? "the dataset has no labelled test split";
    log(`no evaluation (no eval.json): ${out.noEvaluation}`);
    return out;
  }
  const ev = await evaluateRun({ runDir, cfg, data, encoder, trainS: result.wallS, log, makeEncoder: opts.encoder });
  out.evaluation = ev;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  log(`kNN top-1: BYOL ${pct(ev.knn_top1)} | random init ${pct(ev.baselines.random_init.knn_top1)}`);
  log(`linear top-1: BYOL ${pct(ev.linear_top1)} | random init ${pct(ev.baselines.random_init.linear_top1)} | raw pixels ${pct(ev.baselines.raw_pixels.linear_top1)}`);
  log(`report: ${join(runDir, "report.html")}`);
  return out;
}

// `byol train`: resolve the configuration, pretrain, then evaluate and write the run folder.
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { resolveDataset, type ResolvedDataset } from "../data/index.js";
import { UserError } from "../util/errors.js";
import { IoError } from "../util/io-error.js";
import { readRegularFile } from "../util/file-reads.js";
import { applyOverrides, CPU_PRESET_FLOAT32_EPOCHS, effectivePrecision, presetConfig, setField, validateConfig, type TrainConfig } from "../train/config.js";
import { applyThreads, datasetOptions } from "../train/build.js";
import { train, writeConfig, type DataParallel } from "../train/trainer.js";
import { evaluateRun } from "../train/evaluate-run.js";
import { ENCODER_FILE, saveEncoder } from "../train/export.js";
import { checkpointPath, checkpointStep } from "../train/checkpoint.js";
import { checkRunFolder } from "./run-folder.js";
import type { ResNet } from "../nn/resnet.js";
import { intFlag, numFlag, parse } from "./args.js";
import { joinFromEnv } from "../train/dist-context.js";
import { isRankProcess, launchLocal } from "../train/launcher.js";

export const TRAIN_HELP = `byol train [options]
  Pretrains an encoder with BYOL, evaluates it against baselines and writes a run folder.
  --out DIR             run folder: a new or empty folder (default runs/<date-time>)
  --preset NAME         cpu (default) | gpu | smoke
  --dataset NAME        fashion-mnist (default) | mnist:DIR | cifar10:DIR | stl10:DIR | folder:DIR
  --data-dir DIR        where fashion-mnist's IDX files are (default /usr/share/datasets/fashion-mnist)
  --limit N             use at most N pretraining images
  --device DEV          cpu | cuda | cuda:N
  --epochs N  --batch-size N  --lr BASE_LR  --seed N  --threads N  --precision auto|fp32|bf16
  --config FILE         JSON file with any configuration fields (applied after the preset)
  --set FIELD=VALUE     set any configuration field, e.g. --set optimizer.weightDecay=1e-5 (repeatable)
  --resume DIR          continue the run in DIR (a byol-ts run folder) from its last checkpoint
  --nproc N             data-parallel training with N local processes (torch.distributed, Gloo/NCCL)
  --sync-bn             cross-replica BatchNorm (statistics over the global batch)
  --on-bad-image MODE   folder datasets: skip (warn) or error (default) on undecodable images
  --no-eval             skip the evaluation after training
  --quiet               no progress output`;

const OPTIONS = {
  out: { type: "string" }, preset: { type: "string" }, dataset: { type: "string" }, "data-dir": { type: "string" },
  limit: { type: "string" }, device: { type: "string" }, epochs: { type: "string" }, "batch-size": { type: "string" },
  lr: { type: "string" }, seed: { type: "string" }, threads: { type: "string" }, precision: { type: "string" },
  config: { type: "string" }, set: { type: "string", multiple: true }, resume: { type: "string" },
  nproc: { type: "string" }, "sync-bn": { type: "boolean" }, "on-bad-image": { type: "string" },
  "no-eval": { type: "boolean" }, quiet: { type: "boolean" }, "stop-after": { type: "string" }, help: { type: "boolean" },
} as const;

function defaultRunDir(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return join("runs", `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}`);
}

function readJson(path: string, what: string): unknown {
  if (!existsSync(path)) throw new UserError(`${what} ${path} does not exist`);
  try {
    return JSON.parse(readRegularFile(path, what, 1 << 24).toString("utf8"));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${what} ${path} is not valid JSON: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Builds the resolved configuration from preset, config file, flags (in that order). */
export function resolveTrainConfig(values: Record<string, any>): TrainConfig {
  let cfg: TrainConfig;
  if (values.resume) {
    cfg = readJson(join(values.resume, "config.json"), "run configuration") as TrainConfig;
    cfg = applyOverrides(presetConfig(cfg.preset ?? "cpu"), cfg);
  } else {
    cfg = presetConfig(values.preset ?? "cpu");
  }
  let epochsChosen = values.resume !== undefined || values.epochs !== undefined;
  if (values.config) {
    const file = readJson(values.config, "config file");
    epochsChosen ||= typeof file === "object" && file !== null && "epochs" in file;
    cfg = applyOverrides(cfg, file);
  }
  const set = (k: string, v: unknown) => v !== undefined && setField(cfg, k, String(v));
  set("dataset", values.dataset);
  set("dataDir", values["data-dir"]);
  set("datasetLimit", intFlag(values.limit, "limit", 1));
  set("device", values.device);
  set("epochs", intFlag(values.epochs, "epochs", 1));
  set("batchSize", intFlag(values["batch-size"], "batch-size", 2));
  set("optimizer.baseLr", numFlag(values.lr, "lr"));
  set("seed", intFlag(values.seed, "seed", 0));
  set("threads", intFlag(values.threads, "threads", 0));
  set("precision", values.precision);
  set("nproc", intFlag(values.nproc, "nproc", 1));
  if (values["sync-bn"]) cfg.syncBatchNorm = true;
  set("onBadImage", values["on-bad-image"]);
  for (const kv of values.set ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UserError(`--set expects FIELD=VALUE, got "${kv}"`);
    setField(cfg, kv.slice(0, eq), kv.slice(eq + 1));
  }
  epochsChosen ||= (values.set ?? []).some((kv: string) => kv.startsWith("epochs="));
  validateConfig(cfg);
  // config.json records what the run actually does, not "auto".
  const auto = cfg.precision === "auto";
  cfg.precision = effectivePrecision(cfg);
  // The cpu preset's 8 epochs fit its 10-minute budget only at bf16 speed; in float32 it trains half as many.
  if (cfg.preset === "cpu" && auto && cfg.precision === "fp32" && !epochsChosen) {
    cfg.epochs = CPU_PRESET_FLOAT32_EPOCHS;
    cfg.optimizer.warmupEpochs = Math.min(cfg.optimizer.warmupEpochs, cfg.epochs);
  }
  return cfg;
}

export interface TrainCommandHooks {
  /** Data-parallel context when this process is one rank of several (set by the launcher's env). */
  dp?: DataParallel | null;
}

export async function trainCommand(argv: string[], hooks: TrainCommandHooks = {}): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, "train");
  if (values.help) {
    console.log(TRAIN_HELP);
    return 0;
  }
  if (positionals.length) throw new UserError(`train: unexpected argument "${positionals[0]}" (see byol train --help)`);
  const cfg = resolveTrainConfig(values);
  const runDir = values.resume ?? values.out ?? defaultRunDir();
  // A new run writes only into a new or empty folder, a resumed one only into a run folder. Ranks
  // other than 0 leave the check to rank 0 (which may already have written config.json).
  if (!isRankProcess() || (process.env.RANK ?? "0") === "0") checkRunFolder(runDir, Boolean(values.resume));
  // --nproc N on one machine: this process becomes a launcher of N ranks (torchrun's variables).
  // The launcher fixes the run folder so that every rank agrees on it.
  if (cfg.nproc > 1 && !isRankProcess()) return launchLocal(cfg.nproc, ["train", ...argv, ...(values.out || values.resume ? [] : ["--out", runDir])]);
  const rank = hooks.dp ? null : joinFromEnv(cfg.device);
  if (rank) {
    cfg.device = rank.device;
    cfg.nproc = rank.ctx.worldSize;
  }
  const dp = hooks.dp ?? rank?.dp ?? null;
  const rank0 = !dp || dp.rank === 0;
  const log = (s: string) => rank0 && !values.quiet && process.stderr.write(s + "\n");
  if (cfg.device !== "cpu") T.resolveDevice(cfg.device);
  const threads = await applyThreads(cfg);
  // Only rank 0 evaluates: other ranks of a streamed folder need no evaluation sets.
  const data = await resolveDataset(cfg.dataset, { ...datasetOptions(cfg), evalSets: rank0 });
  try {
    return await trainOn(data, { cfg, runDir, values, dp, rank, threads, log });
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

// Training, export and evaluation once the dataset is open.
async function trainOn(data: ResolvedDataset, o: {
  cfg: TrainConfig; runDir: string; values: Record<string, any>; dp: DataParallel | null; rank: ReturnType<typeof joinFromEnv>; threads: number;
  log: (s: string) => void;
}): Promise<number> {
  const { cfg, runDir, values, dp, rank, threads, log } = o;
  const rank0 = !dp || dp.rank === 0;
  // Printed once the inputs are known to be good, so that a bad input is reported in one line.
  log(`byol-ts: libtorch ${T.torchVersion()}, device ${cfg.device}, ${threads} thread(s), preset ${cfg.preset}, run folder ${runDir}`);
  log(`dataset ${data.name}: ${data.train.n} pretraining images ${data.train.channels}x${data.train.height}x${data.train.width}` +
    (data.train.set ? "" : " (streamed from disk)") + (data.test ? `, ${data.test.n} test images` : ""));
  for (const note of data.notes) log(note);
  if (rank0) writeConfig(runDir, cfg);
  const stopAfter = intFlag(values["stop-after"], "stop-after", 1);
  const result = await train(cfg, data, { runDir, resume: Boolean(values.resume), stopAfterStep: stopAfter, quiet: values.quiet, dp });
  if (rank) {
    // Every rank has finished its last step; rank 0 alone evaluates and writes the rest.
    rank.pg.barrier();
    rank.pg.destroy();
  }
  if (result.interrupted) {
    log(`stopped at step ${result.step}; the checkpoint is saved. Continue with: byol train --resume ${runDir}`);
    return stopAfter !== undefined ? 0 : 130;
  }
  if (!rank0) return 0;
  const encoder = result.learner.online.encoder as ResNet;
  saveEncoder(join(runDir, ENCODER_FILE), encoder, {
    encoder: cfg.encoder, channels: data.train.channels, height: data.train.height, width: data.train.width,
    mean: data.mean, std: data.std, dataset: data.name,
  });
  log(`trained ${result.step} steps in ${result.wallS.toFixed(0)} s; wrote ${join(runDir, ENCODER_FILE)}`);
  if (values["no-eval"] || !data.test?.labels) {
    if (!data.test?.labels) log("no labeled test split: skipping evaluation");
    return 0;
  }
  const ev = await evaluateRun({ runDir, cfg, data, encoder, trainS: result.wallS, log });
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  log(`kNN top-1: BYOL ${pct(ev.knn_top1)} | random init ${pct(ev.baselines.random_init.knn_top1)}`);
  log(`linear top-1: BYOL ${pct(ev.linear_top1)} | random init ${pct(ev.baselines.random_init.linear_top1)} | raw pixels ${pct(ev.baselines.raw_pixels.linear_top1)}`);
  log(`report: ${join(runDir, "report.html")}`);
  return 0;
}

// `byol train`: resolve the configuration, pretrain, then evaluate and write the run folder.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { applyOverrides, presetConfig, savedConfig, setField, type TrainConfig } from "../train/config.js";
import type { DataParallel } from "../train/trainer.js";
import { defaultRunDir, finishConfig, trainRun } from "../train/run.js";
import { checkRunFolder } from "../train/run-folder.js";
import { parseDuration } from "../train/time-budget.js";
import { readRegularFile } from "../util/file-reads.js";
import { intFlag, numFlag, parse } from "./args.js";
import { joinFromEnv } from "../train/dist-context.js";
import { isRankProcess, launchLocal } from "../train/launcher.js";

export const TRAIN_HELP = `byol train [options]
  Pretrains an encoder with BYOL, evaluates it against baselines and writes a run folder.
  --out DIR             run folder: a new or empty folder (default runs/<date-time>)
  --preset NAME         cpu (default) | gpu | smoke
  --dataset NAME        fashion-mnist (default) | mnist:DIR | cifar10:DIR | stl10:DIR | folder:DIR
                        folder:DIR: train/ and test/ (or val/) subfolders are the splits; class
                        subfolders alone: evalHoldout (default 0.2) of each class is held out for
                        evaluation; a flat folder: pretraining only, no evaluation
  --data-dir DIR        where fashion-mnist's IDX files are (default /usr/share/datasets/fashion-mnist)
  --limit N             use at most N pretraining images
  --device DEV          cpu | cuda | cuda:N
  --time-budget T      train for as many steps as fit in T (480, 90s, 8m, 1h; off = none): the
                        first steps are timed, then the step total is planned and re-planned as
                        the run goes; the last epoch may end early (cpu preset: 430s)
  --epochs N  --batch-size N  --lr BASE_LR  --seed N  --threads N  --precision auto|fp32|bf16
                        (an explicit epoch count turns the time budget off)
  --config FILE         JSON file with any configuration fields (applied after the preset)
  --set FIELD=VALUE     set any configuration field, e.g. --set optimizer.weightDecay=1e-5 (repeatable)
  --resume DIR          continue the run in DIR (a byol-ts run folder) from its last checkpoint
  --nproc N             data-parallel training with N local processes (torch.distributed, Gloo/NCCL)
  --sync-bn             cross-replica BatchNorm (statistics over the global batch)
  --on-bad-image MODE   folder datasets: skip (warn) or error (default) on undecodable images
  --no-eval             skip the evaluation after training
  --no-label-fractions  skip the linear probes from 1% and 10% of the labels (paper's Table 2)
  --quiet               no progress output`;

const OPTIONS = {
  out: { type: "string" }, preset: { type: "string" }, dataset: { type: "string" }, "data-dir": { type: "string" },
  limit: { type: "string" }, device: { type: "string" }, epochs: { type: "string" }, "time-budget": { type: "string" }, "batch-size": { type: "string" },
  lr: { type: "string" }, seed: { type: "string" }, threads: { type: "string" }, precision: { type: "string" },
  config: { type: "string" }, set: { type: "string", multiple: true }, resume: { type: "string" },
  nproc: { type: "string" }, "sync-bn": { type: "boolean" }, "on-bad-image": { type: "string" },
  "no-eval": { type: "boolean" }, "no-label-fractions": { type: "boolean" }, quiet: { type: "boolean" }, "stop-after": { type: "string" }, help: { type: "boolean" },
} as const;

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
    const saved = readJson(join(values.resume, "config.json"), "run configuration") as Partial<TrainConfig>;
    cfg = savedConfig(saved, presetConfig(saved.preset ?? "cpu"));
  } else {
    cfg = presetConfig(values.preset ?? "cpu");
  }
  if (values.resume && values["time-budget"] !== undefined) throw new UserError("--time-budget cannot change a resumed run: it continues with the epochs its budget chose");
  // An epoch count given explicitly wins over a time budget.
  let epochsChosen = values.epochs !== undefined;
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
  if (values["time-budget"] !== undefined) cfg.timeBudgetS = parseDuration(values["time-budget"]);
  set("batchSize", intFlag(values["batch-size"], "batch-size", 2));
  set("optimizer.baseLr", numFlag(values.lr, "lr"));
  set("seed", intFlag(values.seed, "seed", 0));
  set("threads", intFlag(values.threads, "threads", 0));
  set("precision", values.precision);
  set("nproc", intFlag(values.nproc, "nproc", 1));
  if (values["sync-bn"]) cfg.syncBatchNorm = true;
  if (values["no-label-fractions"]) cfg.linearEval.labelFractions = false;
  set("onBadImage", values["on-bad-image"]);
  for (const kv of values.set ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UserError(`--set expects FIELD=VALUE, got "${kv}"`);
    setField(cfg, kv.slice(0, eq), kv.slice(eq + 1));
  }
  epochsChosen ||= (values.set ?? []).some((kv: string) => kv.startsWith("epochs="));
  // (A resumed run keeps its config.json's budget and plan.)
  if (epochsChosen && !values.resume) {
    cfg.timeBudgetS = null;
    cfg.resolved = null;
  }
  // config.json records what the run actually does, not "auto" (see finishConfig).
  return finishConfig(cfg);
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
  // A new run writes only into a new or empty folder, a resumed one only into a run folder (checked
  // here, before a launcher starts ranks, and again by trainRun).
  if (!isRankProcess()) checkRunFolder(runDir, Boolean(values.resume));
  // --nproc N on one machine: this process becomes a launcher of N ranks (torchrun's variables).
  // The launcher fixes the run folder so that every rank agrees on it.
  if (cfg.nproc > 1 && !isRankProcess()) return launchLocal(cfg.nproc, ["train", ...argv, ...(values.out || values.resume ? [] : ["--out", runDir])]);
  const rank = hooks.dp ? null : joinFromEnv(cfg.device, process.env, { bucketMb: cfg.bucketMb });
  if (rank) {
    cfg.device = rank.device;
    cfg.nproc = rank.ctx.worldSize;
  }
  const dp = hooks.dp ?? rank?.dp ?? null;
  const stopAfter = intFlag(values["stop-after"], "stop-after", 1);
  const result = await trainRun(cfg, {
    runDir, resume: Boolean(values.resume), evaluate: !values["no-eval"], quiet: values.quiet, stopAfterStep: stopAfter, dp,
    // Every rank has finished its last step; rank 0 alone exports and evaluates.
    afterTraining: rank ? () => {
      rank.pg.barrier();
      rank.pg.destroy();
    } : undefined,
  });
  if (result.interrupted) {
    if (!dp || dp.rank === 0) {
      if (!values.quiet) process.stderr.write(`stopped at step ${result.step}; the checkpoint is saved. Continue with: byol train --resume ${runDir}\n`);
    }
    return stopAfter !== undefined ? 0 : 130;
  }
  return 0;
}

// `byol eval RUN_DIR`: re-evaluates a finished (or interrupted) run from its saved encoder.
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { resolveDataset, type ResolvedDataset } from "../data/index.js";
import { UserError } from "../util/errors.js";
import { readRegularFile } from "../util/file-reads.js";
import { applyOverrides, presetConfig, validateConfig, type TrainConfig } from "../train/config.js";
import { applyThreads, datasetOptions, makeEncoder } from "../train/build.js";
import { evaluateRun, type RunEvaluation } from "../train/evaluate-run.js";
import { ENCODER_FILE, readEncoderFile } from "../train/export.js";
import { checkpointPath, loadCheckpoint, withPrefix } from "../train/checkpoint.js";
import { parse } from "./args.js";

export const EVAL_HELP = `byol eval RUN_DIR [--device DEV] [--threads N]
  Re-evaluates a run: kNN and linear top-1 of its encoder against a random-init encoder and raw
  pixels on the test split; rewrites RUN_DIR/eval.json and RUN_DIR/report.html. Uses
  RUN_DIR/encoder.safetensors, or the online encoder of the last checkpoint if training did not finish.`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { device: { type: "string" }, threads: { type: "string" }, help: { type: "boolean" }, quiet: { type: "boolean" } }, "eval");
  if (values.help) {
    console.log(EVAL_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UserError("eval: expected exactly one RUN_DIR (see byol eval --help)");
  const runDir = positionals[0];
  const cfgPath = join(runDir, "config.json");
  if (!existsSync(cfgPath)) throw new UserError(`${runDir} is not a run folder (no config.json)`);
  let cfg: TrainConfig;
  try {
    const saved = JSON.parse(readRegularFile(cfgPath, "run configuration", 1 << 24).toString("utf8")) as TrainConfig;
    cfg = applyOverrides(presetConfig(saved.preset ?? "cpu"), saved);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${cfgPath} is not valid JSON`);
  }
  if (values.device) cfg.device = values.device;
  if (values.threads) cfg.threads = Number(values.threads);
  validateConfig(cfg);
  if (cfg.device !== "cpu") T.resolveDevice(cfg.device);
  await applyThreads(cfg);
  const log = (s: string) => !values.quiet && process.stderr.write(s + "\n");
  const data = await resolveDataset(cfg.dataset, datasetOptions(cfg));
  try {
    for (const note of data.notes) log(note);
    console.log(JSON.stringify(await evaluateFromRunDir(runDir, cfg, data, log)));
  } finally {
    await data.train.close();
  }
  return 0;
}

// The saved encoder (or the last checkpoint's), evaluated on the opened dataset.
async function evaluateFromRunDir(runDir: string, cfg: TrainConfig, data: ResolvedDataset, log: (s: string) => void): Promise<RunEvaluation> {
  const encoder = makeEncoder(cfg, data.train.channels);
  // The last checkpoint (read once, when there is one) gives the training time and, if training did
  // not finish, the weights.
  const ckPath = checkpointPath(runDir);
  const encPath = join(runDir, ENCODER_FILE);
  let checkpoint: ReturnType<typeof loadCheckpoint> | null = null;
  if (existsSync(ckPath)) {
    try {
      checkpoint = loadCheckpoint(ckPath);
    } catch (e) {
      // With an exported encoder the checkpoint only supplies the (informational) training time.
      if (!existsSync(encPath)) throw e;
    }
  }
  const trainS = Number(checkpoint?.meta.extra.wallS ?? 0);
  if (existsSync(encPath)) {
    const { tensors } = readEncoderFile(encPath);
    encoder.loadStateDict(tensors);
    for (const t of Object.values(tensors)) t.dispose();
  } else {
    if (!checkpoint) throw new UserError(`${runDir} has neither ${ENCODER_FILE} nor a checkpoint to evaluate`);
    log(`no ${ENCODER_FILE}: using the online encoder of the last checkpoint`);
    encoder.loadStateDict(withPrefix(checkpoint.tensors, "model.online.encoder"));
  }
  if (checkpoint) for (const t of Object.values(checkpoint.tensors)) t.dispose();
  return evaluateRun({ runDir, cfg, data, encoder, trainS, log });
}

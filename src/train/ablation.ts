// `byol ablate`: BYOL's parts switched off one at a time (the `ablation` switches of the configuration),
// each variant trained on the same dataset for the same time budget and evaluated, one run folder per
// variant under one folder, then ablation.json and ablation.html over all finished variants. A variant
// whose folder holds eval.json (or failure.json: it stopped with an error, e.g. a non-finite loss) is
// finished and not run again; one with a checkpoint but no evaluation is resumed.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { ensureDir, writeFileAtomic } from "../util/file-writes.js";
import { readRegularFile } from "../util/file-reads.js";
import { isPlainObject } from "../util/json-object.js";
import { writeAblationReport, type AblationVariantResult } from "../report/ablation-report.js";
import { applyOverrides, savedConfig, type AblationSwitches, type TrainConfig } from "./config.js";
import { readMetrics } from "./metrics.js";
import { finishConfig, trainRun } from "./run.js";
import { checkpointPath } from "./checkpoint.js";

/** The table of variants (names as SPEC §4), each as the switches it changes from full BYOL. */
export const ABLATION_VARIANTS: readonly { name: string; what: string; switches: Partial<AblationSwitches> }[] = [
  { name: "full", what: "BYOL as published", switches: {} },
  { name: "no-predictor", what: "no predictor: the online projection regresses the target's directly", switches: { predictor: false } },
  { name: "no-stop-gradient", what: "no stop-gradient: the target is the online network (τ = 0) and the loss's gradient flows through both branches", switches: { stopGradient: false, target: "online" } },
  { name: "tau-0", what: "τ = 0: the target is the online network itself (one set of weights, SimSiam-style)", switches: { target: "online" } },
  { name: "tau-1", what: "τ = 1: the target keeps its random initialisation", switches: { target: "frozen" } },
  { name: "no-bn-projector", what: "no BatchNorm in the projector", switches: { projectorNorm: "none" } },
  { name: "no-bn-predictor", what: "no BatchNorm in the predictor", switches: { predictorNorm: "none" } },
  { name: "no-bn-heads", what: "no BatchNorm in projector and predictor", switches: { projectorNorm: "none", predictorNorm: "none" } },
  { name: "no-norm", what: "no normalisation anywhere (encoder and heads)", switches: { encoderNorm: "none", projectorNorm: "none", predictorNorm: "none" } },
  { name: "gn-ws", what: "GroupNorm with weight standardisation everywhere instead of BatchNorm", switches: { encoderNorm: "groupnorm-ws", projectorNorm: "groupnorm-ws", predictorNorm: "groupnorm-ws" } },
];

/**
 * Seconds of training per variant by default: the cpu preset's table of 10 variants, each also set up
 * (~5 s) and evaluated (kNN and linear probe, no label-fraction probes: under the ~49 s the README
 * gives for the main job's evaluation with them, on a fast 2-core machine), ends within 30 minutes:
 * 10 × (100 + ~55) s ≈ 26 min.
 */
export const DEFAULT_VARIANT_BUDGET_S = 100;

/**
 * Pretraining images per variant when --limit is not given: a time budget must fit at least one epoch,
 * and one epoch of all 60,000 Fashion-MNIST images takes the cpu preset ~160 s on a fast 2-core machine
 * (README: 3 epochs in 8 minutes); 12,800 images (50 steps of 256) take ~35 s, so 100 s give 2-3 epochs.
 * (The limit applies to the evaluation's labelled train images too, the linear probe's and the kNN bank's;
 * the test split stays whole.)
 */
export const DEFAULT_ABLATION_LIMIT = 12800;

/** What runAblation needs: where, the base configuration, the budget per variant, which variants. */
export interface AblationOptions {
  /** The folder of the table: one run folder per variant, ablation.json, ablation.html. */
  out: string;
  /** The base configuration (preset, dataset, seed, ...); each variant changes only its switches and the budget. */
  base: TrainConfig;
  /** Training seconds per variant (the same for every one). */
  timeBudgetS: number;
  /** Variant names to run (default all); the others' finished folders still enter the table. */
  only?: string[];
  log?: (line: string) => void;
  quiet?: boolean;
}

/** ablation.json: the table's settings and one row per finished variant (SPEC §4). */
export interface AblationSummary {
  dataset: string;
  time_budget_s: number;
  preset: string;
  seed: number;
  variants: AblationVariantResult[];
}

/** Checks names against the table; one line naming the unknown one. */
export function parseVariantNames(list: string): string[] {
  const names = list.split(",").map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new UserError("--only needs at least one variant name");
  for (const n of names) {
    if (!ABLATION_VARIANTS.some((v) => v.name === n)) throw new UserError(`unknown ablation variant "${n}" (expected ${ABLATION_VARIANTS.map((v) => v.name).join(", ")})`);
  }
  return names;
}

/** The configuration of one variant: the base with its switches and the shared time budget. */
export function variantConfig(base: TrainConfig, name: string, timeBudgetS: number): TrainConfig {
  const v = ABLATION_VARIANTS.find((x) => x.name === name);
  if (!v) throw new UserError(`unknown ablation variant "${name}"`);
  const cfg = applyOverrides(structuredClone(base), { ablation: { ...v.switches } });
  cfg.timeBudgetS = timeBudgetS;
  cfg.resolved = null;
  return finishConfig(cfg);
}

type Status = "finished" | "failed" | "resume" | "new";

function statusOf(dir: string): Status {
  if (existsSync(join(dir, "eval.json"))) return "finished";
  if (existsSync(join(dir, "failure.json"))) return "failed";
  if (existsSync(checkpointPath(dir)) && existsSync(join(dir, "config.json"))) return "resume";
  // A start that ended before its first checkpoint (a budget that fits no epoch, say) left only these:
  // nothing to keep, so the variant starts afresh.
  if (existsSync(dir) && isAbortedStart(dir)) {
    for (const f of ["config.json", "metrics.jsonl", "checkpoints"]) rmSync(join(dir, f), { recursive: true, force: true });
    return "new";
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UserError(`${dir} holds neither a finished variant nor a resumable run: remove it to run that variant again`);
  return "new";
}

function isAbortedStart(dir: string): boolean {
  const entries = readdirSync(dir);
  const ckDir = join(dir, "checkpoints");
  return entries.length > 0 && entries.every((e) => ["config.json", "metrics.jsonl", "checkpoints"].includes(e)) && (!existsSync(ckDir) || readdirSync(ckDir).length === 0);
}

function readJson(path: string): Record<string, unknown> {
  const v = JSON.parse(readRegularFile(path, "ablation input").toString("utf8")) as unknown;
  if (!isPlainObject(v)) throw new UserError(`${path} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Runs the selected variants that are not finished yet, then writes ablation.json and ablation.html. */
export async function runAblation(o: AblationOptions): Promise<AblationSummary> {
  const log = o.log ?? ((s: string) => !o.quiet && process.stderr.write(s + "\n"));
  const selected = o.only ?? ABLATION_VARIANTS.map((v) => v.name);
  ensureDir(o.out);
  for (const v of ABLATION_VARIANTS.filter((x) => selected.includes(x.name))) {
    const dir = join(o.out, v.name);
    const status = statusOf(dir);
    if (status === "finished" || status === "failed") {
      log(`ablation: ${v.name} is ${status === "finished" ? "finished" : "recorded as failed"} in ${dir}; not run again`);
      continue;
    }
    const cfg = status === "resume" ? finishConfig(savedConfig(readJson(join(dir, "config.json")), structuredClone(o.base))) : variantConfig(o.base, v.name, o.timeBudgetS);
    log(`ablation: ${v.name} (${v.what})${status === "resume" ? ", resumed" : ""}: ${o.timeBudgetS} s of training`);
    try {
      const r = await trainRun(cfg, { runDir: dir, resume: status === "resume", quiet: o.quiet, log: o.quiet ? () => {} : undefined });
      r.learner.dispose();
      if (r.interrupted) throw new UserError(`ablation interrupted during ${v.name}; run the same command again to continue`);
    } catch (e) {
      // Only a training failure (a non-finite loss or weights) is a result; a bad input ends the table.
      if (!(e instanceof UserError) || !/^(loss became|training diverged)/.test(e.message)) throw e;
      // A variant that breaks (a non-finite loss, say) is a result of the table, not the end of it.
      writeFileAtomic(join(dir, "failure.json"), JSON.stringify({ error: e.message }, null, 2) + "\n");
      log(`ablation: ${v.name} failed: ${e.message}`);
    }
  }
  const summary = collect(o.out, o.base, o.timeBudgetS);
  writeFileAtomic(join(o.out, "ablation.json"), JSON.stringify(summary, null, 2) + "\n");
  writeAblationReport(join(o.out, "ablation.html"), { summary, curves: curvesOf(o.out, summary) });
  log(`ablation: ${summary.variants.length} variants in ${join(o.out, "ablation.json")}; page ${join(o.out, "ablation.html")}`);
  return summary;
}

/** The results of every finished variant in the folder, in table order. */
function collect(out: string, base: TrainConfig, timeBudgetS: number): AblationSummary {
  const variants: AblationVariantResult[] = [];
  let dataset = base.dataset;
  for (const v of ABLATION_VARIANTS) {
    const dir = join(out, v.name);
    const status = existsSync(dir) ? statusOf(dir) : "new";
    if (status !== "finished" && status !== "failed") continue;
    const cfg = existsSync(join(dir, "config.json")) ? readJson(join(dir, "config.json")) : null;
    const switches = { ...((cfg?.ablation as AblationSwitches | undefined) ?? applyOverrides(structuredClone(base), { ablation: { ...v.switches } }).ablation) } as Record<string, unknown>;
    const rows = readMetrics(join(dir, "metrics.jsonl"));
    const lastCollapse = [...rows].reverse().find((r) => typeof r.collapse === "number" && Number.isFinite(r.collapse))?.collapse ?? null;
    if (status === "failed") {
      variants.push({ name: v.name, what: v.what, switches, knn_top1: null, linear_top1: null, collapse: lastCollapse as number | null, epochs: null, wall_s: null, error: String(readJson(join(dir, "failure.json")).error) });
      continue;
    }
    const ev = readJson(join(dir, "eval.json"));
    dataset = String(ev.dataset ?? dataset);
    const ri = (ev.baselines as { random_init?: { knn_top1?: number; linear_top1?: number } } | undefined)?.random_init;
    variants.push({
      name: v.name, what: v.what, switches, knn_top1: num(ev.knn_top1), linear_top1: num(ev.linear_top1), collapse: lastCollapse as number | null,
      epochs: num(ev.epochs), wall_s: num(ev.wall_s), random_init: { knn_top1: num(ri?.knn_top1), linear_top1: num(ri?.linear_top1) },
    });
  }
  return { dataset, time_budget_s: timeBudgetS, preset: base.preset, seed: base.seed, variants };
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function curvesOf(out: string, s: AblationSummary): { name: string; steps: number[]; collapse: number[] }[] {
  return s.variants.map((v) => {
    const rows = readMetrics(join(out, v.name, "metrics.jsonl")).filter((r) => typeof r.collapse === "number");
    return { name: v.name, steps: rows.map((r) => r.step), collapse: rows.map((r) => r.collapse as number) };
  });
}

// Resumable training state in one safetensors file: every tensor (weights, BatchNorm buffers,
// optimizer state, RNG state) plus a JSON description (step, epoch, configuration) in its metadata.
// Written atomically (temporary file, fsync, rename): a crash mid-write leaves the previous
// checkpoint whole, and a broken state (NaN loss) is never written at all.
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { readSafetensorsHeader, setOwn } from "../torch/safetensors-format.js";
import { UserError } from "../util/errors.js";
import { ensureDir } from "../util/file-writes.js";
import { isPlainObject, parseJsonObject } from "../util/json-object.js";
import { applyOverrides, compatibilityKey, presetConfig, validateConfig, type TrainConfig } from "./config.js";

export const CHECKPOINT_FILE = "last.safetensors";
const META_KEY = "byol-ts";
const FORMAT_VERSION = 1;

export interface CheckpointMeta {
  format: number;
  step: number;
  epoch: number;
  /** Batches of `epoch` already done. */
  stepInEpoch: number;
  config: TrainConfig;
  /** Anything else small and JSON-shaped the trainer wants back (e.g. probe counters, timing). */
  extra: Record<string, unknown>;
}

export function checkpointPath(runDir: string): string {
  return join(runDir, "checkpoints", CHECKPOINT_FILE);
}

export function saveCheckpoint(runDir: string, meta: Omit<CheckpointMeta, "format">, tensors: Record<string, T.Tensor>): string {
  const dir = join(runDir, "checkpoints");
  ensureDir(dir);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.disposed) throw new Error(`checkpoint tensor ${name} was disposed`);
  }
  const path = join(dir, CHECKPOINT_FILE);
  T.saveSafetensors(path, tensors, { [META_KEY]: JSON.stringify({ format: FORMAT_VERSION, ...meta }) });
  return path;
}

/** What a resuming run knows, against which a checkpoint's step counters are checked. */
export interface CheckpointExpectations {
  /** The resuming run's configuration. */
  config: TrainConfig;
  /** Batches in one epoch of the resuming run. */
  stepsPerEpoch: number;
}

/**
 * Reads a checkpoint and validates everything in it before anything is used: the metadata's fields
 * (types, ranges, the configuration by the same rules as flags), the step counters against `expect`,
 * and the RNG state tensor (required when `expect` says a run resumes from it). Each problem is one line naming the file and the field.
 */
export function loadCheckpoint(path: string, expect?: CheckpointExpectations): { meta: CheckpointMeta; tensors: Record<string, T.Tensor> } {
  if (!existsSync(path)) throw new UserError(`no checkpoint at ${path}`);
  // The header alone first: nothing is allocated for a checkpoint that is refused.
  const header = readSafetensorsHeader(path);
  const meta = checkpointMeta(header.metadata[META_KEY], path, expect);
  // A resumed run continues the random generator from this state (byol eval needs no generator).
  const rng = header.tensors.find((t) => t.name === "rng.cpu");
  if (expect && !rng) throw new UserError(`${path}: checkpoint has no tensor "rng.cpu" (the random generator's state)`);
  if (rng && (rng.dtype !== "U8" || rng.shape.length !== 1)) {
    throw new UserError(`${path}: checkpoint tensor "rng.cpu" must be a 1-D U8 (uint8) tensor, got ${rng.dtype} [${rng.shape.join(", ")}]`);
  }
  const { tensors } = T.loadSafetensors(path);
  return { meta, tensors };
}

/** The step of the checkpoint at `path` (from its header alone), or null when there is none or it is unreadable. */
export function checkpointStep(path: string): number | null {
  if (!existsSync(path)) return null;
  try {
    const step = (JSON.parse(readSafetensorsHeader(path).metadata[META_KEY] ?? "null") as { step?: unknown } | null)?.step;
    return typeof step === "number" && Number.isSafeInteger(step) && step >= 0 ? step : null;
  } catch {
    return null;
  }
}

/** Runs `fn` (loading tensors into the model and optimizer) so that its errors name the checkpoint. */
export function fromCheckpoint<R>(path: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError && !e.message.startsWith(path)) throw new UserError(`${path}: ${e.message}`);
    throw e;
  }
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function checkpointMeta(raw: string | undefined, path: string, expect?: CheckpointExpectations): CheckpointMeta {
  const bad = (field: string, why: string): never => {
    throw new UserError(`${path}: checkpoint field ${field} ${why}`);
  };
  if (raw === undefined) throw new UserError(`${path} is not a byol-ts checkpoint (no "${META_KEY}" metadata)`);
  const m = parseJsonObject(raw, `${path}: checkpoint metadata`);
  if (m.format !== FORMAT_VERSION) throw new UserError(`${path}: checkpoint format ${JSON.stringify(m.format)} is not supported (expected ${FORMAT_VERSION})`);

  // The configuration by the same rules as flags: the preset's defaults under it, then every field checked.
  if (!isPlainObject(m.config)) bad("config", "is missing or not an object");
  const saved = m.config as Record<string, unknown>;
  let config: TrainConfig;
  try {
    config = validateConfig(applyOverrides(presetConfig(typeof saved.preset === "string" ? saved.preset : "cpu"), saved));
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return bad("config", `is invalid: ${e.message}`);
  }

  for (const f of ["step", "epoch", "stepInEpoch"] as const) if (!isCount(m[f])) bad(f, `must be a non-negative integer, got ${JSON.stringify(m[f])}`);
  const step = m.step as number;
  const epoch = m.epoch as number;
  const stepInEpoch = m.stepInEpoch as number;
  if (epoch > config.epochs) bad("epoch", `is ${epoch}, past the ${config.epochs} epochs of its configuration`);
  if (epoch === config.epochs && stepInEpoch !== 0) bad("stepInEpoch", `is ${stepInEpoch} in epoch ${epoch}, after the last epoch`);
  if (expect) {
    const spe = expect.stepsPerEpoch;
    if (stepInEpoch >= spe) bad("stepInEpoch", `is ${stepInEpoch}, not in [0, ${spe}) (the steps of one epoch of this run)`);
    // The global step follows from the epoch and the position in it when the epochs are as long as
    // when it was saved (same process count and image count).
    const sameEpochs = config.nproc === expect.config.nproc && config.datasetLimit === expect.config.datasetLimit;
    if (sameEpochs && step !== epoch * spe + stepInEpoch) {
      bad("step", `is ${step}, but epoch ${epoch} and stepInEpoch ${stepInEpoch} at ${spe} steps per epoch make ${epoch * spe + stepInEpoch}`);
    }
  }

  if (!isPlainObject(m.extra)) bad("extra", "is missing or not an object");
  const extra = m.extra as Record<string, unknown>;
  if (extra.wallS !== undefined && !(typeof extra.wallS === "number" && Number.isFinite(extra.wallS) && extra.wallS >= 0)) {
    bad("extra.wallS", `must be a non-negative number of seconds, got ${JSON.stringify(extra.wallS)}`);
  }
  for (const f of ["probeCorrect", "probeSeen"]) {
    if (extra[f] !== undefined && !isCount(extra[f])) bad(`extra.${f}`, `must be a non-negative integer, got ${JSON.stringify(extra[f])}`);
  }
  if (Number(extra.probeCorrect ?? 0) > Number(extra.probeSeen ?? 0)) bad("extra.probeCorrect", `(${extra.probeCorrect}) exceeds extra.probeSeen (${extra.probeSeen})`);
  return { format: FORMAT_VERSION, step, epoch, stepInEpoch, config, extra };
}

function firstDifference(a: unknown, b: unknown, path: string): string | null {
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${path}: checkpoint has ${JSON.stringify(a)}, this run has ${JSON.stringify(b)}`;
}

/** Refuses a checkpoint written with a different model, data or schedule. */
export function assertCompatible(saved: TrainConfig, current: TrainConfig, path: string): void {
  const d = firstDifference(compatibilityKey(saved), compatibilityKey(current), "");
  if (d) throw new UserError(`checkpoint ${path} comes from another configuration (${d})`);
}

/** Takes the tensors under `prefix.` (prefix stripped). */
export function withPrefix(tensors: Record<string, T.Tensor>, prefix: string): Record<string, T.Tensor> {
  const out: Record<string, T.Tensor> = {};
  for (const [k, v] of Object.entries(tensors)) if (k.startsWith(prefix + ".")) setOwn(out, k.slice(prefix.length + 1), v);
  return out;
}

export function addPrefix(tensors: Record<string, T.Tensor>, prefix: string, into: Record<string, T.Tensor>): void {
  for (const [k, v] of Object.entries(tensors)) setOwn(into, `${prefix}.${k}`, v);
}

// Resumable training state in one safetensors file: every tensor (weights, BatchNorm buffers,
// optimizer state, RNG state) plus a JSON description (step, epoch, configuration) in its metadata.
// Written atomically (temporary file, fsync, rename): a crash mid-write leaves the previous
// checkpoint whole, and a broken state (NaN loss) is never written at all.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { compatibilityKey, type TrainConfig } from "./config.js";

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
  mkdirSync(dir, { recursive: true });
  for (const [name, t] of Object.entries(tensors)) {
    if (t.disposed) throw new Error(`checkpoint tensor ${name} was disposed`);
  }
  const path = join(dir, CHECKPOINT_FILE);
  T.saveSafetensors(path, tensors, { [META_KEY]: JSON.stringify({ format: FORMAT_VERSION, ...meta }) });
  return path;
}

export function loadCheckpoint(path: string): { meta: CheckpointMeta; tensors: Record<string, T.Tensor> } {
  if (!existsSync(path)) throw new UserError(`no checkpoint at ${path}`);
  const { tensors, metadata } = T.loadSafetensors(path);
  const raw = metadata[META_KEY];
  if (!raw) throw new UserError(`${path} is not a byol-ts checkpoint (no "${META_KEY}" metadata)`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw) as CheckpointMeta;
  } catch {
    throw new UserError(`${path}: checkpoint metadata is not valid JSON`);
  }
  if (meta.format !== FORMAT_VERSION) throw new UserError(`${path}: checkpoint format ${meta.format} is not supported (expected ${FORMAT_VERSION})`);
  return { meta, tensors };
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
  for (const [k, v] of Object.entries(tensors)) if (k.startsWith(prefix + ".")) out[k.slice(prefix.length + 1)] = v;
  return out;
}

export function addPrefix(tensors: Record<string, T.Tensor>, prefix: string, into: Record<string, T.Tensor>): void {
  for (const [k, v] of Object.entries(tensors)) into[`${prefix}.${k}`] = v;
}

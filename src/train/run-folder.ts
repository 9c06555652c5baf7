// Which folders `byol train --out` may write into. A run writes config.json, metrics.jsonl,
// checkpoints/, encoder.safetensors, eval.json and report.html, replacing or appending to whatever is
// there, so it only writes into a folder that is new, empty, or (with --resume) a byol-ts run folder.
//
// A byol-ts run folder is a directory (not a symbolic link) that holds either a config.json which
// parses as a byol-ts configuration (a JSON object that has the core fields every run writes --
// preset, dataset, epochs, batchSize, encoder -- and no field that is not a configuration field, on a
// known preset), or a checkpoints/last.safetensors that carries byol-ts checkpoint metadata.
import { lstatSync, readdirSync, type Stats } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { readRegularFile } from "../util/file-reads.js";
import { applyOverrides, presetConfig } from "./config.js";
import { checkpointPath, checkpointStep } from "./checkpoint.js";

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

// Fields config.json has held since the first version; a JSON file without them is someone else's.
const CORE_FIELDS = ["preset", "dataset", "epochs", "batchSize", "encoder"];

/** Whether `dir/config.json` is a regular file holding a byol-ts configuration. */
function hasRunConfig(dir: string): boolean {
  const p = join(dir, "config.json");
  if (!lstatOrNull(p)?.isFile()) return false;
  try {
    const cfg = JSON.parse(readRegularFile(p, "run configuration", 1 << 20).toString("utf8")) as unknown;
    if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg)) return false;
    if (!CORE_FIELDS.every((k) => Object.prototype.hasOwnProperty.call(cfg, k))) return false;
    const preset = (cfg as { preset?: unknown }).preset;
    applyOverrides(presetConfig(typeof preset === "string" ? preset : "cpu"), cfg);
    return true;
  } catch {
    return false;
  }
}

/** Whether `dir` is a byol-ts run folder (see the definition at the top of this file). */
export function isRunFolder(dir: string): boolean {
  if (!lstatOrNull(dir)?.isDirectory()) return false;
  if (hasRunConfig(dir)) return true;
  const ck = checkpointPath(dir);
  return Boolean(lstatOrNull(ck)?.isFile()) && checkpointStep(ck) !== null;
}

/**
 * Refuses an output folder a run must not write into, with one line saying why: for a new run, an
 * existing file, a symbolic link, a run folder (resume it instead) or any non-empty folder; for a
 * resumed run, anything but a run folder.
 */
export function checkRunFolder(dir: string, resume: boolean): void {
  const flag = resume ? "--resume" : "--out";
  const st = lstatOrNull(dir);
  if (st?.isSymbolicLink()) throw new UserError(`${flag} ${dir} is a symbolic link; give the folder's own path`);
  if (st && !st.isDirectory()) throw new UserError(`${flag} ${dir} exists and is not a folder`);
  if (resume) {
    if (!st) throw new UserError(`--resume ${dir} does not exist`);
    if (!isRunFolder(dir)) throw new UserError(`--resume ${dir} is not a byol-ts run folder (no byol-ts config.json or checkpoint in it)`);
    return;
  }
  if (!st) return;
  if (isRunFolder(dir)) throw new UserError(`${dir} already holds a run; continue it with --resume ${dir} or choose another --out`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    throw new UserError(`--out ${dir}: cannot list the folder (${(e as Error).message.split("\n")[0]})`);
  }
  if (entries.length > 0) throw new UserError(`--out ${dir} is a folder that is neither empty nor a byol-ts run folder; choose a new or empty folder`);
}

/** Refuses an output file path (embed, preview) that is a symbolic link, a folder or a special file. */
export function checkOutputFile(path: string, flag = "--out"): void {
  const st = lstatOrNull(path);
  if (!st || st.isFile()) return;
  if (st.isSymbolicLink()) throw new UserError(`${flag} ${path} is a symbolic link; refusing to write through it`);
  if (st.isDirectory()) throw new UserError(`${flag} ${path} is a folder, not a file`);
  throw new UserError(`${flag} ${path} exists and is not a regular file`);
}

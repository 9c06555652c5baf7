// File helpers shared by the dataset readers, so every reader reports a missing, unreadable or
// corrupt file the same way: one UserError line that names the file.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { UserError } from "../util/errors.js";

/** Reads a whole file; a missing or unreadable file is the user's problem, not a crash. */
export function readFileOrThrow(path: string, what = "file"): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read ${what} (${fsReason(e)})`);
  }
}

/** Reads a file, gunzipping it if it starts with the gzip magic bytes 1f 8b (whatever its name). */
export function readMaybeGzip(path: string, what = "file"): Buffer {
  const raw = readFileOrThrow(path, what);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new UserError(`${path}: corrupt gzip data (${oneLine(e)})`);
    }
  }
  return raw;
}

/** The first of `names` that exists in `dir`, or a UserError listing what was looked for. */
export function findFile(dir: string, names: string[], what: string): string {
  for (const name of names) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new UserError(`${dir}: ${what} not found (looked for ${names.join(", ")})`);
}

/** Checks that `dir` is a directory, so a typo reports the directory instead of a missing file. */
export function requireDir(dir: string, what: string): void {
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new UserError(`${dir}: ${what} directory not found`);
}

/**
 * Class names from a text file with one name per line (CIFAR's batches.meta.txt, STL-10's
 * class_names.txt); blank lines (CIFAR's file ends with several) are dropped.
 */
export function readClassNames(path: string): string[] {
  const text = readFileOrThrow(path, "class names").toString("utf8");
  return text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
}

/** A one-line description of an error, for messages that must stay on one line. */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0).join("; ");
}

function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory";
  if (code === "EACCES") return "permission denied";
  return oneLine(e);
}

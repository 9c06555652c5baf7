// Every file byol writes (run folders: config, metrics, checkpoints, encoder, eval.json, report;
// embeddings; previews) goes through this module, so that all writes share three guarantees:
// - a write never follows a symbolic link: a target that is a link, a directory or a special file is
//   refused, temporary files are created exclusively under unpredictable names and never followed;
// - a replaced file is replaced atomically (temporary sibling, fsync, rename) and a failed write
//   leaves no temporary file behind;
// - a failure is an IoError: one line naming the file and the cause (no space, permission, ...).
// Tests inject faults (a full disk at the Nth write) through `setWriteFaultHook`.
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync, type Stats } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { IoError, ioError } from "./io-error.js";

/** The file-system steps of a write, as a fault hook sees them. */
export type WriteStep = "mkdir" | "open" | "write" | "fsync" | "rename" | "append";

/** Called before each step of every write; a hook that throws makes that step fail with its error. */
export type WriteFaultHook = (step: WriteStep, path: string) => void;

let faultHook: WriteFaultHook | null = null;

/** For tests: simulate failing writes (e.g. ENOSPC at the third write). null removes the hook. */
export function setWriteFaultHook(hook: WriteFaultHook | null): void {
  faultHook = hook;
}

function step(s: WriteStep, path: string): void {
  faultHook?.(s, path);
}

const FILE_MODE = 0o644;

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw ioError(e, "write", path);
  }
}

/** Refuses to write at `path` when something other than a regular file is there. */
export function assertWritableTarget(path: string): void {
  const st = lstatOrNull(path);
  if (st === null || st.isFile()) return;
  if (st.isSymbolicLink()) throw new IoError("write", path, "it is a symbolic link (refusing to write through it)", "ELOOP");
  if (st.isDirectory()) throw new IoError("write", path, "it is a directory", "EISDIR");
  throw new IoError("write", path, "it is not a regular file", "ENXIO");
}

/** Creates a directory (and its parents) unless it exists; refuses a link or a non-directory there. */
export function ensureDir(path: string): void {
  const st = lstatOrNull(path);
  if (st?.isDirectory()) return;
  if (st?.isSymbolicLink()) throw new IoError("create directory", path, "it is a symbolic link (refusing to write through it)", "ELOOP");
  if (st) throw new IoError("create directory", path, "it exists and is not a directory", "ENOTDIR");
  try {
    step("mkdir", path);
    mkdirSync(path, { recursive: true });
  } catch (e) {
    throw ioError(e, "create directory", path);
  }
}

function writeAll(fd: number, parts: Uint8Array[], path: string): void {
  for (const p of parts) {
    let off = 0;
    while (off < p.length) {
      step("write", path);
      off += writeSync(fd, p, off, p.length - off);
    }
  }
}

function toParts(data: Uint8Array | string | Uint8Array[]): Uint8Array[] {
  return Array.isArray(data) ? data : [typeof data === "string" ? Buffer.from(data) : data];
}

/**
 * Writes a file so that readers see either the old complete file or the new complete one, never a
 * torn one: write a temporary sibling (created exclusively, name from a random source), fsync it,
 * rename it over the target, fsync the directory.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string | Uint8Array[]): void {
  assertWritableTarget(path);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString("hex")}.tmp`);
  let fd = -1;
  let created = false;
  try {
    step("open", path);
    // O_EXCL: never reuse (or follow) something already at the temporary name.
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, FILE_MODE);
    created = true;
    writeAll(fd, toParts(data), path);
    step("fsync", path);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    step("rename", path);
    renameSync(tmp, path);
    created = false;
  } catch (e) {
    if (fd >= 0) try { closeSync(fd); } catch { /* already failing */ }
    if (created) try { unlinkSync(tmp); } catch { /* gone already */ }
    throw ioError(e, "write", path);
  }
  try {
    const dfd = openSync(dirname(path), "r");
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* directory fsync is best effort on some filesystems */ }
}

/** Appends to a regular file (created if missing), never through a symbolic link. */
export function appendToFile(path: string, data: string | Uint8Array): void {
  assertWritableTarget(path);
  let fd = -1;
  try {
    step("append", path);
    // O_NOFOLLOW closes the gap between the check above and the open; O_NONBLOCK keeps a FIFO that
    // appeared in between from blocking (it is then refused as not a regular file).
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, FILE_MODE);
    if (!fstatSync(fd).isFile()) throw new IoError("write", path, "it is not a regular file", "ENXIO");
    writeAll(fd, toParts(data), path);
  } catch (e) {
    throw ioError(e, "write", path);
  } finally {
    if (fd >= 0) try { closeSync(fd); } catch { /* nothing to keep */ }
  }
}

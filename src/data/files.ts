// File helpers shared by the dataset readers, so every reader reports a missing, unreadable or
// corrupt file the same way: one UserError line that names the file.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { constants as zlibConstants, gunzipSync } from "node:zlib";
import { UserError } from "../util/errors.js";
import { readRegularFile } from "../util/file-reads.js";

/**
 * Reads a whole file; a missing or unreadable file, or one that is not a regular file (a device or a
 * FIFO would be read without end), is the user's problem, not a crash.
 */
export function readFileOrThrow(path: string, what = "file"): Buffer {
  return readRegularFile(path, what);
}

/**
 * The decompressed size a file must have, worked out from its first bytes (its header), or null when
 * `head` is too short to tell. Throws a UserError when the header itself is bad.
 */
export type SizeFromHeader = (head: Buffer) => number | null;

/**
 * Reads a file, gunzipping it if it starts with the gzip magic bytes 1f 8b (whatever its name). With
 * `sizeFromHeader`, a gzip file is never decompressed past the size its header implies: the header is
 * read from a decompressed prefix first, the gzip trailer's length must agree with it, and
 * decompression stops at that size, so a small file that expands to gigabytes costs no memory.
 */
export function readMaybeGzip(path: string, what = "file", sizeFromHeader?: SizeFromHeader): Buffer {
  const raw = readFileOrThrow(path, what);
  if (!(raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b)) return raw;
  let cap: number | undefined;
  if (sizeFromHeader) {
    const expected = expectedGunzipSize(raw, path, sizeFromHeader);
    if (expected !== null) {
      // The trailer's ISIZE is the decompressed length mod 2^32 (single-member files, as gzip writes).
      const isize = raw.length >= 18 ? raw.readUInt32LE(raw.length - 4) : -1;
      if (isize !== expected % 2 ** 32) {
        const problem = isize >= 0 && isize < expected % 2 ** 32 ? "truncated" : "too long";
        throw new UserError(`${path}: ${problem}: the header implies ${expected} bytes, the gzip stream holds ${isize} (mod 2^32)`);
      }
      cap = expected;
    }
  }
  try {
    return gunzipSync(raw, cap === undefined ? {} : { maxOutputLength: Math.max(1, cap) });
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new UserError(`${path}: too long: decompresses to more than the ${cap} bytes its header implies`);
    }
    throw new UserError(`${path}: corrupt gzip data (${oneLine(e)})`);
  }
}

// Decompresses growing prefixes of a gzip file until the header can be read. Deflate expands at most
// about 1032:1, so a prefix of at most 64 KiB never decompresses to more than about 66 MB whatever
// the file holds; a header that does not appear by then is refused. null when the whole file is
// shorter than that and still too short to hold a header.
const MAX_HEADER_PREFIX = 64 * 1024;

function expectedGunzipSize(raw: Buffer, path: string, sizeFromHeader: SizeFromHeader): number | null {
  for (let n = 256; ; n *= 4) {
    let head: Buffer;
    try {
      head = gunzipSync(raw.subarray(0, Math.min(n, raw.length)), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (e) {
      throw new UserError(`${path}: corrupt gzip data (${oneLine(e)})`);
    }
    const size = sizeFromHeader(head);
    if (size !== null) return size;
    if (n >= raw.length) return null;
    if (n >= MAX_HEADER_PREFIX) throw new UserError(`${path}: no header in the first ${MAX_HEADER_PREFIX} bytes of the gzip stream`);
  }
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


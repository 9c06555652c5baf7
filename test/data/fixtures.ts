// Shared helpers for the data tests: temp dirs and writers for tiny dataset files.
// (No tests here; node --test runs this file and finds none.)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { ImageSet } from "../../src/data/dataset.js";
import { UserError } from "../../src/util/errors.js";

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `byol-${prefix}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** An IDX file: 0x0000, type 0x08, ndims, big-endian dims, then the bytes. */
export function idxBytes(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

export function writeIdx(file: string, magic: number, dims: number[], data: Uint8Array, gzip = false): void {
  const bytes = idxBytes(magic, dims, data);
  fs.writeFileSync(file, gzip ? gzipSync(bytes) : bytes);
}

/** Pixel value of image i at byte k, so tests can check where every byte landed. */
export function pattern(i: number, k: number): number {
  return (i * 31 + k * 7) & 0xff;
}

export function patternImages(n: number, size: number): Uint8Array {
  const out = new Uint8Array(n * size);
  for (let i = 0; i < n; i++) for (let k = 0; k < size; k++) out[i * size + k] = pattern(i, k);
  return out;
}

/** Asserts fn throws a UserError whose message contains every fragment. */
export function isUserError(...fragments: (string | RegExp)[]): (e: unknown) => boolean {
  return (e: unknown) => {
    if (!(e instanceof UserError)) throw new Error(`expected a UserError, got ${String(e)}`);
    for (const f of fragments) {
      const ok = typeof f === "string" ? e.message.includes(f) : f.test(e.message);
      if (!ok) throw new Error(`UserError message ${JSON.stringify(e.message)} lacks ${String(f)}`);
    }
    if (e.message.includes("\n")) throw new Error(`UserError message is not one line: ${JSON.stringify(e.message)}`);
    return true;
  };
}

/** Whether Debian's python3 exists and can import the given modules (for optional cross-checks). */
export function pythonHas(...modules: string[]): boolean {
  if (!fs.existsSync("/usr/bin/python3")) return false;
  const code = modules.map((m) => `import ${m}`).join("; ") || "pass";
  return spawnSync("/usr/bin/python3", ["-c", code], { stdio: "ignore" }).status === 0;
}

/** Runs a Python script with Debian's python3 and returns its stdout parsed as JSON. */
export function runPythonJson(script: string, args: string[] = []): unknown {
  const r = spawnSync("/usr/bin/python3", ["-c", script, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Writes every image of a set as a lossless PNG (so a folder reader decodes the same bytes back):
 * `<class>/<i>.png` for a labelled set (class names from set.classes, else "c<label>"), `<i>.png`
 * for an unlabelled one, i zero-padded so the listing keeps the set's order within a class.
 */
export async function writePngFolder(dir: string, set: ImageSet): Promise<void> {
  const { default: sharp } = await import("sharp"); // loaded only by the tests that write images
  const { channels: c, height: h, width: w } = set;
  const plane = h * w;
  const width = String(set.n).length;
  for (let i = 0; i < set.n; i++) {
    const hwc = Buffer.alloc(c * plane);
    for (let ch = 0; ch < c; ch++) for (let p = 0; p < plane; p++) hwc[p * c + ch] = set.images[(i * c + ch) * plane + p];
    const label = set.labels?.[i];
    const sub = label === undefined ? dir : path.join(dir, set.classes?.[label] ?? `c${label}`);
    fs.mkdirSync(sub, { recursive: true });
    await sharp(hwc, { raw: { width: w, height: h, channels: c as 1 | 3 } }).png().toFile(path.join(sub, `${String(i).padStart(width, "0")}.png`));
  }
}

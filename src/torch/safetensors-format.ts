// The safetensors file format (https://github.com/huggingface/safetensors) as pure bytes, with no
// tensor engine involved: an 8-byte little-endian u64 header length N, N bytes of JSON
// {"__metadata__": {string: string}?, name: {"dtype", "shape", "data_offsets": [begin, end)}},
// padded with spaces, then the data section, offsets relative to its start. Tensor data is
// little-endian, C order. Reading validates everything, since a checkpoint may be corrupt or
// hand-made; each problem is a one-line UserError naming the file and the tensor.
import { closeSync } from "node:fs";
import { openRegularFile, readExactly } from "../util/file-reads.js";
import { writeFileAtomic } from "../util/file-writes.js";
import { UserError } from "../util/errors.js";

export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes, prod(shape) * dtypeSize(dtype) of them. */
  data: Uint8Array;
}

export interface SafetensorsContents {
  /** In data-section order. Each `data` is a view into the decoded buffer (not copied, not aligned). */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

const DTYPE_SIZES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

const METADATA_KEY = "__metadata__";
// The header is JSON; the reference implementation refuses headers over 100 MB, and so do we, so a
// corrupt length cannot make us decode gigabytes of tensor data as text.
const MAX_HEADER = 100_000_000;

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPE_SIZES[dtype];
}

export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === "string" && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, s);
}

/**
 * Encodes tensors, laid out contiguously in the order given, as a list of chunks to write one
 * after another: the header first, then each tensor's data (not copied). Bad entries are bugs in
 * the caller and throw plain Errors.
 */
export function encodeSafetensors(entries: SafetensorsEntry[], metadata?: Record<string, string>): Uint8Array[] {
  const seen = new Set<string>();
  // The JSON is assembled by hand, not with JSON.stringify of an object, because objects put
  // integer-like keys (a tensor named "0") first; we want the header in the order given.
  const fields: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    const meta: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new Error(`encodeSafetensors: metadata value for "${k}" is not a string`);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    fields.push(`${JSON.stringify(METADATA_KEY)}:{${meta.join(",")}}`);
  }
  let offset = 0;
  for (const e of entries) {
    if (e.name === METADATA_KEY) throw new Error(`encodeSafetensors: "${METADATA_KEY}" cannot be a tensor name`);
    if (seen.has(e.name)) throw new Error(`encodeSafetensors: duplicate tensor name "${e.name}"`);
    seen.add(e.name);
    if (!isSafetensorsDtype(e.dtype)) throw new Error(`encodeSafetensors: tensor "${e.name}" has unknown dtype ${String(e.dtype)}`);
    for (const d of e.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new Error(`encodeSafetensors: tensor "${e.name}" has bad dimension ${d}`);
    }
    const bytes = numel(e.shape) * DTYPE_SIZES[e.dtype];
    if (e.data.length !== bytes) {
      throw new Error(`encodeSafetensors: tensor "${e.name}" ${e.dtype} [${e.shape.join(", ")}] needs ${bytes} bytes, got ${e.data.length}`);
    }
    const value = `{"dtype":${JSON.stringify(e.dtype)},"shape":[${e.shape.join(",")}],"data_offsets":[${offset},${offset + bytes}]}`;
    fields.push(`${JSON.stringify(e.name)}:${value}`);
    offset += bytes;
  }
  const json = Buffer.from(`{${fields.join(",")}}`, "utf8");
  // Spaces up to a multiple of 8 so the data section starts 8-byte aligned, as the reference
  // writer does; trailing whitespace is valid JSON.
  const padded = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + padded);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  header.fill(0x20, 8 + json.length);
  return [header, ...entries.map((e) => e.data)];
}

/** The header of a safetensors file: metadata and each tensor's dtype, shape and place in the data. */
export interface SafetensorsHeader {
  /** In data-section order. */
  tensors: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[];
  metadata: Record<string, string>;
  /** Bytes before the data section (8 + the JSON header's length). */
  dataStart: number;
}

function failer(source: string) {
  return (what: string): never => {
    throw new UserError(`${source}: ${what}`);
  };
}

// The header length from the first 8 bytes, checked against the file size and the limit.
function headerLength(first8: Uint8Array, fileSize: number, fail: (w: string) => never): number {
  if (fileSize < 8) fail(`too short for a safetensors file (${fileSize} bytes)`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) fail(`header length ${n} exceeds the file size (${fileSize} bytes); truncated or not a safetensors file`);
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} is over the ${MAX_HEADER}-byte limit`);
  return Number(n);
}

/**
 * Parses and validates the JSON header (`headerBytes`) of a file whose data section has `dataLen`
 * bytes: every tensor's dtype, shape and offsets, the tensors tiling the data section exactly, and no
 * name given twice (JSON.parse would silently keep the last of two equal keys).
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLen: number, source = "safetensors data"): SafetensorsHeader {
  const fail = failer(source);
  let parsed: unknown;
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
    parsed = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(parsed)) fail("header is not a JSON object");
  const dup = firstDuplicateKey(text);
  if (dup !== null) fail(`header names ${JSON.stringify(dup)} twice`);
  const header = parsed as Record<string, unknown>;

  const metadata: Record<string, string> = {};
  if (Object.prototype.hasOwnProperty.call(header, METADATA_KEY)) {
    const meta = header[METADATA_KEY];
    if (!isPlainObject(meta)) fail(`"${METADATA_KEY}" is not an object of strings`);
    for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
      if (typeof v !== "string") fail(`"${METADATA_KEY}" value for "${k}" is not a string`);
      setOwn(metadata, k, v as string);
    }
  }

  const spans: SafetensorsHeader["tensors"] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    const t = `tensor "${name}"`;
    if (!isPlainObject(raw)) fail(`${t}: entry is not an object`);
    const info = raw as Record<string, unknown>;
    const dtype = info.dtype;
    if (!isSafetensorsDtype(dtype)) {
      fail(`${t}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZES).join(", ")})`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${t}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
    ) {
      fail(`${t}: data_offsets ${JSON.stringify(offsets)} is not a [begin, end] pair with begin <= end`);
    }
    const [begin, end] = offsets as number[];
    if (end > dataLen) fail(`${t}: data_offsets [${begin}, ${end}] run past the data section (${dataLen} bytes)`);
    const dims = shape as number[];
    const need = numel(dims) * DTYPE_SIZES[dtype as SafetensorsDtype];
    if (end - begin !== need) {
      fail(`${t}: ${dtype} [${dims.join(", ")}] needs ${need} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    spans.push({ name, dtype: dtype as SafetensorsDtype, shape: dims, begin, end });
  }

  // The tensors must tile the data section exactly: no overlaps (two tensors sharing bytes), no
  // gaps or trailing bytes (unaccounted data means a corrupt or foreign file).
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev = "";
  for (const s of spans) {
    if (s.begin < at) fail(`tensor "${s.name}": data_offsets [${s.begin}, ${s.end}] overlap tensor "${prev}"`);
    if (s.begin > at) fail(`tensor "${s.name}": gap in the data section before offset ${s.begin} (previous data ends at ${at})`);
    at = s.end;
    prev = s.name;
  }
  if (at !== dataLen) fail(`data section has ${dataLen} bytes but the tensors cover ${at}; ${dataLen - at} bytes unaccounted for`);
  return { tensors: spans, metadata, dataStart: 8 + headerBytes.length };
}

/** Decodes and validates a whole safetensors file held in memory; `source` names it in errors. */
export function decodeSafetensors(buf: Uint8Array, source = "safetensors data"): SafetensorsContents {
  const fail = failer(source);
  if (buf.length < 8) fail(`too short for a safetensors file (${buf.length} bytes)`);
  const headerLen = headerLength(buf.subarray(0, 8), buf.length, fail);
  const h = parseSafetensorsHeader(buf.subarray(8, 8 + headerLen), buf.length - 8 - headerLen, source);
  const entries = h.tensors.map((s) => ({
    name: s.name,
    dtype: s.dtype,
    shape: s.shape,
    data: buf.subarray(h.dataStart + s.begin, h.dataStart + s.end),
  }));
  return { entries, metadata: h.metadata };
}

/**
 * Reads and validates only the header of a safetensors file (metadata, names, shapes), so a caller
 * can check a file against what it expects before reading or building anything large.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const f = openRegularFile(path, "safetensors file");
  try {
    const fail = failer(path);
    if (f.size < 8) fail(`too short for a safetensors file (${f.size} bytes)`);
    const n = headerLength(readExactly(f, 0, 8, path, "safetensors file"), f.size, fail);
    return parseSafetensorsHeader(readExactly(f, 8, n, path, "safetensors file"), f.size - 8 - n, path);
  } finally {
    closeSync(f.fd);
  }
}

/** Reads and validates a safetensors file (a regular file only: a device or FIFO is refused). */
export function readSafetensorsFile(path: string): SafetensorsContents {
  const f = openRegularFile(path, "safetensors file");
  let buf: Buffer;
  try {
    // The header first: a corrupt length is refused before the rest of the file is read.
    if (f.size >= 8) headerLength(readExactly(f, 0, 8, path, "safetensors file"), f.size, failer(path));
    buf = readExactly(f, 0, f.size, path, "safetensors file");
  } finally {
    closeSync(f.fd);
  }
  return decodeSafetensors(buf, path);
}

/**
 * The first key that appears twice in one object of a JSON text (which JSON.parse has accepted), or
 * null. A small scanner: it only tracks strings, nesting and which strings are keys.
 */
export function firstDuplicateKey(text: string): string | null {
  const stack: ({ keys: Set<string> } | null)[] = []; // null for arrays
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
      }
      expectKey = false;
      i = j;
    } else if (c === "{") {
      stack.push({ keys: new Set() });
      expectKey = true;
    } else if (c === "[") {
      stack.push(null);
      expectKey = false;
    } else if (c === "}" || c === "]") {
      stack.pop();
      expectKey = false;
    } else if (c === ",") {
      expectKey = stack[stack.length - 1] !== null && stack.length > 0;
    }
  }
  return null;
}

/** Writes a safetensors file atomically: readers see the old file or the complete new one. */
export function writeSafetensorsFile(path: string, entries: SafetensorsEntry[], metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(entries, metadata));
}

/**
 * obj[key] = value as an own property, whatever the key: plain assignment of "__proto__" would
 * replace the object's prototype instead (and hide the value).
 */
export function setOwn<V>(obj: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

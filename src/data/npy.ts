// NumPy .npy files (format spec: numpy.lib.format, version 1.0), so embeddings, labels and images can
// be handed to Python users as-is: magic "\x93NUMPY", version 1.0, a little-endian u16 header
// length, then a Python dict literal padded with spaces and ended by "\n" so that the data starts
// at a multiple of 64 bytes, then the raw C-order values.
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/file-writes.js";
import { readFileOrThrow } from "./files.js";

export type NpyArray = Float32Array | Int32Array | Uint8Array;
export type NpyDtype = "<f4" | "<i4" | "|u1";

export interface NpyData {
  dtype: NpyDtype;
  shape: number[];
  data: NpyArray;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;

// Typed arrays use the host byte order; the files are little-endian. Every platform Node ships
// for (x64, arm64) is little-endian, so check once rather than byte-swap everywhere.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The .npy dtype string for a typed array. */
export function npyDtypeOf(data: NpyArray): NpyDtype {
  if (data instanceof Float32Array) return "<f4";
  if (data instanceof Int32Array) return "<i4";
  return "|u1";
}

/** Encodes an array of the given shape (C order) as the bytes of a .npy v1.0 file. */
export function encodeNpy(data: NpyArray, shape: number[]): Uint8Array {
  requireLittleEndian();
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`encodeNpy: bad dimension ${d} in shape [${shape}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`encodeNpy: shape [${shape}] holds ${count} values but the array has ${data.length}`);
  }
  // Python's repr of a tuple: () for a scalar, (n,) for one dimension, (a, b) otherwise.
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${npyDtypeOf(data)}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const preamble = MAGIC.length + 2 + 2;
  const unpadded = preamble + dict.length + 1; // +1 for the closing newline
  const headerLen = dict.length + 1 + ((ALIGN - (unpadded % ALIGN)) % ALIGN);
  if (headerLen > 0xffff) throw new RangeError(`encodeNpy: header too long for format 1.0 (shape [${shape}])`);
  const header = dict.padEnd(headerLen - 1, " ") + "\n";
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(preamble + headerLen + body.length);
  out.set(MAGIC, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  out[8] = headerLen & 0xff;
  out[9] = headerLen >>> 8;
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  out.set(body, preamble + headerLen);
  return out;
}

/** Writes a .npy file atomically. */
export function writeNpy(path: string, data: NpyArray, shape: number[]): void {
  writeFileAtomic(path, encodeNpy(data, shape));
}

/**
 * Decodes .npy bytes (versions 1.0, 2.0 and 3.0) holding little-endian float32, int32 or uint8 in
 * C order; anything else is a UserError naming `source`.
 */
export function decodeNpy(buf: Uint8Array, source = "npy data"): NpyData {
  requireLittleEndian();
  function fail(what: string): never {
    throw new UserError(`${source}: ${what}`);
  }
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) fail("not a .npy file (bad magic string)");
  const major = buf[6];
  if (major < 1 || major > 3) fail(`unsupported .npy format version ${major}.${buf[7]}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenBytes) fail("truncated header");
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  if (start + headerLen > buf.length) fail(`truncated header (needs ${headerLen} bytes)`);
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(buf.subarray(start, start + headerLen));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`unreadable header ${JSON.stringify(header.trim())}`);
  if (fortran === "True") fail("Fortran-order arrays are not supported (save with C order)");
  const shape = parseShape(shapeText!);
  if (shape === null) fail(`bad shape (${shapeText}): expected a tuple of non-negative decimal integers`);
  // Bounded by what a file can hold: the data section is at most the rest of the buffer.
  let count = 1;
  for (const d of shape!) {
    count *= d;
    if (count > buf.length) fail(`shape (${shapeText}) holds more values than the file's ${buf.length} bytes can`);
  }

  const dtype = normalizeDescr(descr!);
  if (dtype === null) fail(`unsupported dtype '${descr}' (supported: <f4, <i4, |u1)`);
  const itemSize = dtype === "|u1" ? 1 : 4;
  const dataStart = start + headerLen;
  const expected = count * itemSize;
  if (buf.length - dataStart !== expected) {
    fail(`${buf.length - dataStart < expected ? "truncated" : "too long"}: shape (${shape.join(", ")}) needs ${expected} data bytes, file has ${buf.length - dataStart}`);
  }
  // Copy into a fresh buffer: the source may sit at an offset that is not 4-byte aligned (and
  // Buffer#slice would not copy, so copy through the Uint8Array constructor).
  const bytes = new Uint8Array(buf.subarray(dataStart, dataStart + expected));
  const data: NpyArray =
    dtype === "<f4" ? new Float32Array(bytes.buffer) : dtype === "<i4" ? new Int32Array(bytes.buffer) : bytes;
  return { dtype: dtype!, shape: shape!, data };
}

// A Python tuple of dimensions as numpy writes it: "", "3,", "3, 4" (a trailing comma allowed), each a
// plain decimal integer; "1e0", "0x10", "-1", "1.0" and empty items are not dimensions.
function parseShape(text: string): number[] | null {
  if (text.trim() === "") return [];
  const items = text.split(",").map((s) => s.trim());
  if (items.length > 1 && items[items.length - 1] === "") items.pop();
  const dims: number[] = [];
  for (const it of items) {
    if (!/^\d{1,16}$/.test(it)) return null;
    const d = Number(it);
    if (!Number.isSafeInteger(d)) return null;
    dims.push(d);
  }
  return dims;
}

/** Reads a .npy file. */
export function readNpy(path: string): NpyData {
  return decodeNpy(readFileOrThrow(path, ".npy file"), path);
}

function normalizeDescr(descr: string): NpyDtype | null {
  if (descr === "<f4") return "<f4";
  if (descr === "<i4") return "<i4";
  if (descr === "|u1" || descr === "<u1" || descr === "u1") return "|u1";
  return null;
}

function requireLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new Error("npy: big-endian hosts are not supported");
}

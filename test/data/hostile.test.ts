// Hostile or broken input files: special files are refused instead of read without end, a gzip
// bomb costs no memory, .npy shapes follow a strict grammar, and safetensors names cannot reach an
// object's prototype or appear twice.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import { readIdxImages } from "../../src/data/idx.js";
import { decodeNpy, readNpy } from "../../src/data/npy.js";
import { readCifarBatch } from "../../src/data/cifar.js";
import { stl10Reader } from "../../src/data/stl10.js";
import { encodeSafetensors, decodeSafetensors, firstDuplicateKey, readSafetensorsHeader } from "../../src/torch/safetensors-format.js";
import * as T from "../../src/torch/index.js";
import { idxBytes, isUserError, removeDir, tmpDir } from "./fixtures.js";

const dir = tmpDir("hostile");
after(() => removeDir(dir));
const CHILD = fileURLToPath(new URL("./peak-rss-child.js", import.meta.url));

test("devices and FIFOs are refused by every reader, in one line, without reading", { timeout: 30_000 }, () => {
  const fifo = path.join(dir, "fifo");
  execFileSync("mkfifo", [fifo]);
  for (const p of ["/dev/zero", fifo]) {
    assert.throws(() => readIdxImages(p), isUserError(p, "not a regular file"));
    assert.throws(() => readNpy(p), isUserError(p, "not a regular file"));
    assert.throws(() => readCifarBatch(p), isUserError(p, "not a regular file"));
    assert.throws(() => T.loadSafetensors(p), isUserError(p, "not a regular file"));
    assert.throws(() => readSafetensorsHeader(p), isUserError(p, "not a regular file"));
  }
  // STL-10's images file is opened by descriptor (it is read a range at a time): a FIFO there too.
  const stl = path.join(dir, "stl");
  fs.mkdirSync(stl);
  execFileSync("mkfifo", [path.join(stl, "train_X.bin")]);
  assert.throws(() => stl10Reader(stl, "train"), isUserError("train_X.bin", "not a regular file"));
});

// A gzip file whose decompressed stream is `zeros` bytes of zeros after an IDX image header.
async function gzipBomb(file: string, dims: number[], zeros: number): Promise<void> {
  const header = idxBytes(0x803, dims, new Uint8Array(0));
  const chunk = Buffer.alloc(1 << 20);
  async function* body() {
    yield header;
    for (let left = zeros; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
  }
  await pipeline(Readable.from(body()), createGzip({ level: 1 }), fs.createWriteStream(file));
}

function peakRss(kind: string, file: string): { message: string | null; peakRssMiB: number } {
  const r = spawnSync(process.execPath, [CHILD, kind, file], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()) as { message: string | null; peakRssMiB: number };
}

// Peak RSS of a node process that imports the reader and reads a small valid file: the baseline.
const BOUND_MIB = 160;

test("a gzip bomb is refused by what its header implies, with a bounded peak RSS", { timeout: 240_000 }, async () => {
  const ZEROS = 400 * 1024 * 1024; // decompresses to 400 MiB (about 400 KB on disk)
  // 1. The header promises 1000 images of 28x28 (784 KB); the stream holds 400 MiB: too long.
  const small = path.join(dir, "small-header.gz");
  await gzipBomb(small, [1000, 28, 28], ZEROS);
  assert.ok(fs.statSync(small).size < 2_000_000);
  const a = peakRss("idx", small);
  assert.match(a.message ?? "", /too long/);
  assert.ok(a.peakRssMiB < BOUND_MIB, `peak RSS ${a.peakRssMiB.toFixed(0)} MiB`);
  // 2. The same with the gzip trailer's length forged to match the header: decompression stops there.
  const forged = path.join(dir, "forged.gz");
  const bytes = fs.readFileSync(small);
  bytes.writeUInt32LE(16 + 1000 * 784, bytes.length - 4);
  fs.writeFileSync(forged, bytes);
  const b = peakRss("idx", forged);
  assert.match(b.message ?? "", /too long: decompresses to more than the 784016 bytes its header implies/);
  assert.ok(b.peakRssMiB < BOUND_MIB, `peak RSS ${b.peakRssMiB.toFixed(0)} MiB`);
  // 3. The header promises 3 GB (4 million images), the stream holds 400 MiB: truncated, found at once.
  const big = path.join(dir, "big-header.gz");
  await gzipBomb(big, [4_000_000, 28, 28], ZEROS);
  const c = peakRss("idx", big);
  assert.match(c.message ?? "", /truncated/);
  assert.ok(c.peakRssMiB < BOUND_MIB, `peak RSS ${c.peakRssMiB.toFixed(0)} MiB`);
  process.stderr.write(`gzip bombs: peak RSS ${a.peakRssMiB.toFixed(0)}, ${b.peakRssMiB.toFixed(0)}, ${c.peakRssMiB.toFixed(0)} MiB\n`);
});

function npyWithShape(shape: string, dataBytes = 0): Uint8Array {
  const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': ${shape}, }`;
  const header = dict.padEnd(117, " ") + "\n";
  const out = new Uint8Array(10 + header.length + dataBytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  return out;
}

test(".npy shapes: non-negative decimal integers only, with a bounded product", () => {
  for (const bad of ["(0, 1e300)", "(1e0,)", "(0x10,)", "(-1,)", "(1.0,)", "(,)", "(3,,4)", "(99999999999999999,)", "(2, 3", "( , 2)"]) {
    assert.throws(() => decodeNpy(npyWithShape(bad), "x.npy"), isUserError("x.npy", /bad shape|unreadable header/), bad);
  }
  // A product far beyond what the file holds is refused before any size arithmetic overflows.
  assert.throws(() => decodeNpy(npyWithShape("(4294967296, 4294967296, 4294967296)"), "x.npy"), isUserError("more values than"));
  assert.deepEqual(decodeNpy(npyWithShape("(2, 3)", 6), "ok").shape, [2, 3]);
  assert.deepEqual(decodeNpy(npyWithShape("(2, 3,)", 6), "ok").shape, [2, 3]);
  assert.deepEqual(decodeNpy(npyWithShape("(0, 5)", 0), "ok").shape, [0, 5]);
  assert.deepEqual(decodeNpy(npyWithShape("()", 1), "ok").shape, []);
});

function concat(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

test('a tensor named "__proto__" is an ordinary entry: the prototype is untouched and nothing leaks', () => {
  const f32 = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);
  const file = path.join(dir, "proto.safetensors");
  fs.writeFileSync(file, concat(encodeSafetensors([
    { name: "__proto__", dtype: "F32", shape: [2], data: f32([1, 2]) },
    { name: "a", dtype: "F32", shape: [1], data: f32([3]) },
  ], JSON.parse('{"__proto__":"meta"}') as Record<string, string>)));
  const live = T.liveTensors();
  const { tensors, metadata } = T.loadSafetensors(file);
  assert.equal(Object.getPrototypeOf(tensors), Object.prototype);
  assert.deepEqual(Object.keys(tensors).sort(), ["__proto__", "a"]);
  assert.deepEqual(Object.getOwnPropertyDescriptor(tensors, "__proto__")!.value.toList(), [1, 2]);
  assert.equal(Object.getPrototypeOf(metadata), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(metadata, "__proto__")!.value, "meta");
  for (const t of Object.values(tensors)) t.dispose();
  assert.equal(T.liveTensors(), live, "every tensor read was reachable and disposed");
});

test("a name given twice in a safetensors header is refused", () => {
  const data = new Uint8Array(8);
  const header = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const buf = new Uint8Array(8 + header.length + data.length);
  new DataView(buf.buffer).setBigUint64(0, BigInt(header.length), true);
  buf.set(Buffer.from(header), 8);
  assert.throws(() => decodeSafetensors(buf, "dup.safetensors"), isUserError("dup.safetensors", 'names "w" twice'));
  assert.equal(firstDuplicateKey('{"__metadata__":{"k":"1","k":"2"}}'), "k");
  assert.equal(firstDuplicateKey('{"a":{"x":1},"b":{"x":[{"x":2},"x"]},"c":"a"}'), null);
  assert.equal(firstDuplicateKey('{"a\\"b":1,"a\\u0022b":2}'), 'a"b');
});

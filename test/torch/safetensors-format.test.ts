import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import {
  decodeSafetensors, dtypeSize, encodeSafetensors, readSafetensorsFile, writeSafetensorsFile, type SafetensorsEntry,
} from "../../src/torch/safetensors-format.js";
import { isUserError, pythonHas, removeDir, runPythonJson, tmpDir } from "../data/fixtures.js";

const dir = tmpDir("safetensors");
after(() => removeDir(dir));

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

// A file from a header string (padded to 8 as given) and a data section length.
function raw(header: string | object, data: Uint8Array | number): Uint8Array {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  return concat([len, json, body]);
}

test("exact bytes for one 2x2 F32 tensor", () => {
  const data = bytes(new Float32Array([1, 2, 3, 4]));
  const out = concat(encodeSafetensors([{ name: "w", dtype: "F32", shape: [2, 2], data }]));
  const json = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}';
  assert.equal(json.length, 57);
  const expected = concat([
    Uint8Array.from([64, 0, 0, 0, 0, 0, 0, 0]), // header length 57 padded to 64, u64 little-endian
    Buffer.from(json + " ".repeat(7)),
    Uint8Array.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40]),
  ]);
  assert.deepEqual(out, expected);
});

test("metadata comes first; tensors are laid out in the order given", () => {
  const chunks = encodeSafetensors(
    [
      { name: "b", dtype: "U8", shape: [3], data: Uint8Array.from([1, 2, 3]) },
      { name: "0", dtype: "I16", shape: [1], data: bytes(new Int16Array([-2])) },
    ],
    { format: "pt" },
  );
  const header = Buffer.from(chunks[0].subarray(8)).toString().trimEnd();
  assert.equal(
    header,
    '{"__metadata__":{"format":"pt"},"b":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"0":{"dtype":"I16","shape":[1],"data_offsets":[3,5]}}',
  );
  assert.equal(chunks[0].length % 8, 0);
  assert.equal(chunks.length, 3, "header chunk then one chunk per tensor (data not copied)");
});

const ALL: SafetensorsEntry[] = [
  { name: "f64", dtype: "F64", shape: [2], data: bytes(new Float64Array([1.5, -2])) },
  { name: "f32", dtype: "F32", shape: [2, 2], data: bytes(new Float32Array([1, 2, 3, 4.5])) },
  { name: "f16", dtype: "F16", shape: [2], data: bytes(Uint16Array.from([0x3c00, 0xc000])) }, // 1, -2
  { name: "bf16", dtype: "BF16", shape: [2], data: bytes(Uint16Array.from([0x3f80, 0x4040])) }, // 1, 3
  { name: "i64", dtype: "I64", shape: [2], data: bytes(BigInt64Array.from([-1n, 2n ** 40n])) },
  { name: "i32", dtype: "I32", shape: [1, 3], data: bytes(Int32Array.from([-7, 0, 7])) },
  { name: "i16", dtype: "I16", shape: [1], data: bytes(Int16Array.from([-300])) },
  { name: "i8", dtype: "I8", shape: [2], data: bytes(Int8Array.from([-128, 127])) },
  { name: "u8", dtype: "U8", shape: [2, 1, 1], data: Uint8Array.from([0, 255]) },
  { name: "empty", dtype: "F32", shape: [0, 3], data: new Uint8Array(0) },
  { name: "bool", dtype: "BOOL", shape: [3], data: Uint8Array.from([1, 0, 1]) },
  { name: "layer1.0.conv1.weight", dtype: "F32", shape: [], data: bytes(new Float32Array([0.25])) },
];
const EXPECTED_VALUES: Record<string, unknown[]> = {
  f64: [1.5, -2], f32: [1, 2, 3, 4.5], f16: [1, -2], bf16: [1, 3], i64: [-1, 2 ** 40], i32: [-7, 0, 7],
  i16: [-300], i8: [-128, 127], u8: [0, 255], empty: [], bool: [true, false, true], "layer1.0.conv1.weight": [0.25],
};

test("round trip of every dtype, a zero-size tensor, a scalar and metadata", () => {
  const p = path.join(dir, "all.safetensors");
  writeSafetensorsFile(p, ALL, { format: "pt", note: "héllo" });
  const { entries, metadata } = readSafetensorsFile(p);
  assert.deepEqual(metadata, { format: "pt", note: "héllo" });
  assert.deepEqual(entries.map((e) => e.name), ALL.map((e) => e.name));
  entries.forEach((e, i) => {
    assert.equal(e.dtype, ALL[i].dtype);
    assert.deepEqual(e.shape, ALL[i].shape);
    assert.deepEqual(Array.from(e.data), Array.from(ALL[i].data));
  });
  assert.equal(dtypeSize("BF16"), 2);
  assert.equal(fs.readdirSync(dir).filter((f) => f.includes(".tmp-")).length, 0, "no temporary file left");
});

test("an independent Python reader (struct + json) reads our file", (t) => {
  if (!pythonHas("struct", "json")) {
    t.skip("/usr/bin/python3 not available");
    return;
  }
  const p = path.join(dir, "py.safetensors");
  writeSafetensorsFile(p, ALL, { format: "pt" });
  const script = `
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n].decode("utf-8"))
body = data[8 + n:]
fmt = {"F64": "d", "F32": "f", "F16": "e", "I64": "q", "I32": "i", "I16": "h", "I8": "b", "U8": "B", "BOOL": "?"}
size = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
out = {"n_mod_8": n % 8, "metadata": header.pop("__metadata__", None), "tensors": {}}
for name, info in header.items():
    b, e = info["data_offsets"]
    chunk = body[b:e]
    count = (e - b) // size[info["dtype"]]
    if info["dtype"] == "BF16":
        vals = [struct.unpack("<f", struct.pack("<I", u << 16))[0] for u in struct.unpack("<%dH" % count, chunk)]
    else:
        vals = list(struct.unpack("<%d%s" % (count, fmt[info["dtype"]]), chunk))
    out["tensors"][name] = {"dtype": info["dtype"], "shape": info["shape"], "offsets": [b, e], "values": vals}
out["body_len"] = len(body)
print(json.dumps(out))
`;
  const got = runPythonJson(script, [p]) as {
    n_mod_8: number; metadata: Record<string, string>; body_len: number;
    tensors: Record<string, { dtype: string; shape: number[]; offsets: number[]; values: unknown[] }>;
  };
  assert.equal(got.n_mod_8, 0);
  assert.deepEqual(got.metadata, { format: "pt" });
  let offset = 0;
  for (const e of ALL) {
    const t2 = got.tensors[e.name];
    assert.equal(t2.dtype, e.dtype);
    assert.deepEqual(t2.shape, e.shape);
    assert.deepEqual(t2.offsets, [offset, offset + e.data.length], `${e.name} is contiguous, in order`);
    assert.deepEqual(t2.values, EXPECTED_VALUES[e.name], e.name);
    offset += e.data.length;
  }
  assert.equal(got.body_len, offset);
});

test("encoding rejects inconsistent entries (caller bugs, plain Errors)", () => {
  const ok = { name: "a", dtype: "F32" as const, shape: [2], data: new Uint8Array(8) };
  assert.throws(() => encodeSafetensors([{ ...ok, data: new Uint8Array(7) }]), /needs 8 bytes, got 7/);
  assert.throws(() => encodeSafetensors([ok, ok]), /duplicate/);
  assert.throws(() => encodeSafetensors([{ ...ok, name: "__metadata__" }]), /cannot be a tensor name/);
  assert.throws(() => encodeSafetensors([{ ...ok, shape: [-2] }]), /bad dimension/);
});

test("every kind of corruption is a one-line UserError naming the source and the tensor", () => {
  const t = (extra: object) => ({ dtype: "F32", shape: [2], data_offsets: [0, 8], ...extra });
  const src = "model.safetensors";
  const cases: [Uint8Array, (string | RegExp)[]][] = [
    [new Uint8Array(5), ["too short"]],
    [raw('{"a":1}', 0).subarray(0, 10), ["header length 7 exceeds the file size"]],
    [raw("{not json}", 0), ["not valid UTF-8 JSON"]],
    [raw("[1,2]", 0), ["not a JSON object"]],
    [raw({ a: t({ dtype: "F8_E4M3" }) }, 8), ['tensor "a"', "unsupported dtype", "F8_E4M3"]],
    [raw({ a: t({ shape: [2.5] }) }, 8), ['tensor "a"', "shape"]],
    [raw({ a: t({ data_offsets: [8, 0] }) }, 8), ['tensor "a"', "data_offsets"]],
    [raw({ a: t({ data_offsets: [0, 16] }) }, 8), ['tensor "a"', "run past the data section"]],
    [raw({ a: t({ shape: [3] }) }, 8), ['tensor "a"', "needs 12 bytes", "hold 8"]],
    [raw({ a: t({}), b: t({ data_offsets: [4, 12] }) }, 12), ['tensor "b"', 'overlap tensor "a"']],
    [raw({ a: t({}), b: t({ data_offsets: [12, 20] }) }, 20), ['tensor "b"', "gap"]],
    [raw({ a: t({}) }, 9), ["9 bytes", "1 bytes unaccounted"]],
    [raw({ a: t({ data_offsets: [4, 12] }) }, 12), ['tensor "a"', "gap"]],
    [raw({ __metadata__: { k: 1 }, a: t({}) }, 8), ["__metadata__", '"k"', "not a string"]],
    [raw({ a: "x" }, 0), ['tensor "a"', "not an object"]],
  ];
  for (const [buf, fragments] of cases) {
    assert.throws(() => decodeSafetensors(buf, src), isUserError(src, ...fragments));
  }
  // A valid hand-made file with out-of-order keys decodes, entries in data order.
  const ok = decodeSafetensors(raw({ b: t({ data_offsets: [8, 16] }), a: t({}) }, 16));
  assert.deepEqual(ok.entries.map((e) => e.name), ["a", "b"]);
  assert.deepEqual(ok.metadata, {});
});

test("a missing file is a UserError", () => {
  const p = path.join(dir, "absent.safetensors");
  assert.throws(() => readSafetensorsFile(p), isUserError(p, "no such file"));
});

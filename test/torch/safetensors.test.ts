// Safetensors at the tensor level (saveSafetensors / loadSafetensors): round trips of every dtype and of
// scalars and empty tensors, and files that PyTorch reads back (and writes) with a small Python reader.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { pythonTorchAvailable, runPython } from "./helpers.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "byol-safetensors-tensors-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The tensors every test writes: all dtypes, a scalar, empty ones, and non-contiguous layouts. */
function sample(): Record<string, T.Tensor> {
  return {
    f32: T.tensor(new Float32Array([1.5, -2.25, 3.125, 1e-20, -0, 65504]), [2, 3]),
    f64: T.tensor(new Float64Array([Math.PI, -1e300, 5e-324])),
    i64: T.tensor(new BigInt64Array([2n ** 40n, -(2n ** 62n), 0n, -1n]), [2, 2]),
    i32: T.tensor(new Int32Array([-(2 ** 31), 7, 2 ** 31 - 1])),
    u8: T.tensor(new Uint8Array([0, 1, 127, 128, 255])),
    bool: T.tensor(new Uint8Array([1, 0, 0, 1]), [2, 2], { dtype: "bool" }),
    bf16: T.tensor([1, -2.5, 1 + 2 ** -7, 3.0e38], undefined, { dtype: "bfloat16" }),
    f16: T.tensor([1, -2.5, 1 + 2 ** -10, 65504], undefined, { dtype: "float16" }),
    scalar: T.scalarTensor(3.5),
    scalar_i64: T.scalarTensor(-9, { dtype: "int64" }),
    empty: T.zeros([0, 3]),
    empty_i64: T.zeros([0], { dtype: "int64" }),
    transposed: T.tidy(() => T.arange(6, undefined, 1, { dtype: "float32" }).reshape(2, 3).t()),
    channels_last: T.tidy(() => T.arange(24, undefined, 1, { dtype: "float32" }).reshape(1, 2, 3, 4).contiguous("channelsLast")),
  };
}

/** Values as strings (int64 beyond 2^53, -0 and special floats compare exactly that way). */
function valuesOf(t: T.Tensor): string[] {
  const a = t.toArray();
  return Array.from(a as ArrayLike<number | bigint>, (v) => (Object.is(v, -0) ? "-0" : String(v)));
}

test("round trip: every dtype, scalars, empty and non-contiguous tensors, metadata", () => {
  T.tidy(() => {
    const tensors = sample();
    const file = path.join(dir, "roundtrip.safetensors");
    T.saveSafetensors(file, tensors, { format: "pt", note: "round trip" });
    const { tensors: back, metadata } = T.loadSafetensors(file);
    assert.deepEqual(metadata, { format: "pt", note: "round trip" });
    assert.deepEqual(Object.keys(back).sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const b = back[name];
      assert.equal(b.dtype, t.dtype, `${name} dtype`);
      assert.deepEqual(b.shape, t.shape, `${name} shape`);
      assert.deepEqual(valuesOf(b), valuesOf(t), `${name} values`);
      assert.equal(b.isContiguous(), true, `${name} is loaded contiguous`);
    }
    assert.deepEqual(back.transposed.toList(), [0, 3, 1, 4, 2, 5], "saved in logical order");
    assert.deepEqual(back.bool.toList(), [1, 0, 0, 1]);
    assert.equal(back.scalar.item(), 3.5);
    // The in-memory form agrees with the file form.
    const bytes = Buffer.concat(T.serializeTensors(tensors, { format: "pt", note: "round trip" }));
    assert.deepEqual(new Uint8Array(fs.readFileSync(file)), new Uint8Array(bytes));
    const mem = T.deserializeTensors(new Uint8Array(bytes));
    assert.deepEqual(valuesOf(mem.tensors.i64), valuesOf(tensors.i64));
    // Loaded tensors belong to the enclosing scope like any other.
    for (const t of Object.values(mem.tensors)) assert.equal(t.disposed, false);
  });
});

test("loading onto an unavailable device fails cleanly and leaks nothing", { skip: T.cuda.isAvailable() && "CUDA is available here" }, () => {
  const file = path.join(dir, "device.safetensors");
  T.tidy(() => T.saveSafetensors(file, { a: T.ones([2]), b: T.zeros([3]) }));
  const before = T.liveTensors();
  assert.throws(() => T.loadSafetensors(file, "cuda"), /CUDA is not available/);
  assert.equal(T.liveTensors(), before);
});

// A reader written from the format's description (8-byte little-endian header length, JSON header,
// data section), giving PyTorch tensors via torch.frombuffer.
const PY_READER = String.raw`
import json, struct, sys, torch
DT = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        dtype = DT[e["dtype"]]
        if end == b:
            t = torch.empty(e["shape"], dtype=dtype)
        else:
            t = torch.frombuffer(bytearray(body[b:end]), dtype=dtype).reshape(e["shape"])
        out[name] = t
    return out, meta
def show(v):
    if isinstance(v, bool): return str(int(v))
    if isinstance(v, float):
        if v == 0 and str(v).startswith("-"): return "-0"
        if v == float("inf"): return "Infinity"
        if v == float("-inf"): return "-Infinity"
        if v.is_integer() and abs(v) < 1e21: return str(int(v))
        return repr(v)
    return str(v)
`;

test("Debian's python3-torch reads the file back with the same values", { skip: !pythonTorchAvailable() && "no PyTorch for /usr/bin/python3" }, () => {
  T.tidy(() => {
    const tensors = sample();
    const file = path.join(dir, "for-python.safetensors");
    T.saveSafetensors(file, tensors, { format: "pt" });
    const py = runPython<{ meta: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; values: string[] }> }>(PY_READER + String.raw`
path = json.load(sys.stdin)
ts, meta = load(path)
res = {}
for k, t in ts.items():
    flat = t.flatten()
    vals = flat.float().tolist() if t.dtype in (torch.float16, torch.bfloat16) else flat.tolist()
    res[k] = {"dtype": str(t.dtype), "shape": list(t.shape), "values": [show(v) for v in vals]}
print(json.dumps({"meta": meta, "tensors": res}))
`, file);
    assert.deepEqual(py.meta, { format: "pt" });
    const torchName: Record<T.DType, string> = {
      float32: "torch.float32", float64: "torch.float64", int64: "torch.int64", int32: "torch.int32", uint8: "torch.uint8",
      bool: "torch.bool", bfloat16: "torch.bfloat16", float16: "torch.float16", int8: "torch.int8", int16: "torch.int16",
    };
    for (const [name, t] of Object.entries(tensors)) {
      const p = py.tensors[name];
      assert.ok(p, `python sees ${name}`);
      assert.equal(p.dtype, torchName[t.dtype], `${name} dtype`);
      assert.deepEqual(p.shape, t.shape, `${name} shape`);
      // Python's repr and JavaScript's String agree on the shortest round-trip form of a double
      // (show() spells integral floats, infinities and -0 as JavaScript does); float32 and the half
      // types are compared as the doubles both sides widen them to, so the comparison is exact.
      assert.deepEqual(p.values, valuesOf(t), `${name} values`);
    }
  });
});

test("a file written by Python (the same hand-made format) loads with the right values", { skip: !pythonTorchAvailable() && "no PyTorch for /usr/bin/python3" }, () => {
  const file = path.join(dir, "from-python.safetensors");
  runPython(String.raw`
import json, struct, sys, torch
path = json.load(sys.stdin)
ts = {
    "w": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8,
    "idx": torch.tensor([[-(2 ** 40), 5]], dtype=torch.int64),
    "h": torch.tensor([0.5, -1.25], dtype=torch.bfloat16),
    "m": torch.tensor([True, False, True]),
    "s": torch.tensor(2.0, dtype=torch.float64),
}
names = {torch.float32: "F32", torch.int64: "I64", torch.bfloat16: "BF16", torch.bool: "BOOL", torch.float64: "F64"}
header, blobs, off = {"__metadata__": {"by": "python"}}, [], 0
for k, t in ts.items():
    raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dim() else t.reshape(1).view(torch.uint8).numpy().tobytes()
    header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
    blobs.append(raw); off += len(raw)
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); f.write(b"".join(blobs))
print("null")
`, file);
  T.tidy(() => {
    const { tensors, metadata } = T.loadSafetensors(file);
    assert.deepEqual(metadata, { by: "python" });
    assert.deepEqual(tensors.w.shape, [3, 4]);
    assert.deepEqual(tensors.w.toList(), Array.from({ length: 12 }, (_, i) => i / 8));
    assert.equal(tensors.idx.dtype, "int64");
    assert.deepEqual(Array.from(tensors.idx.toArray() as BigInt64Array), [-(2n ** 40n), 5n]);
    assert.equal(tensors.h.dtype, "bfloat16");
    assert.deepEqual(tensors.h.toList(), [0.5, -1.25]);
    assert.equal(tensors.m.dtype, "bool");
    assert.deepEqual(tensors.m.toList(), [1, 0, 1]);
    assert.deepEqual(tensors.s.shape, []);
    assert.equal(tensors.s.item(), 2);
  });
});

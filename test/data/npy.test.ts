import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { decodeNpy, encodeNpy, readNpy, writeNpy } from "../../src/data/npy.js";
import { isUserError, pythonHas, removeDir, runPythonJson, tmpDir } from "./fixtures.js";

const dir = tmpDir("npy");
after(() => removeDir(dir));

const ascii = (b: Uint8Array) => Buffer.from(b).toString("latin1");

test("header follows the v1.0 spec: magic, version, length, dict, 64-byte alignment", () => {
  const bytes = encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.deepEqual(Array.from(bytes.subarray(0, 8)), [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLen = bytes[8] | (bytes[9] << 8);
  assert.equal((10 + headerLen) % 64, 0);
  const header = ascii(bytes.subarray(10, 10 + headerLen));
  assert.ok(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), header);
  assert.ok(header.endsWith(" \n"));
  assert.equal(header.indexOf("\n"), header.length - 1);
  assert.equal(bytes.length, 10 + headerLen + 24);
  assert.deepEqual(Array.from(new Float32Array(bytes.slice(10 + headerLen).buffer)), [1, 2, 3, 4, 5, 6]);
  // Shape tuples as Python writes them.
  assert.ok(ascii(encodeNpy(new Uint8Array(5), [5])).includes("'shape': (5,), }"));
  assert.ok(ascii(encodeNpy(new Int32Array([7]), [])).includes("'shape': (), }"));
  assert.ok(ascii(encodeNpy(new Int32Array(0), [0, 3])).includes("'descr': '<i4'"));
});

test("round trip for float32, int32 and uint8", () => {
  const cases = [
    { data: new Float32Array([0.5, -1.25, 3e38, Number.NaN]), shape: [2, 2], dtype: "<f4" },
    { data: new Int32Array([-2147483648, 0, 2147483647]), shape: [3], dtype: "<i4" },
    { data: Uint8Array.from([0, 128, 255, 1, 2, 3]), shape: [1, 2, 3], dtype: "|u1" },
    { data: new Float32Array([42]), shape: [], dtype: "<f4" },
  ] as const;
  for (const c of cases) {
    const back = decodeNpy(encodeNpy(c.data, [...c.shape]));
    assert.equal(back.dtype, c.dtype);
    assert.deepEqual(back.shape, [...c.shape]);
    assert.deepEqual(Array.from(back.data), Array.from(c.data));
    assert.equal(back.data.constructor, c.data.constructor);
  }
  const p = path.join(dir, "rt.npy");
  writeNpy(p, new Int32Array([1, 2]), [2, 1]);
  assert.deepEqual(readNpy(p).shape, [2, 1]);
});

test("shape must match the data", () => {
  assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), RangeError);
});

test("corrupt .npy files are UserErrors naming the file", () => {
  const p = path.join(dir, "bad.npy");
  const good = encodeNpy(new Float32Array([1, 2, 3]), [3]);
  fs.writeFileSync(p, Buffer.from("PK\x03\x04 not npy"));
  assert.throws(() => readNpy(p), isUserError(p, "bad magic"));
  fs.writeFileSync(p, good.subarray(0, good.length - 1));
  assert.throws(() => readNpy(p), isUserError(p, "truncated", "12", "11"));
  fs.writeFileSync(p, Buffer.from(ascii(good).replace("False", "True "), "latin1"));
  assert.throws(() => readNpy(p), isUserError(p, "Fortran"));
  fs.writeFileSync(p, Buffer.from(ascii(good).replace("<f4", "<f8"), "latin1"));
  assert.throws(() => readNpy(p), isUserError(p, "unsupported dtype '<f8'"));
  assert.throws(() => readNpy(path.join(dir, "none.npy")), isUserError("none.npy", "no such file"));
});

test("NumPy reads what we write and we read what NumPy writes", (t) => {
  if (!pythonHas("numpy")) {
    t.skip("Debian's python3 with numpy is not installed (apt-get install python3-numpy)");
    return;
  }
  const f = path.join(dir, "f.npy");
  const i = path.join(dir, "i.npy");
  const u = path.join(dir, "u.npy");
  writeNpy(f, new Float32Array([0.5, -2, 3.25, 1e-3, 7, 8]), [3, 2]);
  writeNpy(i, new Int32Array([-5, 6, 2147483647]), [3]);
  writeNpy(u, Uint8Array.from([1, 2, 3, 4]), [2, 1, 2]);
  const script = `
import json, sys, numpy as np
out = []
for p in sys.argv[1:4]:
    a = np.load(p, allow_pickle=False)
    out.append({"dtype": a.dtype.str, "shape": list(a.shape), "values": a.ravel().tolist(), "c": bool(a.flags.c_contiguous)})
np.save(sys.argv[4], np.arange(12, dtype=np.float32).reshape(3, 4) / 4)
np.save(sys.argv[5], np.array([[1, -2], [3, 4]], dtype=np.int32))
print(json.dumps(out))
`;
  const fromNp = path.join(dir, "np_f.npy");
  const fromNpI = path.join(dir, "np_i.npy");
  const got = runPythonJson(script, [f, i, u, fromNp, fromNpI]) as { dtype: string; shape: number[]; values: number[] }[];
  assert.deepEqual(got.map((g) => g.dtype), ["<f4", "<i4", "|u1"]);
  assert.deepEqual(got.map((g) => g.shape), [[3, 2], [3], [2, 1, 2]]);
  assert.deepEqual(got[0].values, Array.from(new Float32Array([0.5, -2, 3.25, 1e-3, 7, 8])));
  assert.deepEqual(got[1].values, [-5, 6, 2147483647]);
  assert.deepEqual(got[2].values, [1, 2, 3, 4]);
  const a = readNpy(fromNp);
  assert.deepEqual(a.shape, [3, 4]);
  assert.equal(a.dtype, "<f4");
  assert.deepEqual(Array.from(a.data), Array.from({ length: 12 }, (_, k) => k / 4));
  const b = readNpy(fromNpI);
  assert.deepEqual([b.dtype, b.shape, Array.from(b.data)], ["<i4", [2, 2], [1, -2, 3, 4]]);
});

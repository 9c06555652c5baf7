// Tensors from and to JavaScript memory, metadata, conversions, memory formats, views and in-place ops.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";

const ptr = (t: T.Tensor) => T.native.dataPtr(t.id);

test("TypedArrays round-trip with their natural dtype", () => {
  T.tidy(() => {
    const cases: [T.TypedArray, T.DType][] = [
      [new Float32Array([1.5, -2.25, 3e-8]), "float32"],
      [new Float64Array([Math.PI, -1e300, 5e-324]), "float64"],
      [new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]), "int32"],
      [new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n]), "int64"],
      [new Uint8Array([0, 128, 255]), "uint8"],
      [new Int8Array([-128, 0, 127]), "int8"],
      [new Int16Array([-32768, 0, 32767]), "int16"],
    ];
    for (const [data, dtype] of cases) {
      const t = T.tensor(data);
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.shape, [3]);
      assert.equal(t.device, "cpu");
      const back = t.toArray();
      assert.equal(back.constructor, data.constructor, `${dtype} reads back as ${data.constructor.name}`);
      assert.deepEqual(Array.from(back as ArrayLike<number | bigint>), Array.from(data as ArrayLike<number | bigint>), dtype);
    }
  });
});

test("shapes, bool tensors, and copying into existing memory", () => {
  T.tidy(() => {
    const t = T.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.ndim, 2);
    assert.equal(t.numel, 6);
    assert.equal(t.size(-1), 3);
    assert.deepEqual(t.strides, [3, 1]);
    const nested = T.tensor([[[1], [2]], [[3], [4]]]);
    assert.deepEqual(nested.shape, [2, 2, 1]);
    const b = T.tensor(new Uint8Array([1, 0, 1]), undefined, { dtype: "bool" });
    assert.equal(b.dtype, "bool");
    assert.deepEqual(Array.from(b.toArray() as Uint8Array), [1, 0, 1]);
    assert.deepEqual(b.logicalNot().toList(), [0, 1, 0]);
    const into = new Float32Array(6);
    T.native.copyInto(t.id, into);
    assert.deepEqual(Array.from(into), [1, 2, 3, 4, 5, 6]);
    assert.throws(() => T.native.fromBuffer(new Float32Array(5), [2, 3], T.DTYPE_CODE.float32), /5 ?|20 bytes/);
    assert.deepEqual(T.tensor(new Float32Array(0), [0, 4]).shape, [0, 4], "empty tensors");
    assert.deepEqual(T.scalarTensor(7).shape, [], "zero-dimensional tensors");
  });
});

test("bfloat16 and float16 through conversion, with their rounding", () => {
  T.tidy(() => {
    // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie and rounds to even (1); 1 + 2^-7 is exact.
    const bf = T.tensor([1 + 2 ** -8, 1 + 2 ** -7, -2.5, 3.0e38], undefined, { dtype: "bfloat16" });
    assert.equal(bf.dtype, "bfloat16");
    const bfBack = bf.toArray();
    assert.ok(bfBack instanceof Float32Array, "half types read back as float32");
    assert.deepEqual(Array.from(bfBack).slice(0, 3), [1, 1 + 2 ** -7, -2.5]);
    assert.ok(Math.abs(bfBack[3] / 3.0e38 - 1) < 2 ** -8, "bf16 has float32's range");
    // fp16: 11 significant bits, largest finite 65504.
    const hf = T.tensor([1 + 2 ** -11, 1 + 2 ** -10, 65504, 70000], undefined, { dtype: "float16" });
    assert.equal(hf.dtype, "float16");
    assert.deepEqual(Array.from(hf.toArray() as Float32Array), [1, 1 + 2 ** -10, 65504, Infinity]);
    assert.deepEqual(hf.to("bfloat16").to("float32").toList(), [1, 1, 65536, Infinity]);
  });
});

test("to(): dtype conversions and device moves; same-device to() aliases", () => {
  T.tidy(() => {
    const f = T.tensor([1.7, -1.7, 2.5]);
    assert.deepEqual(f.to("int32").toList(), [1, -1, 2], "float to int truncates toward zero");
    assert.equal(f.to("float64").dtype, "float64");
    assert.deepEqual(f.long().toList(), [1, -1, 2]);
    assert.deepEqual(T.tensor([0, 3, -1]).to("bool").toList(), [0, 1, 1]);
    const same = f.to("cpu");
    assert.equal(same.device, "cpu");
    assert.equal(ptr(same), ptr(f), "to() the same device returns a view");
    const copy = f.to("cpu", { copy: true });
    assert.notEqual(ptr(copy), ptr(f), "copy: true copies");
    assert.deepEqual(copy.toList(), f.toList());
  });
});

test("contiguous and channels-last memory formats", () => {
  T.tidy(() => {
    const x = T.arange(24, undefined, 1, { dtype: "float32" }).reshape(1, 2, 3, 4);
    assert.equal(x.isContiguous(), true);
    assert.equal(x.isContiguous("channelsLast"), false);
    const cl = x.contiguous("channelsLast");
    assert.deepEqual(cl.shape, [1, 2, 3, 4], "same logical shape");
    assert.deepEqual(cl.strides, [24, 1, 8, 2], "NHWC strides");
    assert.equal(cl.isContiguous("channelsLast"), true);
    assert.equal(cl.isContiguous(), false);
    assert.deepEqual(cl.toList(), x.toList(), "read-back is in logical (NCHW) order");
    const back = cl.contiguous();
    assert.deepEqual(back.strides, [24, 12, 4, 1]);
    assert.equal(ptr(x.contiguous()), ptr(x), "contiguous() of a contiguous tensor is the tensor itself");
    const t = x.reshape(6, 4).t();
    assert.equal(t.isContiguous(), false);
    assert.deepEqual(t.contiguous().strides, [6, 1]);
  });
});

test("views share storage with their base; clone does not", () => {
  T.tidy(() => {
    const x = T.arange(12, undefined, 1, { dtype: "float32" }).reshape(3, 4);
    const base = ptr(x);
    assert.equal(ptr(x.view(12)), base);
    assert.equal(ptr(x.reshape(4, 3)), base, "reshape of a contiguous tensor is a view");
    assert.equal(ptr(x.t()), base);
    assert.equal(ptr(x.unsqueeze(0)), base);
    assert.equal(ptr(x.narrow(0, 1, 2)), base + 4 * 4, "narrow starts one row (4 floats) in");
    assert.equal(ptr(x.select(1, 2)), base + 2 * 4);
    assert.equal(ptr(x.slice(1, 1, null, 2)), base + 4);
    assert.equal(ptr(x.expand(2, 3, 4)), base);
    assert.equal(ptr(x.detach()), base);
    assert.notEqual(ptr(x.clone()), base);
    // Writing through a view changes the base.
    x.select(0, 1).fill_(-1);
    x.view(12).narrow(0, 1, 1).mul_(100);
    assert.deepEqual(x.toList(), [0, 100, 2, 3, -1, -1, -1, -1, 8, 9, 10, 11]);
  });
});

test("in-place ops modify the tensor and return the same handle", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2, 3]);
    const p = ptr(x);
    const id = x.id;
    assert.equal(x.add_(1), x);
    assert.equal(x.mul_(2), x);
    assert.equal(x.sub_(T.tensor([1, 1, 1])), x);
    assert.equal(x.div_(T.tensor([1, 5, 7])), x);
    assert.deepEqual(x.toList(), [3, 1, 1]);
    x.addcmul_(T.tensor([1, 2, 3]), T.tensor([2, 2, 2]), 0.5);
    assert.deepEqual(x.toList(), [4, 3, 4]);
    x.lerp_(T.tensor([8, 8, 8]), 0.25);
    assert.deepEqual(x.toList(), [5, 4.25, 5]);
    x.clamp_(4.5, null).neg_();
    assert.deepEqual(x.toList(), [-5, -4.5, -5]);
    x.zero_().add_(9).sqrt_();
    assert.deepEqual(x.toList(), [3, 3, 3]);
    assert.equal(x.id, id);
    assert.equal(ptr(x), p, "storage unchanged");
    const y = T.zeros([4]);
    y.copy_(T.tensor([1, 2, 3, 4], undefined, { dtype: "float64" }));
    assert.equal(y.dtype, "float32", "copy_ converts into the target's dtype");
    assert.deepEqual(y.toList(), [1, 2, 3, 4]);
  });
});

test("scalar read-back with item()", () => {
  T.tidy(() => {
    assert.equal(T.scalarTensor(3.5).item(), 3.5);
    assert.equal(T.tensor([[2.25]]).item(), 2.25, "any one-element tensor");
    assert.equal(T.tensor([5], undefined, { dtype: "int64" }).item(), 5);
    assert.equal(T.tensor(new BigInt64Array([2n ** 40n])).item(), 2 ** 40);
    assert.equal(T.tensor([1], undefined, { dtype: "bool" }).item(), 1);
    assert.equal(T.tensor([0.1], undefined, { dtype: "float64" }).item(), 0.1);
    assert.equal(T.tensor([1.5, 2]).sum().item(), 3.5);
    assert.throws(() => T.tensor([1, 2]).item(), /one element/);
  });
});

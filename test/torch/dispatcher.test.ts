// Calling ATen operators through the dispatcher by name and overload: every argument kind the
// schema-driven conversion in native/src/ops.cc handles, defaults, and several results.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { assertClose } from "./helpers.js";

const list = (t: T.Tensor) => t.toList();

test("the addon is built, loads, and reports its libtorch version", () => {
  assert.match(T.torchVersion(), /^\d+\.\d+\.\d+/);
  assert.equal(typeof T.native.call, "function");
});

test("opSchema shows the dispatcher's schema; hasOp tells known from unknown operators", () => {
  assert.match(T.opSchema("aten::add", "Tensor"), /^aten::add\.Tensor\(Tensor self, Tensor other, \*, Scalar alpha=1\) -> Tensor$/);
  assert.equal(T.hasOp("aten::mm"), true);
  assert.equal(T.hasOp("mm"), true, "the aten:: namespace is the default");
  assert.equal(T.hasOp("aten::no_such_operator_anywhere"), false);
});

test("Tensor and Scalar arguments; integral numbers stay integer scalars, as in Python", () => {
  T.tidy(() => {
    const a = T.tensor([1, 2, 3]);
    const b = T.tensor([10, 20, 30]);
    assert.deepEqual(list(T.callOp("aten::add", "Tensor", a, b)), [11, 22, 33]);
    assert.deepEqual(list(T.callOp("aten::add", "Tensor", a, b, 2)), [21, 42, 63], "alpha");
    assert.deepEqual(list(T.callOp("aten::mul", "Scalar", a, 0.5)), [0.5, 1, 1.5]);
    const i = T.tensor([1, 2, 3], undefined, { dtype: "int64" });
    const i2 = T.callOp("aten::mul", "Scalar", i, 3);
    assert.equal(i2.dtype, "int64", "an integral JS number is an int Scalar: int64 stays int64");
    assert.deepEqual(list(i2), [3, 6, 9]);
    assert.equal(T.callOp("aten::mul", "Scalar", i, 1.5).dtype, "float32", "a fractional number promotes");
    assert.deepEqual(list(T.callOp("aten::add", "Scalar", i, 5n)), [6, 7, 8], "BigInt scalars");
    const bools = T.tensor([1, 0, 1], undefined, { dtype: "bool" });
    assert.deepEqual(list(T.callOp("aten::logical_and", "", bools, T.callOp("aten::fill", "Scalar", T.emptyLike(bools), true))), [1, 0, 1]);
  });
});

test("Tensor? arguments take a tensor or null", () => {
  T.tidy(() => {
    const x = T.tensor([[1, 2]]);
    const w = T.tensor([[1, 0], [0, 1], [1, 1]]);
    const bias = T.tensor([100, 200, 300]);
    assert.deepEqual(list(T.callOp("aten::linear", "", x, w, null)), [1, 2, 3]);
    assert.deepEqual(list(T.callOp("aten::linear", "", x, w, bias)), [101, 202, 303]);
    assert.deepEqual(list(T.callOp("aten::linear", "", x, w)), [1, 2, 3], "an omitted Tensor? with a default");
  });
});

test("Tensor[] and Tensor?[] arguments", () => {
  T.tidy(() => {
    const a = T.tensor([1, 2]);
    const b = T.tensor([3, 4]);
    const c = T.callOp("aten::cat", "", [a, b], 0);
    assert.deepEqual(list(c), [1, 2, 3, 4]);
    const s = T.callOp("aten::stack", "", [a, b], 1);
    assert.deepEqual(s.shape, [2, 2]);
    assert.deepEqual(list(s), [1, 3, 2, 4]);
    // Tensor?[] indices: null keeps a whole dimension (x[:, idx]).
    const m = T.tensor([[1, 2, 3], [4, 5, 6]]);
    const idx = T.tensor([2, 0], undefined, { dtype: "int64" });
    assert.deepEqual(list(T.callOp("aten::index", "Tensor", m, [null, idx])), [3, 1, 6, 4]);
  });
});

test("int, int[] (also from one number for int[N]), bool and float arguments", () => {
  T.tidy(() => {
    const m = T.tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(list(T.callOp("aten::select", "int", m, 1, 2)), [3, 6], "int");
    assert.deepEqual(list(T.callOp("aten::select", "int", m, 0n, 1n)), [4, 5, 6], "BigInt ints");
    const s = T.callOp("aten::sum", "dim_IntList", m, [1], true);
    assert.deepEqual(s.shape, [2, 1], "int[] and bool");
    assert.deepEqual(list(s), [6, 15]);
    assert.deepEqual(T.callOp("aten::sum", "dim_IntList", m, [0, 1], false).shape, []);
    // max_pool2d's `int[2] kernel_size`: a single number repeats, as in Python.
    const img = T.arange(16, undefined, 1, { dtype: "float32" }).reshape(1, 1, 4, 4);
    const p = T.callOp("aten::max_pool2d", "", img, 2);
    assert.deepEqual(p.shape, [1, 1, 2, 2]);
    assert.deepEqual(list(p), [5, 7, 13, 15]);
    // float? arguments, one of them left at its default (None).
    const bad = T.tensor([NaN, Infinity, -Infinity, 1]);
    assert.deepEqual(list(T.callOp("aten::nan_to_num", "", bad, 0.5, 9.25)), [0.5, 9.25, -3.4028234663852886e38, 1]);
    assert.deepEqual(list(T.callOp("aten::nan_to_num", "", bad, 0.5, 9.25, -7)), [0.5, 9.25, -7, 1]);
    // float (not optional)
    const u = T.tensor([[3, 0]]);
    const v = T.tensor([[4, 0]]);
    assertClose(T.callOp("aten::cosine_similarity", "", u, v, 1, 1e-8).toList(), [1]);
  });
});

test("ScalarType, MemoryFormat, Device and string arguments", () => {
  T.tidy(() => {
    const m = T.tensor([[1, 2], [3, 4]]);
    const d = T.callOp("aten::sum", "", m, T.DTYPE_CODE.float64);
    assert.equal(d.dtype, "float64", "ScalarType? keyword argument");
    assert.equal(d.item(), 10);
    const z = T.callOp("aten::zeros", "", [2, 3], T.DTYPE_CODE.int32, null, "cpu", null);
    assert.equal(z.dtype, "int32");
    assert.equal(z.device, "cpu");
    assert.deepEqual(z.shape, [2, 3]);
    const x = T.rand([2, 3, 4, 5]);
    const cl = T.callOp("aten::contiguous", "", x, T.MEMORY_FORMAT.channelsLast);
    assert.equal(cl.isContiguous("channelsLast"), true, "MemoryFormat argument");
    assert.equal(cl.isContiguous(), false);
    const e = T.callOp("aten::einsum", "", "ij,jk->ik", [m, m]);
    assert.deepEqual(list(e), [7, 10, 15, 22], "string and Tensor[] arguments");
  });
});

test("defaults: omitted trailing arguments and undefined in the middle take the schema's defaults", () => {
  T.tidy(() => {
    const m = T.tensor([[1, 2], [3, 4]]);
    assert.deepEqual(T.callOp("aten::sum", "dim_IntList", m, [0]).shape, [2], "keepdim=False by default");
    assert.deepEqual(list(T.callOp("aten::add", "Tensor", m, m, undefined)), [2, 4, 6, 8], "alpha=1 by default");
    // clamp(Scalar? min=None, Scalar? max=None): min left out by undefined, max given.
    assert.deepEqual(list(T.callOp("aten::clamp", "", m, undefined, 2)), [1, 2, 2, 2]);
    assert.deepEqual(list(T.callOp("aten::clamp", "", m, null, 3)), [1, 2, 3, 3]);
  });
});

test("several results come back as an array, non-tensor results as numbers and booleans", () => {
  T.tidy(() => {
    const m = T.tensor([[1, 5, 2], [7, 0, 3]]);
    const [values, indices] = T.callOp("aten::max", "dim", m, 1, false) as T.Tensor[];
    assert.deepEqual(list(values), [5, 7]);
    assert.deepEqual(list(indices), [1, 0]);
    assert.equal(indices.dtype, "int64");
    const [sv, si] = T.callOp("aten::sort", "", m, 1, true) as T.Tensor[];
    assert.deepEqual(list(sv), [5, 2, 1, 7, 3, 0]);
    assert.deepEqual(list(si), [1, 2, 0, 0, 2, 1]);
    const x = T.rand([4, 3, 2, 2]);
    const bn = T.callOp("aten::native_batch_norm", "", x, null, null, null, null, true, 0.1, 1e-5) as T.Tensor[];
    assert.equal(bn.length, 3, "three outputs");
    assert.deepEqual(bn[0].shape, [4, 3, 2, 2]);
    assert.deepEqual(bn[1].shape, [3]);
    const parts = T.callOp("aten::chunk", "", T.arange(6), 3, 0) as T.Tensor[];
    assert.deepEqual(parts.map(list), [[0, 1], [2, 3], [4, 5]], "Tensor[] result");
    assert.equal(T.callOp("aten::size", "int", m, 1), 3, "int result");
    assert.equal(T.callOp("aten::equal", "", m, m), true, "bool result");
    assert.equal(T.callOp("aten::item", "", T.scalarTensor(2.5)), 2.5, "Scalar result");
  });
});

test("typed functions agree with hand-computed values", () => {
  T.tidy(() => {
    const a = T.tensor([[1, 2], [3, 4]]);
    const b = T.tensor([[5, 6], [7, 8]]);
    assert.deepEqual(list(a.matmul(b)), [19, 22, 43, 50]);
    assert.deepEqual(list(a.sub(b)), [-4, -4, -4, -4]);
    assert.deepEqual(list(a.div(2)), [0.5, 1, 1.5, 2]);
    assert.deepEqual(list(a.pow(2)), [1, 4, 9, 16]);
    assert.deepEqual(list(a.sum(0)), [4, 6]);
    assert.deepEqual(list(a.mean(1)), [1.5, 3.5]);
    assert.equal(a.max().item(), 4);
    assert.deepEqual(list(a.t()), [1, 3, 2, 4]);
    assert.deepEqual(list(a.gt(2)), [0, 0, 1, 1]);
    assertClose(a.softmax(1).toList(), [1 / (1 + Math.E), Math.E / (1 + Math.E), 1 / (1 + Math.E), Math.E / (1 + Math.E)]);
    assertClose(a.var(0).toList(), [2, 2], 1e-6, 1e-6, "unbiased variance");
    assertClose(a.norm().toList(), [Math.sqrt(30)]);
    const [top, at] = T.tensor([3, 9, 1, 7]).topk(2);
    assert.deepEqual([list(top), list(at)], [[9, 7], [1, 3]]);
    assert.deepEqual(list(T.cat([a, b], 1)), [1, 2, 5, 6, 3, 4, 7, 8]);
    assert.deepEqual(list(T.where(a.gt(2), a, 0)), [0, 0, 3, 4]);
    assertClose(T.crossEntropy(T.tensor([[0, 0]]), T.tensor([1], undefined, { dtype: "int64" })).toList(), [Math.log(2)]);
  });
});

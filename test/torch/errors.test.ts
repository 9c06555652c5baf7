// Errors from the engine: each class becomes a JavaScript Error that carries libtorch's message and the
// operator's name; the process never aborts, and stays usable. Everything runs in this process.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import * as T from "../../src/torch/index.js";

const start = T.liveTensors();

/** Asserts that fn throws an Error from the engine whose message starts with `op:` and matches `text`. */
function throwsTorch(fn: () => unknown, op: string, text: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected an Error from ${op}, got ${String(caught)}`);
  const e = caught as Error & { code?: string };
  assert.ok(e.message.startsWith(`${op}: `), `message names the operator ${op}: "${e.message}"`);
  assert.match(e.message, text);
  assert.equal(e.code, "ERR_TORCH");
}

/** A small computation that must still work after an error. */
function stillUsable(): void {
  const v = T.tidy(() => T.tensor([1, 2, 3]).matmul(T.tensor([4, 5, 6])).item());
  assert.equal(v, 32);
}

test("bad shapes", () => {
  T.tidy(() => {
    const a = T.rand([2, 3]);
    throwsTorch(() => a.matmul(T.rand([4, 5])), "aten::matmul", /mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/);
    throwsTorch(() => a.view(7), "aten::view", /shape '\[7\]' is invalid for input of size 6/);
    throwsTorch(() => a.add(T.rand([4])), "aten::add.Tensor", /size of tensor a \(3\) must match the size of tensor b \(4\)/);
    throwsTorch(() => T.conv2d(T.rand([1, 2, 5, 5]), T.rand([4, 3, 3, 3])), "aten::conv2d", /expected input\[1, 2, 5, 5\] to have 3 channels/);
    throwsTorch(() => T.cat([a, T.rand([2, 4])], 0), "aten::cat", /Sizes of tensors must match/);
    throwsTorch(() => a.select(0, 5), "aten::select.int", /out of range/);
  });
  stillUsable();
});

test("wrong dtypes: int with float in matmul, float index tensors", () => {
  T.tidy(() => {
    const f = T.rand([2, 3]);
    const i = T.tensor([[1, 2], [3, 4], [5, 6]], undefined, { dtype: "int64" });
    // libtorch 1.13: "expected scalar type Float but found Long"; 2.x: "expected m1 and m2 to have the
    // same dtype, but got: float != long int". Either way the message names both dtypes.
    throwsTorch(() => f.matmul(i), "aten::matmul", /expected scalar type Float but found Long|expected m1 and m2 to have the same dtype, but got: float != long int/);
    const x = T.rand([4]);
    throwsTorch(() => x.index([T.tensor([0.5, 1])]), "aten::index.Tensor", /tensors used as indices must be long, (byte|int) or bool tensors/);
    throwsTorch(() => x.indexSelect(0, T.tensor([0.0])), "aten::index_select", /index_select\(\): Expected dtype int(32|64)( or int(32|64))? for index/);
    throwsTorch(() => T.crossEntropy(T.rand([2, 3]), T.tensor([0.0, 1.0])), "aten::cross_entropy_loss", /expected scalar type Long but found Float|Float/);
  });
  stillUsable();
});

test("unknown operators", () => {
  throwsTorch(() => T.native.opLookup("aten::no_such_op", ""), "opLookup", /unknown operator aten::no_such_op$/);
  throwsTorch(() => T.native.opLookup("aten::add", "NoSuchOverload"), "opLookup", /unknown operator aten::add\.NoSuchOverload/);
  T.tidy(() => throwsTorch(() => T.callOp("aten::frobnicate", "", T.zeros([1])), "opLookup", /unknown operator aten::frobnicate/));
  throwsTorch(() => T.native.call(1e6, 1), "call", /unknown operator id 1000000/);
  stillUsable();
});

test("missing arguments and too many arguments", () => {
  T.tidy(() => {
    const a = T.rand([3]);
    assert.throws(() => T.callOp("aten::add", "Tensor", a), { message: "aten::add.Tensor: missing argument 'other'" });
    throwsTorch(() => T.callOp("aten::add", "Tensor", a, undefined), "aten::add.Tensor", /missing argument 'other'/);
    throwsTorch(() => T.callOp("aten::select", "int", a), "aten::select.int", /missing argument 'dim'/);
    throwsTorch(() => T.callOp("aten::neg", "", a, a, a), "aten::neg", /takes 1 arguments, got 3/);
  });
  stillUsable();
});

test("wrong argument types", () => {
  T.tidy(() => {
    const a = T.rand([3]);
    throwsTorch(() => T.callOp("aten::add", "Tensor", a, "x"), "aten::add.Tensor", /other: expected a tensor handle/);
    throwsTorch(() => T.callOp("aten::add", "Tensor", a, [a]), "aten::add.Tensor", /other: expected a tensor handle/);
    throwsTorch(() => T.callOp("aten::select", "int", a, "0", 0), "aten::select.int", /dim: expected an integer/);
    throwsTorch(() => T.callOp("aten::select", "int", a, 0.5, 0), "aten::select.int", /dim: expected an integer, got 0\.5/);
    throwsTorch(() => T.callOp("aten::sum", "dim_IntList", a, "0"), "aten::sum.dim_IntList", /dim: expected an array/);
    throwsTorch(() => T.callOp("aten::mul", "Scalar", a, "2"), "aten::mul.Scalar", /other: expected a number/);
    throwsTorch(() => T.callOp("aten::sum", "dim_IntList", a, [0], "yes"), "aten::sum.dim_IntList", /keepdim: expected a boolean/);
    throwsTorch(() => T.callOp("aten::select", "int", a, 2n ** 70n, 0), "aten::select.int", /out of int64 range/);
    throwsTorch(() => T.callOp("aten::einsum", "", 5, [a]), "aten::einsum", /equation: expected a string/);
    throwsTorch(() => T.zeros([2], { device: "gpu7" }), "aten::zeros", /device string/);
    throwsTorch(() => T.native.fromBuffer(new Float32Array(3), [2, 2], T.DTYPE_CODE.float32), "fromBuffer", /12 bytes but shape and dtype need 16/);
  });
  stillUsable();
});

test("CUDA unavailable", { skip: T.cuda.isAvailable() && "CUDA is available here" }, () => {
  throwsTorch(() => T.zeros([2], { device: "cuda" }), "aten::zeros", /device cuda requested but CUDA is not available/);
  T.tidy(() => {
    throwsTorch(() => T.rand([2]).to("cuda:0"), "aten::to.device", /CUDA is not available/);
  });
  throwsTorch(() => T.cuda.synchronize(), "cudaSynchronize", /CUDA is not available/);
  stillUsable();
});

test("use of a disposed tensor", () => {
  const a = T.tensor([1, 2]);
  const b = T.tensor([3, 4]);
  b.dispose();
  assert.equal(b.disposed, true);
  throwsTorch(() => a.add(b), "aten::add.Tensor", /tensor handle -1 is not live \(was it disposed\?\)/);
  throwsTorch(() => b.add(a), "aten::add.Tensor", /not live/);
  throwsTorch(() => b.toList(), "dtype", /not live/);
  throwsTorch(() => b.shape, "shape", /not live/);
  throwsTorch(() => b.backward(), "backward", /not live/);
  b.dispose(); // a second dispose is harmless
  // A handle number that was freed and never reused is refused too, never dereferenced.
  const c = T.tensor([5]);
  const stale = c.id;
  c.dispose();
  const neg = T.native.opLookup("aten::neg", "");
  throwsTorch(() => T.native.call(neg, stale), "aten::neg", /not live/);
  // A fractional number is no handle (it is not truncated to a neighbouring live one).
  throwsTorch(() => T.native.call(neg, a.id + 0.5), "aten::neg", /self: expected a tensor handle/);
  a.dispose();
  stillUsable();
});

test("errors inside tidy free the scope's tensors and leave the scope stack intact", () => {
  const before = T.liveTensors();
  assert.throws(() => T.tidy(() => {
    const x = T.rand([3]);
    x.add(x);
    return x.matmul(T.rand([4, 4]));
  }), /aten::matmul/);
  assert.equal(T.liveTensors(), before);
  // The next tidy works normally (the failed one is no longer on the scope stack).
  const kept = T.tidy(() => T.rand([2]).mul(2));
  assert.equal(T.liveTensors(), before + 1);
  kept.dispose();
});

after(() => {
  // Every failed call above released what it made: no handle leaked through an error path.
  assert.equal(T.liveTensors(), start);
});

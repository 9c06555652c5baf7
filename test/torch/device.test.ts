// Devices (CPU always; CUDA where present, a clear error where not), bf16 autocast on the CPU,
// seeds and random-generator state, and the intra-op thread count.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";

test("cpu tensors and device resolution", () => {
  T.tidy(() => {
    assert.equal(T.zeros([2]).device, "cpu");
    assert.equal(T.zeros([2], { device: "cpu" }).device, "cpu");
    assert.equal(T.resolveDevice("cpu"), "cpu");
    assert.throws(() => T.resolveDevice("tpu"), /unknown device "tpu"/);
  });
});

test("CUDA availability and device count agree", () => {
  const available = T.cuda.isAvailable();
  const count = T.cuda.deviceCount();
  assert.equal(typeof available, "boolean");
  assert.ok(Number.isInteger(count) && count >= 0);
  assert.equal(available, count > 0);
});

test("asking for CUDA where it is unavailable throws a clear Error, and the process carries on", { skip: T.cuda.isAvailable() && "CUDA is available here" }, () => {
  const before = T.liveTensors();
  const clear = /CUDA is not available/;
  assert.throws(() => T.resolveDevice("cuda"), clear);
  assert.throws(() => T.resolveDevice("cuda:1"), clear);
  assert.throws(() => T.zeros([2], { device: "cuda" }), (e: Error) => e instanceof Error && /^aten::zeros: /.test(e.message) && clear.test(e.message));
  assert.throws(() => T.rand([2], { device: "cuda:0" }), clear);
  const x = T.tensor([1, 2]);
  assert.throws(() => x.to("cuda"), (e: Error) => /aten::to/.test(e.message) && clear.test(e.message));
  assert.throws(() => T.tensor([1], undefined, { device: "cuda" }), clear);
  assert.throws(() => T.cuda.synchronize(), clear);
  assert.throws(() => T.cuda.memory(), /CUDA/);
  assert.throws(() => T.getRngState("cuda"), Error);
  assert.equal(T.tidy(() => x.add(x).toList().join()), "2,4", "still usable");
  x.dispose();
  assert.equal(T.liveTensors(), before, "nothing leaked by the failed calls");
});

test("CUDA tensors round-trip where CUDA is available", { skip: !T.cuda.isAvailable() && "no CUDA here" }, () => {
  T.tidy(() => {
    const x = T.tensor([1, 2, 3], undefined, { device: "cuda" });
    assert.equal(x.device, "cuda:0");
    assert.deepEqual(x.mul(2).to("cpu").toList(), [2, 4, 6]);
    assert.deepEqual(x.toList(), [1, 2, 3], "read-back copies from the device");
    T.cuda.synchronize();
    assert.ok(T.cuda.memory().allocated > 0);
    assert.throws(() => T.zeros([1], { device: `cuda:${T.cuda.deviceCount()}` }), /requested but only/);
  });
});

test("bf16 autocast on the CPU: matmul and linear give bfloat16 inside the scope, float32 outside", () => {
  T.tidy(() => {
    const a = T.rand([4, 8]);
    const b = T.rand([8, 3]);
    const w = T.rand([5, 8]);
    const inside = T.autocast("cpu", "bfloat16", () => {
      assert.equal(a.dtype, "float32", "inputs keep their dtype");
      const nested = T.autocast("cpu", "bfloat16", () => a.matmul(b).dtype);
      return { mm: a.matmul(b), lin: T.linear(a, w), nested, afterNested: a.matmul(b).dtype };
    });
    assert.equal(inside.mm.dtype, "bfloat16");
    assert.equal(inside.lin.dtype, "bfloat16");
    assert.equal(inside.nested, "bfloat16");
    assert.equal(inside.afterNested, "bfloat16", "a nested scope restores the enclosing one's state");
    assert.equal(a.matmul(b).dtype, "float32", "outside the scope");
    assert.equal(T.linear(a, w).dtype, "float32");
    assert.equal(T.autocast("cpu", "bfloat16", () => a.matmul(b).dtype, false), "float32", "enabled = false");
    // bf16 results are close to the float32 ones (8 significant bits).
    const ref = a.matmul(b).toList();
    inside.mm.toList().forEach((v, i) => assert.ok(Math.abs(v - ref[i]) <= 0.02 * Math.abs(ref[i]) + 0.02));
    assert.throws(() => T.autocast("cpu", "bfloat16", () => {
      throw new Error("inside");
    }), /inside/);
    assert.equal(a.matmul(b).dtype, "float32", "autocast is switched off after a throw");
  });
});

test("manual seeds: the same seed gives the same numbers, another seed others", () => {
  T.tidy(() => {
    T.manualSeed(1234);
    const a = [T.rand([5]).toList(), T.randn([5]).toList(), T.randint(0, 1000, [5]).toList(), T.randperm(8).toList()];
    T.manualSeed(1234);
    const b = [T.rand([5]).toList(), T.randn([5]).toList(), T.randint(0, 1000, [5]).toList(), T.randperm(8).toList()];
    assert.deepEqual(a, b);
    T.manualSeed(4321);
    assert.notDeepEqual(T.rand([5]).toList(), a[0]);
    T.manualSeed(7);
    const u = T.empty([4]).uniform_(-1, 1).toList();
    T.manualSeed(7);
    assert.deepEqual(T.empty([4]).uniform_(-1, 1).toList(), u, "in-place samplers use the same generator");
  });
});

test("saving and restoring the RNG state reproduces the sequence", () => {
  T.tidy(() => {
    T.manualSeed(99);
    T.rand([3]); // advance a little
    const state = T.getRngState();
    assert.equal(state.dtype, "uint8");
    assert.equal(state.device, "cpu");
    const first = [T.rand([4]).toList(), T.randn([4]).toList()];
    const later = T.rand([4]).toList();
    T.setRngState(state);
    assert.deepEqual([T.rand([4]).toList(), T.randn([4]).toList()], first);
    assert.deepEqual(T.rand([4]).toList(), later);
    const copy = state.clone();
    T.setRngState(copy);
    assert.deepEqual(T.rand([4]).toList(), first[0], "a copy of the state works as well");
    assert.throws(() => T.setRngState(T.zeros([10])), /uint8/);
  });
});

test("intra-op thread count: set and get", () => {
  const before = T.getNumThreads();
  assert.ok(before >= 1);
  try {
    T.setNumThreads(1);
    assert.equal(T.getNumThreads(), 1);
    T.setNumThreads(2);
    assert.equal(T.getNumThreads(), 2);
    assert.throws(() => T.setNumThreads(0), /at least 1/);
    assert.equal(T.getNumThreads(), 2, "a refused value changes nothing");
    // Results do not depend on the thread count.
    T.tidy(() => {
      T.manualSeed(3);
      const x = T.rand([64, 64]);
      const two = x.matmul(x).sum().item();
      T.setNumThreads(1);
      assert.ok(Math.abs(x.matmul(x).sum().item() - two) < 1e-2);
    });
  } finally {
    T.setNumThreads(before);
  }
});

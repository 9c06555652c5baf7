// CUDA graphs through the addon. This machine's libtorch has no CUDA: the functions must exist and
// fail with a clear message; on a CUDA build with a GPU a capture and replay is checked for real.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";

const gpu = T.cudaGraphsAvailable();

test("without CUDA: graphs are unavailable and say why", { skip: gpu }, () => {
  assert.equal(T.cudaGraphsAvailable(), false);
  assert.throws(() => new T.CudaGraph(), /CUDA graphs need a CUDA build of libtorch/);
  assert.throws(() => T.graphPoolHandle(), /CUDA graphs need a CUDA build of libtorch/);
  assert.throws(() => T.onSideStream("cuda", () => 1), /CUDA graphs need a CUDA build of libtorch/);
});

test("cuda device indices", () => {
  assert.equal(T.cudaIndex("cuda"), 0);
  assert.equal(T.cudaIndex("cuda:3"), 3);
  assert.throws(() => T.cudaIndex("cpu"), /not a CUDA device/);
});

test("capture and replay: in-place updates repeat with new static inputs and device scalars", { skip: !gpu }, () => {
  const x = T.zeros([4], { device: "cuda" }).keep();
  const acc = T.zeros([4], { device: "cuda" }).keep();
  const scale = T.ones([], { device: "cuda" }).keep();
  // Warm up eagerly, then capture acc += x * scale.
  const body = () => T.tidy(() => void acc.add_(x.mul(scale)));
  body();
  const g = new T.CudaGraph();
  g.capture("cuda", body);
  assert.deepEqual(acc.toList(), [0, 0, 0, 0], "capturing does not run the work");
  x.copy_(T.tensor([1, 2, 3, 4]).to("cuda"));
  scale.fill_(2);
  g.replay();
  g.replay();
  T.cuda.synchronize();
  assert.deepEqual(acc.toList(), [4, 8, 12, 16]);
  const pool = g.pool();
  assert.equal(pool.length, 2);
  // Random numbers in a graph: each replay draws new ones (the generator's offset advances).
  const r = T.zeros([4], { device: "cuda" }).keep();
  const rg = new T.CudaGraph();
  rg.capture("cuda", () => T.tidy(() => void r.copy_(T.rand([4], { device: "cuda" }))));
  rg.replay();
  const first = r.toList();
  rg.replay();
  assert.notDeepEqual(r.toList(), first);
  rg.dispose();
  // A failing capture (a read-back inside it, after a random draw) is abandoned and leaves the device
  // and its generator usable.
  const bad = new T.CudaGraph();
  assert.throws(() => bad.capture("cuda", () => T.tidy(() => {
    T.rand([4], { device: "cuda" });
    return acc.sum().item();
  })));
  assert.deepEqual(T.ones([2], { device: "cuda" }).add(1).toList(), [2, 2]);
  const a = T.rand([4], { device: "cuda" }).toList();
  assert.notDeepEqual(T.rand([4], { device: "cuda" }).toList(), a, "eager random draws work again after the failed capture");
  bad.dispose();
  g.dispose();
  // Work on a side stream is finished before the previous stream is current again.
  const y = T.onSideStream("cuda", () => T.ones([3], { device: "cuda" }).mul(3).keep());
  assert.deepEqual(y.toList(), [3, 3, 3]);
});

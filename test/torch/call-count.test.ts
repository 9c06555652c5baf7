// The addon-boundary counter that tests and benchmarks use to prove a GPU path is lean on a CPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";

test("countNativeCalls counts op calls, releases and read-backs, and restores the addon", () => {
  const before = T.native.call;
  const { result, counts } = T.countNativeCalls(() => {
    const a = T.ones([4]);
    const b = a.add(a);
    const v = b.sum().item();
    a.dispose();
    b.dispose();
    return v;
  });
  assert.equal(result, 8);
  assert.equal(counts.readBacks, 1);
  assert.equal(counts.byName.item, 1);
  assert.ok(counts.ops >= 3, `expected at least 3 op calls, got ${counts.ops}`);
  assert.ok(counts.releases >= 1);
  assert.equal(T.native.call, before, "the addon's functions are put back");
});

test("a counter started across an await counts both sides and nests", async () => {
  const outer = T.startCountingNativeCalls();
  const x = T.zeros([2]);
  await new Promise((r) => setImmediate(r));
  const inner = T.countNativeCalls(() => x.toFloat32Array());
  x.dispose();
  const o = outer.stop();
  assert.equal(inner.counts.readBacks, 1);
  assert.equal(o.readBacks, 1, "the outer counter sees the inner call");
  assert.ok(o.ops > inner.counts.ops);
});

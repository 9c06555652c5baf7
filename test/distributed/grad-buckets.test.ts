// Gradient buckets (all-reduced while backward runs, as DistributedDataParallel) on 2 Gloo ranks: the
// averaged gradients are bit for bit those of one flat all-reduce after backward, on every rank, with
// many small buckets, when the buckets are reused, and through the trainer's dataParallel interface;
// parameters without a gradient on some or all ranks are handled as averageGradients does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { describe, runRanks } from "./ranks.js";

test("gradient buckets average to the same bits as one flat all-reduce (2 Gloo ranks)", { timeout: 90_000 }, async () => {
  const runs = await runRanks("grad-buckets", 2, { timeoutMs: 60_000 });
  for (const r of runs) assert.equal(r.code, 0, describe(runs));
  const [a, b] = runs.map((r) => r.result);
  // The ranks start from different local gradients (their own batches) and end with the same mean.
  assert.notEqual(a.local, b.local);
  assert.equal(a.flat, b.flat);
  assert.notEqual(a.flat, a.local);
  for (const o of [a, b]) {
    assert.equal(o.bucketed0, o.flat, "bucketed vs flat");
    assert.equal(o.bucketed1, o.flat, "reused buckets vs flat");
    assert.equal(o.dataParallel, o.flat, "dataParallel (25 MiB buckets) vs flat");
    assert.equal(o.afterDispose, o.local, "disposed buckets must leave the local gradients alone");
    // 4 KiB buckets over a few hundred KiB of parameters: many buckets, every parameter in one of them.
    assert.ok(o.sizes.length > 5, `only ${o.sizes.length} buckets`);
    assert.equal(o.sizes.reduce((s: number, n: number) => s + n, 0), o.paramCount);
    // rank 0: p's grad 1, q's [4, 8, 12]; rank 1: p's grad 2, q unused; z unused everywhere.
    assert.deepEqual(o.unused, { p: [1.5, 1.5, 1.5, 1.5], q: [2, 4, 6], z: true });
    assert.match(o.finishFirst, /finish\(\) without prepare\(\)/);
  }
});

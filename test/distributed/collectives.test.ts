// Two processes on this machine over Gloo: all-reduce (sum, avg, max, min; several dtypes and a
// non-contiguous tensor in one call), all-gather, broadcast, barrier, the differentiable all-reduce's
// gradient, and averageGradients / broadcastParameters, checked against hand-computed values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { describe, runRanks } from "./ranks.js";

test("collectives on 2 Gloo ranks", { timeout: 90_000 }, async () => {
  const runs = await runRanks("collectives", 2, { timeoutMs: 60_000 });
  for (const r of runs) assert.equal(r.code, 0, describe(runs));
  for (const { result: o } of runs) {
    assert.equal(o.worldSize, 2);
    assert.equal(o.backend, "gloo");
    // ranks 0 and 1: a = [1, 0, 0] + [2, 2, -1]; i = 10 + 11; base = [[0,1],[2,0]] + [[1,1],[2,3]].
    assert.deepEqual(o.sum, { a: [3, 2, -1], i: [21], base: [[1, 2], [4, 3]].flat() });
    assert.deepEqual(o.avg, [0.5, 4.5]);
    assert.deepEqual(o.max, [1, 5]);
    assert.deepEqual(o.min, [0, 4]);
    assert.deepEqual(o.gather, [[0, 0, 0], [1, 10, 100]]);
    assert.deepEqual(o.broadcast, { b1: [1.5, 2.5], b2: [14] });
    assert.deepEqual(o.diff, { y: [3, 2 * 2], grad: [3, 3] });
    assert.deepEqual(o.avgGrad, { p: [1.5, 1.5, 1.5, 1.5], q: [2, 4, 6], z: true });
    assert.deepEqual(o.bcastParams, { w: [3, 3, 3], requiresGrad: true });
    assert.equal(o.leaked, 0);
  }
});

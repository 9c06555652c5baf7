// Cross-replica BatchNorm: 2 Gloo ranks × batch B give the same outputs, input gradients, parameter
// gradients and running statistics as ordinary BatchNorm over the concatenated batch 2B.
import { test } from "node:test";
import assert from "node:assert/strict";
import { describe, runRanks } from "./ranks.js";

test("SyncBatchNorm on 2 ranks equals BatchNorm over the whole batch", { timeout: 90_000 }, async () => {
  const runs = await runRanks("sync-bn", 2, { timeoutMs: 60_000 });
  for (const r of runs) assert.equal(r.code, 0, describe(runs));
  for (const { rank, result } of runs) {
    for (const layer of ["bn1d", "bn1d3", "bn2d"]) {
      const d = result[layer];
      for (const [k, v] of Object.entries(d)) assert.ok((v as number) <= 1e-5, `rank ${rank} ${layer}: ${k} differs by ${v}`);
    }
    assert.deepEqual(result.convert, { same: true, isSync: true, sharesTensors: true, keys: true });
  }
});

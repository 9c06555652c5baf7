// A rank that dies, or stalls, makes the others stop with a clear error within the timeout instead of
// hanging forever.
import { test } from "node:test";
import assert from "node:assert/strict";
import { describe, runRanks } from "./ranks.js";

test("a rank that exits makes the other fail at once", { timeout: 60_000 }, async () => {
  const runs = await runRanks("fault", 2, { env: { BYOL_FAULT: "exit", BYOL_DIST_TIMEOUT_S: "5" }, timeoutMs: 40_000 });
  const [r0, r1] = runs;
  assert.equal(r1.code, 3, describe(runs));
  assert.equal(r0.code, 2, describe(runs));
  assert.match(r0.result.error, /all-reduce failed on rank 0 of 2 \(gloo\): .*another process probably exited/);
  assert.match(r0.result.again, /failed earlier and cannot be used/);
  assert.ok(r0.result.ms < 5000, `rank 0 noticed after ${r0.result.ms} ms`);
});

test("a rank that stalls makes the other fail after the timeout", { timeout: 60_000 }, async () => {
  const runs = await runRanks("fault", 2, { env: { BYOL_FAULT: "hang", BYOL_DIST_TIMEOUT_S: "2" }, timeoutMs: 40_000 });
  const r0 = runs[0];
  assert.equal(r0.code, 2, describe(runs));
  assert.match(r0.result.error, /all-reduce on rank 0 of 2 \(gloo\) timed out after 2000 ms/);
  assert.ok(r0.result.ms >= 1900 && r0.result.ms < 6000, `rank 0 gave up after ${r0.result.ms} ms`);
});

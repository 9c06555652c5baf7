// Data-parallel BYOL steps on 2 Gloo ranks: after several steps both ranks hold the same weights, and
// 2 ranks × batch B with cross-replica BatchNorm give the same losses and weights as 1 process × 2B.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, runRanks } from "./ranks.js";

function params(prefix: string, rank: number): Float32Array {
  const b = readFileSync(`${prefix}.${rank}`);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 0;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    d = Math.max(d, Math.abs(a[i] - b[i]));
  }
  return d / scale;
}

async function run(world: number, dir: string, name: string, syncBn: boolean) {
  const runs = await runRanks("dp-step", world, { env: { BYOL_PARAMS_OUT: join(dir, name), BYOL_SYNC_BN: syncBn ? "1" : "0" }, timeoutMs: 60_000 });
  for (const r of runs) assert.equal(r.code, 0, describe(runs));
  return { losses: runs.map((r) => r.result.losses as number[]), params: runs.map((r) => params(join(dir, name), r.rank)) };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b));

test("data-parallel BYOL steps on 2 ranks", { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "byol-dp-"));
  try {
    const one = await run(1, dir, "one", false);
    const ref = one.losses[0];

    await t.test("2 ranks × B with SyncBatchNorm = 1 process × 2B; both ranks hold the same weights", async () => {
      const two = await run(2, dir, "sync", true);
      for (const l of two.losses) {
        assert.equal(l.length, ref.length);
        l.forEach((v, i) => assert.ok(rel(v, ref[i]) <= 1e-5, `step ${i + 1}: loss ${v} on 2 ranks vs ${ref[i]} on 1`));
      }
      assert.deepEqual(two.params[0], two.params[1], "the ranks' weights differ");
      const d = maxRelDiff(two.params[0], one.params[0]);
      assert.ok(d <= 1e-5, `weights differ from the 1-process run by ${d}`);
    });

    await t.test("without SyncBatchNorm the ranks agree with each other but not with 1 × 2B", async () => {
      const two = await run(2, dir, "local", false);
      assert.deepEqual(two.params[0], two.params[1]);
      assert.deepEqual(two.losses[0], two.losses[1]);
      // Per-rank statistics over B differ from those over 2B: the first loss already shows it.
      assert.ok(rel(two.losses[0][0], ref[0]) > 1e-3, `loss ${two.losses[0][0]} vs ${ref[0]}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

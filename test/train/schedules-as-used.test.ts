// The learning rate and τ a run logs are the closed forms of SPEC §1 at the step the trainer is on:
//   peak = baseLr × global batch / 256; linear warm-up over W steps, then cosine decay to 0 at K;
//   τ_k = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2.
// Update k (k = 0 … K − 1) is made with lr(k) and τ(k), and the metrics row written after it has
// step = k + 1 (the number of updates done). The forms are written out here, not imported, so a wrong
// k, K, W or peak in the trainer cannot agree with itself.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readMetrics } from "../../src/train/metrics.js";
import { byol } from "../cli/run-cli.js";

const root = mkdtempSync(join(tmpdir(), "byol-schedules-"));
after(() => rmSync(root, { recursive: true, force: true }));

const IMAGES = 128;
const BATCH = 16;
const EPOCHS = 3;
const WARMUP_EPOCHS = 1.5;
const BASE_LR = 0.4;
const TAU_BASE = 0.9;

function closedLr(k: number, K: number, W: number, peak: number): number {
  if (k < W) return (peak * k) / W;
  return peak * 0.5 * (1 + Math.cos((Math.PI * (k - W)) / (K - W)));
}
function closedTau(k: number, K: number, base: number): number {
  return 1 - (1 - base) * (Math.cos((Math.PI * k) / K) + 1) / 2;
}

test("a run's logged lr and τ are the closed forms at k = step − 1 of K = epochs × steps per epoch", () => {
  const run = join(root, "run");
  const r = byol(["train", "--preset", "smoke", "--quiet", "--threads", "1", "--no-eval", "--out", run,
    "--epochs", String(EPOCHS), "--batch-size", String(BATCH), "--lr", String(BASE_LR), "--limit", String(IMAGES),
    "--set", `optimizer.warmupEpochs=${WARMUP_EPOCHS}`, "--set", `tauBase=${TAU_BASE}`, "--set", "logEverySteps=1",
    "--set", "knn.everyEpochs=0", "--set", "onlineProbe.enabled=false"]);
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
  assert.equal(cfg.nproc, 1);
  const stepsPerEpoch = IMAGES / BATCH; // 8: the limit is a multiple of the batch
  const K = EPOCHS * stepsPerEpoch;
  const W = WARMUP_EPOCHS * stepsPerEpoch; // 12
  const peak = (BASE_LR * BATCH * 1) / 256; // 0.025: baseLr × global batch / 256
  const rows = readMetrics(join(run, "metrics.jsonl"));
  assert.deepEqual(rows.map((row) => row.step), Array.from({ length: K }, (_, i) => i + 1), "one row per update");
  for (const row of rows) {
    const k = row.step - 1;
    const lr = closedLr(k, K, W, peak);
    const tau = closedTau(k, K, TAU_BASE);
    assert.ok(Math.abs(row.lr - lr) <= 1e-12 * peak, `update ${k}: lr ${row.lr}, closed form ${lr}`);
    assert.ok(Math.abs(row.tau - tau) <= 1e-12, `update ${k}: tau ${row.tau}, closed form ${tau}`);
  }
  // The landmarks, spelled out: the first update at lr 0 and τ_base, the peak right after warm-up,
  // the last update just short of lr 0 and τ 1.
  assert.equal(rows[0].lr, 0);
  assert.ok(Math.abs(rows[0].tau - TAU_BASE) < 1e-15);
  assert.ok(Math.abs(rows[W].lr - peak) < 1e-15, `update ${W} runs at the peak ${peak}, got ${rows[W].lr}`);
  assert.ok(rows[K - 1].lr > 0 && rows[K - 1].lr < peak * 0.02);
  assert.ok(rows[K - 1].tau < 1 && rows[K - 1].tau > 0.999);
});

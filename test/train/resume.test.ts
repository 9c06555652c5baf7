// Resuming reproduces the uninterrupted run exactly: the same metrics rows (every field but the
// throughput) and the same final checkpoint, every tensor bit for bit (weights, target, optimizer state,
// probe, generator). Stopped at an epoch boundary (the resumed run starts a fresh epoch) and mid-epoch
// with each stateful optimizer: LARS and AdamW (SGD mid-epoch is covered by the CLI tests); and a time
// budget's plan that ends inside an epoch, stopped and resumed before its end.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { checkpointPath, loadCheckpoint } from "../../src/train/checkpoint.js";
import { readMetrics } from "../../src/train/metrics.js";
import { byol } from "../cli/run-cli.js";
import { byolTau, warmupCosineLr } from "../../src/optim/schedules.js";

const root = mkdtempSync(join(tmpdir(), "byol-resume-"));
after(() => rmSync(root, { recursive: true, force: true }));

// 128 images in batches of 32: 4 steps per epoch, 12 in all.
const BASE = ["--preset", "smoke", "--quiet", "--threads", "1", "--no-eval", "--limit", "128", "--epochs", "3",
  "--set", "logEverySteps=1", "--set", "checkpointEverySteps=1000"];

function train(name: string, optimizer: string, stopAfter?: number): string {
  const dir = join(root, name);
  const r = byol(["train", ...BASE, "--set", `optimizer.name=${optimizer}`, "--out", dir, ...(stopAfter ? ["--stop-after", String(stopAfter)] : [])]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

function resume(dir: string): void {
  const r = byol(["train", "--resume", dir, "--quiet", "--no-eval", "--threads", "1"]);
  assert.equal(r.code, 0, r.stderr);
}

function assertSameRun(got: string, want: string, lastStep = 12): void {
  const a = readMetrics(join(got, "metrics.jsonl"));
  const b = readMetrics(join(want, "metrics.jsonl"));
  assert.deepEqual(a.map((r) => r.step), b.map((r) => r.step), "the same steps, each logged once");
  for (let i = 0; i < b.length; i++) {
    const { img_per_s: _a, ...ra } = a[i];
    const { img_per_s: _b, ...rb } = b[i];
    assert.deepEqual(ra, rb, `metrics row of step ${b[i].step}`);
  }
  assert.ok(b.some((r) => typeof r.knn_top1 === "number") && b.some((r) => typeof r.online_linear_top1 === "number"));
  const ca = loadCheckpoint(checkpointPath(got));
  const cb = loadCheckpoint(checkpointPath(want));
  assert.equal(ca.meta.step, lastStep);
  assert.deepEqual([ca.meta.step, ca.meta.epoch, ca.meta.stepInEpoch], [cb.meta.step, cb.meta.epoch, cb.meta.stepInEpoch]);
  assert.deepEqual(Object.keys(ca.tensors).sort(), Object.keys(cb.tensors).sort());
  assert.ok(Object.keys(cb.tensors).some((k) => k.startsWith("optim.")), "the optimizer state is in the checkpoint");
  for (const k of Object.keys(cb.tensors)) {
    const [x, y] = [ca.tensors[k], cb.tensors[k]];
    assert.equal(x.dtype, y.dtype, k);
    assert.deepEqual(x.shape, y.shape, k);
    // Bit for bit: the count of differing elements (NaN never occurs in a good checkpoint).
    const differing = x.numel === 0 ? 0 : x.ne(y).sum().item();
    assert.equal(differing, 0, `${k}: ${differing} elements differ from the uninterrupted run's`);
  }
}

test("resumed at an epoch boundary, a run equals the uninterrupted one", () => {
  const whole = train("sgd-whole", "sgd");
  const cut = train("sgd-cut", "sgd", 4);
  const ck = loadCheckpoint(checkpointPath(cut));
  assert.deepEqual([ck.meta.step, ck.meta.epoch, ck.meta.stepInEpoch], [4, 1, 0], "stopped at the end of epoch 1");
  resume(cut);
  assertSameRun(cut, whole);
});

for (const optimizer of ["lars", "adamw"]) {
  test(`${optimizer}: resumed mid-epoch, a run equals the uninterrupted one`, () => {
    const whole = train(`${optimizer}-whole`, optimizer);
    const cut = train(`${optimizer}-cut`, optimizer, 6);
    const ck = loadCheckpoint(checkpointPath(cut));
    assert.deepEqual([ck.meta.step, ck.meta.epoch, ck.meta.stepInEpoch], [6, 1, 2], "stopped inside epoch 2");
    resume(cut);
    assertSameRun(cut, whole);
  });
}

test("a time budget's plan that ends inside an epoch: resumed mid-way, the run equals the uninterrupted one", () => {
  // A fixed plan (no re-plans): 7 steps of 4-step epochs, ending after the 3rd batch of epoch 2.
  const planFile = join(root, "plan.json");
  writeFileSync(planFile, JSON.stringify({
    timeBudgetS: 1000, replanEverySteps: 0,
    resolved: { budgetS: 1000, epochs: 2, stepsPerEpoch: 4, totalSteps: 7, secondsPerStep: 1, monitorS: 1, decidedAtStep: 4, elapsedS: 4 },
  }));
  const args = ["--preset", "smoke", "--quiet", "--threads", "1", "--no-eval", "--limit", "128", "--config", planFile,
    "--set", "logEverySteps=1", "--set", "checkpointEverySteps=1000"];
  const run = (name: string, stopAfter?: number) => {
    const dir = join(root, name);
    const r = byol(["train", ...args, "--out", dir, ...(stopAfter ? ["--stop-after", String(stopAfter)] : [])]);
    assert.equal(r.code, 0, r.stderr);
    return dir;
  };
  const whole = run("plan-whole");
  const cut = run("plan-cut", 5);
  assert.deepEqual(loadCheckpoint(checkpointPath(cut)).meta.step, 5);
  resume(cut);
  for (const dir of [whole, cut]) {
    const rows = readMetrics(join(dir, "metrics.jsonl"));
    assert.deepEqual(rows.map((r) => r.step), [1, 2, 3, 4, 5, 6, 7], "stops at the plan's total, inside epoch 2");
    // The monitor reads at the end of epoch 1, not at the last step (the final evaluation replaces it);
    // the last row still carries the online probe's accuracy over the part of the epoch that ran.
    assert.equal(typeof rows[3].knn_top1, "number");
    assert.equal(rows[6].knn_top1, undefined);
    assert.equal(typeof rows[6].online_linear_top1, "number");
    assert.equal(rows[6].epoch, 1.75);
    const ck = loadCheckpoint(checkpointPath(dir));
    assert.deepEqual([ck.meta.step, ck.meta.epoch, ck.meta.stepInEpoch], [7, 1, 3], "the final checkpoint is at step 7, 3 batches into epoch 2");
    for (const t of Object.values(ck.tensors)) t.dispose();
    // config.json: the seconds trained and left of the budget, filled at the end.
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    assert.equal(cfg.resolved.totalSteps, 7);
    assert.ok(cfg.resolved.trainedS > 0 && Math.abs(cfg.resolved.trainedS + cfg.resolved.leftS - 1000) < 0.2, JSON.stringify(cfg.resolved));
  }
  assertSameRun(cut, whole, 7);
  // The schedules ran to 7 steps: the last step's lr is the cosine's at k = 6 of 7 (smoke warm-up: 1 epoch, 4 steps).
  const last = readMetrics(join(whole, "metrics.jsonl"))[6];
  assert.ok(Math.abs(last.lr - warmupCosineLr(6, 7, 4, (0.3 * 32) / 256)) < 1e-12);
  assert.ok(Math.abs(last.tau - byolTau(6, 7, 0.99)) < 1e-12);
});

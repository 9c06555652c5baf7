// Resuming reproduces the uninterrupted run exactly: the same metrics rows (every field but the
// throughput) and the same final checkpoint, every tensor bit for bit (weights, target, optimizer state,
// probe, generator). Stopped at an epoch boundary (the resumed run starts a fresh epoch) and mid-epoch
// with each stateful optimizer: LARS and AdamW (SGD mid-epoch is covered by the CLI tests).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { checkpointPath, loadCheckpoint } from "../../src/train/checkpoint.js";
import { readMetrics } from "../../src/train/metrics.js";
import { byol } from "../cli/run-cli.js";

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

function assertSameRun(got: string, want: string): void {
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
  assert.equal(ca.meta.step, 12);
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

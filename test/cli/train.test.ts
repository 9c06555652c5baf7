// The byol command end to end on the smoke preset: run folder contract, resume equivalence,
// interruption, NaN handling, incompatible checkpoints, eval, embed and preview.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import * as T from "../../src/torch/index.js";
import { readMetrics } from "../../src/train/metrics.js";
import { loadCheckpoint, checkpointPath } from "../../src/train/checkpoint.js";
import { readNpy } from "../../src/data/npy.js";
import { byol, oneLineError } from "./run-cli.js";

const root = mkdtempSync(join(tmpdir(), "byol-e2e-"));
const smoke = ["--preset", "smoke", "--quiet", "--threads", "1"];

test("byol train writes the whole run folder (SPEC §4)", () => {
  const run = join(root, "full");
  const r = byol(["train", ...smoke, "--out", run]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ["config.json", "metrics.jsonl", "checkpoints/last.safetensors", "encoder.safetensors", "eval.json", "report.html"]) {
    assert.ok(existsSync(join(run, f)), `${f} exists`);
  }
  const cfg = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
  assert.equal(cfg.preset, "smoke");
  assert.equal(cfg.encoder.arch, "resnet18");
  const rows = readMetrics(join(run, "metrics.jsonl"));
  assert.ok(rows.length >= 5);
  for (const row of rows) {
    for (const k of ["step", "epoch", "loss", "lr", "tau", "img_per_s"]) assert.equal(typeof row[k], "number", `metrics row has ${k}`);
    assert.ok(row.loss >= 0 && row.loss <= 8, "the symmetric BYOL loss is in [0, 8]");
  }
  assert.ok(rows.some((r) => typeof r.knn_top1 === "number"), "the kNN monitor logs at epoch ends");
  const ev = JSON.parse(readFileSync(join(run, "eval.json"), "utf8"));
  assert.equal(ev.dataset, "fashion-mnist");
  assert.equal(ev.epochs, 2);
  assert.ok(ev.wall_s > 0);
  const fractions = [ev.knn_top1, ev.linear_top1, ev.baselines.random_init.knn_top1, ev.baselines.random_init.linear_top1, ev.baselines.raw_pixels.linear_top1];
  for (const f of fractions) assert.ok(f >= 0 && f <= 1, `accuracy ${f} is a fraction`);
  assert.ok(ev.baselines.raw_pixels.linear_top1 > 0.5, "raw pixels on Fashion-MNIST are far above chance");
  const html = readFileSync(join(run, "report.html"), "utf8");
  assert.match(html, /<svg/);
  assert.ok(!/<script[^>]+src=/i.test(html), "the report is self-contained");
});

test("an interrupted and resumed run matches an uninterrupted one", () => {
  const a = join(root, "a");
  const b = join(root, "b");
  assert.equal(byol(["train", ...smoke, "--no-eval", "--out", a]).code, 0);
  const stop = byol(["train", ...smoke, "--no-eval", "--out", b, "--stop-after", "11"]);
  assert.equal(stop.code, 0, stop.stderr);
  const ck = loadCheckpoint(checkpointPath(b));
  assert.equal(ck.meta.step, 11);
  const resumed = byol(["train", "--resume", b, "--quiet", "--no-eval"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const ra = readMetrics(join(a, "metrics.jsonl"));
  const rb = readMetrics(join(b, "metrics.jsonl"));
  assert.deepEqual(rb.map((r) => r.step), ra.map((r) => r.step), "the same steps are logged once");
  for (let i = 0; i < ra.length; i++) {
    assert.ok(Math.abs(ra[i].loss - rb[i].loss) < 1e-4, `step ${ra[i].step}: loss ${ra[i].loss} vs resumed ${rb[i].loss}`);
    assert.equal(ra[i].lr, rb[i].lr);
  }
  const wa = T.loadSafetensors(join(a, "encoder.safetensors")).tensors["conv1.weight"];
  const wb = T.loadSafetensors(join(b, "encoder.safetensors")).tensors["conv1.weight"];
  assert.ok(wa.sub(wb).abs().max().item() < 1e-4, "final weights agree");
});

test("a checkpoint from another configuration is refused", () => {
  const b = join(root, "b");
  const line = oneLineError(byol(["train", "--resume", b, "--quiet", "--set", "encoder.widthMultiplier=0.25"]));
  assert.match(line, /another configuration \(encoder.widthMultiplier: checkpoint has 0.125, this run has 0.25\)/);
  assert.match(oneLineError(byol(["train", ...smoke, "--out", b])), /already holds a run/);
});

test("a NaN loss stops the run and keeps the last good checkpoint", () => {
  const run = join(root, "nan");
  // Plain SGD at a huge learning rate with heavy decay on every parameter diverges within a few steps.
  const r = byol(["train", ...smoke, "--out", run, "--no-eval", "--set", "optimizer.name=sgd", "--lr", "99", "--set", "optimizer.weightDecay=0.9",
    "--set", "optimizer.excludeBiasAndNorm=false", "--set", "checkpointEverySteps=1", "--set", "optimizer.warmupEpochs=0"]);
  const line = oneLineError(r);
  // Either the loss turns NaN first, or the weights stop being finite before the loss shows it.
  const m = /(?:loss became NaN at step|training diverged by step) (\d+).*last good checkpoint \(step (\d+)\)/.exec(line);
  assert.ok(m, line);
  const failStep = Number(m![1]);
  const { meta, tensors } = loadCheckpoint(checkpointPath(run));
  assert.equal(meta.step, Number(m![2]), "the checkpoint on disk is the one the message names");
  assert.ok(meta.step < failStep, "the checkpoint predates the failure");
  for (const [k, t] of Object.entries(tensors)) {
    if (t.dtype === "float32") assert.ok(Number.isFinite(t.abs().sum().item()), `${k} is finite`);
  }
});

test("byol eval, embed and preview work on a finished run", () => {
  const run = join(root, "full");
  const ev = byol(["eval", run, "--quiet"]);
  assert.equal(ev.code, 0, ev.stderr);
  const out = JSON.parse(ev.stdout.trim().split("\n").pop()!);
  assert.ok(out.linear_top1 > 0 && out.linear_top1 <= 1);
  const npy = join(root, "emb.npy");
  const em = byol(["embed", "--encoder", join(run, "encoder.safetensors"), "--input", "fashion-mnist", "--split", "test", "--out", npy]);
  assert.equal(em.code, 0, em.stderr);
  const arr = readNpy(npy);
  assert.equal(arr.shape[0], 10000);
  const ids = readFileSync(`${npy}.ids.txt`, "utf8").trim().split("\n");
  assert.equal(ids.length, 10000);
  const png = join(root, "grid.png");
  const pv = byol(["preview", "--dataset", "fashion-mnist", "--out", png, "--images", "3", "--samples", "2"]);
  assert.equal(pv.code, 0, pv.stderr);
  const img = PNG.sync.read(readFileSync(png));
  assert.ok(img.width > 28 * 5 && img.height >= 28 * 3, `grid ${img.width}x${img.height}`);
});

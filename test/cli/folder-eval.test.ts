// A user's own image folder, end to end through the byol command, in its three forms: train/ and
// test/ subfolders, class subfolders only (a held-out test split), and a flat unlabelled folder.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { removeDir, tmpDir, writePngFolder } from "../data/fixtures.js";
import { tinyImages } from "../eval/helpers.js";
import { byol, oneLineError } from "./run-cli.js";

const root = tmpDir("cli-folder-eval");
after(() => removeDir(root));

// Tiny and fast: 16x16 RGB, a narrow ResNet, one epoch of batches of 8.
const FLAGS = ["--preset", "smoke", "--threads", "1", "--epochs", "1", "--batch-size", "8", "--quiet",
  "--set", "imageSize=16", "--set", "augment.preset=cifar", "--set", "augment.outputSize=16", "--set", "linearEval.epochs=2"];

function train(dataset: string, out: string, extra: string[] = []) {
  const r = byol(["train", "--dataset", dataset, "--out", out, ...FLAGS, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

const readJson = (p: string) => JSON.parse(readFileSync(p, "utf8"));

before(async () => {
  // Class subfolders only: 3 classes of 15, 10 and 7 images.
  const sizes = [15, 10, 7];
  const n = sizes.reduce((a, b) => a + b);
  const labels = Int32Array.from(sizes.flatMap((m, c) => Array.from({ length: m }, () => c)));
  await writePngFolder(join(root, "classes"), { ...tinyImages(n, 3, 16, 1, 11), labels, classes: ["red", "green", "blue"] });
  const two = (m: number, seed: number) => ({ ...tinyImages(m, 3, 16, 2, seed), classes: ["even", "odd"] });
  await writePngFolder(join(root, "split", "train"), two(24, 12));
  await writePngFolder(join(root, "split", "val"), two(10, 13));
  await writePngFolder(join(root, "flat"), tinyImages(24, 3, 16, 1, 14, false));
});

test("class subfolders only: a seeded, stratified 20% is held out for evaluation and eval.json and the report say so", () => {
  const dir = join(root, "classes");
  const run = join(root, "run-classes");
  train(`folder:${dir}`, run, ["--seed", "3"]);
  const ev = readJson(join(run, "eval.json"));
  // 15 -> 3, 10 -> 2, 7 -> round(1.4) = 1: 6 held out, 26 for the probes; all 32 pretrain.
  assert.deepEqual([ev.test_images, ev.train_images], [6, 26]);
  assert.equal(ev.test_split, `held-out 20% of ${dir}, class-stratified, seed 3 (also seen unlabelled during pretraining)`);
  for (const k of ["knn_top1", "linear_top1"]) assert.ok(ev[k] >= 0 && ev[k] <= 1, k);
  assert.ok(readFileSync(join(run, "report.html"), "utf8").includes(`Test split: held-out 20% of ${dir}`));
  const metrics = readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(metrics.at(-1).step, 4, "32 pretraining images in batches of 8: every image pretrains");
  // byol eval reopens the folder with the run's seed: the same split, so the same scores.
  const again = byol(["eval", run, "--quiet", "--threads", "1"]);
  assert.equal(again.code, 0, again.stderr);
  const re = JSON.parse(again.stdout.trim().split("\n").pop()!);
  assert.deepEqual([re.knn_top1, re.linear_top1, re.test_split], [ev.knn_top1, ev.linear_top1, ev.test_split]);

  // evalHoldout changes the fraction: 0.5 -> 15 -> 8, 10 -> 5, 7 -> 4.
  const half = join(root, "run-half");
  train(`folder:${dir}`, half, ["--set", "evalHoldout=0.5"]);
  assert.deepEqual([readJson(join(half, "eval.json")).test_images, readJson(join(half, "config.json")).evalHoldout], [17, 0.5]);
  assert.match(oneLineError(byol(["train", "--dataset", `folder:${dir}`, "--out", join(root, "bad"), ...FLAGS, "--set", "evalHoldout=1"])), /evalHoldout must be in \(0, 1\), got 1/);
});

test("train/ and val/ subfolders are the splits", () => {
  const dir = join(root, "split");
  const run = join(root, "run-split");
  train(`folder:${dir}`, run);
  const ev = readJson(join(run, "eval.json"));
  assert.deepEqual([ev.train_images, ev.test_images], [24, 10]);
  assert.equal(ev.test_split, `${join(dir, "val")} (the folder's own test split)`);
});

test("a flat folder trains and exports, writes no eval.json and says why in one line", () => {
  const run = join(root, "run-flat");
  const r = byol(["train", "--dataset", `folder:${join(root, "flat")}`, "--out", run, ...FLAGS.filter((f) => f !== "--quiet")]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(run, "encoder.safetensors")));
  assert.ok(!existsSync(join(run, "eval.json")));
  const why = r.stderr.split("\n").filter((l) => l.startsWith("no evaluation"));
  assert.deepEqual(why, [`no evaluation (no eval.json): ${join(root, "flat")} has no class subfolders (a flat folder of unlabelled images), so there are no labels to measure accuracy against`]);
  assert.match(oneLineError(byol(["eval", run, "--quiet"])), /nothing to evaluate: .* has no class subfolders/);
});

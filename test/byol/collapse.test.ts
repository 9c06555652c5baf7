// The collapse metric (src/byol/collapse.ts) against hand computations and PyTorch, and the one-line
// collapse notice (src/train/collapse-watch.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { collapseMetric } from "../../src/byol/collapse.js";
import { CollapseWatch } from "../../src/train/collapse-watch.js";
import { pythonTorchAvailable, runPython } from "../torch/helpers.js";

const metric = (rows: number[][]) => T.tidy(() => collapseMetric(T.tensor(rows.flat(), [rows.length, rows[0].length])).item());

test("collapse metric by hand: orthogonal directions read 1 (whatever the lengths), one direction reads 0", () => {
  // z/‖z‖ = [[1, 0], [0, 1]]: each dim holds {1, 0}, unbiased std √0.5; mean √0.5, × √2 = 1.
  assert.ok(Math.abs(metric([[3, 0], [0, 0.5]]) - 1) < 1e-6);
  // Every row the same direction (lengths differ): std 0 in every dim.
  assert.ok(Math.abs(metric([[1, 2, 2], [2, 4, 4], [0.5, 1, 1]])) < 1e-6);
  // [[1,0],[1,0],[0,1],[0,1]]: each dim {1,1,0,0}: unbiased var 1/3; √(1/3)·√2.
  assert.ok(Math.abs(metric([[1, 0], [1, 0], [0, 1], [0, 1]]) - Math.sqrt(1 / 3) * Math.SQRT2) < 1e-6);
});

test("collapse metric equals PyTorch's F.normalize(z).std(0).mean() * sqrt(d) on fixed tensors", { skip: !pythonTorchAvailable() && "python3-torch is not installed" }, () => {
  const n = 16;
  const d = 32;
  // Fixed values: a smooth pattern plus a shared offset, so the metric lands between 0 and 1.
  const rows = Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => Math.sin(i * 1.3 + j * 0.7) + 0.8 + 0.01 * j));
  const ref = runPython<number[]>(
    "import json, sys, torch, torch.nn.functional as F\nz = torch.tensor(json.load(sys.stdin), dtype=torch.float32)\n" +
      "print(json.dumps([(F.normalize(z, dim=1).std(0).mean() * z.shape[1] ** 0.5).item(), (F.normalize(z[:, :8] * 0 + 1, dim=1).std(0).mean() * 8 ** 0.5).item()]))",
    rows,
  );
  const ours = metric(rows);
  assert.ok(ours > 0.05 && ours < 0.95, `a partly aligned batch reads between 0 and 1: ${ours}`);
  assert.ok(Math.abs(ours - ref[0]) < 1e-5, `ours ${ours} vs PyTorch ${ref[0]}`);
  assert.ok(Math.abs(metric(rows.map((r) => r.slice(0, 8).map(() => 1))) - ref[1]) < 1e-6);
});

test("collapse metric: random Gaussian projections read about 1; refuses a single sample", () => {
  T.manualSeed(0);
  const v = T.tidy(() => collapseMetric(T.randn([512, 64])).item());
  assert.ok(Math.abs(v - 1) < 0.05, `Gaussian projections: ${v}`);
  assert.throws(() => T.tidy(() => collapseMetric(T.randn([1, 8]))), /N >= 2/);
});

test("collapse notice: one line once the metric has stayed below the threshold for the span; none for a short dip; again after a recovery", () => {
  const w = new CollapseWatch(0.1, 50);
  const lines: [number, string][] = [];
  const feed = (step: number, v: number) => {
    const l = w.observe(step, v);
    if (l) lines.push([step, l]);
  };
  feed(10, 0.9);
  feed(20, 0.05); // a dip of 20 steps
  feed(30, 0.05);
  feed(40, 0.5);
  assert.equal(lines.length, 0);
  for (let s = 50; s <= 200; s += 10) feed(s, 0.02);
  assert.equal(lines.length, 1, "reported once");
  assert.equal(lines[0][0], 100, "at the first reading 50 steps after the metric went below");
  assert.match(lines[0][1], /below 0\.1 since step 50/);
  feed(210, 0.8);
  for (let s = 220; s <= 300; s += 10) feed(s, 0.01);
  assert.equal(lines.length, 2);
  assert.equal(lines[1][0], 270);
});

// The semi-supervised protocol: class-balanced, seeded label subsets (exact per-class counts,
// determinism), the fraction probes against a linear probe on hand-picked rows, evaluateRepresentations'
// label_fractions, and eval.json from an end-to-end smoke run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { balancedSubset, LABEL_FRACTIONS } from "../../src/eval/label-fractions.js";
import { evaluateRepresentations } from "../../src/eval/evaluate.js";
import { tinyImages } from "./helpers.js";
import { byol } from "../cli/run-cli.js";
import { readMetrics } from "../../src/train/metrics.js";

function countsOf(labels: Int32Array, idx: Int32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const i of idx) m.set(labels[i], (m.get(labels[i]) ?? 0) + 1);
  return m;
}

test("subsets are class-balanced: max(1, round(f·n_c)) rows of each class, none unlabeled", () => {
  // Fashion-MNIST's train split: 6,000 images of each of 10 classes, in a mixed order.
  const fm = Int32Array.from({ length: 60000 }, (_, i) => (i * 7) % 10);
  for (const [f, per] of [[0.01, 60], [0.1, 600]] as const) {
    const idx = balancedSubset(fm, f, 0);
    assert.equal(idx.length, 10 * per);
    for (let c = 0; c < 10; c++) assert.equal(countsOf(fm, idx).get(c), per, `class ${c} at ${f}`);
  }
  // Unbalanced classes (600, 250, 7) and unlabeled rows (-1).
  const labels = Int32Array.from([...Array(600).fill(0), ...Array(250).fill(1), ...Array(7).fill(2), ...Array(40).fill(-1)]);
  const ten = countsOf(labels, balancedSubset(labels, 0.1, 3));
  assert.deepEqual([ten.get(0), ten.get(1), ten.get(2), ten.get(-1)], [60, 25, 1, undefined]);
  const one = countsOf(labels, balancedSubset(labels, 0.01, 3));
  assert.deepEqual([one.get(0), one.get(1), one.get(2), one.get(-1)], [6, 3, 1, undefined]); // round(2.5) = 3; max(1, 0)
  assert.throws(() => balancedSubset(labels, 0, 1), /label fraction must be in \(0, 1\]/);
  assert.throws(() => balancedSubset(labels, 1.5, 1), /label fraction must be in \(0, 1\]/);
});

test("subsets are deterministic: same seed, same indices; another seed, others; sorted and distinct", () => {
  const labels = Int32Array.from({ length: 5000 }, (_, i) => i % 10);
  const a = balancedSubset(labels, 0.1, 0);
  assert.deepEqual(balancedSubset(labels, 0.1, 0), a);
  const b = balancedSubset(labels, 0.1, 1);
  assert.notDeepEqual(b, a);
  const overlap = a.filter((i) => b.includes(i)).length;
  assert.ok(overlap < a.length / 2, `two seeds share ${overlap} of ${a.length} rows (about 10% expected)`);
  for (const s of [a, b]) {
    for (let i = 1; i < s.length; i++) assert.ok(s[i] > s[i - 1], "ascending, no repeats");
  }
  // For one seed the 1% subset lies inside the 10% one.
  const small = balancedSubset(labels, 0.01, 0);
  assert.ok(small.every((i) => a.includes(i)));
});

test("evaluateRepresentations reports label_fractions for all three representations, only when asked", () => {
  const train = tinyImages(300, 1, 6, 3, 1);
  const testSet = tinyImages(60, 1, 6, 3, 2);
  T.manualSeed(5);
  const P = T.randn([36, 16]).keep();
  const common = {
    embedTrained: (x: T.Tensor) => x.flatten(1).mm(P), embedRandom: (x: T.Tensor) => T.zeros([x.size(0), 16], { device: x.device }),
    train, test: testSet, mean: [0.4], std: [0.25], knnK: 10,
  };
  const before = T.liveTensors();
  const r = evaluateRepresentations({ ...common, labelFractions: LABEL_FRACTIONS });
  assert.equal(T.liveTensors(), before, "no tensor leaked");
  assert.deepEqual(Object.keys(r.label_fractions!), ["0.01", "0.1"]);
  for (const f of ["0.01", "0.1"]) {
    const s = r.label_fractions![f] as unknown as Record<string, number>;
    for (const v of [s.byol, s.random_init, s.raw_pixels]) assert.ok(v >= 0 && v <= 1, `${f}: ${v}`);
    // All-zero features predict one class: a third of the balanced test split.
    assert.ok(Math.abs(s.random_init - 1 / 3) < 1e-9, `${f}: zeros score ${s.random_init}`);
  }
  // 10% of 300 = 10 images a class: the easy patterns are learnt from them.
  assert.ok((r.label_fractions!["0.1"].byol as number) > 0.9 && (r.label_fractions!["0.1"].raw_pixels as number) > 0.9);
  assert.ok(r.timings.label_fractions_s! > 0);
  const none = evaluateRepresentations(common);
  assert.equal(none.label_fractions, undefined);
  assert.equal(none.timings.label_fractions_s, undefined);
  assert.equal(none.linear_top1, r.linear_top1, "the full protocol is unchanged by the fraction probes");
  P.dispose();
});

test("byol train writes label_fractions into eval.json and the report's table", () => {
  const run = join(mkdtempSync(join(tmpdir(), "byol-fractions-")), "run");
  // (Two epochs: the monitor reads the online probe on clean images at the first epoch's end; the last is the final evaluation's.)
  const r = byol(["train", "--preset", "smoke", "--quiet", "--threads", "1", "--epochs", "2", "--out", run]);
  assert.equal(r.code, 0, r.stderr);
  const ev = JSON.parse(readFileSync(join(run, "eval.json"), "utf8"));
  assert.deepEqual(Object.keys(ev.label_fractions), ["0.01", "0.1"]);
  for (const f of ["0.01", "0.1"]) {
    assert.deepEqual(Object.keys(ev.label_fractions[f]), ["byol", "random_init", "raw_pixels", "linear_protocol"]);
    for (const k of ["byol", "random_init", "raw_pixels"]) {
      const v = ev.label_fractions[f][k];
      assert.ok(typeof v === "number" && v >= 0 && v <= 1, `${f}: ${v}`);
      // The fraction's own search, chosen on the validation split, and its probe's test top-1 above.
      const rec = ev.label_fractions[f].linear_protocol[k];
      assert.equal(rec.test_top1, v);
      assert.deepEqual(rec.chosen, rec.grid.reduce((a: { val_top1: number }, g: { val_top1: number }) => (g.val_top1 > a.val_top1 ? g : a)));
    }
  }
  // The full protocol per representation: the grid, the choice, the final probe on every train label.
  assert.deepEqual(Object.keys(ev.linear_protocol), ["byol", "random_init", "other_init", "raw_pixels"]);
  for (const rec of Object.values(ev.linear_protocol) as { validation_fraction: number; grid: { weight_decay: number; lr: null; val_top1: number }[]; chosen: { val_top1: number }; train_top1: number; train_images: number }[]) {
    assert.equal(rec.validation_fraction, 0.1);
    assert.ok(rec.grid.length >= 2 && rec.grid.every((g) => g.weight_decay > 0 && g.lr === null));
    assert.equal(rec.chosen.val_top1, Math.max(...rec.grid.map((g) => g.val_top1)));
    assert.equal(rec.train_images, ev.train_images);
    assert.ok(rec.train_top1 >= 0 && rec.train_top1 <= 1);
  }
  // Raw pixels of Fashion-MNIST from 10% of the smoke preset's 1,000 train labels: far above chance.
  assert.ok(ev.label_fractions["0.1"].raw_pixels > 0.5);
  const html = readFileSync(join(run, "report.html"), "utf8");
  // (The same run's metrics: the online probe is also read on the monitor's clean test images.)
  assert.ok(readMetrics(join(run, "metrics.jsonl")).some((row) => typeof row.online_linear_clean_top1 === "number"));
  assert.match(html, /Linear top-1, 10% of labels/);
  assert.match(html, /Linear top-1, 1% of labels/);
  assert.match(html, /Weight decay chosen/, "the report shows the linear protocol's choice");
});

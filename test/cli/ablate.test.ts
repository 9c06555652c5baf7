// `byol ablate`: bad input as one line; a finished or failed variant is not run again and the table
// (ablation.json, ablation.html) is written from the folders that are there; the variant table's names
// and switches are SPEC §4's and valid configurations.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { presetConfig } from "../../src/train/config.js";
import { ABLATION_VARIANTS, runAblation, variantConfig } from "../../src/train/ablation.js";
import { removeDir, tmpDir } from "../data/fixtures.js";
import { byol, oneLineError } from "./run-cli.js";

const root = tmpDir("ablate-cli");
after(() => removeDir(root));

test("byol ablate: bad input ends with one line", () => {
  const cases: [string[], RegExp][] = [
    [["ablate"], /--out DIR is required/],
    [["ablate", "--out", root, "--only", "full,no-bn"], /unknown ablation variant "no-bn" \(expected full, no-predictor/],
    [["ablate", "--out", root, "--set", "ablation.target=online"], /--set ablation\.target is not for byol ablate/],
    [["ablate", "--out", root, "--time-budget", "off"], /every variant gets the same training time/],
    [["ablate", "--out", root, "--bogus"], /ablate: Unknown option '--bogus'/],
  ];
  for (const [args, re] of cases) assert.match(oneLineError(byol(args, { timeoutMs: 60_000 })), re, args.join(" "));
});

test("the table: SPEC §4's names; each variant's switches are a valid configuration and change only the ablation group and the budget", () => {
  assert.deepEqual(ABLATION_VARIANTS.map((v) => v.name), ["full", "no-predictor", "no-stop-gradient", "tau-0", "tau-1", "no-bn-projector", "no-bn-predictor", "no-bn-heads", "no-norm", "gn-ws"]);
  const base = presetConfig("smoke");
  for (const v of ABLATION_VARIANTS) {
    const c = variantConfig(base, v.name, 30);
    assert.equal(c.timeBudgetS, 30);
    assert.deepEqual({ ...c, ablation: base.ablation, timeBudgetS: base.timeBudgetS, precision: base.precision }, base, v.name);
    for (const [k, val] of Object.entries(v.switches)) assert.equal((c.ablation as unknown as Record<string, unknown>)[k], val, `${v.name}.${k}`);
  }
  assert.deepEqual(variantConfig(base, "full", 30).ablation, base.ablation);
});

test("resumable: finished and failed variants are not run again; ablation.json and ablation.html come from their folders", async () => {
  const out = path.join(root, "table");
  const write = (name: string, file: string, v: unknown) => {
    mkdirSync(path.join(out, name), { recursive: true });
    writeFileSync(path.join(out, name, file), typeof v === "string" ? v : JSON.stringify(v));
  };
  const base = presetConfig("smoke");
  write("full", "config.json", variantConfig(base, "full", 30));
  write("full", "eval.json", { dataset: "fashion-mnist", epochs: 4, wall_s: 31.5, knn_top1: 0.61, linear_top1: 0.7, baselines: { random_init: { knn_top1: 0.4, linear_top1: 0.5 }, raw_pixels: { linear_top1: 0.8 } } });
  write("full", "metrics.jsonl", [10, 20].map((s) => JSON.stringify({ step: s, epoch: 1, loss: 3, lr: 0.1, tau: 0.99, img_per_s: 9, collapse: s === 20 ? 0.83 : 0.9 })).join("\n") + "\n");
  write("no-norm", "config.json", variantConfig(base, "no-norm", 30));
  write("no-norm", "failure.json", { error: "loss became NaN at step 3 (lr 1e-1); training stopped" });
  // A start that ended before its first checkpoint (here: no dataset) is started afresh, not refused.
  write("tau-1", "config.json", variantConfig(base, "tau-1", 30));
  mkdirSync(path.join(out, "tau-1", "checkpoints"));
  const other = await runAblation({ out, base: { ...base, dataset: "folder:/nonexistent" }, timeBudgetS: 30, only: ["tau-1"], log: () => {} }).catch((e: Error) => e);
  assert.ok(other instanceof Error && /nonexistent/.test(other.message) && !/remove it/.test(other.message), String(other));
  const lines: string[] = [];
  // If either variant ran, training would need a dataset this test never provides.
  const s = await runAblation({ out, base: { ...base, dataset: "folder:/nonexistent" }, timeBudgetS: 30, only: ["full", "no-norm"], log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /full is finished/.test(l)) && lines.some((l) => /no-norm is recorded as failed/.test(l)), lines.join("\n"));
  const json = JSON.parse(readFileSync(path.join(out, "ablation.json"), "utf8"));
  assert.deepEqual(json, s);
  assert.equal(json.dataset, "fashion-mnist");
  assert.equal(json.time_budget_s, 30);
  assert.deepEqual(json.variants.map((v: { name: string }) => v.name), ["full", "no-norm"]);
  const [full, noNorm] = json.variants;
  for (const k of ["name", "switches", "knn_top1", "linear_top1", "collapse", "epochs", "wall_s"]) assert.ok(k in full, k);
  assert.deepEqual([full.knn_top1, full.linear_top1, full.collapse, full.epochs, full.wall_s], [0.61, 0.7, 0.83, 4, 31.5]);
  assert.equal(full.switches.target, "ema");
  assert.equal(noNorm.switches.encoderNorm, "none");
  assert.match(String(noNorm.error), /^loss became NaN/);
  assert.equal(noNorm.knn_top1, null);
  const html = readFileSync(path.join(out, "ablation.html"), "utf8");
  assert.ok(html.includes("61.0%") && html.includes("failed: loss became NaN"));
});

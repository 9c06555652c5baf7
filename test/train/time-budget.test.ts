// The time budget: durations, the epoch plan from measured step times (hand-computed cases), the
// step timer and the budgeted total with a fake clock, the CLI's resolution, and a real smoke run
// whose plan is recorded in config.json, kept by --resume, and re-made at an epoch's end when it no
// longer fits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BudgetedTotal, planEpochs, parseDuration, replanEpochs, StepTimer } from "../../src/train/time-budget.js";
import { resolveTrainConfig } from "../../src/cli/train.js";
import { presetConfig, validateConfig } from "../../src/train/config.js";
import { byolTau, warmupCosineLr } from "../../src/optim/schedules.js";
import { loadCheckpoint, checkpointPath, saveCheckpoint } from "../../src/train/checkpoint.js";
import { readMetrics } from "../../src/train/metrics.js";
import { byol, oneLineError } from "../cli/run-cli.js";

test("durations: seconds, minutes, hours, off", () => {
  assert.equal(parseDuration("480"), 480);
  assert.equal(parseDuration("90s"), 90);
  assert.equal(parseDuration("8m"), 480);
  assert.equal(parseDuration("1h"), 3600);
  assert.equal(parseDuration("1h30m"), 5400);
  assert.equal(parseDuration("2.5m"), 150);
  assert.equal(parseDuration("off"), null);
  assert.equal(parseDuration("0"), null);
  for (const bad of ["", "m", "8 minutes", "-5", "5x", "0s"]) assert.throws(() => parseDuration(bad), /time-budget/, bad);
});

test("the plan: the largest whole number of epochs that fits (hand-computed)", () => {
  // 234 steps of 0.2 s + 5 s of monitor = 51.8 s an epoch; 12 steps (2.4 s) already done count as to do:
  // 480 s hold 9 epochs (466.2 s) and not 10 (518 s).
  const base = { budgetS: 480, elapsedS: 2.4, stepsDone: 12, stepsPerEpoch: 234, perEpochS: 5, margin: 0 };
  assert.deepEqual(planEpochs({ ...base, secondsPerStep: 0.2 }), { epochs: 9, totalSteps: 2106 });
  // A machine 2.5x slower: 122 s an epoch -> 3 epochs (366 s; 4 would be 488 s).
  assert.deepEqual(planEpochs({ ...base, elapsedS: 6, secondsPerStep: 0.5 }), { epochs: 3, totalSteps: 702 });
  // A faster one: 0.1 s a step, no monitor: 23.4 s an epoch -> 20 epochs (468 s; 21 would be 491.4 s).
  assert.deepEqual(planEpochs({ ...base, elapsedS: 1.2, secondsPerStep: 0.1, perEpochS: 0 }), { epochs: 20, totalSteps: 4680 });
  // Time lost before the timed steps (set-up inside training) is charged: 30 s more elapsed -> 8 epochs.
  assert.equal(planEpochs({ ...base, elapsedS: 32.4, secondsPerStep: 0.2 }).epochs, 8);
  // Exactly fitting counts as fitting: 10 epochs of 48 s in 480 s.
  assert.equal(planEpochs({ budgetS: 480, elapsedS: 0, stepsDone: 0, stepsPerEpoch: 100, secondsPerStep: 0.43, perEpochS: 5, margin: 0 }).epochs, 10);
  // The default margin keeps 3% free: 465.6 s -> 8 epochs of 51.8 s (414.4 s), not 9 (466.2 s).
  assert.equal(planEpochs({ ...base, margin: undefined, secondsPerStep: 0.2 }).epochs, 8);
});

test("the plan: one epoch at least, or a clear error", () => {
  const base = { budgetS: 60, elapsedS: 3, stepsDone: 12, stepsPerEpoch: 234, perEpochS: 5, margin: 0 };
  // 234 × 0.23 + 5 = 58.82 s: one epoch fits.
  assert.deepEqual(planEpochs({ ...base, secondsPerStep: 0.23 }), { epochs: 1, totalSteps: 234 });
  // 234 × 0.25 + 5 = 63.5 s: it does not.
  assert.throws(() => planEpochs({ ...base, secondsPerStep: 0.25 }), /time budget: one epoch takes about 6\d s here \(234 steps of 0\.25 s\), more than the budget of 60 s/);
  assert.throws(() => planEpochs({ ...base, secondsPerStep: NaN }), RangeError);
  assert.throws(() => planEpochs({ ...base, stepsDone: 300, secondsPerStep: 0.1 }), RangeError);
});

/** A clock that advances only when told: each step takes `stepS(i)` seconds. */
function fakeRun(stepsPerEpoch: number, stepS: (i: number) => number, opts: Partial<ConstructorParameters<typeof BudgetedTotal>[0]> = {}) {
  let now = 1000;
  const total = new BudgetedTotal({ budgetS: 480, stepsPerEpoch, provisionalTotal: 8 * stepsPerEpoch, clock: () => now, margin: 0, ...opts });
  const totals: number[] = [];
  let plan = null;
  let decisions = 0;
  let monitorAsked = 0;
  for (let i = (opts.stepsBefore ?? 0); i < stepsPerEpoch; i++) {
    totals.push(total.totalSteps);
    now += stepS(i);
    const p = total.stepDone(() => {
      monitorAsked++;
      return 5;
    });
    if (p) {
      plan = p;
      decisions++;
    }
  }
  return { plan, decisions, totals, monitorAsked, after: total.totalSteps };
}

test("budgeted total: provisional until step 12, then fixed once from the timed steps 3..12", () => {
  // Two slow warm-up steps (3 s each) do not count; then 0.2 s a step.
  const r = fakeRun(234, (i) => (i < 2 ? 3 : 0.2));
  assert.equal(r.decisions, 1);
  assert.equal(r.monitorAsked, 1);
  assert.ok(r.plan);
  assert.equal(r.plan.decidedAtStep, 12);
  assert.ok(Math.abs(r.plan.secondsPerStep - 0.2) < 1e-9);
  // Elapsed 6 + 2 = 8 s: available 480 − 8 + 12·0.2 = 474.4 → floor(474.4 / 51.8) = 9 epochs.
  assert.equal(r.plan.elapsedS, 8);
  assert.equal(r.plan.epochs, 9);
  assert.equal(r.plan.totalSteps, 9 * 234);
  assert.deepEqual(r.totals.slice(0, 12), Array(12).fill(8 * 234), "the provisional total until the decision");
  assert.ok(r.totals.slice(12).every((t) => t === 9 * 234), "the fixed total afterwards");
  // Speeds map to totals: twice as slow, about half the epochs.
  assert.equal(fakeRun(234, () => 0.4).plan!.epochs, 4); // 98.6 s an epoch; 480 − 4.8 + 4.8 = 480 → 4
  assert.equal(fakeRun(234, () => 0.05).plan!.epochs, 28); // 16.7 s an epoch: 480 / 16.7 = 28.7 → 28
});

test("budgeted total: the timed steps count by their median, so one slow step does not shorten the run", () => {
  // Step 7 takes 5 s (a neighbour's burst): the mean of steps 3..12 would be 0.68 s, the median is 0.2 s.
  const r = fakeRun(234, (i) => (i < 2 ? 3 : i === 6 ? 5 : 0.2));
  assert.ok(Math.abs(r.plan!.secondsPerStep - 0.2) < 1e-9);
  // Elapsed 6 + 9·0.2 + 5 = 12.8 s: available 480 − 12.8 + 12·0.2 = 469.6 → floor(469.6 / 51.8) = 9 epochs, not 3.
  assert.equal(r.plan!.epochs, 9);
  // An even count of timed steps takes the middle two: 0.2 and 0.4 → 0.3.
  let now = 0;
  const t = new StepTimer({ stepsPerEpoch: 100, skipSteps: 0, timedSteps: 4, clock: () => now });
  for (const d of [0.1, 0.2, 0.4, 9]) {
    now += d;
    t.stepDone();
  }
  assert.ok(Math.abs(t.secondsPerStep() - 0.3) < 1e-9);
});

test("re-planning at an epoch's end: the finished epochs plus as many more as fit (hand-computed)", () => {
  const base = { budgetS: 480, margin: 0 };
  // Planned 6 under load, the first epoch took 60 s: 1 + floor(420 / 60) = 8.
  assert.equal(replanEpochs({ ...base, elapsedS: 60, epochsDone: 1, epochS: 60, epochs: 6 }), 8);
  // The machine slowed down: 120 s an epoch leaves room for 1 + floor(360 / 120) = 4, not 8.
  assert.equal(replanEpochs({ ...base, elapsedS: 120, epochsDone: 1, epochS: 120, epochs: 8 }), 4);
  // The plan holds: 2 + floor(380 / 50) = 9.
  assert.equal(replanEpochs({ ...base, elapsedS: 100, epochsDone: 2, epochS: 50, epochs: 9 }), 9);
  // Over the budget already: one more epoch, so that the schedules still end.
  assert.equal(replanEpochs({ ...base, elapsedS: 500, epochsDone: 3, epochS: 160, epochs: 8 }), 4);
  // A plan that has ended stays ended.
  assert.equal(replanEpochs({ ...base, elapsedS: 400, epochsDone: 8, epochS: 50, epochs: 8 }), 8);
  // The default margin (3%) is taken off the budget: 1 + floor((465.6 − 60) / 60) = 7.
  assert.equal(replanEpochs({ budgetS: 480, elapsedS: 60, epochsDone: 1, epochS: 60, epochs: 6 }), 7);
  assert.throws(() => replanEpochs({ ...base, elapsedS: NaN, epochsDone: 1, epochS: 60, epochs: 6 }), RangeError);
  assert.throws(() => replanEpochs({ ...base, elapsedS: 1, epochsDone: 1.5, epochS: 60, epochs: 6 }), RangeError);
});

test("budgeted total: short epochs are timed whole; a resumed run that had not decided times the rest", () => {
  // 5 steps an epoch: skip 2, decide at step 5 (the epoch's last).
  const t5 = new StepTimer({ stepsPerEpoch: 5, clock: () => 0 });
  assert.deepEqual([t5.skip, t5.decideAt], [2, 5]);
  // 2 steps an epoch: nothing to skip.
  const t2 = new StepTimer({ stepsPerEpoch: 2, clock: () => 0 });
  assert.deepEqual([t2.skip, t2.decideAt], [0, 2]);
  // Resumed at step 5 of 234 with 40 s behind it: decides 12 steps later, counting the earlier ones.
  const r = fakeRun(234, () => 0.2, { stepsBefore: 5, elapsedBeforeS: 40 });
  assert.equal(r.plan!.decidedAtStep, 17);
  assert.ok(Math.abs(r.plan!.elapsedS - 42.4) < 1e-9);
  // available = 480 − 42.4 + 17·0.2 = 441 → floor(441 / 51.8) = 8.
  assert.equal(r.plan!.epochs, 8);
  assert.throws(() => new BudgetedTotal({ budgetS: 60, stepsPerEpoch: 10, provisionalTotal: 20, stepsBefore: 10 }), /first epoch/);
});

test("the schedules before the decision: warm-up lr does not depend on the total, τ barely does", () => {
  // Steps 0..11 under the provisional total (8 epochs of 234) against the chosen one (3 or 20 epochs).
  for (let k = 0; k < 12; k++) {
    for (const chosen of [3 * 234, 20 * 234]) {
      assert.equal(warmupCosineLr(k, 8 * 234, 47, 0.3), warmupCosineLr(k, chosen, 47, 0.3));
      assert.ok(Math.abs(byolTau(k, 8 * 234, 0.99) - byolTau(k, chosen, 0.99)) < 1e-5);
    }
  }
});

test("the CLI: the cpu preset has an 8-minute budget; --time-budget sets one; an explicit epoch count wins", () => {
  assert.equal(presetConfig("cpu").timeBudgetS, 480);
  assert.equal(presetConfig("smoke").timeBudgetS, null);
  assert.equal(presetConfig("gpu").timeBudgetS, null);
  assert.equal(resolveTrainConfig({}).timeBudgetS, 480);
  assert.equal(resolveTrainConfig({ "time-budget": "90s" }).timeBudgetS, 90);
  assert.equal(resolveTrainConfig({ preset: "smoke", "time-budget": "1m" }).timeBudgetS, 60);
  assert.equal(resolveTrainConfig({ "time-budget": "off" }).timeBudgetS, null);
  const explicit = resolveTrainConfig({ epochs: "3", "time-budget": "8m" });
  assert.equal(explicit.timeBudgetS, null, "--epochs wins over --time-budget");
  assert.equal(explicit.epochs, 3);
  assert.equal(resolveTrainConfig({ set: ["epochs=5"] }).timeBudgetS, null);
  assert.equal(resolveTrainConfig({ set: ["timeBudgetS=120"] }).timeBudgetS, 120);
  assert.match(oneLineError(byol(["train", "--time-budget", "soon"])), /--time-budget expects a duration/);
  const c = presetConfig("cpu");
  c.timeBudgetS = -1;
  assert.throws(() => validateConfig(c), /timeBudgetS must be a positive number of seconds or null/);
  const d = presetConfig("cpu");
  d.resolved = { budgetS: 480, epochs: 9, stepsPerEpoch: 234, totalSteps: 9 * 234, secondsPerStep: 0.2, perEpochS: 5, decidedAtStep: 12, elapsedS: 3 };
  assert.throws(() => validateConfig(d), /resolved.epochs \(9\) must equal epochs \(8\)/);
});

test("a budgeted smoke run records its plan in config.json, and --resume keeps it without re-timing", () => {
  const root = mkdtempSync(join(tmpdir(), "byol-budget-"));
  const run = join(root, "b");
  const common = ["--preset", "smoke", "--threads", "1", "--no-eval"];
  // 16 steps an epoch; stop just after the decision at step 12.
  const first = byol(["train", ...common, "--time-budget", "30s", "--out", run, "--stop-after", "13"]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /time budget 30 s: .* -> \d+ epochs \(\d+ steps\)/);
  const cfg = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
  assert.equal(cfg.timeBudgetS, 30);
  assert.ok(cfg.resolved, "config.json carries the plan");
  assert.equal(cfg.resolved.decidedAtStep, 12);
  assert.equal(cfg.resolved.stepsPerEpoch, 16);
  assert.equal(cfg.epochs, cfg.resolved.epochs);
  assert.equal(cfg.resolved.totalSteps, cfg.epochs * 16);
  assert.ok(cfg.resolved.secondsPerStep > 0 && cfg.resolved.secondsPerStep < 30);
  // The plan must fit: its estimate of the whole run is within the budget.
  const estimate = cfg.resolved.elapsedS + (cfg.resolved.totalSteps - 12) * cfg.resolved.secondsPerStep + cfg.epochs * cfg.resolved.perEpochS;
  assert.ok(estimate <= 30, `planned ${estimate} s`);
  assert.equal(loadCheckpoint(checkpointPath(run)).meta.config.epochs, cfg.epochs, "the checkpoint agrees with config.json");
  const rows = readMetrics(join(run, "metrics.jsonl"));
  const row18 = () => readMetrics(join(run, "metrics.jsonl")).find((r) => r.step === 18);
  assert.ok(rows.at(-1)!.step <= 13);
  const resumed = byol(["train", "--resume", run, "--threads", "1", "--no-eval", "--stop-after", "18"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.doesNotMatch(resumed.stderr, /time budget/, "no re-timing on resume");
  const after = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
  assert.deepEqual(after.resolved, cfg.resolved);
  // Step 18 (past the smoke preset's 16 warm-up steps) follows the plan's total (peak lr 0.3·32/256).
  const row = row18();
  assert.ok(row);
  assert.ok(Math.abs(row.lr - warmupCosineLr(17, cfg.resolved.totalSteps, 16, (0.3 * 32) / 256)) < 1e-12);
  assert.ok(Math.abs(row.tau - byolTau(17, cfg.resolved.totalSteps, 0.99)) < 1e-12);
  if (cfg.resolved.totalSteps !== 32) assert.notEqual(row.lr, warmupCosineLr(17, 32, 16, (0.3 * 32) / 256), "not the provisional total's");
  assert.match(oneLineError(byol(["train", "--resume", run, "--time-budget", "5m"])), /--time-budget cannot change a resumed run/);
});

test("a plan that no longer fits is re-made at the next epoch's end; a resume prefers the checkpoint's plan", () => {
  const root = mkdtempSync(join(tmpdir(), "byol-replan-"));
  const run = join(root, "r");
  const common = ["--threads", "1", "--no-eval"];
  // One epoch of 16 steps, stopping at its end (a checkpoint at epoch 1, step 16).
  const first = byol(["train", "--preset", "smoke", ...common, "--time-budget", "30s", "--out", run, "--stop-after", "16"]);
  assert.equal(first.code, 0, first.stderr);
  // Make the saved plan one that cannot fit: 200 epochs in 30 s (as if the first steps had been timed absurdly fast).
  const ck = loadCheckpoint(checkpointPath(run));
  assert.equal(ck.meta.epoch, 1);
  const cfg = ck.meta.config;
  cfg.epochs = 200;
  cfg.resolved = { ...cfg.resolved!, epochs: 200, totalSteps: 200 * 16 };
  cfg.resolved.replanned = undefined;
  saveCheckpoint(run, { step: ck.meta.step, epoch: ck.meta.epoch, stepInEpoch: ck.meta.stepInEpoch, config: cfg, extra: ck.meta.extra }, ck.tensors);
  for (const t of Object.values(ck.tensors)) t.dispose();
  // config.json still holds the old plan, as after a kill between its write and the checkpoint's: the checkpoint wins.
  const second = byol(["train", "--resume", run, ...common, "--stop-after", "34"]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /time budget 30 s: 2 epochs took \d+ s \([\d.]+ s each\) -> re-planned to \d+ epochs \(\d+ steps\)/);
  const after = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
  assert.equal(after.resolved.replanned.atEpoch, 2);
  assert.ok(after.epochs >= 3 && after.epochs < 200, `re-planned to ${after.epochs}`);
  assert.equal(after.resolved.totalSteps, after.epochs * 16);
  // The new plan fits what was measured: the epochs behind plus those ahead at the measured cost.
  assert.ok(after.resolved.replanned.elapsedS + (after.epochs - 2) * after.resolved.replanned.epochS <= 30 * 0.97 + 1e-9 || after.epochs === 3);
  assert.equal(loadCheckpoint(checkpointPath(run)).meta.config.epochs, after.epochs, "a checkpoint right after the re-plan agrees");
  // From the re-plan on, the schedules use the new total: τ at step 34 (k = 33) follows it.
  const row = readMetrics(join(run, "metrics.jsonl")).find((r) => r.step === 34);
  assert.ok(row);
  assert.ok(Math.abs(row.tau - byolTau(33, after.epochs * 16, 0.99)) < 1e-12);
  assert.ok(Math.abs(row.tau - byolTau(33, 200 * 16, 0.99)) > 1e-6, "not the old plan's τ");
});

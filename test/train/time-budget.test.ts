// The time budget: durations, the epoch plan from measured step times (hand-computed cases), the
// step timer and the budgeted total with a fake clock, the CLI's resolution, and a real smoke run
// whose plan is recorded in config.json, kept by --resume, and re-made at an epoch's end when it no
// longer fits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BudgetedTotal, monitorReadingsBetween, parseDuration, planMonitorS, plannedSeconds, planSteps, replanBudget, replanSteps, StepTimer } from "../../src/train/time-budget.js";
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

test("the plan: the largest step total that fits, ending inside an epoch (hand-computed)", () => {
  // 0.2 s a step, 5 s a monitor reading, 12 steps (2.4 s) done, 234 steps an epoch. A total T costs
  // 2.4 + (T − 12)·0.2 + 5·⌊(T − 1)/234⌋ s (readings at the epoch ends before the last step). With 9
  // readings T ≤ 12 + (477.6 − 45)/0.2 = 2175, inside the 10th epoch: 9 epochs and 69 steps, where a
  // plan of whole epochs stopped at 2106.
  const base = { budgetS: 480, elapsedS: 2.4, stepsDone: 12, stepsPerEpoch: 234, monitorS: 5, margin: 0 };
  const a = planSteps({ ...base, secondsPerStep: 0.2 });
  assert.deepEqual([a.totalSteps, a.epochs, a.monitorReadings], [2175, 10, 9]);
  assert.ok(Math.abs(a.plannedS - 480) < 1e-6, `${a.plannedS}`);
  // One step more does not fit.
  assert.ok(plannedSeconds({ ...base, secondsPerStep: 0.2 }, 2176) > 480);
  // A machine 2.5x slower (0.5 s, 6 s elapsed): 3 readings, T ≤ 12 + (474 − 15)/0.5 = 930 (3.97 epochs, not 3).
  assert.equal(planSteps({ ...base, elapsedS: 6, secondsPerStep: 0.5 }).totalSteps, 930);
  // Readings every 2 epochs: 0.2 s/step, readings at 468, 936, … → 4 readings, T ≤ 12 + (477.6 − 20)/0.2 = 2300.
  const every2 = planSteps({ ...base, secondsPerStep: 0.2, monitorEveryEpochs: 2 });
  assert.deepEqual([every2.totalSteps, every2.monitorReadings], [2300, 4]);
  // No monitor: the steps alone, 12 + 477.6/0.2 = 2400.
  assert.equal(planSteps({ ...base, secondsPerStep: 0.2, monitorS: 0 }).totalSteps, 2400);
  // The default margin keeps 3% free: 465.6 s. With 9 readings T ≤ 12 + (463.2 − 45)/0.2 = 2103, but
  // then the 9th (at 2106) is not before the end; with 8, T ≤ 2128 and at most 2106: 9 whole epochs.
  const m = planSteps({ ...base, margin: undefined, secondsPerStep: 0.2 });
  assert.deepEqual([m.totalSteps, m.monitorReadings], [2106, 8]);
});

test("the plan: the monitor reading at the last step is not charged (the final evaluation replaces it)", () => {
  // 100 steps an epoch of 0.3 s, 5 s a reading, 100 s: 3 epochs exactly cost 90 + 2 readings = 100 s.
  const p = { budgetS: 100, elapsedS: 0, stepsDone: 0, stepsPerEpoch: 100, secondsPerStep: 0.3, monitorS: 5, margin: 0 };
  const r = planSteps(p);
  assert.deepEqual([r.totalSteps, r.epochs, r.monitorReadings], [300, 3, 2]);
  // Readings between steps (exclusive both ends): at 100 and 200 for a run to 300, at 200 only after step 100.
  assert.equal(monitorReadingsBetween(0, 300, 100, 1), 2);
  assert.equal(monitorReadingsBetween(0, 301, 100, 1), 3);
  assert.equal(monitorReadingsBetween(100, 300, 100, 1), 1);
  assert.equal(monitorReadingsBetween(0, 1000, 100, 0), 0);
});

test("the plan: one epoch at least, or a clear error", () => {
  const base = { budgetS: 60, elapsedS: 3, stepsDone: 12, stepsPerEpoch: 234, monitorS: 5, margin: 0 };
  // One epoch of 0.25 s steps: 3 + 222 × 0.25 = 58.5 s, no reading (the last step's is not taken): it fits, exactly.
  assert.deepEqual(planSteps({ ...base, secondsPerStep: 0.25 }).totalSteps, 234);
  // 3 + 222 × 0.26 = 60.72 s: it does not.
  assert.throws(() => planSteps({ ...base, secondsPerStep: 0.26 }), /time budget: one epoch takes about 61 s here \(234 steps of 0\.26 s\), more than the budget of 60 s/);
  assert.throws(() => planSteps({ ...base, secondsPerStep: NaN }), RangeError);
  assert.throws(() => planSteps({ ...base, secondsPerStep: 0 }), RangeError);
  assert.throws(() => planSteps({ ...base, stepsDone: 300, secondsPerStep: 0.1 }), RangeError);
});

/** A clock that advances only when told: each step takes `stepS(i)` seconds. */
/**
 * How far an estimate from a plan's recorded fields may sit from the plan's own: elapsedS is kept to
 * 0.01 s, secondsPerStep to 1e-4 s and monitorS to 0.01 s, so each step and reading ahead adds its
 * share of a half-unit (a fast step plans hundreds of steps and dozens of readings in 30 s).
 */
function roundingSlack(ahead: number, readings: number): number {
  return 0.005 + ahead * 0.00005 + readings * 0.005 + 1e-9;
}

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

test("budgeted total: provisional until step 12, then planned once from the timed steps 3..12", () => {
  // Two slow warm-up steps (3 s each) do not count; then 0.2 s a step.
  const r = fakeRun(234, (i) => (i < 2 ? 3 : 0.2));
  assert.equal(r.decisions, 1);
  assert.equal(r.monitorAsked, 1);
  assert.ok(r.plan);
  assert.equal(r.plan.decidedAtStep, 12);
  assert.ok(Math.abs(r.plan.secondsPerStep - 0.2) < 1e-9);
  // Elapsed 6 + 2 = 8 s: 9 readings, T ≤ 12 + (472 − 45)/0.2 = 2147 (9 epochs and 41 steps).
  assert.equal(r.plan.elapsedS, 8);
  assert.equal(r.plan.totalSteps, 2147);
  assert.equal(r.plan.epochs, 10);
  assert.equal(r.plan.monitorS, 5);
  assert.equal(r.plan.monitorReadings, 9);
  assert.ok(r.plan.plannedS! <= 480);
  assert.deepEqual(r.totals.slice(0, 12), Array(12).fill(8 * 234), "the provisional total until the decision");
  assert.ok(r.totals.slice(12).every((t) => t === 2147), "the planned total afterwards");
  // Speeds map to totals. 0.4 s: elapsed 4.8, 4 readings, T ≤ 12 + (475.2 − 20)/0.4 = 1150.
  assert.equal(fakeRun(234, () => 0.4).plan!.totalSteps, 1150);
  // 0.05 s: elapsed 0.6; 28 readings allow T ≤ 12 + (479.4 − 140)/0.05 = 6800, but a 29th would be due
  // past 6786: the run ends at 6786, 29 whole epochs, whose last reading is not taken.
  const fast = fakeRun(234, () => 0.05).plan!;
  assert.deepEqual([fast.totalSteps, fast.epochs, fast.monitorReadings], [6786, 29, 28]);
});

test("budgeted total: the timed steps count by their median, so one slow step does not shorten the run", () => {
  // Step 7 takes 5 s (a neighbour's burst): the mean of steps 3..12 would be 0.68 s, the median is 0.2 s.
  const r = fakeRun(234, (i) => (i < 2 ? 3 : i === 6 ? 5 : 0.2));
  assert.ok(Math.abs(r.plan!.secondsPerStep - 0.2) < 1e-9);
  // Elapsed 6 + 9·0.2 + 5 = 12.8 s: 9 readings, T ≤ 12 + (467.2 − 45)/0.2 = 2123.
  assert.equal(r.plan!.totalSteps, 2123);
  // An even count of timed steps takes the middle two: 0.2 and 0.4 → 0.3.
  let now = 0;
  const t = new StepTimer({ stepsPerEpoch: 100, skipSteps: 0, timedSteps: 4, clock: () => now });
  for (const d of [0.1, 0.2, 0.4, 9]) {
    now += d;
    t.stepDone();
  }
  assert.ok(Math.abs(t.secondsPerStep() - 0.3) < 1e-9);
});

test("re-planning: the steps done plus as many more as fit, from the cost measured since (hand-computed)", () => {
  const base = { budgetS: 480, margin: 0, stepsPerEpoch: 234, monitorS: 5 };
  // 234 steps done in 60 s, 0.25 s a step now: readings at 468 … : T ≤ 234 + (420 − 5·6)/0.25 = 1794 (6 readings ahead).
  const r = replanSteps({ ...base, stepsDone: 234, elapsedS: 60, secondsPerStep: 0.25, currentTotal: 1000 });
  assert.deepEqual([r.totalSteps, r.epochs], [1794, 8]);
  // The machine slowed down: 0.5 s a step leaves T ≤ 234 + (420 − 5·3)/0.5 = 1044, not 1794.
  assert.equal(replanSteps({ ...base, stepsDone: 234, elapsedS: 60, secondsPerStep: 0.5, currentTotal: 1794 }).totalSteps, 1044);
  // Over the budget already: one more step, so that the schedules still end.
  assert.equal(replanSteps({ ...base, stepsDone: 300, elapsedS: 500, secondsPerStep: 0.25, currentTotal: 700 }).totalSteps, 301);
  // A plan that has ended stays ended.
  assert.equal(replanSteps({ ...base, stepsDone: 700, elapsedS: 400, secondsPerStep: 0.25, currentTotal: 700 }).totalSteps, 700);
  // replanBudget: null when the total is what fits; else the new plan with what it was made from.
  const plan = { budgetS: 480, epochs: 8, stepsPerEpoch: 234, totalSteps: 1794, secondsPerStep: 0.2, monitorS: 5, decidedAtStep: 12, elapsedS: 3 };
  const m = { budgetS: 480, stepsDone: 234, elapsedS: 60, stepsPerEpoch: 234, secondsPerStep: 0.25, monitorS: 5, monitorEveryEpochs: 1, margin: 0 };
  assert.equal(replanBudget(plan, m), null);
  const slower = replanBudget(plan, { ...m, secondsPerStep: 0.5 })!;
  assert.deepEqual([slower.totalSteps, slower.epochs, slower.replans, slower.replanned?.atStep], [1044, 5, 1, 234]);
  assert.ok(slower.plannedS! <= 480);
  assert.throws(() => replanSteps({ ...base, stepsDone: 1, elapsedS: NaN, secondsPerStep: 0.2, currentTotal: 6 }), RangeError);
  // A plan written before step totals (whole epochs, seconds of monitor per epoch) still gives its monitor cost.
  assert.equal(planMonitorS({ budgetS: 480, epochs: 3, stepsPerEpoch: 234, totalSteps: 702, secondsPerStep: 0.5, perEpochS: 4, decidedAtStep: 12, elapsedS: 6 }, 2), 8);
});

test("config: a plan's epochs are its step total's ceiling; an old whole-epoch plan still validates", () => {
  const c = presetConfig("cpu");
  c.epochs = 10;
  c.resolved = { budgetS: 480, epochs: 10, stepsPerEpoch: 234, totalSteps: 2175, secondsPerStep: 0.2, monitorS: 5, decidedAtStep: 12, elapsedS: 3 };
  assert.doesNotThrow(() => validateConfig(c));
  c.resolved.epochs = 9;
  assert.throws(() => validateConfig(c), /resolved must be the plan a time budget wrote \(stepsPerEpoch, totalSteps, epochs = ⌈totalSteps \/ stepsPerEpoch⌉\)/);
  // The shape written before step totals (totalSteps = epochs × stepsPerEpoch, perEpochS, a re-plan at an epoch).
  const old = presetConfig("cpu");
  old.epochs = 3;
  old.resolved = { budgetS: 480, epochs: 3, stepsPerEpoch: 234, totalSteps: 702, secondsPerStep: 0.5, perEpochS: 5, decidedAtStep: 12, elapsedS: 6, replanned: { atEpoch: 1, epochS: 150, elapsedS: 150 } };
  assert.doesNotThrow(() => validateConfig(old));
  const bad = presetConfig("cpu");
  bad.replanEverySteps = -1;
  assert.throws(() => validateConfig(bad), /replanEverySteps must be a non-negative integer/);
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
  // 8 readings: T ≤ 17 + (437.6 − 40)/0.2 = 2005 (in the 9th epoch: 1872 < 2005 ≤ 2106).
  assert.equal(r.plan!.totalSteps, 2005);
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
  assert.equal(presetConfig("cpu").timeBudgetS, 430);
  assert.equal(presetConfig("smoke").timeBudgetS, null);
  assert.equal(presetConfig("gpu").timeBudgetS, null);
  assert.equal(resolveTrainConfig({}).timeBudgetS, 430);
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
  assert.match(first.stderr, /time budget 30 s: .* -> \d+ steps \([\d.]+ epochs, [\d.]+ s planned\)/);
  const cfg = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
  assert.equal(cfg.timeBudgetS, 30);
  assert.ok(cfg.resolved, "config.json carries the plan");
  assert.equal(cfg.resolved.decidedAtStep, 12);
  assert.equal(cfg.resolved.stepsPerEpoch, 16);
  assert.equal(cfg.epochs, cfg.resolved.epochs);
  assert.equal(cfg.epochs, Math.ceil(cfg.resolved.totalSteps / 16));
  assert.ok(cfg.resolved.secondsPerStep > 0 && cfg.resolved.secondsPerStep < 30);
  // The plan must fit: its estimate of the whole run (steps and monitor readings) is within the budget.
  const ahead = cfg.resolved.totalSteps - 12;
  const readings = monitorReadingsBetween(12, cfg.resolved.totalSteps, 16, 1);
  const estimate = cfg.resolved.elapsedS + ahead * cfg.resolved.secondsPerStep + readings * cfg.resolved.monitorS;
  // (The plan is made from unrounded timings; the recorded, rounded fields reproduce it within rounding.)
  assert.ok(cfg.resolved.plannedS <= 30 * 0.97 + 1e-6, `planned ${cfg.resolved.plannedS} s`);
  const slack = roundingSlack(ahead, readings) + 0.05;
  assert.ok(Math.abs(estimate - cfg.resolved.plannedS) <= slack, `recorded fields give ${estimate} s, the plan ${cfg.resolved.plannedS} s (rounding allows ${slack} s)`);
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
  cfg.resolved.plannedS = undefined;
  saveCheckpoint(run, { step: ck.meta.step, epoch: ck.meta.epoch, stepInEpoch: ck.meta.stepInEpoch, config: cfg, extra: ck.meta.extra }, ck.tensors);
  for (const t of Object.values(ck.tensors)) t.dispose();
  // config.json still holds the old plan, as after a kill between its write and the checkpoint's: the checkpoint wins.
  const second = byol(["train", "--resume", run, ...common, "--stop-after", "34"]);
  assert.equal(second.code, 0, second.stderr);
  // (The first re-plan point with 10 steps measured since the resume: the end of epoch 2, step 32.)
  assert.match(second.stderr, /time budget 30 s: 32 steps took \d+ s \([\d.]+ s\/step since the plan\) -> re-planned to \d+ steps \([\d.]+ epochs, [\d.]+ s\)/);
  const after = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
  assert.equal(after.resolved.replanned.atStep, 32);
  assert.ok(after.resolved.totalSteps > 32 && after.resolved.totalSteps < 3200, `re-planned to ${after.resolved.totalSteps}`);
  assert.equal(after.epochs, Math.ceil(after.resolved.totalSteps / 16));
  // The new plan fits what was measured: the steps behind plus those ahead at the measured cost.
  const r = after.resolved;
  // (Within what the recorded fields' rounding allows: a fast step means many steps and readings ahead.)
  const ahead = r.totalSteps - 32;
  const readings = monitorReadingsBetween(32, r.totalSteps, 16, 1);
  const estimate = r.replanned.elapsedS + ahead * r.replanned.secondsPerStep + readings * r.monitorS;
  assert.ok(estimate <= 30 * 0.97 + roundingSlack(ahead, readings) || r.totalSteps === 33, `re-planned ${r.totalSteps} steps estimated at ${estimate} s: ${JSON.stringify(r)}`);
  assert.deepEqual(loadCheckpoint(checkpointPath(run)).meta.config.resolved, after.resolved, "the checkpoint at step 34 agrees");
  // From the re-plan on, the schedules use the new total: τ at step 34 (k = 33) follows it.
  const row = readMetrics(join(run, "metrics.jsonl")).find((r) => r.step === 34);
  assert.ok(row);
  assert.ok(Math.abs(row.tau - byolTau(33, r.totalSteps, 0.99)) < 1e-12);
  assert.ok(Math.abs(row.tau - byolTau(33, 200 * 16, 0.99)) > 1e-6, "not the old plan's τ");
});

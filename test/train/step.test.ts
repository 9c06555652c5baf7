// The training step as a unit (src/train/step.ts): it reads nothing back to the host, its device-side
// statistics come back in one read-back, its device-scalar arithmetic (what a CUDA graph replays)
// matches the plain one, a non-finite loss is recorded with its step, and on a CPU "cudaGraph: on"
// trains eagerly with the same losses as "off".
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { channelStats, inMemoryData, type ImageSet, type ResolvedDataset } from "../../src/data/index.js";
import { presetConfig, type TrainConfig } from "../../src/train/config.js";
import { makeAugmenters, makeLearner, makeOptimizer } from "../../src/train/build.js";
import { resolveRecipe } from "../../src/train/recipe.js";
import { OnlineProbe } from "../../src/eval/online-probe.js";
import { readMetrics } from "../../src/train/metrics.js";
import { train } from "../../src/train/trainer.js";
import { TrainStep, resolveCudaGraph } from "../../src/train/step.js";
import type { ResNet } from "../../src/nn/resnet.js";
import { removeDir, tmpDir } from "../data/fixtures.js";
import { tinyImages } from "../eval/helpers.js";

const root = tmpDir("train-step");
after(() => removeDir(root));
before(() => T.setNumThreads(1));

const BATCH = 32;
const SIZE = 28;

function smokeConfig(over: Partial<TrainConfig> = {}): TrainConfig {
  const cfg = presetConfig("smoke");
  resolveRecipe(cfg, { channels: 1, side: SIZE });
  Object.assign(cfg, { threads: 1, batchSize: BATCH, epochs: 1, logEverySteps: 10, checkpointEverySteps: 1000 }, over);
  cfg.knn = { ...cfg.knn, everyEpochs: 0 };
  return cfg;
}

function images(n: number, seed: number): ImageSet {
  return { ...tinyImages(n, 1, SIZE, 10, seed), classes: Array.from({ length: 10 }, (_, i) => `c${i}`) };
}

function dataset(n: number): ResolvedDataset {
  const set = images(n, 3);
  const { mean, std } = channelStats(set);
  return { name: "tiny", train: inMemoryData(set), trainLabeled: set, test: null, mean, std, notes: [] };
}

// A TrainStep over the smoke preset's networks, built from a fixed seed.
function makeStep(cfg: TrainConfig, opts: { deviceScalars?: boolean; warn?: (l: string) => void } = {}) {
  T.manualSeed(cfg.seed);
  const learner = makeLearner(cfg, 1);
  const optimizer = makeOptimizer(cfg, learner);
  const [m, s] = [[0.3], [0.3]];
  const augmenters = makeAugmenters(cfg, 1, m, s);
  const probe = new OnlineProbe((learner.online.encoder as ResNet).outDim, 10, { lr: cfg.onlineProbe.lr, device: cfg.device });
  const step = new TrainStep({
    learner, optimizer, augmenters, probe, device: cfg.device, bf16: false, batchShape: [BATCH, 1, SIZE, SIZE],
    cudaGraph: cfg.cudaGraph, deviceScalars: opts.deviceScalars, warn: opts.warn,
  });
  const dispose = () => {
    step.dispose();
    probe.dispose();
    optimizer.dispose();
    learner.dispose();
  };
  return { step, learner, optimizer, probe, dispose };
}

function batch(i: number): { images: Uint8Array; labels: number[] } {
  const set = images(BATCH, 100 + i);
  return { images: set.images, labels: Array.from(set.labels!) };
}

test("twenty steps read nothing back; the statistics come back in one read-back each time", () => {
  const { step, dispose } = makeStep(smokeConfig());
  const batches = Array.from({ length: 20 }, (_, i) => batch(i));
  const counter = T.startCountingNativeCalls();
  let stepsOnly = 0;
  const losses: number[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      step.run(batches[i].images, batches[i].labels, 0.05, 0.99);
      if ((i + 1) % 10 === 0) losses.push(step.readStats().lastLoss);
    }
  } finally {
    stepsOnly = counter.stop().readBacks;
  }
  dispose();
  assert.equal(losses.length, 2);
  for (const l of losses) assert.ok(l >= 0 && l <= 8, `loss ${l} is in [0, 8]`);
  // Two logging points, one read-back each; the steps themselves add none.
  assert.equal(stepsOnly, 2, `read-backs in 20 steps with 2 reads of the statistics: ${stepsOnly}`);
});

test("train(): read-backs grow by at most one per logging step, not one per step", async () => {
  // 20 and 40 steps (batches of 32, logging every 10, no checkpoint before the last): the final
  // checkpoint costs the same in both, so the difference is what steps 21-40 and their 2 logging steps cost.
  const run = async (epochs: number) => {
    const counter = T.startCountingNativeCalls();
    try {
      await train(smokeConfig({ epochs }), dataset(20 * BATCH), { runDir: path.join(root, `count-${epochs}`), resume: false, quiet: true });
    } finally {
      return counter.stop();
    }
  };
  const twenty = await run(1);
  const forty = await run(2);
  const rows = readMetrics(path.join(root, "count-2", "metrics.jsonl"));
  assert.deepEqual(rows.map((r) => r.step), [10, 20, 30, 40]);
  assert.ok(rows.every((r) => typeof r.online_linear_top1 === "number" || r.step % 20 !== 0), "the probe's accuracy is logged at epoch ends");
  const perLoggingStep = 1; // the bound: one stacked read of [last loss, first non-finite step, its loss, probe count]
  const extra = forty.readBacks - twenty.readBacks;
  assert.ok(extra >= 0 && extra <= 2 * perLoggingStep, `20 more steps with 2 logging steps added ${extra} read-backs`);
});

test("device scalars (the CUDA graph's arithmetic) give the eager step's losses and weights", () => {
  const cfg = smokeConfig();
  const plain = makeStep(cfg);
  const dev = makeStep(cfg, { deviceScalars: true });
  const lossesA: number[] = [];
  const lossesB: number[] = [];
  for (let i = 0; i < 6; i++) {
    const b = batch(i);
    const lr = 0.02 + 0.01 * i;
    const tau = 0.9 + 0.01 * i;
    // The same random draws for both: reseed before each.
    T.manualSeed(1000 + i);
    plain.step.run(b.images, b.labels, lr, tau);
    T.manualSeed(1000 + i);
    dev.step.run(b.images, b.labels, lr, tau);
    lossesA.push(plain.step.readStats().lastLoss);
    lossesB.push(dev.step.readStats().lastLoss);
  }
  lossesA.forEach((l, i) => assert.ok(Math.abs(l - lossesB[i]) < 1e-4, `step ${i + 1}: ${l} vs ${lossesB[i]}`));
  const maxDiff = (a: Record<string, T.Tensor>, b: Record<string, T.Tensor>) =>
    Math.max(...Object.keys(a).filter((k) => a[k].dtype === "float32").map((k) => T.tidy(() => a[k].sub(b[k]).abs().max().item())));
  assert.ok(maxDiff(plain.learner.stateDict(), dev.learner.stateDict()) < 1e-4, "online and target weights agree");
  assert.ok(maxDiff(plain.probe.stateDict(), dev.probe.stateDict()) < 1e-4, "the probe (AdamW with a device step count) agrees");
  assert.equal(plain.probe.stateDict()["opt.step"].item(), dev.probe.stateDict()["opt.step"].item());
  assert.equal(plain.step.readStats().probeCorrect, dev.step.readStats().probeCorrect);
  plain.dispose();
  dev.dispose();
});

test("a non-finite loss is recorded on the device with the step it first appeared at", () => {
  const { step, learner, dispose } = makeStep(smokeConfig());
  step.setStep(100);
  const b = batch(0);
  step.run(b.images, b.labels, 0.05, 0.99);
  step.run(b.images, b.labels, 0.05, 0.99);
  const ok = step.readStats();
  assert.equal(ok.nonFinite, false);
  assert.ok(Number.isNaN(ok.firstBadStep));
  // Poison one weight: the next loss is NaN.
  T.noGrad(() => learner.online.encoder.parameters()[0].fill_(NaN));
  step.run(b.images, b.labels, 0.05, 0.99);
  step.run(b.images, b.labels, 0.05, 0.99);
  const bad = step.readStats();
  assert.equal(bad.nonFinite, true);
  assert.equal(bad.firstBadStep, 103, "steps 101 and 102 were fine; 103 was the first NaN");
  assert.ok(Number.isNaN(bad.firstBadLoss));
  dispose();
});

test("cudaGraph on a CPU: eager, the same losses as off, and the resolved mode is reported", async () => {
  assert.deepEqual(resolveCudaGraph("on", "cpu", false).mode, "off");
  assert.match(resolveCudaGraph("on", "cpu", false).reason, /eager on cpu/);
  assert.equal(resolveCudaGraph("auto", "cpu", false).mode, "off");
  assert.equal(resolveCudaGraph("off", "cuda", false).mode, "off");
  assert.equal(resolveCudaGraph("auto", "cuda", true).mode, "off", "not with several processes");
  const runs: Record<string, { rows: ReturnType<typeof readMetrics>; mode: string }> = {};
  for (const setting of ["on", "off"] as const) {
    const runDir = path.join(root, `graph-${setting}`);
    const r = await train(smokeConfig({ cudaGraph: setting, logEverySteps: 2 }), dataset(8 * BATCH), { runDir, resume: false, quiet: true });
    runs[setting] = { rows: readMetrics(path.join(runDir, "metrics.jsonl")), mode: r.cudaGraph };
  }
  assert.equal(runs.on.mode, "off");
  assert.equal(runs.off.mode, "off");
  assert.equal(runs.on.rows.length, 4);
  runs.on.rows.forEach((row, i) => assert.equal(row.loss, runs.off.rows[i].loss, `step ${row.step}`));
});

test("on a GPU: the captured step replays with few native calls, no read-back, and the eager losses", { skip: !T.cudaGraphsAvailable() }, () => {
  const cfg = smokeConfig({ device: "cuda" });
  const run = (setting: "on" | "off") => {
    cfg.cudaGraph = setting;
    const warnings: string[] = [];
    const s = makeStep(cfg, { warn: (l) => warnings.push(l) });
    const losses: number[] = [];
    let replayCounts: T.NativeCallCounts | null = null;
    for (let i = 0; i < 8; i++) {
      const b = batch(i % 4);
      if (i === 7) {
        const { counts } = T.countNativeCalls(() => s.step.run(b.images, b.labels, 0.05, 0.99));
        replayCounts = counts;
      } else s.step.run(b.images, b.labels, 0.05, 0.99);
      losses.push(s.step.readStats().lastLoss);
    }
    const captured = s.step.graphCaptured;
    s.dispose();
    return { losses, captured, warnings, counts: replayCounts! };
  };
  const graph = run("on");
  const eager = run("off");
  assert.deepEqual(graph.warnings, []);
  assert.equal(graph.captured, true);
  assert.equal(eager.captured, false);
  assert.equal(graph.counts.readBacks, 0);
  assert.ok(graph.counts.ops < 40, `a replayed step makes ${graph.counts.ops} native calls (eager: ${eager.counts.ops})`);
  graph.losses.forEach((l, i) => assert.ok(Math.abs(l - eager.losses[i]) < 1e-3, `step ${i + 1}: graph ${l} vs eager ${eager.losses[i]}`));
});

// Training on a folder streamed from disk gives the run that training from memory gives (same seed):
// the same losses, probe and kNN monitor; and a streamed run resumed mid-epoch matches an
// uninterrupted one without decoding the batches it skips.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { FolderReader, resolveDataset, type ResolvedDataset } from "../../src/data/index.js";
import { presetConfig, type TrainConfig } from "../../src/train/config.js";
import { datasetOptions } from "../../src/train/build.js";
import { readMetrics, type MetricRow } from "../../src/train/metrics.js";
import { train } from "../../src/train/trainer.js";
import { removeDir, tmpDir, writePngFolder } from "../data/fixtures.js";
import { tinyImages } from "../eval/helpers.js";

const root = tmpDir("streaming");
after(() => removeDir(root));
const folder = path.join(root, "images");
const BATCH = 8;
const TRAIN = 48; // 6 steps per epoch

function config(streaming: TrainConfig["dataStreaming"]): TrainConfig {
  const cfg = presetConfig("smoke");
  Object.assign(cfg, { dataset: `folder:${folder}`, imageSize: 16, dataStreaming: streaming, batchSize: BATCH, epochs: 2, threads: 1, logEverySteps: 1 });
  cfg.augment = { ...cfg.augment, preset: "cifar", outputSize: 16, minScale: null };
  cfg.encoder.stem = "small"; // 16-px colour images: the small stem, as the recipe would choose
  return cfg;
}

async function run(streaming: TrainConfig["dataStreaming"], name: string, opts: { stopAfterStep?: number; resume?: boolean } = {}): Promise<{ rows: MetricRow[]; data: ResolvedDataset; decoded: number }> {
  const cfg = config(streaming);
  const data = await resolveDataset(cfg.dataset, { ...datasetOptions(cfg), workers: 2 });
  const reader = data.train instanceof FolderReader ? data.train : null;
  const before = reader?.stats.decoded ?? 0;
  try {
    const runDir = path.join(root, name);
    await train(cfg, data, { runDir, resume: opts.resume ?? false, stopAfterStep: opts.stopAfterStep, quiet: true });
    return { rows: readMetrics(path.join(runDir, "metrics.jsonl")), data, decoded: (reader?.stats.decoded ?? 0) - before };
  } finally {
    await data.train.close();
  }
}

function assertSameRun(got: MetricRow[], want: MetricRow[], what: string): void {
  assert.deepEqual(got.map((r) => r.step), want.map((r) => r.step), `${what}: the same steps are logged`);
  for (let i = 0; i < want.length; i++) {
    for (const k of ["epoch", "loss", "lr", "tau", "knn_top1", "online_linear_top1"]) {
      const [a, b] = [got[i][k], want[i][k]];
      if (typeof b !== "number") assert.equal(a, b, `${what}: step ${want[i].step} ${k}`);
      else assert.ok(typeof a === "number" && Math.abs(a - b) <= 1e-6, `${what}: step ${want[i].step} ${k}: ${a} vs ${b}`);
    }
  }
}

let uninterrupted: MetricRow[] | null = null;

before(async () => {
  T.setNumThreads(1);
  const split = (n: number, seed: number) => ({ ...tinyImages(n, 3, 16, 2, seed), classes: ["even", "odd"] });
  await writePngFolder(path.join(folder, "train"), split(TRAIN, 1));
  await writePngFolder(path.join(folder, "test"), split(16, 2));
});

test("a smoke run on a folder: streamed and in-memory training give the same losses, probe and kNN", async () => {
  const memory = await run("never", "memory");
  const streamed = await run("always", "streamed");
  assert.ok(memory.data.train.set !== null && streamed.data.train.set === null);
  assert.equal(streamed.rows.length, 12);
  assert.ok(streamed.rows.some((r) => typeof r.knn_top1 === "number"), "the kNN monitor ran on the streamed folder's evaluation sets");
  assert.ok(streamed.rows.some((r) => typeof r.online_linear_top1 === "number"), "the online probe got labels from streamed batches");
  assertSameRun(streamed.rows, memory.rows, "streamed vs in memory");
  assert.equal(streamed.decoded, 12 * BATCH, "each step's batch decoded once");
  uninterrupted = streamed.rows;
});

test("a streamed run resumed mid-epoch matches the uninterrupted one and skips the done batches unread", async () => {
  assert.ok(uninterrupted, "the previous test ran");
  // Stopped after step 4 of 6 in epoch 0, then resumed: 2 + 6 batches are decoded, the 4 done are not.
  await run("always", "resumed", { stopAfterStep: 4 });
  const resumed = await run("always", "resumed", { resume: true });
  assert.equal(resumed.decoded, (2 + 6) * BATCH);
  assertSameRun(resumed.rows, uninterrupted, "resumed vs uninterrupted");
});

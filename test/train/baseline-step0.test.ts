// The random-init baseline is the run's own online encoder at step 0: encoder-step0.safetensors holds
// exactly the weights BYOL started from (re-created here from the seed), training moves away from
// them, a resumed run keeps the file its first start wrote, and the evaluation scores exactly those
// weights (its kNN recomputed here from the file). The independent initialisation is the extra row
// other_init; a run folder without the step-0 file falls back to it, with a note in eval.json.
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { resolveDataset } from "../../src/data/index.js";
import { evaluateRepresentations } from "../../src/eval/evaluate.js";
import { makeLearner, datasetOptions } from "../../src/train/build.js";
import { ENCODER_FILE, ENCODER_STEP0_FILE, readEncoderFile } from "../../src/train/export.js";
import { baselineEncoders, evaluateRunDir } from "../../src/train/evaluate-run.js";
import { trainRun, type ConfigInput } from "../../src/train/run.js";
import type { TrainConfig } from "../../src/train/config.js";
import { removeDir, tmpDir, writePngFolder } from "../data/fixtures.js";
import { tinyImages } from "../eval/helpers.js";

const root = tmpDir("baseline-step0");
after(() => removeDir(root));
const folder = path.join(root, "images");

// 48 labelled 16x16 images in batches of 8: 6 steps an epoch, 2 epochs.
const config: ConfigInput = {
  preset: "smoke", dataset: `folder:${folder}`, imageSize: 16, batchSize: 8, epochs: 2, threads: 1, datasetLimit: null,
  augment: { preset: "cifar", outputSize: 16 }, knn: { k: 5, monitorTrain: 48, monitorTest: 16 }, linearEval: { epochs: 2, labelFractions: false },
  optimizer: { baseLr: 2 },
};

before(async () => {
  T.setNumThreads(1);
  const split = (n: number, seed: number) => ({ ...tinyImages(n, 3, 16, 2, seed), classes: ["even", "odd"] });
  await writePngFolder(path.join(folder, "train"), split(48, 1));
  await writePngFolder(path.join(folder, "test"), split(16, 2));
});

function sameTensors(a: Record<string, T.Tensor>, b: Record<string, T.Tensor>): boolean {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  return Object.keys(a).every((k) => a[k].numel === 0 || a[k].to("cpu").ne(b[k].to("cpu")).sum().item() === 0);
}

test("the random-init baseline is the run's step-0 online encoder; the independent init is other_init", async () => {
  const runDir = path.join(root, "run");
  const run = await trainRun(config, { runDir, quiet: true });
  const cfg: TrainConfig = JSON.parse(readFileSync(path.join(runDir, "config.json"), "utf8"));
  const step0Path = path.join(runDir, ENCODER_STEP0_FILE);
  const step0 = readEncoderFile(step0Path);
  assert.equal(step0.meta.channels, 3);
  // The weights BYOL started from, re-created from the seed as the trainer makes them.
  T.manualSeed(cfg.seed);
  const fresh = makeLearner(cfg, 3);
  assert.ok(sameTensors(step0.tensors, fresh.online.encoder.stateDict()), "encoder-step0 holds the online encoder at step 0");
  // Training moved the weights away from them.
  const trained = readEncoderFile(path.join(runDir, ENCODER_FILE)).tensors;
  assert.ok(!sameTensors(step0.tensors, trained), "the trained encoder differs from its step-0 weights");

  // The evaluation's baselines: random_init loads exactly the step-0 file, other_init is another init.
  const b = baselineEncoders(runDir, cfg, 3);
  assert.equal(b.weights, "step0");
  assert.ok(sameTensors(b.randomInit.stateDict(), step0.tensors));
  assert.ok(b.otherInit && !sameTensors(b.otherInit.stateDict(), step0.tensors));

  // eval.json says which is which, and random_init's kNN is the step-0 encoder's (recomputed here).
  const ev = JSON.parse(readFileSync(path.join(runDir, "eval.json"), "utf8"));
  assert.deepEqual(run.evaluation!.baselines, ev.baselines);
  assert.equal(ev.random_init_weights, "step0");
  assert.equal(ev.random_init_note, undefined);
  for (const k of ["knn_top1", "linear_top1"]) assert.equal(typeof ev.baselines.other_init[k], "number", k);
  const data = await resolveDataset(cfg.dataset, datasetOptions(cfg));
  try {
    const enc = b.randomInit;
    enc.eval();
    const r = evaluateRepresentations({
      embedTrained: (x) => enc.forward(x), embedRandom: (x) => enc.forward(x), train: data.trainLabeled!, test: data.test!, mean: data.mean, std: data.std,
      knnK: cfg.knn.k, knnT: cfg.knn.temperature, linear: { gridIter: cfg.linearEval.epochs, finalIter: 2 * cfg.linearEval.epochs }, seed: cfg.seed, maxTrain: cfg.linearEval.maxTrain ?? undefined,
    });
    assert.equal(r.knn_top1, ev.baselines.random_init.knn_top1, "eval.json's random_init kNN is the step-0 encoder's");
    assert.equal(r.linear_top1, ev.baselines.random_init.linear_top1, "and so is its linear top-1");
  } finally {
    await data.train.close();
  }
  const report = readFileSync(path.join(runDir, "report.html"), "utf8");
  assert.match(report, /Random init: this run&#39;s step-0 weights|Random init: this run's step-0 weights/);
  assert.match(report, /Other init \(independent, not BYOL/);

  // A run folder from before step-0 weights were saved: `byol eval` falls back to the independent init and says so.
  rmSync(step0Path);
  const old = await evaluateRunDir(runDir, { threads: 1 });
  assert.equal(old.random_init_weights, "independent");
  assert.match(String(old.random_init_note), /no encoder-step0\.safetensors/);
  assert.equal(old.baselines.other_init, undefined);
  assert.deepEqual(old.baselines.random_init, ev.baselines.other_init, "the fallback is the same independent initialisation");
  for (const t of [...Object.values(step0.tensors), ...Object.values(trained)]) t.dispose();
});

test("a resumed run keeps the step-0 weights its first start wrote", async () => {
  const runDir = path.join(root, "resumed");
  await trainRun(config, { runDir, quiet: true, stopAfterStep: 3, evaluate: false });
  const file = path.join(runDir, ENCODER_STEP0_FILE);
  assert.ok(existsSync(file));
  const bytes = readFileSync(file);
  const mtime = statSync(file).mtimeMs;
  const cfg = JSON.parse(readFileSync(path.join(runDir, "config.json"), "utf8"));
  const done = await trainRun(cfg, { runDir, resume: true, quiet: true, evaluate: false });
  assert.equal(done.step, 12);
  assert.ok(readFileSync(file).equals(bytes), "the step-0 file is unchanged");
  assert.equal(statSync(file).mtimeMs, mtime, "and was not rewritten");
});

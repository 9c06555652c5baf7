// The evaluation a run writes (eval.json) is the trained encoder's, measured as `byol embed` and any user
// would use it: its kNN top-1 is recomputed here from encoder.safetensors, in eval mode, on the same
// labelled train images (the bank) and the whole test split, with the run's k and temperature.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { resolveDataset } from "../../src/data/index.js";
import { extractFeatures } from "../../src/eval/features.js";
import { knnTop1 } from "../../src/eval/knn.js";
import type { TrainConfig } from "../../src/train/config.js";
import { makeEncoder } from "../../src/train/build.js";
import { readEncoderFile } from "../../src/train/export.js";
import { byol } from "../cli/run-cli.js";

const root = mkdtempSync(join(tmpdir(), "byol-run-eval-"));
after(() => rmSync(root, { recursive: true, force: true }));
T.setNumThreads(1);

test("eval.json's kNN top-1 is the exported encoder's, recomputed in eval mode", async () => {
  const run = join(root, "run");
  // No train subsample in the evaluation (maxTrain above the train split's size): the bank is every labelled train image.
  const r = byol(["train", "--preset", "smoke", "--quiet", "--threads", "1", "--out", run, "--limit", "256", "--epochs", "1",
    "--set", "linearEval.maxTrain=60000", "--set", "linearEval.epochs=1"]);
  assert.equal(r.code, 0, r.stderr);
  const cfg: TrainConfig = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
  const ev = JSON.parse(readFileSync(join(run, "eval.json"), "utf8"));
  const data = await resolveDataset(cfg.dataset, { limit: cfg.datasetLimit ?? undefined });
  const bank = data.trainLabeled!;
  const testSet = data.test!;
  assert.equal(ev.train_images, bank.n);
  assert.equal(ev.test_images, testSet.n);

  const { tensors } = readEncoderFile(join(run, "encoder.safetensors"));
  const enc = makeEncoder(cfg, bank.channels);
  enc.loadStateDict(tensors);
  enc.eval();
  const fo = { batchSize: 256, mean: data.mean, std: data.std };
  const embed = (x: T.Tensor) => enc.forward(x);
  const b = extractFeatures(embed, bank, fo);
  const q = extractFeatures(embed, testSet, fo);
  const acc = knnTop1(b, bank.labels!, q, testSet.labels!, { k: cfg.knn.k, temperature: cfg.knn.temperature, numClasses: 10 });
  assert.ok(Math.abs(acc - ev.knn_top1) <= 1 / testSet.n + 1e-12, `recomputed ${acc}, eval.json ${ev.knn_top1}`);
  // The baseline is another network: its score is not the trained one's.
  assert.ok(typeof ev.baselines.random_init.knn_top1 === "number");
  // `byol eval` re-evaluates from the files alone (a fresh network, built in training mode, then the
  // weights): it must put the encoder in eval mode itself and reproduce the same score.
  const again = byol(["eval", run, "--threads", "1", "--quiet"]);
  assert.equal(again.code, 0, again.stderr);
  const ev2 = JSON.parse(readFileSync(join(run, "eval.json"), "utf8"));
  assert.equal(ev2.knn_top1, ev.knn_top1, "byol eval's kNN top-1 equals the one written after training");
  b.dispose();
  q.dispose();
  enc.dispose();
});

// The library's run-level API on a user's own encoder: train() with an encoder factory on a labelled
// folder, the exported encoder loaded back, evaluate() of the run folder, and configuration errors.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, ReLU, Sequential, UserError, evaluate, extractFeatures, loadEncoder, loadFolder,
  resolveConfig, train, type Encoder,
} from "../../src/index.js";
import { isUserError, removeDir, tmpDir, writePngFolder } from "../data/fixtures.js";
import { tinyImages } from "../eval/helpers.js";

const root = tmpDir("library");
after(() => removeDir(root));
const images = join(root, "images");

// A user's own encoder: 3 channels in, 8 features out.
const tiny = (): Encoder => Object.assign(new Sequential(
  new Conv2d(3, 8, 3, { stride: 2, padding: 1 }), new BatchNorm2d(8), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(),
), { outDim: 8 });

const CONFIG = {
  preset: "smoke" as const, dataset: `folder:${images}`, threads: 1, epochs: 1, batchSize: 8, imageSize: 16,
  augment: { preset: "cifar" as const, outputSize: 16 }, linearEval: { epochs: 2 },
};

before(async () => {
  await writePngFolder(images, { ...tinyImages(30, 3, 16, 3, 21), classes: ["a", "b", "c"] });
});

test("train() with a custom encoder: the run folder, the evaluation on the held-out split, and the encoder back from its file", async () => {
  const runDir = join(root, "run");
  const lines: string[] = [];
  const run = await train(CONFIG, { runDir, encoder: tiny, quiet: true, log: (l) => lines.push(l) });
  assert.equal(run.encoder.outDim, 8);
  assert.equal(run.step, 3, "30 images in batches of 8: 3 steps");
  assert.ok(lines.some((l) => l.startsWith("test split: held-out 20% of")), lines.join("\n"));
  // 10 per class -> 2 held out each.
  assert.deepEqual([run.evaluation!.test_images, run.evaluation!.train_images], [6, 24]);
  assert.deepEqual(JSON.parse(readFileSync(join(runDir, "eval.json"), "utf8")).test_split, run.evaluation!.test_split);
  for (const f of ["config.json", "metrics.jsonl", "encoder.safetensors", "report.html"]) assert.ok(existsSync(join(runDir, f)), f);

  // The file holds the custom architecture: it loads into a module of that architecture only.
  const file = join(runDir, "encoder.safetensors");
  assert.throws(() => loadEncoder(file), isUserError("custom encoder architecture"));
  const { encoder, meta } = loadEncoder(file, { into: tiny() });
  assert.equal(meta.custom, true);
  const set = await loadFolder(images, { size: 16, workers: 1 });
  const opts = { mean: run.mean, std: run.std };
  const a = extractFeatures((x) => run.encoder.forward(x), set, opts);
  const b = extractFeatures((x) => encoder.forward(x), set, opts);
  assert.deepEqual(a.shape, [30, 8]);
  assert.ok(a.sub(b).abs().max().item() < 1e-6, "the loaded encoder embeds as the trained one");

  // evaluate(runDir) with the same architecture reproduces the scores; without it, the ResNet of the
  // configuration cannot take these weights.
  const again = await evaluate(runDir, { makeEncoder: tiny });
  assert.deepEqual([again.knn_top1, again.linear_top1, again.baselines.random_init.knn_top1], [run.evaluation!.knn_top1, run.evaluation!.linear_top1, run.evaluation!.baselines.random_init.knn_top1]);
  await assert.rejects(evaluate(runDir), isUserError("state dict does not match the model"));
  await assert.rejects(train(CONFIG, { runDir, encoder: tiny, quiet: true }), isUserError("already holds a run"));
});

test("resolveConfig: a preset plus fields, validated; unknown fields and bad values are UserErrors", () => {
  const c = resolveConfig({ preset: "smoke", epochs: 3, optimizer: { baseLr: 0.1 } });
  assert.deepEqual([c.preset, c.epochs, c.optimizer.baseLr, c.optimizer.name, c.precision], ["smoke", 3, 0.1, "sgd", "fp32"]);
  assert.equal(resolveConfig({ preset: "smoke" }).evalHoldout, 0.2);
  assert.throws(() => resolveConfig({ preset: "smoke", evalHoldout: 0 }), isUserError("evalHoldout must be in (0, 1), got 0"));
  assert.throws(() => resolveConfig({ nope: 1 } as never), isUserError('unknown configuration field "nope"'));
  assert.throws(() => resolveConfig({ preset: "huge" as never }), (e) => e instanceof UserError);
});

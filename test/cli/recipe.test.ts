// `byol train` on a user's folder picks its recipe from the images (src/train/recipe.ts): colour
// 64-px photos get the paper's views at 64 px and torchvision's stem, grey 28-px images gray28 and the
// small stem, each logged in one line and recorded in config.json and the encoder file; an explicit
// --set wins; the evaluation and `byol embed` see images at the side the encoder was trained on.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { loadFolder, readNpy, resizeSet } from "../../src/data/index.js";
import { extractFeatures } from "../../src/eval/features.js";
import { loadEncoder, readEncoderFile, saveEncoder } from "../../src/train/export.js";
import { removeDir, tmpDir, writeIdx, writePngFolder } from "../data/fixtures.js";
import { tinyImages } from "../eval/helpers.js";
import { byol } from "./run-cli.js";

const root = tmpDir("cli-recipe");
after(() => removeDir(root));
const colour = join(root, "colour64");
const grey = join(root, "grey28");

// Seconds: a narrow ResNet, one epoch of 3 batches of 8.
const FLAGS = ["--preset", "smoke", "--threads", "1", "--epochs", "1", "--batch-size", "8"];

before(async () => {
  const two = (n: number, c: number, side: number, seed: number) => ({ ...tinyImages(n, c, side, 2, seed), classes: ["a", "b"] });
  await writePngFolder(join(colour, "train"), two(24, 3, 64, 1));
  await writePngFolder(join(colour, "test"), two(8, 3, 64, 2));
  await writePngFolder(join(grey, "train"), two(24, 1, 28, 3));
  await writePngFolder(join(grey, "test"), two(8, 1, 28, 4));
});

function train(dir: string, out: string, extra: string[]): { stderr: string; cfg: any } {
  const r = byol(["train", ...FLAGS, "--dataset", `folder:${dir}`, "--out", out, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return { stderr: r.stderr, cfg: JSON.parse(readFileSync(join(out, "config.json"), "utf8")) };
}

const ALL_AUTO = ["augment.preset", "augment.outputSize", "encoder.stem"];

test("colour 64-px images: the paper's views at 64 px and torchvision's stem, logged and recorded", () => {
  const run = join(root, "run-colour");
  const { stderr, cfg } = train(colour, run, ["--no-eval"]);
  assert.match(stderr, /24 pretraining images 3x64x64/);
  assert.equal(stderr.split("\n").filter((l) => l.startsWith("recipe:")).length, 1, "one line");
  assert.match(stderr, /^recipe: byol views \(auto\) at 64 px \(auto\), imagenet stem \(auto\); images colour, 64 px; folder read as 3x64x64$/m);
  assert.deepEqual([cfg.augment.preset, cfg.augment.outputSize, cfg.encoder.stem], ["byol", 64, "imagenet"]);
  assert.deepEqual(cfg.resolvedRecipe, { images: { channels: 3, side: 64 }, views: "byol", outputSize: 64, stem: "imagenet", chosen: ALL_AUTO, folderDecode: { channels: 3, size: 64 } });
  const { meta } = readEncoderFile(join(run, "encoder.safetensors"));
  assert.deepEqual([meta.encoder.stem, meta.channels, meta.height, meta.width, meta.inputSize], ["imagenet", 3, 64, 64, 64]);
});

test("grey 28-px images: gray28 views at 28 px and the small stem, the folder read as one channel", () => {
  const run = join(root, "run-grey");
  const { stderr, cfg } = train(grey, run, ["--no-eval"]);
  assert.match(stderr, /24 pretraining images 1x28x28/);
  assert.match(stderr, /^recipe: gray28 views \(auto\) at 28 px \(auto\), small stem \(auto\); images grey, 28 px; folder read as 1x28x28$/m);
  assert.deepEqual([cfg.augment.preset, cfg.augment.outputSize, cfg.encoder.stem], ["gray28", 28, "small"]);
  assert.deepEqual(cfg.resolvedRecipe, { images: { channels: 1, side: 28 }, views: "gray28", outputSize: 28, stem: "small", chosen: ALL_AUTO, folderDecode: { channels: 1, size: 28 } });
  const { meta } = readEncoderFile(join(run, "encoder.safetensors"));
  assert.deepEqual([meta.encoder.stem, meta.channels, meta.height, meta.inputSize], ["small", 1, 28, 28]);
});

test("an encoder file from before inputSize (height and width only) still embeds, at its recorded height and width", async () => {
  const { encoder, meta } = loadEncoder(join(root, "run-grey", "encoder.safetensors"));
  const { inputSize, ...old } = meta;
  assert.equal(inputSize, 28);
  const file = join(root, "old-encoder.safetensors");
  saveEncoder(file, encoder, old);
  assert.equal(readEncoderFile(file).meta.inputSize, undefined);
  const out = join(root, "old.npy");
  const em = byol(["embed", "--encoder", file, "--input", join(grey, "test"), "--out", out]);
  assert.equal(em.code, 0, em.stderr);
  const got = readNpy(out);
  const want = extractFeatures((x) => encoder.forward(x), await loadFolder(join(grey, "test"), { size: 28, channels: 1 }), { mean: meta.mean, std: meta.std });
  assert.ok(T.tensor(got.data as Float32Array, got.shape).sub(want).abs().max().item() < 1e-5);
});

test("byol embed on a dataset name resizes its images to the encoder's recorded inputSize", async () => {
  // An MNIST-layout folder of 28-px images, and the grey run's encoder described as trained at 16 px.
  const mnist = join(root, "mnist");
  mkdirSync(mnist);
  const images = tinyImages(8, 1, 28, 2, 7);
  for (const prefix of ["train", "t10k"]) {
    writeIdx(join(mnist, `${prefix}-images-idx3-ubyte`), 0x803, [8, 28, 28], images.images);
    writeIdx(join(mnist, `${prefix}-labels-idx1-ubyte`), 0x801, [8], Uint8Array.from(images.labels!));
  }
  const { encoder, meta } = loadEncoder(join(root, "run-grey", "encoder.safetensors"));
  const file = join(root, "at16.safetensors");
  saveEncoder(file, encoder, { ...meta, height: 16, width: 16, inputSize: 16 });
  const out = join(root, "mnist.npy");
  const em = byol(["embed", "--encoder", file, "--input", `mnist:${mnist}`, "--split", "test", "--out", out]);
  assert.equal(em.code, 0, em.stderr);
  const got = readNpy(out);
  const opts = { mean: meta.mean, std: meta.std };
  const at16 = extractFeatures((x) => encoder.forward(x), resizeSet(images, 16), opts);
  const at28 = extractFeatures((x) => encoder.forward(x), images, opts);
  const diff = (t: T.Tensor) => T.tensor(got.data as Float32Array, got.shape).sub(t).abs().max().item();
  assert.ok(diff(at16) < 1e-5, `embed equals the encoder on the images resized to 16 px (${diff(at16)})`);
  assert.ok(diff(at28) > 1e-3, "and differs from the encoder on the images' own 28 px");
});

test("explicit --set augment.preset and outputSize win (32-px cifar views of 64-px images); the evaluation runs and byol embed gives the encoder 32-px images, as recorded", async () => {
  const run = join(root, "run-32");
  const { stderr, cfg } = train(colour, run, ["--no-label-fractions", "--set", "augment.preset=cifar", "--set", "augment.outputSize=32", "--set", "linearEval.epochs=2"]);
  assert.match(stderr, /^recipe: cifar views \(set\) at 32 px \(set\), small stem \(auto\); images colour, 64 px; folder read as 3x64x64$/m);
  assert.match(stderr, /evaluation sees the images resized to 32x32/);
  assert.deepEqual([cfg.augment.preset, cfg.augment.outputSize, cfg.encoder.stem], ["cifar", 32, "small"], "the stem follows the views' side");
  assert.deepEqual(cfg.resolvedRecipe.chosen, ["encoder.stem"]);
  const ev = JSON.parse(readFileSync(join(run, "eval.json"), "utf8"));
  assert.deepEqual([ev.train_images, ev.test_images], [24, 8]);
  // (test/train/recipe.test.ts checks, with an encoder that records its inputs, that the evaluation feeds 32x32.)
  const file = join(run, "encoder.safetensors");
  const { encoder, meta } = loadEncoder(file);
  assert.deepEqual([meta.height, meta.width, meta.inputSize], [32, 32, 32]);
  const out = join(root, "test.npy");
  const em = byol(["embed", "--encoder", file, "--input", join(colour, "test"), "--out", out]);
  assert.equal(em.code, 0, em.stderr);
  const got = readNpy(out);
  const opts = { mean: meta.mean, std: meta.std };
  const at32 = extractFeatures((x) => encoder.forward(x), await loadFolder(join(colour, "test"), { size: 32 }), opts);
  const at64 = extractFeatures((x) => encoder.forward(x), await loadFolder(join(colour, "test"), { size: 64 }), opts);
  const diff = (t: T.Tensor) => T.tensor(got.data as Float32Array, got.shape).sub(t).abs().max().item();
  assert.ok(diff(at32) < 1e-5, `embed equals the encoder on 32-px images (${diff(at32)})`);
  assert.ok(diff(at64) > 1e-3, "and differs from the encoder on the images' own 64 px");
});

// The recipe follows the data (src/train/recipe.ts): "auto" views, view side and stem chosen from
// the images, explicit values kept, folders probed from their headers, and in-memory images resized
// as a folder's are decoded. The run-level checks (config.json, evaluation, embed) are in
// test/cli/recipe.test.ts and at the end of this file.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, ReLU, Sequential } from "../../src/nn/index.js";
import type { Encoder } from "../../src/byol/learner.js";
import { FASHION_MNIST_DIR, probeFolderImages, resizeSet, type ImageSet } from "../../src/data/index.js";
import { chooseViewPreset } from "../../src/augment/presets.js";
import { presetConfig, setField, validateConfig } from "../../src/train/config.js";
import { makeAugmenters, makeEncoder } from "../../src/train/build.js";
import { openRunData, resolveRecipe } from "../../src/train/recipe.js";
import { parseEncoderMeta } from "../../src/train/export.js";
import { trainRun } from "../../src/train/run.js";
import { UserError } from "../../src/util/errors.js";
import { pythonHas, removeDir, runPythonJson, tmpDir, writePngFolder } from "../data/fixtures.js";
import { tinyImages } from "../eval/helpers.js";

const root = tmpDir("recipe");
after(() => removeDir(root));

before(async () => {
  const two = (n: number, c: number, side: number, seed: number) => ({ ...tinyImages(n, c, side, 2, seed), classes: ["a", "b"] });
  await writePngFolder(join(root, "grey28", "train"), two(24, 1, 28, 1));
  await writePngFolder(join(root, "grey28", "test"), two(8, 1, 28, 2));
  await writePngFolder(join(root, "colour20"), tinyImages(6, 3, 20, 1, 3, false));
});

test("the views follow channels and side: grey up to 28 px gray28, up to 32 px cifar, larger byol", () => {
  const cases: [number, number, string][] = [[1, 28, "gray28"], [1, 20, "gray28"], [1, 29, "cifar"], [1, 32, "cifar"], [3, 28, "cifar"], [3, 32, "cifar"], [3, 33, "byol"], [1, 64, "byol"], [3, 96, "byol"]];
  for (const [c, side, want] of cases) assert.equal(chooseViewPreset(c, side), want, `${c} channel(s), ${side} px`);
});

test("the cpu preset on Fashion-MNIST's images resolves to what it always used: gray28 views at 28 px, the small stem of stride 2", () => {
  const cfg = presetConfig("cpu");
  assert.deepEqual([cfg.augment.preset, cfg.augment.outputSize, cfg.encoder.stem], ["auto", "auto", "auto"]);
  const rec = resolveRecipe(cfg, { channels: 1, side: 28 });
  assert.deepEqual({ ...cfg.augment, localViews: undefined, localPredictor: undefined }, { preset: "gray28", outputSize: 28, minScale: null, localViews: undefined, localPredictor: undefined });
  assert.equal(cfg.augment.localViews.count, 0, "no local views");
  assert.deepEqual(cfg.encoder, { arch: "resnet18", stem: "small", stemStride: 2, widthMultiplier: 0.25, stageWidths: [16, 32, 64, 256] });
  assert.deepEqual(rec, { images: { channels: 1, side: 28 }, views: "gray28", outputSize: 28, stem: "small", chosen: ["augment.preset", "augment.outputSize", "encoder.stem"], folderDecode: null });
  assert.equal(cfg.resolvedRecipe, rec);
  validateConfig(cfg);
});

test("the gpu preset: cifar views at 32 px and the small stem on CIFAR-10, the paper's views at imageSize and torchvision's stem on large images", () => {
  const cifar = presetConfig("gpu");
  resolveRecipe(cifar, { channels: 3, side: 32 });
  assert.deepEqual([cifar.augment.preset, cifar.augment.outputSize, cifar.encoder.stem, cifar.encoder.stemStride], ["cifar", 32, "small", 1]);
  const photos = presetConfig("gpu");
  resolveRecipe(photos, { channels: 3, side: 500 });
  assert.deepEqual([photos.augment.preset, photos.augment.outputSize, photos.encoder.stem], ["byol", 96, "imagenet"]);
  const stl = presetConfig("gpu");
  stl.imageSize = 64;
  resolveRecipe(stl, { channels: 3, side: 96 });
  assert.deepEqual([stl.augment.preset, stl.augment.outputSize, stl.encoder.stem], ["byol", 64, "imagenet"], "imageSize caps the views' side");
});

test("an explicit value wins over the data, and only the auto fields are recorded as chosen", () => {
  const cfg = presetConfig("cpu");
  setField(cfg, "augment.preset", "byol");
  setField(cfg, "encoder.stem", "imagenet");
  const rec = resolveRecipe(cfg, { channels: 1, side: 28 });
  assert.deepEqual([cfg.augment.preset, cfg.augment.outputSize, cfg.encoder.stem], ["byol", 28, "imagenet"]);
  assert.deepEqual(rec.chosen, ["augment.outputSize"]);
  const sized = presetConfig("cpu");
  setField(sized, "augment.outputSize", "20");
  assert.equal(sized.augment.outputSize, 20, "a number, not the string");
  resolveRecipe(sized, { channels: 3, side: 96 });
  assert.deepEqual([sized.augment.preset, sized.augment.outputSize, sized.encoder.stem], ["byol", 20, "small"], "the stem follows the views' side");
  setField(sized, "augment.outputSize", "auto");
  assert.equal(sized.augment.outputSize, "auto");
  setField(sized, "augment.outputSize", "4");
  assert.throws(() => validateConfig(sized), (e: Error) => e instanceof UserError && /augment.outputSize must be auto or an integer of at least 8, got 4/.test(e.message));
  const stem = presetConfig("cpu");
  setField(stem, "encoder.stem", "wide");
  assert.throws(() => validateConfig(stem), /encoder.stem must be auto, imagenet or small, got "wide"/);
});

test("encoder metadata: inputSize is optional (older files), must equal height and width, and a stem is never auto", () => {
  const base = { encoder: { arch: "resnet18", stem: "small", stemStride: 2, widthMultiplier: 0.125, stageWidths: null }, channels: 1, height: 28, width: 28, mean: [0.5], std: [0.25], dataset: "x" };
  assert.equal(parseEncoderMeta(JSON.stringify(base), "f").inputSize, undefined);
  assert.equal(parseEncoderMeta(JSON.stringify({ ...base, inputSize: 28 }), "f").inputSize, 28);
  assert.throws(() => parseEncoderMeta(JSON.stringify({ ...base, inputSize: 16 }), "f"), /f: encoder field inputSize must equal height and width \(28x28\), got 16/);
  assert.throws(() => parseEncoderMeta(JSON.stringify({ ...base, encoder: { ...base.encoder, stem: "auto" } }), "f"), /encoder.stem must be imagenet or small, got "auto"/);
});

test("an encoder or views built before the recipe is resolved is refused, naming what to do", () => {
  const cfg = presetConfig("smoke");
  assert.throws(() => makeEncoder(cfg, 1), /encoder.stem is "auto": resolve the recipe/);
  assert.throws(() => makeAugmenters(cfg, 1, [0.5], [0.25]), /augment.preset\/outputSize are "auto"/);
});

test("a folder's images are probed from their headers: grey or colour, the median shorter side", async () => {
  assert.deepEqual(await probeFolderImages(join(root, "grey28", "train")), { channels: 1, side: 28 });
  assert.deepEqual(await probeFolderImages(join(root, "colour20")), { channels: 3, side: 20 });
  // (The grey28 fixtures are RGB files with three equal channels; a one-channel grey file counts too.)
  const { default: sharp } = await import("sharp");
  const grey = join(root, "grey-files");
  await writePngFolder(grey, tinyImages(1, 1, 4, 1, 9, false));
  await sharp(Buffer.alloc(30 * 50, 90), { raw: { width: 50, height: 30, channels: 1 } }).toColourspace("b-w").png().toFile(join(grey, "a.png"));
  assert.equal((await sharp(join(grey, "a.png")).metadata()).channels, 1);
  assert.deepEqual(await probeFolderImages(grey), { channels: 1, side: 4 }, "sides 4 and 30: the lower median");
  // Mixed: those two, a colour 40x40 and a near-grey 20x64 JPEG: colour; sides 4, 20, 30, 40 -> 20.
  await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 9, g: 80, b: 200 } } }).png().toFile(join(grey, "b.png"));
  await sharp({ create: { width: 20, height: 64, channels: 3, background: { r: 100, g: 101, b: 100 } } }).jpeg().toFile(join(grey, "c.jpg"));
  assert.deepEqual(await probeFolderImages(grey), { channels: 3, side: 20 });
  removeDir(join(grey, "b.png"));
  assert.deepEqual(await probeFolderImages(grey), { channels: 1, side: 20 }, "channels within 2 levels of each other are grey");
});

test("resizeSet matches PyTorch's antialiased bilinear interpolate (torchvision's Resize) after a centre crop, shrinking and enlarging", { skip: !pythonHas("torch") && "no python3 torch" }, () => {
  const rnd = tinyImages(3, 3, 28, 2, 5);
  const wide = { ...rnd, n: 2, height: 20, width: 28, images: rnd.images.subarray(0, 2 * 3 * 20 * 28) };
  const cases: [ImageSet, number][] = [[rnd, 16], [rnd, 20], [rnd, 40], [wide, 12]];
  for (const [set, side] of cases) {
    const got = resizeSet(set, side);
    assert.deepEqual([got.n, got.channels, got.height, got.width], [set.n, 3, side, side]);
    const want = runPythonJson(`
import sys, json, torch, torch.nn.functional as F
n, c, h, w, s = map(int, sys.argv[1:6])
x = torch.tensor(json.loads(sys.argv[6]), dtype=torch.float32).reshape(n, c, h, w)
q = min(h, w); t = (h - q) // 2; l = (w - q) // 2
x = x[:, :, t:t + q, l:l + q]
y = F.interpolate(x, size=(s, s), mode="bilinear", antialias=True, align_corners=False)
print(json.dumps(y.round().clamp(0, 255).flatten().tolist()))`, [...[set.n, 3, set.height, set.width, side].map(String), JSON.stringify(Array.from(set.images.subarray(0, set.n * 3 * set.height * set.width)))]) as number[];
    let worst = 0;
    for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(got.images[k] - want[k]));
    assert.ok(worst <= 1, `${set.height}x${set.width} -> ${side}: largest difference to PyTorch ${worst}`);
  }
  assert.equal(resizeSet(rnd, 28), rnd, "the same size is the same set");
  // Grey stays one plane; constant planes stay constant.
  const flat = { ...tinyImages(2, 1, 12, 1, 1), images: new Uint8Array(2 * 144).fill(77) };
  assert.ok(resizeSet(flat, 5).images.every((v) => v === 77));
});

test("openRunData on Fashion-MNIST (the main job's data) resolves the cpu preset as before", { skip: !existsSync(FASHION_MNIST_DIR) && "no Fashion-MNIST" }, async () => {
  const cfg = presetConfig("cpu");
  cfg.datasetLimit = 300;
  const data = await openRunData(cfg);
  try {
    assert.deepEqual([data.train.channels, data.train.height, data.test!.height], [1, 28, 28]);
    assert.deepEqual([cfg.augment.preset, cfg.augment.outputSize, cfg.encoder.stem, cfg.encoder.stemStride], ["gray28", 28, "small", 2]);
    assert.deepEqual(data.notes, [], "the evaluation splits are not resized");
  } finally {
    await data.train.close();
  }
});

test("the evaluation and the monitor give the encoder images at its views' side, not the dataset's", async () => {
  const seen = new Set<string>();
  const tiny = (): Encoder => {
    const net = Object.assign(new Sequential(new Conv2d(1, 8, 3, { stride: 2, padding: 1 }), new BatchNorm2d(8), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten()), { outDim: 8 });
    const forward = net.forward.bind(net);
    net.forward = (x: T.Tensor) => {
      seen.add(`${net.training ? "train" : "eval"} ${x.shape.slice(1).join("x")}`);
      return forward(x);
    };
    return net;
  };
  const run = await trainRun(
    { preset: "smoke", dataset: `folder:${join(root, "grey28")}`, threads: 1, epochs: 1, batchSize: 8, augment: { outputSize: 16 }, linearEval: { epochs: 2, labelFractions: false } },
    { runDir: join(root, "run-16"), encoder: tiny, quiet: true },
  );
  assert.deepEqual([run.config.augment.preset, run.config.augment.outputSize, run.config.resolvedRecipe!.folderDecode], ["gray28", 16, { channels: 1, size: 28 }]);
  assert.ok(run.evaluation, "evaluated");
  assert.deepEqual([...seen].sort(), ["eval 1x16x16", "train 1x16x16"], "every forward pass, training and evaluation, saw 16x16 images");
});

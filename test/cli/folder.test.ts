// The byol command on an image folder streamed during training: train, eval RUN_DIR and embed
// (a folder path and a folder: dataset name give the same embeddings).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { readNpy } from "../../src/data/npy.js";
import { removeDir, tmpDir, writePngFolder } from "../data/fixtures.js";
import { tinyImages } from "../eval/helpers.js";
import { byol } from "./run-cli.js";

const root = tmpDir("cli-folder");
after(() => removeDir(root));
const images = join(root, "images");
const run = join(root, "run");

before(async () => {
  const split = (n: number, seed: number) => ({ ...tinyImages(n, 3, 16, 2, seed), classes: ["even", "odd"] });
  await writePngFolder(join(images, "train"), split(48, 1));
  await writePngFolder(join(images, "test"), split(16, 2));
});

test("byol train streams a folder, then byol eval and byol embed work on it", () => {
  const tr = byol(["train", "--preset", "smoke", "--threads", "1", "--dataset", `folder:${images}`, "--batch-size", "8", "--out", run,
    "--set", "imageSize=16", "--set", "augment.preset=cifar", "--set", "augment.outputSize=16", "--set", "dataStreaming=always"]);
  assert.equal(tr.code, 0, tr.stderr);
  assert.match(tr.stderr, /48 pretraining images 3x16x16 \(streamed from disk\), 16 test images/);
  assert.equal(JSON.parse(readFileSync(join(run, "config.json"), "utf8")).dataStreaming, "always");
  const trained = JSON.parse(readFileSync(join(run, "eval.json"), "utf8"));
  assert.deepEqual([trained.train_images, trained.test_images], [48, 16]);
  assert.ok(existsSync(join(run, "report.html")));

  const ev = byol(["eval", run, "--quiet", "--threads", "1"]);
  assert.equal(ev.code, 0, ev.stderr);
  const again = JSON.parse(ev.stdout.trim().split("\n").pop()!);
  for (const k of ["knn_top1", "linear_top1"]) assert.equal(again[k], trained[k], `byol eval reproduces ${k}`);

  const npy = join(root, "test.npy");
  const st = join(root, "test.safetensors");
  const encoder = join(run, "encoder.safetensors");
  assert.equal(byol(["embed", "--encoder", encoder, "--input", join(images, "test"), "--out", npy, "--batch-size", "5"]).code, 0);
  const em = byol(["embed", "--encoder", encoder, "--input", `folder:${images}`, "--split", "test", "--out", st]);
  assert.equal(em.code, 0, em.stderr);
  const a = readNpy(npy);
  const b = T.loadSafetensors(st);
  assert.deepEqual(a.shape, [16, 64]);
  assert.equal(readFileSync(`${npy}.ids.txt`, "utf8").trim().split("\n")[0], "even/00.png");
  assert.ok(T.tensor(a.data as Float32Array, a.shape).sub(b.tensors.embeddings).abs().max().item() < 1e-5, "batch size does not change embeddings");
  assert.deepEqual(Array.from(b.tensors.labels.to("float32").toFloat32Array()), Array.from({ length: 16 }, (_, i) => (i < 8 ? 0 : 1)));
});

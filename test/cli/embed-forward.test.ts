// `byol embed` writes what the encoder itself computes: every row of the .npy equals the encoder's own
// forward pass (eval mode: BatchNorm running statistics) on the same normalised test image, whatever
// the batch size embed runs with.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { resolveDataset } from "../../src/data/index.js";
import { readNpy } from "../../src/data/npy.js";
import { presetConfig } from "../../src/train/config.js";
import { makeEncoder } from "../../src/train/build.js";
import { readEncoderFile } from "../../src/train/export.js";
import { byol } from "./run-cli.js";

const root = mkdtempSync(join(tmpdir(), "byol-embed-"));
after(() => rmSync(root, { recursive: true, force: true }));
T.setNumThreads(1);

const CHECKED = 300;

test("byol embed's rows equal the encoder's forward pass on the same images", async () => {
  const run = join(root, "run");
  // A few updates, so the BatchNorm running statistics are no longer their initial 0 and 1.
  const tr = byol(["train", "--preset", "smoke", "--quiet", "--threads", "1", "--no-eval", "--out", run, "--limit", "128", "--epochs", "1"]);
  assert.equal(tr.code, 0, tr.stderr);
  const encoderFile = join(run, "encoder.safetensors");

  // The reference: the encoder rebuilt from its file through the public API, in eval mode.
  const { tensors, meta } = readEncoderFile(encoderFile);
  const cfg = presetConfig("smoke");
  cfg.encoder = meta.encoder;
  const encoder = makeEncoder(cfg, meta.channels);
  encoder.loadStateDict(tensors);
  encoder.eval();
  const data = await resolveDataset("fashion-mnist");
  const test = data.test!;
  const per = test.channels * test.height * test.width;
  const pixels = Float32Array.from(test.images.subarray(0, CHECKED * per), (v) => (v / 255 - meta.mean[0]) / meta.std[0]);
  const want = T.noGrad(() => encoder.forward(T.tensor(pixels, [CHECKED, test.channels, test.height, test.width]))).toFloat32Array();
  const d = want.length / CHECKED;
  assert.equal(d, encoder.outDim);

  for (const batch of ["100", "256"]) {
    const npy = join(root, `emb-${batch}.npy`);
    const em = byol(["embed", "--encoder", encoderFile, "--input", "fashion-mnist", "--split", "test", "--batch-size", batch, "--out", npy]);
    assert.equal(em.code, 0, em.stderr);
    const arr = readNpy(npy);
    assert.deepEqual(arr.shape, [test.n, d]);
    const ids = readFileSync(`${npy}.ids.txt`, "utf8").trim().split("\n");
    assert.equal(ids.length, test.n);
    const got = arr.data as Float32Array;
    let err = 0;
    let scale = 0;
    for (let i = 0; i < CHECKED * d; i++) {
      err = Math.max(err, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    assert.ok(scale > 0.01, "the representation is not trivially zero");
    assert.ok(err <= 1e-5 * (1 + scale), `batch ${batch}: embed differs from the forward pass by ${err} (scale ${scale})`);
  }
  encoder.dispose();
});

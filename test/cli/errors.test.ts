// Bad input ends with one clear line on stderr and a non-zero exit (SPEC §4).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { byol, oneLineError } from "./run-cli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "byol-cli-"));

test("unknown flags, commands and values are named", () => {
  assert.match(oneLineError(byol(["train", "--bogus"])), /byol: train: Unknown option '--bogus'/);
  assert.match(oneLineError(byol(["fly"])), /unknown command "fly"/);
  assert.match(oneLineError(byol(["train", "--epochs", "0"])), /--epochs must be an integer ≥ 1, got "0"/);
  assert.match(oneLineError(byol(["train", "--preset", "huge"])), /unknown preset "huge"/);
  assert.match(oneLineError(byol(["train", "--set", "optimizer.momentum=1.5"])), /optimizer.momentum must be in \[0, 1\), got 1.5/);
  assert.match(oneLineError(byol(["train", "--set", "encoder.depth=3"])), /unknown configuration field "encoder.depth"/);
  assert.match(oneLineError(byol(["train", "--dataset", "imagenet"])), /unknown dataset "imagenet"/);
  assert.match(oneLineError(byol(["train", "--device", "cuda", "--preset", "smoke"])), /CUDA is not available|cuda/i);
});

test("missing and corrupt datasets are reported, not crashed on", () => {
  assert.match(oneLineError(byol(["train", "--preset", "smoke", "--dataset", "cifar10:/nonexistent/cifar", "--out", join(tmp(), "r")])), /nonexistent/);
  const dir = tmp();
  // A truncated IDX image file: the header promises 10 images of 28x28, the body holds 3.
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x803, 0);
  header.writeUInt32BE(10, 4);
  header.writeUInt32BE(28, 8);
  header.writeUInt32BE(28, 12);
  writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), gzipSync(Buffer.concat([header, Buffer.alloc(3 * 784)])));
  const lab = Buffer.alloc(8 + 10);
  lab.writeUInt32BE(0x801, 0);
  lab.writeUInt32BE(10, 4);
  writeFileSync(join(dir, "train-labels-idx1-ubyte.gz"), gzipSync(lab));
  writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), gzipSync(Buffer.concat([header, Buffer.alloc(10 * 784)])));
  writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(lab));
  const line = oneLineError(byol(["train", "--preset", "smoke", "--data-dir", dir, "--out", join(tmp(), "r")]));
  assert.match(line, /train-images-idx3-ubyte/);
});

test("resume, eval and embed refuse what is not there", () => {
  const d = tmp();
  assert.match(oneLineError(byol(["train", "--resume", join(d, "none")])), /does not exist/);
  assert.match(oneLineError(byol(["eval", d])), /not a run folder/);
  assert.match(oneLineError(byol(["embed", "--encoder", join(d, "x.safetensors"), "--input", "fashion-mnist", "--out", join(d, "e.npy")])), /does not exist/);
  assert.match(oneLineError(byol(["embed", "--input", "fashion-mnist", "--out", join(d, "e.npy")])), /--encoder is required/);
  mkdirSync(join(d, "run"));
  writeFileSync(join(d, "run", "config.json"), "{not json");
  assert.match(oneLineError(byol(["eval", join(d, "run")])), /not valid JSON/);
});

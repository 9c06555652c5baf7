// `byol export` as a user runs it: the file it writes, and one line on stderr for every bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { resnet18 } from "../../src/nn/resnet.js";
import { Sequential } from "../../src/nn/layers/sequential.js";
import { Conv2d } from "../../src/nn/layers/conv.js";
import { AdaptiveAvgPool2d } from "../../src/nn/layers/pooling.js";
import { Flatten } from "../../src/nn/layers/activation.js";
import { Module } from "../../src/nn/module.js";
import { saveEncoder, ENCODER_FILE } from "../../src/train/export.js";
import { exportOnnx, ONNX_FILE } from "../../src/train/export-onnx.js";
import { isUserError } from "../data/fixtures.js";
import { byol, oneLineError } from "../cli/run-cli.js";
import { exportCommand } from "../../src/cli/export.js";
import { tempDir, writeRun } from "./helpers.js";

const STATS = { mean: [0.5], std: [0.25] };
const ENC = { arch: "resnet18", stem: "small", stemStride: 1, widthMultiplier: 0.125, stageWidths: null } as const;

function smallRun(): string {
  T.manualSeed(3);
  const enc = resnet18({ inChannels: 1, stem: "small", widthMultiplier: 0.125 });
  const dir = writeRun(enc, ENC, { channels: 1, size: 16 }, STATS);
  enc.dispose();
  return dir;
}

test("byol export RUN_DIR --format onnx writes encoder.onnx beside encoder.safetensors, as the library call does", () => {
  const dir = smallRun();
  try {
    const r = byol(["export", dir, "--format", "onnx"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*encoder\.onnx .*opset 17, 1x16x16 pixels -> 64-d embedding/);
    const cli = readFileSync(join(dir, ONNX_FILE));
    // The export is deterministic: the library call writes the same bytes.
    exportOnnx(dir, { out: join(dir, "lib.onnx") });
    assert.deepEqual(cli, readFileSync(join(dir, "lib.onnx")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("byol export: bad input ends in one line naming the problem, and nothing is written", () => {
  const dir = smallRun();
  const empty = tempDir("onnx-cli-empty");
  try {
    // Each case starts the whole CLI (a second or more); export.test.ts covers the other path cases.
    const cases: [string[], RegExp][] = [
      [["export", empty, "--format", "onnx"], /has no encoder\.safetensors/],
      [["export", dir, "--out", join(empty, "no", "such", "dir", "e.onnx")], /cannot write .* the folder .* does not exist/],
    ];
    for (const [args, want] of cases) {
      const line = oneLineError(byol(args));
      assert.match(line, want, `byol ${args.join(" ")}`);
      assert.match(line, /^byol: /);
    }
    // Flags are checked before anything is read (in process: no need to start the CLI for these).
    assert.throws(() => exportCommand([dir, "--format", "tflite"]), isUserError('--format must be onnx, got "tflite"'));
    assert.throws(() => exportCommand([]), isUserError("expected exactly one RUN_DIR"));
    assert.throws(() => exportCommand([dir, "--bogus"]), isUserError("--bogus"));
    assert.deepEqual(readdirSync(dir), [ENCODER_FILE]);
    assert.deepEqual(readdirSync(empty), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  }
});

// A library user's own encoder architecture with an op the exporter does not know.
class Mish extends Module {
  forward(x: T.Tensor): T.Tensor {
    return x.mul(x.exp().add(1).log().tanh());
  }
}
const customEncoder = () => new Sequential(new Conv2d(1, 8, 3), new Mish(), new AdaptiveAvgPool2d(1), new Flatten());

test("a run that trained a custom encoder: the CLI asks for the architecture, the library names the module it cannot export", () => {
  const dir = tempDir("onnx-custom");
  const enc = customEncoder();
  try {
    saveEncoder(join(dir, ENCODER_FILE), enc, { encoder: ENC, custom: true, channels: 1, height: 16, width: 16, mean: STATS.mean, std: STATS.std, dataset: "folder:x" });
    assert.match(oneLineError(byol(["export", dir])), /custom encoder architecture/);
    assert.throws(() => exportOnnx(dir, { into: customEncoder() }), isUserError('module "1" is a Mish, which has no ONNX translation'));
    assert.ok(!existsSync(join(dir, ONNX_FILE)));
  } finally {
    enc.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

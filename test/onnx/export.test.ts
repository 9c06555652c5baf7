// ONNX export checked by an independent runtime: onnxruntime-node runs encoder.onnx on real test
// images and must give libtorch's eval-mode embeddings, for the cpu preset's encoder and a
// ResNet-50-shaped one; bad input ends in one line and leaves no file behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { resnet18, resnet50 } from "../../src/nn/resnet.js";
import { Sequential } from "../../src/nn/layers/sequential.js";
import { Conv2d } from "../../src/nn/layers/conv.js";
import { ReLU } from "../../src/nn/layers/activation.js";
import { Module } from "../../src/nn/module.js";
import { presetConfig } from "../../src/train/config.js";
import { resolveRecipe } from "../../src/train/recipe.js";
import { loadEncoder, ENCODER_FILE } from "../../src/train/export.js";
import { exportOnnx, ONNX_FILE } from "../../src/train/export-onnx.js";
import { moduleToOnnx, OPSET } from "../../src/nn/onnx/index.js";
import { modelProto } from "../../src/nn/onnx/schema.js";
import { setWriteFaultHook } from "../../src/util/file-writes.js";
import { spawnSync } from "node:child_process";
import { isUserError, pythonHas } from "../data/fixtures.js";
import { colourPixels, greyPixels, libtorchEmbed, maxAbsDiff, ortEmbed, REL_TOL, seasonBatchNorms, tempDir, writeRun } from "./helpers.js";

const FASHION_STATS = { mean: [0.286], std: [0.353] };
const COLOUR_STATS = { mean: [0.28, 0.3, 0.29], std: [0.34, 0.35, 0.33] };

function cpuPresetRun(): { dir: string; enc: ReturnType<typeof presetConfig>["encoder"] } {
  const cpu = presetConfig("cpu");
  // The cpu preset on Fashion-MNIST (grey, 28 px) resolves to the small stem.
  resolveRecipe(cpu, { channels: 1, side: 28 });
  const enc = cpu.encoder;
  assert.deepEqual(enc.stageWidths, [16, 32, 64, 256]);
  assert.equal(enc.stem, "small");
  T.manualSeed(0);
  const encoder = resnet18({ inChannels: 1, stem: enc.stem, stemStride: enc.stemStride, widthMultiplier: enc.widthMultiplier, stageWidths: enc.stageWidths });
  seasonBatchNorms(encoder, greyPixels(64, 5000).sub(0.286).div(0.353));
  const dir = writeRun(encoder, enc, { channels: 1, size: 28 }, FASHION_STATS);
  encoder.dispose();
  return { dir, enc };
}

/** Exports, runs both runtimes on the same pixels, and returns the measured difference. */
async function compare(dir: string, pixels: T.Tensor, stats: { mean: number[]; std: number[] }, fold: boolean) {
  const out = join(dir, fold ? ONNX_FILE : "kept.onnx");
  const r = exportOnnx(dir, { out, foldBatchNorm: fold });
  const { encoder } = loadEncoder(join(dir, ENCODER_FILE));
  const want = libtorchEmbed(encoder, pixels, stats.mean, stats.std);
  const got = await ortEmbed(out, pixels);
  assert.deepEqual([...got.dims], [pixels.size(0), r.outDim]);
  const { diff, scale } = maxAbsDiff(want, got.data);
  encoder.dispose();
  return { r, diff, scale, want };
}

test("cpu preset encoder: onnxruntime-node matches libtorch on real test images (BatchNorm folded and kept)", async () => {
  const { dir } = cpuPresetRun();
  try {
    const pixels = greyPixels(96);
    for (const fold of [true, false]) {
      const { r, diff, scale } = await compare(dir, pixels, FASHION_STATS, fold);
      console.log(`cpu preset (${fold ? "folded" : "kept"}): max |ort − libtorch| = ${diff.toExponential(2)} (max |y| = ${scale.toFixed(3)}, ${r.bytes} bytes)`);
      assert.ok(scale > 0.1, "embeddings are not degenerate");
      assert.ok(diff <= REL_TOL * scale, `max difference ${diff} above ${REL_TOL} × ${scale}`);
      assert.equal(r.outDim, 256);
      assert.equal(r.opset, OPSET);
      // Normalisation inside the model; BatchNorm folded into the 20 convolutions or kept beside them.
      assert.equal(r.ops.Sub, 1);
      assert.equal(r.ops.Div, 1);
      assert.equal(r.ops.Conv, 20);
      assert.equal(r.ops.BatchNormalization ?? 0, fold ? 0 : 20);
      assert.equal(r.ops.Add, 8);
      assert.equal(r.ops.GlobalAveragePool, 1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ResNet-50-shaped encoder (imagenet stem, width ×0.125, colour 64 px): onnxruntime-node matches libtorch", async () => {
  T.manualSeed(1);
  const enc = { arch: "resnet50", stem: "imagenet", stemStride: 1, widthMultiplier: 0.125, stageWidths: null } as const;
  const encoder = resnet50({ inChannels: 3, stem: "imagenet", widthMultiplier: 0.125 });
  seasonBatchNorms(encoder, colourPixels(32, 64, 3000).sub(0.29).div(0.34));
  const dir = writeRun(encoder, enc, { channels: 3, size: 64 }, COLOUR_STATS);
  encoder.dispose();
  try {
    const { r, diff, scale } = await compare(dir, colourPixels(24, 64), COLOUR_STATS, true);
    console.log(`resnet50 ×0.125: max |ort − libtorch| = ${diff.toExponential(2)} (max |y| = ${scale.toFixed(3)}, ${r.bytes} bytes)`);
    assert.ok(scale > 0.1, "embeddings are not degenerate");
    assert.ok(diff <= REL_TOL * scale, `max difference ${diff} above ${REL_TOL} × ${scale}`);
    assert.equal(r.outDim, 256);
    assert.equal(r.ops.Conv, 53);
    assert.equal(r.ops.MaxPool, 1);
    assert.equal(r.ops.Add, 16);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the batch size is dynamic, and the metadata describes the input", async () => {
  const { dir } = cpuPresetRun();
  try {
    const r = exportOnnx(dir);
    const file = join(dir, ONNX_FILE);
    const all = greyPixels(5, 100);
    const five = await ortEmbed(file, all);
    const one = await ortEmbed(file, all.narrow(0, 3, 1));
    assert.deepEqual([...one.dims], [1, 256]);
    assert.ok(maxAbsDiff(five.data.subarray(3 * 256, 4 * 256), one.data).diff < 1e-5);

    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(file);
    const input = session.inputMetadata[0] as { name: string; isTensor: boolean; shape?: readonly (number | string)[] };
    assert.equal(input.name, "pixels");
    assert.deepEqual(input.shape, ["N", 1, 28, 28]);
    assert.deepEqual(session.outputNames, ["embedding"]);
    await session.release();

    const model = modelProto().decode(readFileSync(file)) as unknown as { ir_version: unknown; opset_import: { version: unknown }[]; metadata_props: { key: string; value: string }[]; graph: { node: { op_type: string }[] } };
    const props = Object.fromEntries(model.metadata_props.map((p) => [p.key, p.value]));
    assert.deepEqual(props, r.metadata);
    assert.equal(props["input.height"], "28");
    assert.equal(props["input.channels"], "1");
    assert.deepEqual(JSON.parse(props["input.mean"]), FASHION_STATS.mean);
    assert.deepEqual(JSON.parse(props["input.std"]), FASHION_STATS.std);
    assert.equal(props["representation.size"], "256");
    assert.equal(props["byol-ts.version"], JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")).version);
    assert.equal(Number(model.opset_import[0].version), 17);
    assert.deepEqual(model.graph.node.slice(0, 2).map((n) => n.op_type), ["Sub", "Div"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

class Swish extends Module {
  forward(x: T.Tensor): T.Tensor {
    return x.mul(x.sigmoid());
  }
}
class LeakyReLU extends ReLU {
  override forward(x: T.Tensor): T.Tensor {
    return x.relu().sub(x.neg().relu().mul(0.01));
  }
}

test("a module the exporter does not know is refused with one line naming it", () => {
  const net = new Sequential(new Conv2d(1, 4, 3), new Swish());
  assert.throws(() => moduleToOnnx(net, { channels: 1, height: 8, width: 8 }), isUserError('module "1" is a Swish, which has no ONNX translation'));
  // A subclass of a known layer may compute something else: it is refused, not exported as its parent.
  const sub = new Sequential(new Conv2d(1, 4, 3), new LeakyReLU());
  assert.throws(() => moduleToOnnx(sub, { channels: 1, height: 8, width: 8 }), isUserError('module "1" is a LeakyReLU'));
  net.dispose();
  sub.dispose();
});

test("bad run folders and outputs end in one line and leave nothing half-written", () => {
  const empty = tempDir("onnx-empty");
  const { dir } = cpuPresetRun();
  try {
    assert.throws(() => exportOnnx(join(empty, "nope")), isUserError("does not exist"));
    assert.throws(() => exportOnnx(empty), isUserError(`has no ${ENCODER_FILE}`));
    writeFileSync(join(empty, "file"), "x");
    assert.throws(() => exportOnnx(join(empty, "file")), isUserError("is not a folder"));
    assert.throws(() => exportOnnx(dir, { out: join(empty, "missing", "e.onnx") }), isUserError("does not exist"));
    mkdirSync(join(empty, "a-folder.onnx"));
    assert.throws(() => exportOnnx(dir, { out: join(empty, "a-folder.onnx") }), isUserError("is not a regular file"));
    // A write that fails (permission denied at open, a full disk mid-write): one line, no file, no temporary.
    for (const [step, code] of [["open", "EACCES"], ["write", "ENOSPC"]] as const) {
      setWriteFaultHook((s) => {
        if (s === step) throw Object.assign(new Error(code), { code });
      });
      try {
        assert.throws(() => exportOnnx(dir), isUserError(join(dir, ONNX_FILE), code === "EACCES" ? "permission denied" : "no space left"));
      } finally {
        setWriteFaultHook(null);
      }
      assert.deepEqual(readdirSync(dir).sort(), [ENCODER_FILE]);
    }
    // An existing good export survives a failed one.
    exportOnnx(dir);
    const good = readFileSync(join(dir, ONNX_FILE));
    setWriteFaultHook((s) => {
      if (s === "write") throw Object.assign(new Error("ENOSPC"), { code: "ENOSPC" });
    });
    try {
      assert.throws(() => exportOnnx(dir, { foldBatchNorm: false }), isUserError("no space left"));
    } finally {
      setWriteFaultHook(null);
    }
    assert.deepEqual(readFileSync(join(dir, ONNX_FILE)), good);
    assert.ok(existsSync(join(dir, ENCODER_FILE)));
  } finally {
    rmSync(empty, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ONNX's own checker (full check, strict shape inference) accepts the exported models", (t) => {
  if (!pythonHas("onnx")) {
    t.skip("Debian's python3 with onnx is not installed (apt-get install python3-onnx)");
    return;
  }
  const dir = tempDir("onnx-check");
  try {
    T.manualSeed(2);
    const nets = [
      ["small", resnet18({ inChannels: 1, stem: "small", stemStride: 2, stageWidths: [16, 32, 64, 256] }), 1, 28],
      ["r50", resnet50({ inChannels: 3, widthMultiplier: 0.125 }), 3, 64],
    ] as const;
    const files: string[] = [];
    for (const [name, net, c, size] of nets) {
      for (const fold of [true, false]) {
        const file = join(dir, `${name}-${fold}.onnx`);
        writeFileSync(file, moduleToOnnx(net, { channels: c, height: size, width: size, mean: Array(c).fill(0.5), std: Array(c).fill(0.25), foldBatchNorm: fold }).bytes);
        files.push(file);
      }
      net.dispose();
    }
    const script = `
import sys, onnx
from onnx import checker, shape_inference
for f in sys.argv[1:]:
    m = onnx.load(f)
    checker.check_model(m, full_check=True)
    out = shape_inference.infer_shapes(m, strict_mode=True).graph.output[0].type.tensor_type.shape
    print(m.ir_version, m.opset_import[0].version, [d.dim_param or d.dim_value for d in out.dim])
`;
    const r = spawnSync("/usr/bin/python3", ["-c", script, ...files], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), Array(4).fill("8 17 ['N', 256]"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

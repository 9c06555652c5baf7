// Shared pieces of the ONNX tests: real test images, encoders whose BatchNorms hold trained-like
// statistics, run folders as byol train writes them, and onnxruntime-node runs.
// (No tests here; node --test runs this file and finds none.)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { loadFashionMnist } from "../../src/data/idx.js";
import type { ImageSet } from "../../src/data/dataset.js";
import { BatchNorm2d } from "../../src/nn/layers/batchnorm.js";
import type { Module } from "../../src/nn/module.js";
import { saveEncoder, ENCODER_FILE, type EncoderMeta } from "../../src/train/export.js";
import type { TrainConfig } from "../../src/train/config.js";

/**
 * Largest |onnxruntime − libtorch| allowed per embedding element, relative to the largest |element|
 * of the libtorch embeddings (float32 convolutions summed in different orders by oneDNN and MLAS).
 */
export const REL_TOL = 2e-5;

let fashion: ImageSet | null = null;
/** Fashion-MNIST's test split (Debian's dataset-fashion-mnist), read once. */
export function fashionTest(): ImageSet {
  fashion ??= loadFashionMnist(undefined, "test");
  return fashion;
}

/** n real grey 28x28 test images as pixels in [0, 1]: [n, 1, 28, 28], starting at image `first`. */
export function greyPixels(n: number, first = 0): T.Tensor {
  const set = fashionTest();
  const bytes = set.images.subarray(first * 784, (first + n) * 784);
  return T.tensor(bytes, [n, 1, 28, 28]).to("float32").div(255);
}

/**
 * n colour test images of size x size built from real ones: the three channels are three different
 * Fashion-MNIST images, upsampled bilinearly (pixels in [0, 1]).
 */
export function colourPixels(n: number, size: number, first = 0): T.Tensor {
  return T.tidy(() => {
    const grey = greyPixels(3 * n, first).reshape(n, 3, 28, 28);
    return T.interpolate(grey, [size, size]).clamp(0, 1).contiguous();
  });
}

/**
 * Gives every BatchNorm of `encoder` a random scale and shift (seeded) and running statistics from
 * a few training-mode passes over `calibration`, so that folding and eval mode are exercised on
 * values like a trained encoder's rather than on identity BatchNorms.
 */
export function seasonBatchNorms(encoder: Module, calibration: T.Tensor, seed = 1): void {
  T.manualSeed(seed);
  T.noGrad(() => {
    for (const m of encoder.modules()) {
      if (m instanceof BatchNorm2d) {
        m.weight!.copy_(T.rand([m.numFeatures]).mul(0.8).add(0.6));
        m.bias!.copy_(T.randn([m.numFeatures]).mul(0.2));
      }
    }
    encoder.train();
    for (let i = 0; i < 12; i++) T.tidy(() => encoder.forward(calibration));
    encoder.eval();
  });
}

/** A fresh temporary folder. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `byol-${prefix}-`));
}

/** A run folder holding encoder.safetensors as byol train writes it; returns the folder. */
export function writeRun(encoder: Module, enc: TrainConfig["encoder"], shape: { channels: number; size: number }, stats: { mean: number[]; std: number[] }): string {
  const dir = tempDir("onnx-run");
  const meta: EncoderMeta = { encoder: enc, channels: shape.channels, height: shape.size, width: shape.size, mean: stats.mean, std: stats.std, dataset: "fashion-mnist" };
  saveEncoder(join(dir, ENCODER_FILE), encoder, meta);
  return dir;
}

/** libtorch's embeddings (eval mode) of pixels in [0, 1], normalised as byol embed does. */
export function libtorchEmbed(encoder: Module, pixels: T.Tensor, mean: number[], std: number[]): Float32Array {
  return T.tidy(() => T.noGrad(() => {
    const c = mean.length;
    const x = pixels.sub(T.tensor(Float32Array.from(mean), [1, c, 1, 1])).div(T.tensor(Float32Array.from(std), [1, c, 1, 1]));
    return encoder.forward(x).contiguous().toFloat32Array();
  }));
}

/** onnxruntime-node's output "embedding" for pixels [n, C, H, W] in [0, 1]. */
export async function ortEmbed(model: string | Uint8Array, pixels: T.Tensor): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(model as string);
  try {
    const input = new ort.Tensor("float32", pixels.contiguous().toFloat32Array(), pixels.shape);
    const out = (await session.run({ pixels: input })).embedding;
    return { data: out.data as Float32Array, dims: out.dims };
  } finally {
    await session.release();
  }
}

/** max |a − b| and max |a| over two equally long arrays. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return { diff, scale };
}

// `byol export RUN_DIR --format onnx` and the library call beside it: the run's trained encoder
// (encoder.safetensors) as encoder.onnx next to it, for runtimes without libtorch (onnxruntime-node,
// onnxruntime-web in a browser, serverless functions). The model takes pixels in [0, 1] and
// normalises them itself, so a caller needs nothing but the image and the file.
import { lstatSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Module } from "../nn/module.js";
import { moduleToOnnx } from "../nn/onnx/index.js";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/file-writes.js";
import { packageVersion } from "../util/package-version.js";
import { ENCODER_FILE, loadEncoder, type EncoderMeta } from "./export.js";

/** The exported model's file name in a run folder. */
export const ONNX_FILE = "encoder.onnx";

/** Where and how `exportOnnx` writes. */
export interface ExportOnnxOptions {
  /** Output file (default RUN_DIR/encoder.onnx). */
  out?: string;
  /** Fold BatchNorm into the convolutions (default true) or keep BatchNormalization nodes. */
  foldBatchNorm?: boolean;
  /** For a run that trained a custom encoder: a module of that architecture to load the weights into. */
  into?: Module;
}

/** What was written. */
export interface ExportOnnxResult {
  path: string;
  bytes: number;
  outDim: number;
  opset: number;
  ops: Record<string, number>;
  metadata: Record<string, string>;
}

/** The metadata_props an exported encoder carries (all values are strings, as ONNX wants). */
export function onnxMetadata(meta: EncoderMeta, outDim: number, foldBatchNorm: boolean): Record<string, string> {
  return {
    "byol-ts.version": packageVersion(),
    "input.layout": "NCHW",
    "input.channels": String(meta.channels),
    "input.height": String(meta.height),
    "input.width": String(meta.width),
    "input.range": "[0, 1] (the model subtracts input.mean and divides by input.std itself)",
    "input.mean": JSON.stringify(meta.mean),
    "input.std": JSON.stringify(meta.std),
    "representation.size": String(outDim),
    "encoder": JSON.stringify(meta.encoder),
    "dataset": meta.dataset,
    "batchnorm": foldBatchNorm ? "folded into the convolutions" : "kept as BatchNormalization",
  };
}

/**
 * Exports RUN_DIR's encoder.safetensors to ONNX (RUN_DIR/encoder.onnx unless `out` says otherwise).
 * Bad input — no run folder, no encoder in it, an unwritable output, a module the exporter does not
 * know — is a UserError with one line; the file is written atomically, so a failure leaves nothing.
 */
export function exportOnnx(runDir: string, opts: ExportOnnxOptions = {}): ExportOnnxResult {
  const st = lstatOrNull(runDir);
  if (!st) throw new UserError(`export: run folder ${runDir} does not exist`);
  if (!st.isDirectory()) throw new UserError(`export: ${runDir} is not a folder (expected a run folder written by byol train)`);
  const encoderPath = join(runDir, ENCODER_FILE);
  if (!lstatOrNull(encoderPath)) {
    throw new UserError(`export: ${runDir} has no ${ENCODER_FILE} (a run writes it when training ends; finish an interrupted one with byol train --resume ${runDir})`);
  }
  const out = opts.out ?? join(runDir, ONNX_FILE);
  const outSt = lstatOrNull(out);
  if (outSt && !outSt.isFile()) throw new UserError(`export: ${out} exists and is not a regular file`);
  const parent = lstatOrNull(dirname(out));
  if (!parent?.isDirectory()) throw new UserError(`export: cannot write ${out}: the folder ${dirname(out)} does not exist`);
  const fold = opts.foldBatchNorm ?? true;
  const { encoder, meta } = loadEncoder(encoderPath, { into: opts.into });
  try {
    let metadata: Record<string, string> = {};
    const model = moduleToOnnx(encoder, {
      channels: meta.channels, height: meta.height, width: meta.width, mean: meta.mean, std: meta.std,
      foldBatchNorm: fold, name: "byol-ts encoder", producerVersion: packageVersion(),
      metadata: (outDim) => (metadata = onnxMetadata(meta, outDim, fold)),
    });
    writeFileAtomic(out, model.bytes);
    return { path: out, bytes: model.bytes.length, outDim: model.outDim, opset: model.opset, ops: model.ops, metadata };
  } finally {
    if (!opts.into) encoder.dispose?.();
  }
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

// A module (in eval mode) as an ONNX model: input "pixels" [N, C, H, W] (N dynamic), optionally
// normalised in the graph by (x − mean) / std as its first two nodes, then the module's translation
// (./translate.ts), output "embedding" [N, D]. The result is the bytes of a .onnx file.
import * as T from "../../torch/index.js";
import { UserError } from "../../util/errors.js";
import type { Module } from "../module.js";
import { OnnxGraph } from "./graph.js";
import { translate } from "./translate.js";
import { IR_VERSION, OPSET } from "./schema.js";

export { IR_VERSION, OPSET } from "./schema.js";
export { EXPORTABLE_MODULES } from "./translate.js";

/** What the exported model takes, and how it is written. */
export interface OnnxExportOptions {
  /** Input channels, height and width (the batch size stays dynamic). */
  channels: number;
  height: number;
  width: number;
  /** Per-channel mean and std of pixels in [0, 1]: when given, the model normalises its input itself. */
  mean?: number[];
  std?: number[];
  /** Fold BatchNorms that follow convolutions into them (default true); false keeps BatchNormalization nodes. */
  foldBatchNorm?: boolean;
  /** The graph's name (default "encoder"). */
  name?: string;
  /** Written as the model's producer_version (default "unknown"). */
  producerVersion?: string;
  /** Model metadata_props (string keys and values), or a function of the representation size giving them. */
  metadata?: Record<string, string> | ((outDim: number) => Record<string, string>);
}

/** An exported model: the .onnx bytes, the representation size, and the graph's ops by type. */
export interface OnnxModel {
  bytes: Uint8Array;
  outDim: number;
  ops: Record<string, number>;
  irVersion: number;
  opset: number;
}

/**
 * Translates `module` (as it computes in eval mode) into an ONNX model. Throws a UserError naming
 * the module when the tree holds one the exporter cannot translate.
 */
export function moduleToOnnx(module: Module, opts: OnnxExportOptions): OnnxModel {
  const { channels, height, width } = opts;
  for (const [what, v] of [["channels", channels], ["height", height], ["width", width]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new UserError(`ONNX export: ${what} must be a positive integer, got ${v}`);
  }
  if ((opts.mean === undefined) !== (opts.std === undefined)) throw new UserError("ONNX export: give both mean and std, or neither");
  if (opts.mean && opts.std) {
    const ok = (a: number[], pos: boolean) => a.length === channels && a.every((v) => Number.isFinite(v) && (!pos || v > 0));
    if (!ok(opts.mean, false) || !ok(opts.std, true)) throw new UserError(`ONNX export: mean and std must be ${channels} finite numbers each (std above 0)`);
  }
  const g = new OnnxGraph();
  const input = g.fresh("pixels");
  g.fresh("embedding"); // reserved for the output
  let x = input;
  if (opts.mean && opts.std) {
    x = g.node("Sub", [x, g.constant("mean", [1, channels, 1, 1], Float32Array.from(opts.mean))], [], "centred");
    x = g.node("Div", [x, g.constant("std", [1, channels, 1, 1], Float32Array.from(opts.std))], [], "normalised");
  }
  const y = translate(module, x, "", { g, opts: { foldBatchNorm: opts.foldBatchNorm ?? true } });
  const outDim = representationSize(module, channels, height, width);
  // The output gets its stable name through an Identity (runtimes remove it when they optimise).
  const ops = g.opCounts();
  g.nodeNamed("Identity", [y], "embedding");
  const bytes = g.encode({
    name: opts.name ?? "encoder",
    input: { name: input, dims: ["N", channels, height, width], doc: opts.mean ? "pixels in [0, 1], NCHW" : "NCHW input" },
    output: { name: "embedding", dims: ["N", outDim], doc: "the representation" },
    producerVersion: opts.producerVersion ?? "unknown",
    metadata: typeof opts.metadata === "function" ? opts.metadata(outDim) : opts.metadata ?? {},
  });
  return { bytes, outDim, ops, irVersion: IR_VERSION, opset: OPSET };
}

// The size of the module's output for one input of the exported shape, by running it once in eval mode.
function representationSize(module: Module, channels: number, height: number, width: number): number {
  const outDim = (module as { outDim?: unknown }).outDim;
  if (typeof outDim === "number") return outDim;
  const wasTraining = module.training;
  const device = module.parameters()[0]?.device ?? "cpu";
  module.eval();
  try {
    return T.tidy(() => T.noGrad(() => {
      const y = module.forward(T.zeros([1, channels, height, width], { device }));
      if (y.ndim !== 2) throw new UserError(`ONNX export: the module returns shape [${y.shape}] for one image; an encoder returns [N, D]`);
      return y.size(1);
    }));
  } finally {
    if (wasTraining) module.train();
  }
}

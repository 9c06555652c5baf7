// `byol export RUN_DIR --format onnx`: the run's trained encoder as encoder.onnx beside encoder.safetensors.
import { UserError } from "../util/errors.js";
import { exportOnnx } from "../train/export-onnx.js";
import { parse } from "./args.js";

export const EXPORT_HELP = `byol export RUN_DIR --format onnx [--out FILE] [--keep-batchnorm]
  Writes RUN_DIR/encoder.safetensors as an ONNX model (opset 17), RUN_DIR/encoder.onnx unless --out
  says otherwise: input "pixels" [N, C, H, W] in [0, 1] (normalised inside the model), output
  "embedding" [N, D], any batch size; size, channels, mean/std in the model's metadata. BatchNorm is
  folded into the convolutions; --keep-batchnorm keeps BatchNormalization nodes instead.`;

export function exportCommand(argv: string[]): number {
  const { values, positionals } = parse(argv, {
    format: { type: "string" }, out: { type: "string" }, "keep-batchnorm": { type: "boolean" }, help: { type: "boolean" },
  }, "export");
  if (values.help) {
    console.log(EXPORT_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UserError("export: expected exactly one RUN_DIR (see byol export --help)");
  const format = values.format ?? "onnx";
  if (format !== "onnx") throw new UserError(`export: --format must be onnx, got "${format}"`);
  const r = exportOnnx(positionals[0], { out: values.out, foldBatchNorm: !values["keep-batchnorm"] });
  const ops = Object.entries(r.ops).map(([op, n]) => `${n} ${op}`).join(", ");
  process.stderr.write(`wrote ${r.path} (${(r.bytes / 1e6).toFixed(2)} MB, opset ${r.opset}, ${r.metadata["input.channels"]}x${r.metadata["input.height"]}x${r.metadata["input.width"]} pixels -> ${r.outDim}-d embedding; ${ops})\n`);
  return 0;
}

// `byol embed`: representations of images from a trained encoder, as .npy or .safetensors with ids.
import { existsSync, statSync } from "node:fs";
import * as T from "../torch/index.js";
import { batches, epochOrder, folderSplits, folderStream, inMemoryData, parseDatasetSpec, resizeSet, resolveDataset, writeNpy, type ImageSet } from "../data/index.js";
import { extractFeaturesStream } from "../eval/features.js";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/file-writes.js";
import { checkOutputFile } from "../train/run-folder.js";
import { presetConfig } from "../train/config.js";
import { makeEncoder } from "../train/build.js";
import { readEncoderFile } from "../train/export.js";
import { intFlag, parse } from "./args.js";

export const EMBED_HELP = `byol embed --encoder FILE --input DIR|DATASET --out FILE [options]
  Writes the encoder's representation y of every input image.
  --encoder FILE     an encoder.safetensors written by byol train
  --input X          a folder of images (class subfolders or flat), or a dataset name (see byol train --help)
  --split S          for dataset names: train (default) or test
  --out FILE         .npy (float32 [N, D]; ids in FILE.ids.txt, one per line) or .safetensors
                     (tensors "embeddings" and, where known, "labels"; ids in the metadata)
  --device DEV  --batch-size N (default 256)  --on-bad-image skip|error`;

export async function embedCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    encoder: { type: "string" }, input: { type: "string" }, out: { type: "string" }, split: { type: "string" },
    device: { type: "string" }, "batch-size": { type: "string" }, "on-bad-image": { type: "string" }, help: { type: "boolean" },
  }, "embed");
  if (values.help) {
    console.log(EMBED_HELP);
    return 0;
  }
  if (positionals.length) throw new UserError(`embed: unexpected argument "${positionals[0]}"`);
  for (const f of ["encoder", "input", "out"]) if (!values[f]) throw new UserError(`embed: --${f} is required (see byol embed --help)`);
  const out: string = values.out;
  if (!out.endsWith(".npy") && !out.endsWith(".safetensors")) throw new UserError(`embed: --out must end in .npy or .safetensors, got "${out}"`);
  // Refused before any work: an output that is a link, a folder or a special file.
  checkOutputFile(out);
  if (out.endsWith(".npy")) checkOutputFile(`${out}.ids.txt`, "--out's id list");
  const split = values.split ?? "train";
  if (split !== "train" && split !== "test") throw new UserError(`embed: --split must be train or test, got "${split}"`);
  const device = values.device ?? "cpu";
  if (device !== "cpu") T.resolveDevice(device);
  const { tensors, meta } = readEncoderFile(values.encoder);
  const cfg = presetConfig("cpu");
  cfg.encoder = meta.encoder;
  cfg.ablation.encoderNorm = meta.normalization ?? "batchnorm";
  cfg.device = device;
  const encoder = makeEncoder(cfg, meta.channels);
  encoder.loadStateDict(tensors);
  for (const t of Object.values(tensors)) t.dispose();
  encoder.eval();

  const input: string = values.input;
  const onBadImage = values["on-bad-image"] ?? "error";
  if (onBadImage !== "skip" && onBadImage !== "error") throw new UserError(`embed: --on-bad-image must be skip or error`);
  const bs = intFlag(values["batch-size"], "batch-size", 1) ?? 256;
  const channels = meta.channels as 1 | 3;
  // A folder is decoded batch by batch as the features are computed (never whole into memory);
  // other datasets are read into memory as training reads them.
  const dir = existsSync(input) && statSync(input).isDirectory() ? input : folderOfSpec(input, split);
  let images: AsyncIterable<ImageSet>;
  if (dir !== null) {
    images = folderStream(dir, { size: { height: meta.height, width: meta.width }, channels, onBadImage, batchSize: bs });
  } else {
    const data = await resolveDataset(input, { imageSize: meta.height, channels, onBadImage });
    let set = split === "test" ? data.test : data.train.set;
    if (!set) throw new UserError(`embed: dataset ${input} has no ${split} split`);
    // An encoder that records the side it was trained on gets every image at that side, as the
    // evaluation gave them to it (a folder above is decoded straight to it).
    if (meta.inputSize !== undefined && set.channels === meta.channels) set = resizeSet(set, meta.inputSize);
    if (set.channels !== meta.channels || set.height !== meta.height || set.width !== meta.width) {
      throw new UserError(`embed: the encoder expects ${meta.channels}x${meta.height}x${meta.width} images, the input has ${set.channels}x${set.height}x${set.width}`);
    }
    images = inMemoryData(set).batches(batches(epochOrder(set.n, 0, 0, { shuffle: false }), bs, false));
  }
  const { features: feats, ids: knownIds, labels } = await extractFeaturesStream((x) => encoder.forward(x), images, { device, mean: meta.mean, std: meta.std });
  const [n, d] = feats.shape;
  const ids = knownIds ?? Array.from({ length: n }, (_, i) => String(i));
  if (out.endsWith(".npy")) {
    writeNpy(out, feats.toFloat32Array(), [n, d]);
    writeFileAtomic(`${out}.ids.txt`, ids.join("\n") + "\n");
  } else {
    const named: Record<string, T.Tensor> = { embeddings: feats };
    if (labels) named.labels = T.tensor(labels, [n], { dtype: "int64" });
    T.saveSafetensors(out, named, { ids: JSON.stringify(ids), encoder: values.encoder });
  }
  process.stderr.write(`wrote ${n} embeddings of dimension ${d} to ${out}\n`);
  return 0;
}

// The folder a `folder:DIR` dataset name reads for a split, or null for other dataset names.
function folderOfSpec(input: string, split: "train" | "test"): string | null {
  const spec = parseDatasetSpec(input);
  if (spec.kind !== "folder") return null;
  const dirs = folderSplits(spec.dir);
  const dir = split === "test" ? dirs.test : dirs.train;
  if (dir === null) throw new UserError(`embed: dataset ${input} has no ${split} split`);
  return dir;
}

// encoder.safetensors: the trained online encoder under torchvision's tensor names, with enough
// metadata (architecture, channels, normalisation) for `byol embed` to rebuild and use it. Reading
// validates the metadata by the same rules as flags and checks every tensor's name, shape and dtype
// against the architecture it describes before any network is built (so a file that claims a wider
// network than it holds costs no memory).
import { existsSync } from "node:fs";
import * as T from "../torch/index.js";
import { readSafetensorsHeader, type SafetensorsDtype } from "../torch/safetensors-format.js";
import { UserError } from "../util/errors.js";
import { isPlainObject, parseJsonObject } from "../util/json-object.js";
import type { Module } from "../nn/module.js";
import { RESNETS, resnetStageWidths, type ResNet } from "../nn/resnet.js";
import type { ResolvedDataset } from "../data/index.js";
import { NORM_KINDS, type NormKind } from "../nn/norm.js";
import { applyOverrides, presetConfig, validateConfig, type TrainConfig } from "./config.js";

/** The trained encoder's file name in a run folder. */
export const ENCODER_FILE = "encoder.safetensors";
/**
 * The online encoder as training started (step 0, the weights BYOL started from), written before the
 * first step and kept by resumed runs: the evaluation's random-init baseline (evaluate-run.ts).
 */
export const ENCODER_STEP0_FILE = "encoder-step0.safetensors";
const META_KEY = "byol-ts-encoder";

/** What encoder.safetensors says about its encoder, beside the weights. */
export interface EncoderMeta {
  /** The configured ResNet (when `custom` is set, the configuration's, not the trained architecture). */
  encoder: TrainConfig["encoder"];
  /** The run trained a library user's own encoder: only that architecture can load these weights. */
  custom?: boolean;
  /**
   * The encoder's normalisation: "batchnorm" (torchvision's ResNet; files without the field), "groupnorm-ws"
   * (torch.nn.GroupNorm under the bn names, as torchvision's `norm_layer` places it, after convolutions whose
   * weights are standardised when used: the stored weights are the raw ones) or "none" (no norm tensors).
   */
  normalization?: NormKind;
  channels: number;
  /** The input the encoder expects: since inputSize exists, the side of its training views. */
  height: number;
  width: number;
  /**
   * The side the encoder was trained on (its views' outputSize; height = width = inputSize). Images
   * of another size are brought to it by a centre crop to a square and a resize (a folder's decoder,
   * or resizeSet in src/data/image-shape.ts for images in memory). Files from before it record the
   * dataset's size in height and width, which `byol embed` then requires as it always did.
   */
  inputSize?: number;
  mean: number[];
  std: number[];
  dataset: string;
}

/** The description saved with a run's encoder: its configured architecture and the data it was trained on. */
export function runEncoderMeta(cfg: TrainConfig, data: Pick<ResolvedDataset, "name" | "mean" | "std" | "train">, custom: boolean): EncoderMeta {
  // The encoder sees images at its views' side; embed brings any image to it (inputSize).
  const size = cfg.augment.outputSize as number;
  return {
    encoder: cfg.encoder, channels: data.train.channels, height: size, width: size, inputSize: size,
    mean: data.mean, std: data.std, dataset: data.name, ...(custom ? { custom: true } : {}), normalization: cfg.ablation.encoderNorm,
  };
}

/** Writes an encoder's weights (torchvision's names for a ResNet) and its description to a safetensors file. */
export function saveEncoder(path: string, encoder: Module, meta: EncoderMeta): void {
  T.tidy(() => {
    const sd = encoder.stateDict();
    const cpu: Record<string, T.Tensor> = {};
    for (const [k, v] of Object.entries(sd)) cpu[k] = v.device === "cpu" ? v : v.to("cpu");
    T.saveSafetensors(path, cpu, { [META_KEY]: JSON.stringify(meta), format: "pt" });
  });
}

/** Reads encoder.safetensors: the weights (on the CPU) and the description written with them. */
export function readEncoderFile(path: string): { tensors: Record<string, T.Tensor>; meta: EncoderMeta } {
  if (!existsSync(path)) throw new UserError(`encoder file ${path} does not exist`);
  // The header alone first: metadata and shapes are checked before the tensors are read.
  const header = readSafetensorsHeader(path);
  const raw = header.metadata[META_KEY];
  if (raw === undefined) throw new UserError(`${path} has no byol-ts encoder description (was it written by byol train?)`);
  const meta = parseEncoderMeta(raw, path);
  // A custom architecture (trained through the library with its own encoder) cannot be checked
  // against a ResNet; it is loaded only into a module the caller builds (see loadEncoder).
  if (!meta.custom) checkResNetTensors(path, meta, header.tensors);
  const { tensors } = T.loadSafetensors(path);
  return { tensors, meta };
}

/** Refuses a file whose tensors are not exactly the described ResNet's (checked before any is read). */
function checkResNetTensors(path: string, meta: EncoderMeta, tensors: { name: string; dtype: string; shape: number[] }[]): void {
  const expected = encoderTensorShapes(meta.encoder, meta.channels, meta.normalization ?? "batchnorm");
  const found = new Map(tensors.map((t) => [t.name, t]));
  for (const [name, want] of expected) {
    const got = found.get(name);
    if (!got) throw new UserError(`${path}: tensor "${name}" of a ${describe(meta)} is missing`);
    if (got.dtype !== want.dtype || got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
      throw new UserError(`${path}: tensor "${name}" is ${got.dtype} [${got.shape.join(", ")}], a ${describe(meta)} has ${want.dtype} [${want.shape.join(", ")}]`);
    }
  }
  const extra = tensors.find((t) => !expected.has(t.name));
  if (extra) throw new UserError(`${path}: unexpected tensor "${extra.name}" for a ${describe(meta)}`);
}

function describe(m: EncoderMeta): string {
  const width = m.encoder.stageWidths ? `stage widths ${m.encoder.stageWidths.join(", ")}` : `width ×${m.encoder.widthMultiplier}`;
  const norm = m.normalization && m.normalization !== "batchnorm" ? `, ${m.normalization}` : "";
  return `${m.encoder.arch} (${m.encoder.stem} stem, ${width}${norm}, ${m.channels} channel${m.channels === 1 ? "" : "s"})`;
}


/** Parses and validates an encoder description; each problem is one line naming the file and field. */
export function parseEncoderMeta(raw: string, path: string): EncoderMeta {
  const bad = (field: string, why: string): never => {
    throw new UserError(`${path}: encoder field ${field} ${why}`);
  };
  const m = parseJsonObject(raw, `${path}: encoder description`);
  if (!isPlainObject(m.encoder)) bad("encoder", "is missing or not an object");
  const enc = m.encoder as Record<string, unknown>;
  for (const k of ["arch", "stem", "stemStride", "widthMultiplier"]) if (!(k in enc)) bad(`encoder.${k}`, "is missing");
  if (m.channels !== 1 && m.channels !== 3) bad("channels", `must be 1 or 3, got ${JSON.stringify(m.channels)}`);
  // The architecture and the image size by the rules that apply to the same values given as flags.
  for (const side of ["height", "width"] as const) {
    try {
      const cfg = applyOverrides(presetConfig("cpu"), { encoder: enc, imageSize: m[side] });
      validateConfig(cfg);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      bad(/imageSize/.test(e.message) ? side : "encoder", `is invalid: ${e.message.replace(/imageSize/, side)}`);
    }
  }
  const channels = m.channels as number;
  for (const f of ["mean", "std"] as const) {
    const v = m[f];
    if (!Array.isArray(v) || v.length !== channels || !v.every((x) => typeof x === "number" && Number.isFinite(x) && (f === "mean" || x > 0))) {
      bad(f, `must be ${channels} finite number${channels === 1 ? "" : "s"}${f === "std" ? " above 0" : ""}, got ${JSON.stringify(v)}`);
    }
  }
  if (typeof m.dataset !== "string") bad("dataset", "must be a string");
  if (m.custom !== undefined && typeof m.custom !== "boolean") bad("custom", `must be true or false, got ${JSON.stringify(m.custom)}`);
  if (enc.stem === "auto") bad("encoder.stem", `must be imagenet or small, got "auto"`);
  if (m.inputSize !== undefined && (m.inputSize !== m.height || m.inputSize !== m.width)) {
    bad("inputSize", `must equal height and width (${m.height}x${m.width}), got ${JSON.stringify(m.inputSize)}`);
  }
  if (m.normalization !== undefined && !NORM_KINDS.includes(m.normalization as NormKind)) bad("normalization", `must be batchnorm, groupnorm-ws or none, got ${JSON.stringify(m.normalization)}`);
  return {
    // Files written before stage widths existed have none: the multiplier alone sets the widths.
    encoder: { arch: enc.arch, stem: enc.stem, stemStride: enc.stemStride, widthMultiplier: enc.widthMultiplier, stageWidths: enc.stageWidths ?? null } as TrainConfig["encoder"],
    channels, height: m.height as number, width: m.width as number, mean: m.mean as number[], std: m.std as number[], dataset: m.dataset as string,
    ...(m.custom === true ? { custom: true } : {}), ...(m.inputSize !== undefined ? { inputSize: m.inputSize as number } : {}),
    // (Absent in files written before the switch existed: BatchNorm.)
    ...(m.normalization !== undefined ? { normalization: m.normalization as NormKind } : {}),
  };
}

type Shape = { dtype: SafetensorsDtype; shape: number[] };

/**
 * The state dict (names, dtypes, shapes) of the ResNet that `makeEncoder` builds for this
 * architecture, worked out without building it. A test checks it against built networks.
 */
export function encoderTensorShapes(enc: TrainConfig["encoder"], channels: number, norm: NormKind = "batchnorm"): Map<string, Shape> {
  const out = new Map<string, Shape>();
  const conv = (name: string, o: number, i: number, k: number) => out.set(`${name}.weight`, { dtype: "F32", shape: [o, i, k, k] });
  // BatchNorm: affine and running statistics; GroupNorm: affine only; none: nothing.
  const bn = (name: string, c: number) => {
    if (norm === "none") return;
    for (const p of norm === "batchnorm" ? ["weight", "bias", "running_mean", "running_var"] : ["weight", "bias"]) out.set(`${name}.${p}`, { dtype: "F32", shape: [c] });
    if (norm === "batchnorm") out.set(`${name}.num_batches_tracked`, { dtype: "I64", shape: [] });
  };
  const bottleneck = enc.arch === "resnet50";
  const expansion = bottleneck ? 4 : 1;
  const blocks = enc.arch === "resnet18" ? [2, 2, 2, 2] : [3, 4, 6, 3];
  const widths = resnetStageWidths(enc.widthMultiplier, enc.stageWidths);
  let inplanes = widths[0];
  conv("conv1", inplanes, channels, enc.stem === "small" ? 3 : 7);
  bn("bn1", inplanes);
  blocks.forEach((count, i) => {
    const planes = widths[i];
    for (let b = 0; b < count; b++) {
      const p = `layer${i + 1}.${b}`;
      if (bottleneck) {
        conv(`${p}.conv1`, planes, inplanes, 1);
        bn(`${p}.bn1`, planes);
        conv(`${p}.conv2`, planes, planes, 3);
        bn(`${p}.bn2`, planes);
        conv(`${p}.conv3`, planes * expansion, planes, 1);
        bn(`${p}.bn3`, planes * expansion);
      } else {
        conv(`${p}.conv1`, planes, inplanes, 3);
        bn(`${p}.bn1`, planes);
        conv(`${p}.conv2`, planes, planes, 3);
        bn(`${p}.bn2`, planes);
      }
      if (b === 0 && (i > 0 || inplanes !== planes * expansion)) {
        conv(`${p}.downsample.0`, planes * expansion, inplanes, 1);
        bn(`${p}.downsample.1`, planes * expansion);
      }
      inplanes = planes * expansion;
    }
  });
  return out;
}

/**
 * Loads encoder.safetensors into a ready module (eval mode, on `device`): into `into` when given (a
 * run that trained a custom architecture needs it), else into the ResNet the file describes. The
 * metadata gives the image size and the normalisation the encoder expects.
 */
export function loadEncoder(path: string, opts: { into?: Module; device?: string } = {}): { encoder: Module; meta: EncoderMeta } {
  const { tensors, meta } = readEncoderFile(path);
  try {
    if (meta.custom && !opts.into) throw new UserError(`${path} holds a custom encoder architecture: pass a module of that architecture to load it into`);
    const encoder: Module = opts.into ?? resnetOf(meta);
    if (opts.device && opts.device !== "cpu") encoder.to(opts.device);
    encoder.loadStateDict(tensors);
    encoder.eval();
    return { encoder, meta };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

function resnetOf(meta: EncoderMeta): ResNet {
  const e = meta.encoder;
  const make = RESNETS[e.arch];
  if (!make) throw new UserError(`encoder file describes an unknown architecture "${e.arch}"`);
  return make({ inChannels: meta.channels, stem: e.stem as "imagenet" | "small", stemStride: e.stemStride, widthMultiplier: e.widthMultiplier, stageWidths: e.stageWidths, norm: meta.normalization ?? "batchnorm" });
}

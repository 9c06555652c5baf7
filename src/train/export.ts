// encoder.safetensors: the trained online encoder under torchvision's tensor names, with enough
// metadata (architecture, channels, normalisation) for `byol embed` to rebuild and use it.
import { existsSync } from "node:fs";
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import type { Module } from "../nn/module.js";
import { RESNETS, type ResNet } from "../nn/resnet.js";
import type { TrainConfig } from "./config.js";

/** The trained encoder's file name in a run folder. */
export const ENCODER_FILE = "encoder.safetensors";
const META_KEY = "byol-ts-encoder";

/** What encoder.safetensors says about its encoder, beside the weights. */
export interface EncoderMeta {
  /** The configured ResNet (when `custom` is set, the configuration's, not the trained architecture). */
  encoder: TrainConfig["encoder"];
  /** The run trained a library user's own encoder: only that architecture can load these weights. */
  custom?: boolean;
  channels: number;
  height: number;
  width: number;
  mean: number[];
  std: number[];
  dataset: string;
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
  const { tensors, metadata } = T.loadSafetensors(path);
  const raw = metadata[META_KEY];
  if (!raw) throw new UserError(`${path} has no byol-ts encoder description (was it written by byol train?)`);
  return { tensors, meta: JSON.parse(raw) as EncoderMeta };
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
  return make({ inChannels: meta.channels, stem: e.stem, stemStride: e.stemStride, widthMultiplier: e.widthMultiplier });
}

// encoder.safetensors: the trained online encoder under torchvision's tensor names, with enough
// metadata (architecture, channels, normalisation) for `byol embed` to rebuild and use it.
import { existsSync } from "node:fs";
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import type { Module } from "../nn/module.js";
import type { TrainConfig } from "./config.js";

export const ENCODER_FILE = "encoder.safetensors";
const META_KEY = "byol-ts-encoder";

export interface EncoderMeta {
  encoder: TrainConfig["encoder"];
  channels: number;
  height: number;
  width: number;
  mean: number[];
  std: number[];
  dataset: string;
}

export function saveEncoder(path: string, encoder: Module, meta: EncoderMeta): void {
  T.tidy(() => {
    const sd = encoder.stateDict();
    const cpu: Record<string, T.Tensor> = {};
    for (const [k, v] of Object.entries(sd)) cpu[k] = v.device === "cpu" ? v : v.to("cpu");
    T.saveSafetensors(path, cpu, { [META_KEY]: JSON.stringify(meta), format: "pt" });
  });
}

export function readEncoderFile(path: string): { tensors: Record<string, T.Tensor>; meta: EncoderMeta } {
  if (!existsSync(path)) throw new UserError(`encoder file ${path} does not exist`);
  const { tensors, metadata } = T.loadSafetensors(path);
  const raw = metadata[META_KEY];
  if (!raw) throw new UserError(`${path} has no byol-ts encoder description (was it written by byol train?)`);
  return { tensors, meta: JSON.parse(raw) as EncoderMeta };
}

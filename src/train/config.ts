// The complete training configuration (every knob explicit, as DeepMind's BYOL code keeps it), the
// three presets, and how flags and a JSON file override it. Invalid values are UserErrors.
import { UserError } from "../util/errors.js";
import { isPlainObject } from "../util/json-object.js";
import { cpuHasNativeBf16 } from "../torch/index.js";
import type { BudgetPlan } from "./time-budget.js";
import type { RecipeRecord } from "./recipe.js";
import { NORM_KINDS, type NormKind } from "../nn/norm.js";

/** cpu (a laptop in 10 minutes), gpu (one GPU, the paper's heads) or smoke (seconds, for tests). */
export type PresetName = "cpu" | "gpu" | "smoke";

/** Every knob of a training run (config.json holds it in full). */
export interface TrainConfig {
  preset: PresetName;
  dataset: string;
  dataDir: string | null;
  /** At most this many pretraining images (null: all). */
  datasetLimit: number | null;
  /** Side length of decoded folder images. */
  imageSize: number;
  onBadImage: "skip" | "error";
  /**
   * Folder datasets: "auto" streams the pretraining images from disk during training when decoding
   * them all would take more than 1 GiB (src/data/resolve.ts says why), "always" streams, "never"
   * decodes the folder into memory first. When every image decodes, training sees the same batches
   * either way (a skipped bad image is handled differently: see src/data/folder-reader.ts).
   */
  dataStreaming: "auto" | "always" | "never";
  device: string;
  threads: number;
  seed: number;
  /**
   * Epochs to train; with a time budget, the provisional count until the budget plans, then the epochs
   * begun (⌈resolved.totalSteps / stepsPerEpoch⌉: the last may end inside, at resolved.totalSteps).
   */
  epochs: number;
  /**
   * Seconds of training (set-up and evaluation excluded) the run must fit in, or null for none: the
   * first steps are timed and the total step count is then planned to fit (src/train/time-budget.ts). An
   * explicit epoch count (--epochs, a config file's or --set epochs=) turns it off.
   */
  timeBudgetS: number | null;
  /** What the time budget planned (written into config.json, so that --resume keeps it); null before. */
  resolved: BudgetPlan | null;
  /** With a time budget: re-plan the total steps every this many steps and at each epoch's end (0: keep the first plan). */
  replanEverySteps: number;
  /** What the "auto" recipe chose from the data (views, their size, the stem; src/train/recipe.ts); null before. */
  resolvedRecipe: RecipeRecord | null;
  batchSize: number;
  encoder: {
    arch: "resnet18" | "resnet34" | "resnet50";
    /** "auto": the small stem for images up to 32 px, torchvision's for larger ones (src/train/recipe.ts). */
    stem: "auto" | "imagenet" | "small";
    /** Stride of the small stem's 3x3 conv: 2 halves the resolution early, for cheap CPU training. */
    stemStride: number;
    widthMultiplier: number;
    /** Channels of layer1..layer4, replacing 64, 128, 256, 512 × widthMultiplier; null = the multiplier's. */
    stageWidths: number[] | null;
  };
  projector: { hiddenDim: number; outDim: number };
  predictor: { hiddenDim: number };
  targetInit: "independent" | "copy";
  optimizer: {
    name: "lars" | "sgd" | "adamw";
    /** Learning rate per 256 images; the run uses baseLr × batchSize / 256. */
    baseLr: number;
    weightDecay: number;
    momentum: number;
    trustCoefficient: number;
    warmupEpochs: number;
    /** Biases and BatchNorm parameters get no weight decay and no LARS trust ratio (SPEC §1). */
    excludeBiasAndNorm: boolean;
    /**
     * The predictor's (and multi-crop's local predictor's) learning rate as a multiple of the
     * scheduled one (1 = the paper). SimSiam and DirectPred report that a predictor which adapts
     * faster than the encoder helps short runs.
     */
    predictorLrMultiplier: number;
  };
  tauBase: number;
  /**
   * The view pair by name and its side; minScale (if set) replaces the presets' smallest crop area
   * fraction. "auto" chooses from the data (src/train/recipe.ts): config.json records the choice.
   */
  augment: {
    preset: "auto" | "byol" | "cifar" | "gray28"; outputSize: number | "auto"; minScale: number | null;
    /**
     * Multi-crop (docs/multi-crop.md): `count` small random-resized crops per image (0 = off), of
     * outputSize pixels and an area fraction in [minScale, maxScale], through the online network only,
     * each predicting the target projections of both global views.
     */
    localViews: { count: number; outputSize: number; minScale: number; maxScale: number };
    /** "shared": the local views use the predictor of the global views; "separate": a predictor of their own. */
    localPredictor: "shared" | "separate";
  };
  /** "auto": bf16 autocast on a GPU, and on a CPU that computes bf16 natively; float32 otherwise. */
  precision: "auto" | "fp32" | "bf16";
  channelsLast: boolean;
  /**
   * Capture the training step as a CUDA graph after a few eager steps and replay it (src/train/step.ts).
   * "auto": on for a GPU in a single process, off otherwise; "on" asks for it (still eager on a CPU,
   * where there are no graphs); "off": always eager.
   */
  cudaGraph: "auto" | "on" | "off";
  knn: { everyEpochs: number; k: number; temperature: number; monitorTrain: number; monitorTest: number };
  /**
   * epochs: L-BFGS iterations of each grid point of the linear protocol, twice as many for its final fit;
   * labelFractions: also train linear probes on 1% and 10% of the train labels (eval.json's label_fractions).
   */
  linearEval: { epochs: number; maxTrain: number | null; labelFractions: boolean };
  /** A folder of class subfolders without a test split: the fraction of each class held out for evaluation. */
  evalHoldout: number;
  onlineProbe: { enabled: boolean; lr: number };
  checkpointEverySteps: number;
  logEverySteps: number;
  nproc: number;
  syncBatchNorm: boolean;
  // Data-parallel gradient buckets (several processes only): the gradients are all-reduced while backward
  // runs, in buffers of at most this many MiB, as DistributedDataParallel's bucket_cap_mb (default 25).
  // 0: one all-reduce of all gradients after backward.
  bucketMb: number;
  /** The method's parts, switchable for ablations (docs/ablations.md); the defaults are BYOL as published. */
  ablation: AblationSwitches;
}

/** BYOL's parts as switches (`byol ablate` runs a table of them). */
export interface AblationSwitches {
  /** Normalisation in the encoder, the projector's and the predictor's hidden layer: batchnorm | groupnorm-ws | none. */
  encoderNorm: NormKind;
  projectorNorm: NormKind;
  predictorNorm: NormKind;
  /** false: no predictor; the online projection is compared with the target's directly. */
  predictor: boolean;
  /**
   * false: the loss's gradient also flows through the target branch. Only with target "online": the
   * target branch is then the online network, and the shared weights get the gradient through both.
   */
  stopGradient: boolean;
  /** "ema": τ from tauBase to 1 (BYOL); "online": τ = 0, the target is the online network (one set of weights); "frozen": τ = 1, the target keeps its initial weights. */
  target: "ema" | "online" | "frozen";
}

const BASE: TrainConfig = {
  preset: "cpu",
  dataset: "fashion-mnist",
  dataDir: null,
  datasetLimit: null,
  imageSize: 96,
  onBadImage: "error",
  dataStreaming: "auto",
  device: "cpu",
  threads: 0,
  seed: 0,
  // Without a time budget 8 epochs; the cpu preset's budget replaces this count by what fits.
  epochs: 8,
  timeBudgetS: null,
  resolved: null,
  replanEverySteps: 20,
  resolvedRecipe: null,
  batchSize: 256,
  // Quarter width in the early stages and a doubled last stage (16, 32, 64, 256: a 256-d
  // representation; layer4 runs at 2x2 pixels, so a step costs ~1.6x the quarter-width net's in the sweep's timings).
  // Chosen by bench/cpu-sweep.mjs at one 8-minute budget (kNN / linear top-1, full test split, seed 0):
  // 79.2% / 82.6% after 3 epochs, against 74.4–76.0% / 77.3–80.0% for width 0.25 over four runs of
  // 6–8 epochs; width 0.5 everywhere affords 2 epochs and ends at 77.4% linear, below its own random
  // initialisation's 80.3%. The README's sweep table has every row.
  encoder: { arch: "resnet18", stem: "auto", stemStride: 2, widthMultiplier: 0.25, stageWidths: [16, 32, 64, 256] },
  projector: { hiddenDim: 1024, outDim: 128 },
  predictor: { hiddenDim: 1024 },
  targetInit: "independent",
  // The CPU preset trains for a few hundred steps, not the paper's hundreds of thousands: at the paper's
  // LARS settings (trust coefficient 1e-3) the weights barely move in that time. Measured on
  // Fashion-MNIST over 2 epochs (kNN top-1 of the monitor): LARS 0.3/1e-3 54.7%, LARS 1.0/0.02 63.8%,
  // SGD 0.12 66.8%; SGD 0.3 with weight decay 1e-4 reached 65.1% after one epoch. The gpu preset keeps LARS.
  optimizer: {
    name: "sgd", baseLr: 0.3, weightDecay: 1e-4, momentum: 0.9, trustCoefficient: 1e-3, warmupEpochs: 0.2,
    excludeBiasAndNorm: true, predictorLrMultiplier: 1,
  },
  tauBase: 0.99,
  // "auto": gray28 views at 28 px and the small stem on Fashion-MNIST; what suits other data elsewhere.
  augment: {
    preset: "auto", outputSize: "auto", minScale: null,
    // Off by default. When on: 12-px crops of 5–40% of a 28-px image (SwAV's 96/224 size ratio).
    localViews: { count: 0, outputSize: 12, minScale: 0.05, maxScale: 0.4 }, localPredictor: "separate",
  },
  // bf16 autocast doubles the CPU preset's throughput where the CPU has AVX512-BF16 (measured: 1580 vs
  // 700 img/s); the loss is still taken in float32 and the weights stay float32.
  precision: "auto",
  // Channels-last convolutions are ~40% faster on the CPU for this small ResNet (measured in PyTorch).
  channelsLast: true,
  cudaGraph: "auto",
  knn: { everyEpochs: 1, k: 200, temperature: 0.1, monitorTrain: 10000, monitorTest: 2000 },
  linearEval: { epochs: 30, maxTrain: null, labelFractions: true },
  evalHoldout: 0.2,
  onlineProbe: { enabled: true, lr: 0.01 },
  checkpointEverySteps: 200,
  logEverySteps: 10,
  nproc: 1,
  syncBatchNorm: false,
  ablation: { encoderNorm: "batchnorm", projectorNorm: "batchnorm", predictorNorm: "batchnorm", predictor: true, stopGradient: true, target: "ema" },
  bucketMb: 25,
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

// The presets differ from BASE only where they say so.
const PRESETS: Record<PresetName, DeepPartial<TrainConfig>> = {
  // A small ResNet that trains, evaluates and reports on 2 cores within 10 minutes: as many steps as
  // fit in 430 s of training on the machine at hand (bf16 or float32, fast or slow cores). The
  // evaluation with the linear protocol's search for four representations took 143 s on a 2-core
  // machine (2026-12-06, after 465 s of training: 608 s in all), so 430 s keeps the job under 600 s.
  // Re-tuned for a run this short by the second sweep at this budget (docs/cpu-recipe.md; linear /
  // 10%-label top-1, seed 0, against the paper's settings' 82.0 / 78.6): batch 128 (twice the updates
  // for the same images: 84.6 / 81.8), τ from 0.97 (84.4 / 82.2), the predictor at 10x the learning
  // rate (83.9 / 80.9); together, and at batch 64 and 32, ahead of raw pixels with all labels at
  // seeds 0 and 1. Batch 32 was ahead of 64 at both seeds (85.6 / 83.2 and 86.1 / 84.2 against
  // 85.5 / 82.9 and 85.6 / 83.5), by less than one run's spread. On a second machine seeds 0 and 2
  // ended level with raw pixels (docs/cpu-recipe.md): the lead is of the size of the seed spread.
  cpu: { timeBudgetS: 430, batchSize: 32, tauBase: 0.97, optimizer: { predictorLrMultiplier: 10 } },
  // ResNet-18 with the paper's heads and the 300-epoch hyperparameters (SPEC §1), sized for one GPU.
  gpu: {
    preset: "gpu", device: "cuda", epochs: 100, batchSize: 512,
    encoder: { arch: "resnet18", stemStride: 1, widthMultiplier: 1, stageWidths: null },
    projector: { hiddenDim: 4096, outDim: 256 }, predictor: { hiddenDim: 4096 },
    optimizer: { name: "lars", baseLr: 0.3, weightDecay: 1e-6, warmupEpochs: 10 }, tauBase: 0.99,
    precision: "bf16", channelsLast: true, knn: { everyEpochs: 5, monitorTrain: 60000, monitorTest: 10000 },
    linearEval: { epochs: 50 }, checkpointEverySteps: 1000, logEverySteps: 20,
  },
  // Seconds, not minutes: for tests and for checking an installation.
  smoke: {
    preset: "smoke", epochs: 2, channelsLast: false, precision: "fp32", batchSize: 32, datasetLimit: 512,
    encoder: { widthMultiplier: 0.125, stageWidths: null }, projector: { hiddenDim: 64, outDim: 32 }, predictor: { hiddenDim: 64 },
    optimizer: { warmupEpochs: 1 }, knn: { everyEpochs: 1, k: 20, monitorTrain: 512, monitorTest: 256 },
    linearEval: { epochs: 5, maxTrain: 1000 }, checkpointEverySteps: 10, logEverySteps: 2,
  },
};


// Field names are looked up as own properties only, and the names that reach an object's prototype
// are refused outright: "--set __proto__.x=1" or {"__proto__": ...} in a config file must not write
// into Object.prototype.
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function isKnownField(obj: Record<string, unknown>, key: string, where: string): boolean {
  if (FORBIDDEN_KEYS.has(key)) throw new UserError(`configuration field "${where}" is not allowed`);
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function merge<T>(base: T, over: unknown, path = ""): T {
  if (!isPlainObject(over)) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const where = path ? `${path}.${k}` : k;
    if (!isKnownField(out, k, where)) throw new UserError(`unknown configuration field "${where}"`);
    out[k] = isPlainObject(out[k]) ? merge(out[k], v, where) : v;
  }
  return out as T;
}

/** A fresh copy of a preset's full configuration: cpu, gpu or smoke. */
export function presetConfig(name: string): TrainConfig {
  if (!(name in PRESETS)) throw new UserError(`unknown preset "${name}" (expected cpu, gpu or smoke)`);
  return structuredClone(merge(BASE, PRESETS[name as PresetName]));
}

/** Applies a partial configuration (from a JSON file) on top of a full one. */
export function applyOverrides(cfg: TrainConfig, over: unknown): TrainConfig {
  return merge(cfg, over);
}

/**
 * A run folder's saved configuration completed by `base` (its preset, with any flags): a field the
 * folder's version of byol-ts did not write takes the value that version trained with, not the one
 * the preset holds today (a cpu run from before 2026-12-07 resumes with its predictor at 1x).
 */
export function savedConfig(saved: unknown, base: TrainConfig): TrainConfig {
  const cfg = applyOverrides(base, saved);
  const s = isPlainObject(saved) ? saved : {};
  // Before time budgets there was none; before the predictor's own rate it learned at the scheduled one.
  if (!("timeBudgetS" in s)) cfg.timeBudgetS = null;
  // (A new object: without a saved optimizer, applyOverrides leaves base's own in cfg.)
  if (!isPlainObject(s.optimizer) || !("predictorLrMultiplier" in s.optimizer)) cfg.optimizer = { ...cfg.optimizer, predictorLrMultiplier: 1 };
  return cfg;
}

/** Sets one dotted field from its string form, typed by the field's current value. */
export function setField(cfg: TrainConfig, dotted: string, raw: string): void {
  const parts = dotted.split(".");
  let obj: Record<string, unknown> = cfg as unknown as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) {
    if (!isKnownField(obj, p, dotted) || !isPlainObject(obj[p])) throw new UserError(`unknown configuration field "${dotted}"`);
    obj = obj[p] as Record<string, unknown>;
  }
  const key = parts[parts.length - 1];
  if (!isKnownField(obj, key, dotted)) throw new UserError(`unknown configuration field "${dotted}"`);
  if (isPlainObject(obj[key])) throw new UserError(`"${dotted}" is a group of fields: set one of them, e.g. ${dotted}.${Object.keys(obj[key] as object)[0]}=...`);
  const cur = obj[key];
  if (raw !== "null" && (Array.isArray(cur) || (cur === null && /^[^,]+(,[^,]+)+$/.test(raw)))) {
    // A list field: comma-separated numbers ("16,32,64,256").
    const v = raw.split(",").map((x) => Number(x.trim()));
    if (!v.every((x) => Number.isFinite(x))) throw new UserError(`${dotted} must be comma-separated numbers, got "${raw}"`);
    obj[key] = v;
  } else if (raw === "auto" && (typeof cur === "number" || cur === "auto")) {
    obj[key] = "auto"; // (validateConfig says which fields accept it)
  } else if (typeof cur === "number" || ((cur === null || cur === "auto") && raw !== "null" && /^-?[\d.]+(e-?\d+)?$/i.test(raw))) {
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new UserError(`${dotted} must be a number, got "${raw}"`);
    obj[key] = v;
  } else if (typeof cur === "boolean") {
    if (raw !== "true" && raw !== "false") throw new UserError(`${dotted} must be true or false, got "${raw}"`);
    obj[key] = raw === "true";
  } else if (raw === "null") {
    obj[key] = null;
  } else {
    obj[key] = raw;
  }
}

function check(ok: boolean, msg: string): void {
  if (!ok) throw new UserError(msg);
}

const int = (v: unknown) => typeof v === "number" && Number.isInteger(v);

/** The precision a run trains in: "auto" becomes bf16 on a GPU or a CPU with native bf16, else fp32. */
export function effectivePrecision(c: Pick<TrainConfig, "precision" | "device">): "fp32" | "bf16" {
  if (c.precision !== "auto") return c.precision;
  return c.device.startsWith("cuda") || cpuHasNativeBf16() ? "bf16" : "fp32";
}

/** Validates every field; the first problem is reported as one line (a UserError). */
export function validateConfig(c: TrainConfig): TrainConfig {
  check(["cpu", "gpu", "smoke"].includes(c.preset), `preset must be cpu, gpu or smoke, got "${c.preset}"`);
  check(typeof c.dataset === "string" && c.dataset.length > 0, "dataset must be a non-empty name");
  check(c.datasetLimit === null || (int(c.datasetLimit) && c.datasetLimit > 0), `datasetLimit must be a positive integer or null, got ${c.datasetLimit}`);
  check(int(c.imageSize) && c.imageSize >= 8 && c.imageSize <= 1024, `imageSize must be an integer in [8, 1024], got ${c.imageSize}`);
  check(c.onBadImage === "skip" || c.onBadImage === "error", `onBadImage must be skip or error, got "${c.onBadImage}"`);
  check(["auto", "always", "never"].includes(c.dataStreaming), `dataStreaming must be auto, always or never, got "${c.dataStreaming}"`);
  check(/^(cpu|cuda(:\d+)?)$/.test(c.device), `device must be cpu, cuda or cuda:N, got "${c.device}"`);
  check(int(c.threads) && c.threads >= 0, `threads must be a non-negative integer (0 = all cores), got ${c.threads}`);
  check(int(c.seed) && c.seed >= 0, `seed must be a non-negative integer, got ${c.seed}`);
  check(int(c.epochs) && c.epochs >= 1, `epochs must be a positive integer, got ${c.epochs}`);
  check(c.timeBudgetS === null || (typeof c.timeBudgetS === "number" && c.timeBudgetS > 0 && Number.isFinite(c.timeBudgetS)), `timeBudgetS must be a positive number of seconds or null, got ${c.timeBudgetS}`);
  if (c.resolved !== null) {
    const r = c.resolved;
    check(typeof r === "object" && int(r.stepsPerEpoch) && r.stepsPerEpoch >= 1 && int(r.totalSteps) && r.totalSteps >= 1 && r.epochs === Math.ceil(r.totalSteps / r.stepsPerEpoch),
      "resolved must be the plan a time budget wrote (stepsPerEpoch, totalSteps, epochs = ⌈totalSteps / stepsPerEpoch⌉) or null");
    check(r.epochs === c.epochs, `resolved.epochs (${r.epochs}) must equal epochs (${c.epochs}): the time budget's plan sets the epoch count`);
  }
  check(int(c.replanEverySteps) && c.replanEverySteps >= 0, `replanEverySteps must be a non-negative integer (0 = keep the first plan), got ${c.replanEverySteps}`);
  check(int(c.batchSize) && c.batchSize >= 2, `batchSize must be an integer of at least 2 (BatchNorm needs two samples), got ${c.batchSize}`);
  check(["resnet18", "resnet34", "resnet50"].includes(c.encoder.arch), `encoder.arch must be resnet18, resnet34 or resnet50, got "${c.encoder.arch}"`);
  check(["auto", "imagenet", "small"].includes(c.encoder.stem), `encoder.stem must be auto, imagenet or small, got "${c.encoder.stem}"`);
  check(c.encoder.stemStride === 1 || c.encoder.stemStride === 2, `encoder.stemStride must be 1 or 2, got ${c.encoder.stemStride}`);
  check(typeof c.encoder.widthMultiplier === "number" && c.encoder.widthMultiplier > 0 && c.encoder.widthMultiplier <= 4, `encoder.widthMultiplier must be in (0, 4], got ${c.encoder.widthMultiplier}`);
  const sw = c.encoder.stageWidths;
  check(sw === null || (Array.isArray(sw) && sw.length === 4 && sw.every((w) => int(w) && w >= 1 && w <= 4096)), `encoder.stageWidths must be null or 4 integers in [1, 4096] (layer1..layer4), got ${JSON.stringify(sw)}`);
  for (const [name, v] of [["projector.hiddenDim", c.projector.hiddenDim], ["projector.outDim", c.projector.outDim], ["predictor.hiddenDim", c.predictor.hiddenDim]] as const) {
    check(int(v) && v >= 1, `${name} must be a positive integer, got ${v}`);
  }
  check(c.targetInit === "independent" || c.targetInit === "copy", `targetInit must be independent or copy, got "${c.targetInit}"`);
  const o = c.optimizer;
  check(["lars", "sgd", "adamw"].includes(o.name), `optimizer.name must be lars, sgd or adamw, got "${o.name}"`);
  check(o.baseLr > 0 && o.baseLr < 100, `optimizer.baseLr must be in (0, 100), got ${o.baseLr}`);
  check(o.weightDecay >= 0 && o.weightDecay < 1, `optimizer.weightDecay must be in [0, 1), got ${o.weightDecay}`);
  check(o.momentum >= 0 && o.momentum < 1, `optimizer.momentum must be in [0, 1), got ${o.momentum}`);
  check(o.trustCoefficient > 0, `optimizer.trustCoefficient must be positive, got ${o.trustCoefficient}`);
  check(typeof o.predictorLrMultiplier === "number" && o.predictorLrMultiplier > 0 && o.predictorLrMultiplier <= 100, `optimizer.predictorLrMultiplier must be in (0, 100], got ${o.predictorLrMultiplier}`);
  check(o.warmupEpochs >= 0 && o.warmupEpochs <= c.epochs, `optimizer.warmupEpochs must be in [0, epochs], got ${o.warmupEpochs}`);
  check(c.tauBase >= 0 && c.tauBase <= 1, `tauBase must be in [0, 1], got ${c.tauBase}`);
  check(["auto", "byol", "cifar", "gray28"].includes(c.augment.preset), `augment.preset must be auto, byol, cifar or gray28, got "${c.augment.preset}"`);
  check(c.augment.outputSize === "auto" || (int(c.augment.outputSize) && c.augment.outputSize >= 8), `augment.outputSize must be auto or an integer of at least 8, got ${c.augment.outputSize}`);
  check(c.resolvedRecipe === null || isPlainObject(c.resolvedRecipe), "resolvedRecipe must be the record of the auto recipe (an object) or null");
  check(c.augment.minScale === null || (c.augment.minScale > 0 && c.augment.minScale <= 1), `augment.minScale must be in (0, 1] or null, got ${c.augment.minScale}`);
  check(["auto", "fp32", "bf16"].includes(c.precision), `precision must be auto, fp32 or bf16, got "${c.precision}"`);
  check(["auto", "on", "off"].includes(c.cudaGraph), `cudaGraph must be auto, on or off, got "${c.cudaGraph}"`);
  check(int(c.knn.everyEpochs) && c.knn.everyEpochs >= 0, `knn.everyEpochs must be a non-negative integer (0 = never), got ${c.knn.everyEpochs}`);
  check(int(c.knn.k) && c.knn.k >= 1, `knn.k must be a positive integer, got ${c.knn.k}`);
  check(c.knn.temperature > 0, `knn.temperature must be positive, got ${c.knn.temperature}`);
  check(int(c.linearEval.epochs) && c.linearEval.epochs >= 1, `linearEval.epochs must be a positive integer, got ${c.linearEval.epochs}`);
  check(c.linearEval.maxTrain === null || (int(c.linearEval.maxTrain) && c.linearEval.maxTrain > 0), `linearEval.maxTrain must be a positive integer or null`);
  check(c.evalHoldout > 0 && c.evalHoldout < 1, `evalHoldout must be in (0, 1), got ${c.evalHoldout}`);
  check(typeof c.linearEval.labelFractions === "boolean", `linearEval.labelFractions must be true or false, got ${c.linearEval.labelFractions}`);
  check(int(c.checkpointEverySteps) && c.checkpointEverySteps >= 1, `checkpointEverySteps must be a positive integer, got ${c.checkpointEverySteps}`);
  check(int(c.logEverySteps) && c.logEverySteps >= 1, `logEverySteps must be a positive integer, got ${c.logEverySteps}`);
  check(int(c.nproc) && c.nproc >= 1 && c.nproc <= 64, `nproc must be an integer in [1, 64], got ${c.nproc}`);
  validateAblation(c.ablation);
  validateLocalViews(c);
  check(typeof c.bucketMb === "number" && c.bucketMb >= 0 && c.bucketMb <= 4096, `bucketMb must be a number of MiB in [0, 4096] (0 = one all-reduce after backward), got ${c.bucketMb}`);
  return c;
}

/** The ablation switches' values, and the combinations that mean nothing, each as one line. */
function validateAblation(a: AblationSwitches): void {
  check(isPlainObject(a), "ablation must be an object of switches");
  for (const k of ["encoderNorm", "projectorNorm", "predictorNorm"] as const) {
    check(NORM_KINDS.includes(a[k]), `ablation.${k} must be batchnorm, groupnorm-ws or none, got "${a[k]}"`);
  }
  check(typeof a.predictor === "boolean", `ablation.predictor must be true or false, got ${JSON.stringify(a.predictor)}`);
  check(typeof a.stopGradient === "boolean", `ablation.stopGradient must be true or false, got ${JSON.stringify(a.stopGradient)}`);
  check(["ema", "online", "frozen"].includes(a.target), `ablation.target must be ema, online (τ = 0) or frozen (τ = 1), got "${a.target}"`);
  check(a.stopGradient || a.target === "online", `ablation.stopGradient=false needs ablation.target=online: without the stop-gradient the loss's gradient flows into the target branch, which must then be the online network (an ${a.target === "ema" ? "EMA" : "frozen"} target takes no gradients)`);
  check(a.predictor || a.predictorNorm === "batchnorm", `ablation.predictorNorm=${a.predictorNorm} means nothing with ablation.predictor=false (there is no predictor to normalise)`);
}

// Multi-crop's fields (augment.localViews, augment.localPredictor).
function validateLocalViews(c: TrainConfig): void {
  const lv = c.augment.localViews;
  check(isPlainObject(lv), `augment.localViews must be an object { count, outputSize, minScale, maxScale }, got ${JSON.stringify(lv)}`);
  check(int(lv.count) && lv.count >= 0 && lv.count <= 16, `augment.localViews.count must be an integer in [0, 16] (0 = off), got ${lv.count}`);
  // (Bounded by the global views' size only when local views are on: they must be the smaller crops.)
  // (Before the recipe resolves an "auto" size, the bound waits: validateConfig runs again after it.)
  const maxSide = lv.count > 0 && typeof c.augment.outputSize === "number" ? c.augment.outputSize : 1024;
  check(int(lv.outputSize) && lv.outputSize >= 4 && lv.outputSize <= maxSide, `augment.localViews.outputSize must be an integer in [4, ${maxSide < 1024 ? `augment.outputSize = ${maxSide}` : maxSide}], got ${lv.outputSize}`);
  check(typeof lv.minScale === "number" && lv.minScale > 0 && lv.minScale <= 1, `augment.localViews.minScale must be in (0, 1], got ${lv.minScale}`);
  check(typeof lv.maxScale === "number" && lv.maxScale >= lv.minScale && lv.maxScale <= 1, `augment.localViews.maxScale must be in [minScale = ${lv.minScale}, 1], got ${lv.maxScale}`);
  check(c.augment.localPredictor === "shared" || c.augment.localPredictor === "separate", `augment.localPredictor must be shared or separate, got "${c.augment.localPredictor}"`);
  // The multi-crop loss is BYOL's with a predictor, the stop-gradient and a target of its own
  // (src/byol/multicrop.ts); the ablations that remove one of them are not defined for it.
  const a = c.ablation;
  check(lv.count === 0 || (a.predictor && a.stopGradient && a.target !== "online"),
    "augment.localViews.count > 0 needs ablation.predictor=true, ablation.stopGradient=true and an ablation.target other than online (multi-crop is defined for BYOL's own loss)");
}

/** The fields a checkpoint must agree on to be resumed (the model's shape and the data it sees). */
export function compatibilityKey(c: TrainConfig): Record<string, unknown> {
  return {
    dataset: c.dataset, encoder: c.encoder, projector: c.projector, predictor: c.predictor,
    optimizer: c.optimizer.name, batchSize: c.batchSize, epochs: c.epochs, augment: c.augment, seed: c.seed,
    ablation: c.ablation,
  };
}

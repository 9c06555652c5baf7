// After training (and for `byol eval RUN_DIR`): the honest evaluation against both baselines, the
// exported encoder, eval.json and report.html.
import { join } from "node:path";
import { existsSync } from "node:fs";
import * as T from "../torch/index.js";
import { gatherBatch, sampleData, sampleSubset, type ResolvedDataset } from "../data/index.js";
import { evaluateRepresentations } from "../eval/evaluate.js";
import { LABEL_FRACTIONS } from "../eval/label-fractions.js";
import { extractFeatures } from "../eval/features.js";
import { embeddingMap } from "../eval/embedding-map.js";
import { l2NormalizeRows, topKNeighbors } from "../eval/neighbors.js";
import { renderPreview } from "../augment/preview.js";
import type { Module } from "../nn/module.js";
import { writeReport, type EvalResult } from "../report/report.js";
import { imageGridFromList, encodeGrid } from "../util/png.js";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/file-writes.js";
import { readRegularFile } from "../util/file-reads.js";
import { applyOverrides, presetConfig, validateConfig, type TrainConfig } from "./config.js";
import { applyThreads, makeAugmenters, makeEncoder, placeEncoder, type EncoderFactory } from "./build.js";
import { openRunData } from "./recipe.js";
import { readMetrics } from "./metrics.js";
import { ENCODER_FILE, ENCODER_STEP0_FILE, readEncoderFile } from "./export.js";
import { checkpointPath, loadCheckpoint, withPrefix } from "./checkpoint.js";

/** eval.json: the SPEC's fields plus timings, split sizes and where the test split comes from. */
export interface RunEvaluation extends EvalResult {
  train_s: number;
  eval_s: number;
  train_images: number;
  test_images: number;
  feature_dim: number;
  [extra: string]: unknown;
}

/** Where the random-init baseline's weights come from (eval.json's `random_init_weights`). */
export type RandomInitWeights = "step0" | "independent";

/**
 * The never-trained encoders the evaluation compares with: `randomInit`, the run's own online encoder
 * at step 0 (encoder-step0.safetensors: exactly the weights BYOL started from, so that the comparison
 * carries no init-to-init noise), and `otherInit`, an independent initialisation of the same
 * architecture (seed + 7919), kept as an extra row. A run folder from before step-0 weights were saved
 * has none: `randomInit` is then the independent initialisation and `otherInit` null. Architecture:
 * the configured ResNet, or a fresh `makeEncoder()` when the run trained a custom encoder.
 */
export function baselineEncoders(runDir: string, cfg: TrainConfig, channels: number, custom?: EncoderFactory): { randomInit: Module; otherInit: Module | null; weights: RandomInitWeights } {
  const fresh = () => (custom ? placeEncoder(cfg, custom()) : makeEncoder(cfg, channels));
  T.manualSeed(cfg.seed + 7919);
  const independent = fresh();
  const step0Path = join(runDir, ENCODER_STEP0_FILE);
  if (!existsSync(step0Path)) return { randomInit: independent, otherInit: null, weights: "independent" };
  const step0 = fresh();
  const { tensors } = readEncoderFile(step0Path);
  try {
    fromFile(step0Path, () => step0.loadStateDict(tensors));
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  return { randomInit: step0, otherInit: independent, weights: "step0" };
}

function fromFile<R>(path: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError && !e.message.startsWith(path)) throw new UserError(`${path}: ${e.message}`);
    throw e;
  }
}

/**
 * Evaluates `encoder` and writes eval.json and report.html into runDir, against the baselines of
 * baselineEncoders (the run's step-0 weights; an independent initialisation) and raw pixels.
 */
export async function evaluateRun(opts: {
  runDir: string; cfg: TrainConfig; data: ResolvedDataset; encoder: Module; trainS: number; log?: (s: string) => void;
  makeEncoder?: EncoderFactory;
}): Promise<RunEvaluation> {
  const { runDir, cfg, data, encoder } = opts;
  const log = opts.log ?? (() => {});
  const trainSet = data.trainLabeled;
  const test = data.test;
  if (!trainSet?.labels || !test?.labels) throw new UserError(`dataset ${data.name} has no labels: evaluation needs a labeled train and test split`);
  const t0 = performance.now();
  const { randomInit: randomEncoder, otherInit, weights } = baselineEncoders(runDir, cfg, trainSet.channels, opts.makeEncoder);
  const note = weights === "step0" ? null : `no ${ENCODER_STEP0_FILE} in ${runDir} (a run from before step-0 weights were saved): the random-init baseline is an independent initialisation`;
  if (note) log(`note: ${note}`);
  encoder.eval();
  randomEncoder.eval();
  otherInit?.eval();
  const embedTrained = (x: T.Tensor) => encoder.forward(x);
  const embedRandom = (x: T.Tensor) => randomEncoder.forward(x);
  log(`evaluating: kNN and linear probes for BYOL, random init (${weights === "step0" ? "the run's step-0 weights" : "an independent initialisation"})${otherInit ? ", another initialisation" : ""} and raw pixels`);
  const r = evaluateRepresentations({
    embedTrained, embedRandom, embedOthers: otherInit ? [{ name: "other_init", embed: (x: T.Tensor) => otherInit.forward(x) }] : [],
    train: trainSet, test, mean: data.mean, std: data.std, device: cfg.device,
    knnK: cfg.knn.k, knnT: cfg.knn.temperature, linear: { gridIter: cfg.linearEval.epochs, finalIter: 2 * cfg.linearEval.epochs }, seed: cfg.seed,
    maxTrain: cfg.linearEval.maxTrain ?? undefined, labelFractions: cfg.linearEval.labelFractions ? LABEL_FRACTIONS : [],
  });
  const evalS = (performance.now() - t0) / 1000;
  const result: RunEvaluation = {
    dataset: data.name,
    // Epochs trained: a time budget's plan may end inside the last one.
    epochs: cfg.resolved ? Math.round((cfg.resolved.totalSteps / cfg.resolved.stepsPerEpoch) * 100) / 100 : cfg.epochs,
    wall_s: Math.round((opts.trainS + evalS) * 10) / 10,
    knn_top1: r.knn_top1,
    linear_top1: r.linear_top1,
    baselines: r.baselines,
    random_init_weights: weights,
    ...(note ? { random_init_note: note } : {}),
    linear_protocol: r.linear_protocol,
    ...(r.label_fractions ? { label_fractions: r.label_fractions } : {}),
    train_s: Math.round(opts.trainS * 10) / 10,
    eval_s: Math.round(evalS * 10) / 10,
    // As the evaluation counted them (unlabeled images dropped, maxTrain applied).
    train_images: r.train_images,
    test_images: r.test_images,
    feature_dim: r.feature_dim,
    ...(data.testSplit ? { test_split: data.testSplit } : {}),
  };
  writeFileAtomic(join(runDir, "eval.json"), JSON.stringify(result, null, 2) + "\n");
  randomEncoder.dispose();
  otherInit?.dispose();
  log(`wrote ${join(runDir, "eval.json")}`);
  await writeRunReport({ runDir, cfg, data, encoder, evalResult: result });
  return result;
}

/** report.html from the run folder's metrics, the evaluation and a few pictures made now. */
export async function writeRunReport(opts: { runDir: string; cfg: TrainConfig; data: ResolvedDataset; encoder: Module; evalResult: EvalResult | null }): Promise<void> {
  const { runDir, cfg, data, encoder } = opts;
  const set = data.train;
  const sample = await sampleData(set, 6, cfg.seed + 2);
  const preview = T.tidy(() => {
    T.manualSeed(cfg.seed + 1);
    return renderPreview(sample.images, sample.n, sample.channels, sample.height, sample.width, makeAugmenters(cfg, set.channels, data.mean, data.std), { samples: 4, seed: cfg.seed });
  });
  let embeddingMapInput;
  let neighborPng: Buffer | undefined;
  if (data.test && data.trainLabeled) {
    const test = sampleSubset(data.test, 2000, cfg.seed + 3);
    const bank = sampleSubset(data.trainLabeled, 5000, cfg.seed + 4);
    encoder.eval();
    const fo = { batchSize: 512, device: cfg.device, mean: data.mean, std: data.std };
    const embed = (x: T.Tensor) => encoder.forward(x);
    const tf = T.noGrad(() => extractFeatures(embed, test, fo));
    const bf = T.noGrad(() => extractFeatures(embed, bank, fo));
    const d = tf.shape[1];
    const tArr = tf.toFloat32Array();
    const bArr = bf.toFloat32Array();
    tf.dispose();
    bf.dispose();
    // PCA of the L2-normalised representations: the cosine geometry that kNN uses, and a few
    // large-norm outliers no longer squash the rest of the map.
    const unit = l2NormalizeRows(tArr, test.n, d);
    embeddingMapInput = { points: embeddingMap(unit, test.n, d), labels: test.labels, classNames: test.classes, caption: "PCA of the encoder's L2-normalised test-set representations" };
    // Nearest neighbours: 6 test images, each followed by its 7 most similar training images.
    const q = 6;
    const nn = topKNeighbors(tArr.subarray(0, q * d), q, bArr, bank.n, d, 7);
    const tiles: Uint8Array[] = [];
    for (let i = 0; i < q; i++) {
      tiles.push(gatherBatch(test, [i]));
      for (let j = 0; j < 7; j++) tiles.push(gatherBatch(bank, [nn.indices[i * 7 + j]]));
    }
    // (The evaluation splits are at the views' side, which may differ from the pretraining images'.)
    neighborPng = encodeGrid(imageGridFromList(tiles, test.channels as 1 | 3, test.height, test.width, 8, { scale: test.height < 64 ? 2 : 1 }));
  }
  writeReport(join(runDir, "report.html"), {
    title: `byol-ts run: ${data.name}`,
    config: cfg,
    metrics: readMetrics(join(runDir, "metrics.jsonl")),
    evalResult: opts.evalResult,
    augmentPreviewPng: preview,
    embeddingMap: embeddingMapInput,
    neighborExamplesPng: neighborPng,
    accuracyCaption: `kNN top-1 during training is the monitor's: a fixed subset of ${Math.min(cfg.knn.monitorTrain, data.trainLabeled?.n ?? 0)} labeled train and ${Math.min(cfg.knn.monitorTest, data.test?.n ?? 0)} test images (the final evaluation uses the full splits${data.notes.length > 0 ? `, except: ${data.notes.join("; ")}` : ""}).${data.testSplit ? ` Test split: ${data.testSplit}.` : ""} ` +
      "The encoder runs as in the final evaluation (eval mode, the BatchNorm statistics training left), so the gap to the final kNN line is the subsets' (on Fashion-MNIST, 10k/2k images read about 4 to 6 points below the full splits on one encoder). " +
      "The random-init line is no floor for it: a never-trained encoder keeps its initial BatchNorm statistics (nearly an identity), which suits random weights far better than statistics of augmented views do. " +
      "Online linear top-1 is the online probe's accuracy on augmented view-1 representations during each epoch, counted before each update while the representation moves; " +
      "the clean-images series applies the same classifier to the monitor's test images at the epoch's end. Both read below the linear protocol, whose classifier is trained to convergence on clean features of the frozen encoder.",
    neighborExamplesCaption: "Each row: a test image, then its 7 nearest training images by cosine similarity of representations",
  });
}

/** Options of evaluateRunDir. */
export interface EvaluateRunDirOptions {
  /** Overrides the run's device, e.g. "cuda". */
  device?: string;
  /** Intra-op threads (0: all cores). */
  threads?: number;
  /** The run's own encoder architecture when it trained a custom one (the same factory as in training). */
  makeEncoder?: EncoderFactory;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/**
 * Re-evaluates a run folder (`byol eval RUN_DIR`): reopens its dataset from config.json, loads
 * encoder.safetensors (or, if training did not finish, the online encoder of the last checkpoint),
 * and rewrites eval.json and report.html.
 */
export async function evaluateRunDir(runDir: string, o: EvaluateRunDirOptions = {}): Promise<RunEvaluation> {
  const cfgPath = join(runDir, "config.json");
  if (!existsSync(cfgPath)) throw new UserError(`${runDir} is not a run folder (no config.json)`);
  let cfg: TrainConfig;
  try {
    const saved = JSON.parse(readRegularFile(cfgPath, "run configuration", 1 << 24).toString("utf8")) as TrainConfig;
    cfg = applyOverrides(presetConfig(saved.preset ?? "cpu"), saved);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${cfgPath} is not valid JSON`);
  }
  if (o.device !== undefined) cfg.device = o.device;
  if (o.threads !== undefined) cfg.threads = o.threads;
  validateConfig(cfg);
  if (cfg.device !== "cpu") T.resolveDevice(cfg.device);
  await applyThreads(cfg);
  const log = o.log ?? (() => {});
  // As training opened it: the folder decoded as recorded, the evaluation splits at the views' side.
  const data = await openRunData(cfg);
  try {
    for (const note of data.notes) log(note);
    if (data.noLabels) throw new UserError(`nothing to evaluate: ${data.noLabels}`);
    return await evaluateSaved(runDir, cfg, data, log, o.makeEncoder);
  } finally {
    await data.train.close();
  }
}

// The saved encoder (or the last checkpoint's), evaluated on the opened dataset.
async function evaluateSaved(runDir: string, cfg: TrainConfig, data: ResolvedDataset, log: (s: string) => void, custom?: EncoderFactory): Promise<RunEvaluation> {
  const encoder = custom ? placeEncoder(cfg, custom()) : makeEncoder(cfg, data.train.channels);
  // The last checkpoint (read once, when there is one) gives the training time and, if training did
  // not finish, the weights.
  const ckPath = checkpointPath(runDir);
  const encPath = join(runDir, ENCODER_FILE);
  let checkpoint: ReturnType<typeof loadCheckpoint> | null = null;
  if (existsSync(ckPath)) {
    try {
      checkpoint = loadCheckpoint(ckPath);
    } catch (e) {
      // With an exported encoder the checkpoint only supplies the (informational) training time.
      if (!existsSync(encPath)) throw e;
    }
  }
  const trainS = Number(checkpoint?.meta.extra.wallS ?? 0);
  if (existsSync(encPath)) {
    const { tensors } = readEncoderFile(encPath);
    encoder.loadStateDict(tensors);
    for (const t of Object.values(tensors)) t.dispose();
  } else {
    if (!checkpoint) throw new UserError(`${runDir} has neither ${ENCODER_FILE} nor a checkpoint to evaluate`);
    log(`no ${ENCODER_FILE}: using the online encoder of the last checkpoint`);
    encoder.loadStateDict(withPrefix(checkpoint.tensors, "model.online.encoder"));
  }
  if (checkpoint) for (const t of Object.values(checkpoint.tensors)) t.dispose();
  return evaluateRun({ runDir, cfg, data, encoder, trainS, log, makeEncoder: custom });
}

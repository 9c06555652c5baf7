// Dataset names as users type them (`--dataset cifar10:/data/cifar`) → training data, evaluation
// sets and the per-channel mean and std the augmentations normalise with.
//
// Folders too large to hold decoded are streamed (folder-reader.ts) instead of being loaded whole;
// a folder's mean and std come from a fixed sample of its images, and a streamed folder's
// evaluation sets are capped samples decoded once into memory (see resolveFolder).
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { channelStats, concatSets, head, subset, type ImageSet } from "./dataset.js";
import { loadCifar10 } from "./cifar.js";
import { listFolder, loadFolder, type FolderListing } from "./folder.js";
import { FolderReader, type FolderReaderOptions } from "./folder-reader.js";
import { DEFAULT_HOLDOUT, stratifiedHoldout } from "./holdout.js";
import { FASHION_MNIST_DIR, loadFashionMnist, loadMnist } from "./idx.js";
import { sampleIndices, sampleSubset } from "./loader.js";
import { loadStl10, stl10HasSplit } from "./stl10.js";
import { inMemoryData, type TrainingData } from "./training-data.js";

export const DATASET_FORMS = ["fashion-mnist", "fashion-mnist:DIR", "mnist:DIR", "cifar10:DIR", "stl10:DIR", "folder:DIR"];

export type DatasetSpec =
  | { kind: "fashion-mnist"; dir: string | null }
  | { kind: "mnist" | "cifar10" | "stl10" | "folder"; dir: string };

/** Options of resolveDataset. */
export interface ResolveOptions {
  /** Directory for `fashion-mnist` (overrides /usr/share/datasets/fashion-mnist). */
  dataDir?: string;
  /**
   * At most this many pretraining images. For stl10 it caps the unlabeled part (read from the start
   * of unlabeled_X.bin; the 5,000 labeled train images are always added). For IDX and CIFAR files,
   * whose order is already mixed, it keeps the first images; for folders, sorted by class, an evenly
   * spread selection.
   */
  limit?: number;
  /** Folder datasets only: decoded image side (default 96) and channels (default 3). */
  imageSize?: number;
  channels?: 1 | 3;
  onBadImage?: "skip" | "error";
  workers?: number;
  /**
   * Folder datasets: "auto" (default) streams the pretraining split when its decoded pixels would
   * take more than STREAM_ABOVE_BYTES, "always" streams it, "never" decodes it into memory.
   */
  streaming?: "auto" | "always" | "never";
  /** Streamed folders: batches decoding ahead of training (default 2). */
  prefetch?: number;
  /** Streamed folders: seed of the evaluation samples (the run's seed; default 0). */
  seed?: number;
  /** Streamed folders: at most this many labeled train images are decoded for evaluation. */
  evalTrainLimit?: number;
  /** Streamed folders: cap on each evaluation set's decoded pixels (default STREAMED_EVAL_BYTES). */
  evalBytes?: number;
  /**
   * Streamed folders: false decodes no evaluation sets (trainLabeled and test are null), for a
   * process that only trains, such as a data-parallel rank other than 0. Default true.
   */
  evalSets?: boolean;
  /**
   * A folder of class subfolders without `train/` and `test/` (or `val/`) subfolders: the fraction
   * of each class held out as the test split (default 0.2; see holdout.ts). The held-out images
   * are still pretraining images (pretraining uses no labels); only the probes never train on them.
   */
  evalHoldout?: number;
}

/**
 * "auto" streams a folder whose decoded pretraining images would exceed 1 GiB (about 38,800 RGB
 * images at 96x96). Below that, decoding once and training from memory is the better trade: a
 * few seconds of decoding per ten thousand images, then no decoding work competing with training
 * in any epoch. Above it, holding every image costs more memory than most machines spare and a
 * long pause before the first step, while streaming needs only a few batches in memory.
 */
export const STREAM_ABOVE_BYTES = 2 ** 30;
/** Images (a fixed seeded sample, seed STATS_SEED) a folder's mean and std come from. */
export const STATS_SAMPLE = 2000;
export const STATS_SEED = 0;
/** Cap on each evaluation set of a streamed folder: 512 MiB of pixels, 19,418 RGB images at 96x96. */
export const STREAMED_EVAL_BYTES = 2 ** 29;

/** A dataset opened by name: pretraining data, evaluation splits and normalisation statistics. */
export interface ResolvedDataset {
  /** The spec as given, e.g. "cifar10:/data/cifar". */
  name: string;
  /**
   * Pretraining images, in memory or streamed from a folder; close() it when done. For stl10:
   * unlabeled followed by train, unlabeled ones labeled -1.
   */
  train: TrainingData;
  /**
   * The labeled training images for evaluation (linear probe, kNN bank), or null if there are none.
   * For a streamed folder, a fixed sample of them (see resolveFolder).
   */
  trainLabeled: ImageSet | null;
  /** The test split; for a streamed folder, a fixed sample when it is larger than the cap. */
  test: ImageSet | null;
  /** Per-channel mean and std of `train` on the [0, 1] scale (a folder: of a fixed sample of it). */
  mean: number[];
  std: number[];
  /** Lines worth telling the user, e.g. that evaluation uses a sample of a split. */
  notes: string[];
  /**
   * Where the test split comes from, for eval.json's `test_split` and the report: a folder's
   * `test/` subfolder, or the held-out part of a labelled folder. Absent for datasets with a
   * published test split.
   */
  testSplit?: string;
  /** Why there is nothing to evaluate on (an unlabelled folder), when that is so. */
  noLabels?: string;
}

/** Parses a dataset name; unknown names are a UserError listing the valid forms. */
export function parseDatasetSpec(spec: string): DatasetSpec {
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const dir = colon < 0 ? null : spec.slice(colon + 1);
  if (kind === "fashion-mnist" && (dir === null || dir.length > 0)) return { kind, dir };
  if ((kind === "mnist" || kind === "cifar10" || kind === "stl10" || kind === "folder") && dir) return { kind, dir };
  const hint = dir === null && ["mnist", "cifar10", "stl10", "folder"].includes(kind) ? ` (${kind} needs a directory: ${kind}:DIR)` : "";
  throw new UserError(`unknown dataset "${spec}"${hint}; valid forms: ${DATASET_FORMS.join(", ")}`);
}

/** Loads the dataset a name refers to. */
export async function resolveDataset(spec: string, opts: ResolveOptions = {}): Promise<ResolvedDataset> {
  const parsed = parseDatasetSpec(spec);
  if (parsed.kind === "folder") return resolveFolder(spec, parsed.dir, opts);
  const { train, trainLabeled, test } = load(parsed, opts);
  const { mean, std } = channelStats(train);
  return { name: spec, train: inMemoryData(train), trainLabeled, test, mean, std, notes: [] };
}

function load(spec: DatasetSpec, opts: ResolveOptions): { train: ImageSet; trainLabeled: ImageSet | null; test: ImageSet | null } {
  switch (spec.kind) {
    case "fashion-mnist": {
      const dir = spec.dir ?? opts.dataDir ?? FASHION_MNIST_DIR;
      const train = limitHead(loadFashionMnist(dir, "train"), opts.limit);
      return { train, trainLabeled: train, test: loadFashionMnist(dir, "test") };
    }
    case "mnist": {
      const train = limitHead(loadMnist(spec.dir, "train"), opts.limit);
      return { train, trainLabeled: train, test: loadMnist(spec.dir, "test") };
    }
    case "cifar10": {
      const train = limitHead(loadCifar10(spec.dir, "train"), opts.limit);
      return { train, trainLabeled: train, test: loadCifar10(spec.dir, "test") };
    }
    case "stl10": {
      const labeled = loadStl10(spec.dir, "train");
      const test = loadStl10(spec.dir, "test");
      // The unlabeled file is optional: without it, pretrain on the labeled train images alone.
      const unlabeled = stl10HasSplit(spec.dir, "unlabeled") ? loadStl10(spec.dir, "unlabeled", opts.limit) : null;
      const train = unlabeled && unlabeled.n > 0 ? concatSets([unlabeled, labeled]) : labeled;
      return { train, trainLabeled: labeled, test };
    }
    case "folder":
      throw new Error("folder datasets are read by resolveFolder");
  }
}

/**
 * A folder with `train/` and `test/` (or `val/`) subfolders is a split dataset; any other folder
 * is all training data with no test split of its own (resolveDataset holds out part of a labelled
 * one for evaluation).
 */
export function folderSplits(dir: string): { train: string; test: string | null } {
  const testDir = ["test", "val"].map((d) => join(dir, d)).find(isDir);
  const trainDir = join(dir, "train");
  return testDir && isDir(trainDir) ? { train: trainDir, test: testDir } : { train: dir, test: null };
}

/**
 * A folder dataset, in one of three forms:
 * - `train/` and `test/` (or `val/`) subfolders: pretraining on train, evaluation train vs test;
 * - class subfolders only: pretraining on every image; for evaluation, a class-stratified
 *   `evalHoldout` fraction (seeded by `seed`) is the test split and the rest the probes' train split;
 * - a flat folder: pretraining only, `noLabels` says why there is no evaluation.
 * Either way, the mean and std come from STATS_SAMPLE of its training images (a
 * fixed sample, seed STATS_SEED, the same for every run on the folder; all of them when there are
 * fewer): a streamed folder cannot afford a pass over every image, and one rule for both keeps
 * training the same whichever way the folder is read. In memory: the whole train and test splits,
 * as the other readers. Streamed:
 * - training reads the folder batch by batch (FolderReader), in the same order and with the same
 *   bytes as the in-memory set would give (bad files aside, see folder-reader.ts);
 * - the statistics sample is decoded once and then dropped;
 * - the evaluation sets (linear probe, kNN bank and monitor, baselines, report) are decoded into
 *   memory: labeled train images up to `evalTrainLimit`, each split capped to `evalBytes` of
 *   pixels, a fixed sample (seed `seed`) where a split is larger. The train sample is the one the
 *   evaluation's own maxTrain subsampling picks, so when it is no larger than the caps, results are
 *   the same as from memory.
 */
async function resolveFolder(name: string, dir: string, opts: ResolveOptions): Promise<ResolvedDataset> {
  const size = opts.imageSize ?? 96;
  const channels = opts.channels ?? 3;
  const folderOpts: FolderReaderOptions = {
    size,
    channels,
    onBadImage: opts.onBadImage,
    workers: opts.workers,
    prefetch: opts.prefetch,
  };
  const dirs = folderSplits(dir);
  const listing = listFolder(dirs.train, opts.limit);
  const testListing = dirs.test ? listFolder(dirs.test) : null;
  if (listing.classes && testListing?.classes && listing.classes.join("\n") !== testListing.classes.join("\n")) {
    throw new UserError(`${dirs.test}: class subfolders differ from ${dirs.train} (${testListing.classes.join(", ")} vs ${listing.classes.join(", ")})`);
  }
  const seed = opts.seed ?? 0;
  const holdout = !dirs.test && listing.classes ? (opts.evalHoldout ?? DEFAULT_HOLDOUT) : null;
  if (holdout !== null && !(holdout > 0 && holdout < 1)) throw new UserError(`evalHoldout must be in (0, 1), got ${holdout}`);
  const split = { notes: [] as string[], ...describeSplits(dir, dirs, listing, holdout, seed) };
  const imageBytes = channels * size * size;
  const mode = opts.streaming ?? "auto";
  const stream = mode === "always" || (mode === "auto" && listing.files.length * imageBytes > STREAM_ABOVE_BYTES);
  if (!stream) {
    const train = await loadFolder(dirs.train, { ...folderOpts, limit: opts.limit });
    let trainLabeled: ImageSet | null = train.labels ? train : null;
    let test = dirs.test ? await loadFolder(dirs.test, folderOpts) : null;
    if (holdout !== null) {
      // Split the decoded set (not the listing): with onBadImage "skip" it may lack some files.
      const parts = stratifiedHoldout(train.labels!, holdout, seed);
      trainLabeled = subset(train, parts.train);
      test = parts.test.length > 0 ? subset(train, parts.test) : null;
    }
    // The streamed path's statistics sample, so that whether a folder streams changes nothing in training.
    const { mean, std } = channelStats(sampleSubset(train, STATS_SAMPLE, STATS_SEED));
    return { name, train: inMemoryData(train), trainLabeled, test, mean, std, ...split };
  }

  const reader = new FolderReader(listing, folderOpts);
  try {
    const cap = Math.max(1, Math.floor((opts.evalBytes ?? STREAMED_EVAL_BYTES) / imageBytes));
    const notes = split.notes;
    const { mean, std } = channelStats(await reader.take(sampleIndices(reader.n, STATS_SAMPLE, STATS_SEED, true)));
    const evalSets = opts.evalSets ?? true;
    // The labelled images the probes may train on: all of them, or those not held out.
    const parts = holdout !== null ? stratifiedHoldout(reader.labels!, holdout, seed) : null;
    const pool = parts ? parts.train : null;
    const poolSize = pool ? pool.length : reader.n;
    let trainLabeled: ImageSet | null = null;
    if (reader.labels && evalSets) {
      const count = Math.min(cap, opts.evalTrainLimit ?? cap);
      const pick = sampleIndices(poolSize, count, seed, true);
      trainLabeled = await reader.take(pool ? pick.map((j) => pool[j]) : pick);
      if (count < poolSize) notes.push(`evaluation uses a fixed sample of ${trainLabeled.n} of the ${poolSize} labeled training images`);
    }
    let test: ImageSet | null = null;
    if (evalSets && testListing) test = await decodeSample(testListing, cap, seed, folderOpts, notes);
    if (evalSets && parts && parts.test.length > 0) {
      const pick = sampleIndices(parts.test.length, cap, seed, true);
      test = await reader.take(pick.map((j) => parts.test[j]));
      if (pick.length < parts.test.length) notes.push(`evaluation uses a fixed sample of ${test.n} of the ${parts.test.length} held-out images`);
    }
    return { name, train: reader, trainLabeled, test, mean, std, ...split, notes };
  } catch (e) {
    await reader.close();
    throw e;
  }
}

// What a folder's evaluation will be scored on, in words (eval.json's test_split), or why it has none.
function describeSplits(dir: string, dirs: { train: string; test: string | null }, listing: FolderListing, holdout: number | null, seed: number): { testSplit?: string; noLabels?: string } {
  if (!listing.classes) {
    return { noLabels: `${dirs.train} has no class subfolders (a flat folder of unlabelled images), so there are no labels to measure accuracy against` };
  }
  if (dirs.test) return { testSplit: `${dirs.test} (the folder's own test split)` };
  const pct = Math.round(holdout! * 1000) / 10;
  return { testSplit: `held-out ${pct}% of ${dir}, class-stratified, seed ${seed} (also seen unlabelled during pretraining)` };
}

// A split decoded whole, or a fixed sample of `count` of it when it has more.
async function decodeSample(listing: FolderListing, count: number, seed: number, opts: FolderReaderOptions, notes: string[]): Promise<ImageSet> {
  const reader = new FolderReader(listing, opts);
  try {
    const set = await reader.take(sampleIndices(reader.n, count, seed, true));
    if (count < reader.n) notes.push(`evaluation uses a fixed sample of ${set.n} of the ${reader.n} images in ${listing.root}`);
    return set;
  } finally {
    await reader.close();
  }
}

function limitHead(set: ImageSet, limit: number | undefined): ImageSet {
  return limit === undefined || limit >= set.n ? set : head(set, limit);
}

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

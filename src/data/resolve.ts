// Dataset names as users type them (`--dataset cifar10:/data/cifar`) → loaded sets plus the
// per-channel mean and std the augmentations normalise with.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { channelStats, concatSets, head, type ImageSet } from "./dataset.js";
import { loadCifar10 } from "./cifar.js";
import { loadFolder } from "./folder.js";
import { FASHION_MNIST_DIR, loadFashionMnist, loadMnist } from "./idx.js";
import { loadStl10, stl10HasSplit } from "./stl10.js";

export const DATASET_FORMS = ["fashion-mnist", "fashion-mnist:DIR", "mnist:DIR", "cifar10:DIR", "stl10:DIR", "folder:DIR"];

export type DatasetSpec =
  | { kind: "fashion-mnist"; dir: string | null }
  | { kind: "mnist" | "cifar10" | "stl10" | "folder"; dir: string };

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
}

export interface ResolvedDataset {
  /** The spec as given, e.g. "cifar10:/data/cifar". */
  name: string;
  /** Pretraining images. For stl10: unlabeled followed by train, unlabeled ones labeled -1. */
  train: ImageSet;
  /** The labeled training images for evaluation (linear probe, kNN bank), or null if there are none. */
  trainLabeled: ImageSet | null;
  test: ImageSet | null;
  /** Per-channel mean and std of `train` on the [0, 1] scale. */
  mean: number[];
  std: number[];
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
  const { train, trainLabeled, test } = await load(parsed, opts);
  const { mean, std } = channelStats(train);
  return { name: spec, train, trainLabeled, test, mean, std };
}

async function load(spec: DatasetSpec, opts: ResolveOptions): Promise<{ train: ImageSet; trainLabeled: ImageSet | null; test: ImageSet | null }> {
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
      return loadFolderSplits(spec.dir, opts);
  }
}

// A folder with `train/` and `test/` (or `val/`) subfolders is a split dataset; any other folder
// is all training data with no test split.
async function loadFolderSplits(dir: string, opts: ResolveOptions): Promise<{ train: ImageSet; trainLabeled: ImageSet | null; test: ImageSet | null }> {
  const folderOpts = {
    size: opts.imageSize ?? 96,
    channels: opts.channels ?? 3,
    onBadImage: opts.onBadImage,
    workers: opts.workers,
  };
  const testDir = ["test", "val"].map((d) => join(dir, d)).find(isDir);
  const trainDir = join(dir, "train");
  if (testDir && isDir(trainDir)) {
    const train = await loadFolder(trainDir, { ...folderOpts, limit: opts.limit });
    const test = await loadFolder(testDir, folderOpts);
    if (train.classes && test.classes && train.classes.join("\n") !== test.classes.join("\n")) {
      throw new UserError(`${testDir}: class subfolders differ from ${trainDir} (${test.classes.join(", ")} vs ${train.classes.join(", ")})`);
    }
    return { train, trainLabeled: train.labels ? train : null, test };
  }
  const train = await loadFolder(dir, { ...folderOpts, limit: opts.limit });
  return { train, trainLabeled: train.labels ? train : null, test: null };
}

function limitHead(set: ImageSet, limit: number | undefined): ImageSet {
  return limit === undefined || limit >= set.n ? set : head(set, limit);
}

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

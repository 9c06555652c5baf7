// The recipe follows the data: the fields a configuration leaves on "auto" (augment.preset,
// augment.outputSize, encoder.stem) are chosen from the dataset's images, once, before anything is
// built from them. The choice replaces "auto" in the configuration (so config.json, checkpoints and
// `byol eval` see what the run did) and is recorded in config.json's `resolvedRecipe`.
//
// The rules (an explicit value always wins):
//   - views: chooseViewPreset (src/augment/presets.ts, shared with `byol preview`): grey images up to
//     28 px get gray28, any up to 32 px cifar, larger ones the paper's views;
//   - view side: the images' own side, at most imageSize (larger folders are decoded at imageSize);
//   - stem: the small 3x3 stem for views up to 32 px, torchvision's 7x7 + max-pool for larger ones
//     (at 32 px the ImageNet stem leaves an 8x8 map for the first stage, as CIFAR ResNets avoid);
//   - a folder is then read as its images are: one channel when they are grey, at their own side
//     up to imageSize (no upsampling); without any "auto" field, RGB at imageSize as before.
// The evaluation and `byol embed` then see images at the views' side (openRunData, resizeSet).
import { chooseViewPreset, type PresetName as ViewPresetName } from "../augment/presets.js";
import {
  parseDatasetSpec, folderSplits, probeFolderImages, resizeSet, resolveDataset, type ImageShape, type ResolveOptions, type ResolvedDataset,
} from "../data/index.js";
import { validateConfig, type TrainConfig } from "./config.js";
import { datasetOptions } from "./build.js";

/** Views up to this side use the small stem; larger ones torchvision's ImageNet stem. */
export const SMALL_STEM_MAX_SIDE = 32;

/** config.json's `resolvedRecipe`: what the data looked like and what the run trains with. */
export interface RecipeRecord {
  /** The dataset's images: channels and (median shorter) side, before any resizing. */
  images: ImageShape;
  views: ViewPresetName;
  outputSize: number;
  stem: "small" | "imagenet";
  /** The fields that were "auto" and chosen here (the others were given). */
  chosen: string[];
  /** How a folder dataset is decoded (channels, side); null for other datasets. */
  folderDecode: { channels: 1 | 3; size: number } | null;
}

/**
 * Fills the configuration's "auto" recipe fields from the shape of the dataset's images and
 * records the choice in cfg.resolvedRecipe; returns the record. `decodedSide` is the side the
 * training images have once read (a folder's decode size), when it differs from the images' own.
 */
export function resolveRecipe(cfg: TrainConfig, images: ImageShape, folderDecode: RecipeRecord["folderDecode"] = null): RecipeRecord {
  const chosen: string[] = [];
  if (cfg.augment.preset === "auto") {
    cfg.augment.preset = chooseViewPreset(images.channels, images.side);
    chosen.push("augment.preset");
  }
  if (cfg.augment.outputSize === "auto") {
    cfg.augment.outputSize = Math.min(cfg.imageSize, folderDecode?.size ?? images.side);
    chosen.push("augment.outputSize");
  }
  if (cfg.encoder.stem === "auto") {
    cfg.encoder.stem = cfg.augment.outputSize <= SMALL_STEM_MAX_SIDE ? "small" : "imagenet";
    chosen.push("encoder.stem");
  }
  const record: RecipeRecord = {
    images: { channels: images.channels, side: images.side }, views: cfg.augment.preset, outputSize: cfg.augment.outputSize,
    stem: cfg.encoder.stem, chosen, folderDecode,
  };
  cfg.resolvedRecipe = record;
  // What depends on the resolved sizes (local views no larger than the global ones) is checked now.
  validateConfig(cfg);
  return record;
}

/** The one line a run logs about its recipe. */
export function recipeLine(r: RecipeRecord): string {
  const how = (field: string) => (r.chosen.includes(field) ? "auto" : "set");
  const decode = r.folderDecode ? `; folder read as ${r.folderDecode.channels}x${r.folderDecode.size}x${r.folderDecode.size}` : "";
  return `recipe: ${r.views} views (${how("augment.preset")}) at ${r.outputSize} px (${how("augment.outputSize")}), ${r.stem} stem (${how("encoder.stem")}); ` +
    `images ${r.images.channels === 1 ? "grey" : "colour"}, ${r.images.side} px${decode}`;
}

/**
 * Opens the run's dataset with its recipe resolved: a folder's images are probed first (their
 * shape decides how the folder is decoded), other datasets are read and then looked at. A
 * configuration with nothing left on "auto" (a resumed run, `byol eval`) keeps its recorded recipe.
 * The evaluation splits come back at the views' side (see evalAtViewSide) unless `o.evalAtViewSide` is false.
 */
export async function openRunData(cfg: TrainConfig, extra: Partial<ResolveOptions> = {}, o: { evalAtViewSide?: boolean } = {}): Promise<ResolvedDataset> {
  const spec = parseDatasetSpec(cfg.dataset);
  const auto = cfg.augment.preset === "auto" || cfg.augment.outputSize === "auto" || cfg.encoder.stem === "auto";
  if (auto && spec.kind === "folder") {
    // The recipe follows the data: the folder is read as its images are (grey as one channel, at
    // their own side up to imageSize). A configuration without "auto" (a run from before the
    // recipe, or every field given) reads it as before: RGB at imageSize.
    const images = await probeFolderImages(folderSplits(spec.dir).train);
    resolveRecipe(cfg, images, { channels: images.channels, size: Math.min(images.side, cfg.imageSize) });
  }
  const data = await resolveDataset(cfg.dataset, { ...datasetOptions(cfg), ...extra });
  try {
    // (A run without a record yet records its recipe even when every field was given.)
    if (!(auto && spec.kind === "folder") && (auto || cfg.resolvedRecipe === null)) {
      resolveRecipe(cfg, { channels: data.train.channels === 1 ? 1 : 3, side: Math.min(data.train.height, data.train.width) });
    }
    return o.evalAtViewSide === false ? data : await evalAtViewSide(data, cfg.augment.outputSize as number);
  } catch (e) {
    await data.train.close();
    throw e;
  }
}

/**
 * The dataset with its evaluation splits (labelled train, test) resized to the side the encoder is
 * trained on, so that kNN, linear probes, baselines and the monitor see what the encoder saw.
 * The pretraining images are left as they are: the views crop and resize them.
 */
export async function evalAtViewSide(data: ResolvedDataset, side: number): Promise<ResolvedDataset> {
  const resize = <S extends ResolvedDataset["test"]>(s: S): S => (s ? (resizeSet(s, side) as S) : s);
  const [trainLabeled, test] = [resize(data.trainLabeled), resize(data.test)];
  if (trainLabeled === data.trainLabeled && test === data.test) return data;
  return { ...data, trainLabeled, test, notes: [...data.notes, `evaluation sees the images resized to ${side}x${side}, the side the encoder is trained on`] };
}

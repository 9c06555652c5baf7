// `byol preview`: a PNG grid of original images beside their view-1 and view-2 augmentations.
import * as T from "../torch/index.js";
import { epochOrder } from "../data/index.js";
import { renderPreview } from "../augment/preview.js";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/file-writes.js";
import { checkOutputFile } from "../train/run-folder.js";
import { presetConfig } from "../train/config.js";
import { makeAugmenters } from "../train/build.js";
import { openRunData } from "../train/recipe.js";
import { intFlag, parse } from "./args.js";

export const PREVIEW_HELP = `byol preview --dataset NAME --out grid.png [options]
  Shows what BYOL is taught: each row is an original image, then view-1 (T) and view-2 (T') samples.
  --dataset NAME    fashion-mnist (default) or any name byol train accepts
  --data-dir DIR    fashion-mnist's directory
  --augment NAME    byol | cifar | gray28 (default: what byol train chooses: gray28 for grey images up
                    to 28 px, cifar up to 32 px, else byol; see docs/recipes.md)
  --size N          view size (default: what byol train chooses, the images' side up to imageSize 96)
  --images N        rows (default 8)   --samples N   views of each kind per row (default 4)   --seed N`;

export async function previewCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    dataset: { type: "string" }, "data-dir": { type: "string" }, out: { type: "string" }, augment: { type: "string" },
    size: { type: "string" }, images: { type: "string" }, samples: { type: "string" }, seed: { type: "string" }, help: { type: "boolean" },
  }, "preview");
  if (values.help) {
    console.log(PREVIEW_HELP);
    return 0;
  }
  if (positionals.length) throw new UserError(`preview: unexpected argument "${positionals[0]}"`);
  if (!values.out) throw new UserError("preview: --out FILE.png is required");
  checkOutputFile(values.out);
  const seed = intFlag(values.seed, "seed", 0) ?? 0;
  const rows = intFlag(values.images, "images", 1) ?? 8;
  const samples = intFlag(values.samples, "samples", 1) ?? 4;
  if (values.augment !== undefined && !["byol", "cifar", "gray28"].includes(values.augment)) throw new UserError(`preview: --augment must be byol, cifar or gray28, got "${values.augment}"`);
  // The views training would use on this dataset (src/train/recipe.ts decides), unless given.
  const cfg = presetConfig("cpu");
  cfg.dataset = values.dataset ?? "fashion-mnist";
  cfg.dataDir = values["data-dir"] ?? null;
  cfg.datasetLimit = 5000;
  cfg.augment.preset = (values.augment ?? "auto") as typeof cfg.augment.preset;
  cfg.augment.outputSize = intFlag(values.size, "size", 8) ?? "auto";
  const data = await openRunData(cfg, {}, { evalAtViewSide: false });
  const set = data.train;
  const name = cfg.augment.preset;
  T.manualSeed(seed);
  const augs = makeAugmenters(cfg, set.channels, data.mean, data.std);
  const sample = await set.take(epochOrder(set.n, seed, 0, { shuffle: true }).subarray(0, Math.min(rows, set.n)));
  await set.close();
  const png = T.tidy(() => renderPreview(sample.images, sample.n, sample.channels, sample.height, sample.width, augs, { samples, seed }));
  writeFileAtomic(values.out, png);
  process.stderr.write(`wrote ${values.out}: ${sample.n} images, ${samples} view-1 and ${samples} view-2 samples each (${name} augmentations)\n`);
  return 0;
}

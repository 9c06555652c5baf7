// What a folder's images are (grey or colour, how large) without decoding them, and the resize
// applied to images already in memory. Training's "auto" recipe (src/train/recipe.ts) reads
// the first to choose its views; the evaluation and `byol embed` use the second to show an encoder
// images at the side it was trained on.
import { join } from "node:path";
import sharp, { type Metadata } from "sharp";
import { UserError } from "../util/errors.js";
import type { ImageSet } from "./dataset.js";
import { listFolder } from "./folder.js";
import * as T from "../torch/index.js";

/** Channels and typical side of a dataset's images. */
export interface ImageShape {
  /** 1 when every image looked at is grey (a grey file, or colour channels that are all equal), else 3. */
  channels: 1 | 3;
  /** The median shorter side of the images looked at, in pixels. */
  side: number;
}

/** Headers read by probeFolderImages: a spread sample, enough for a median, cheap on any folder. */
export const PROBE_SAMPLE = 64;

/**
 * The shape of a folder's images from up to PROBE_SAMPLE of them, spread evenly over the sorted
 * listing (so over every class): the side from their headers; grey when the file is grey or its
 * colour channels agree everywhere (a grey picture saved as RGB), checked on a thumbnail. Files that
 * cannot be read are passed over (decoding deals with them by onBadImage); none readable is a UserError.
 */
export async function probeFolderImages(dir: string): Promise<ImageShape> {
  const listing = listFolder(dir, PROBE_SAMPLE);
  const sides: number[] = [];
  let grey = true;
  for (const file of listing.files) {
    let m: Metadata;
    try {
      m = await sharp(join(listing.root, file)).metadata();
    } catch {
      continue;
    }
    if (!m.width || !m.height || !m.channels) continue;
    // 1 channel is grey, 2 grey with alpha; others may still hold a grey picture.
    if (grey && m.channels > 2 && !(await looksGrey(join(listing.root, file)))) grey = false;
    sides.push(Math.min(m.width, m.height));
  }
  if (sides.length === 0) throw new UserError(`${dir}: none of the ${listing.files.length} images looked at has a readable header`);
  sides.sort((a, b) => a - b);
  return { channels: grey ? 1 : 3, side: sides[Math.floor((sides.length - 1) / 2)] };
}

/** Largest channel difference a colour file may show and still count as grey (JPEG's chroma rounding). */
const GREY_TOLERANCE = 2;

// Whether every pixel of the file's thumbnail (at most 64 px; JPEGs shrink on load) has R, G and B
// within GREY_TOLERANCE of each other. Unreadable files count as grey: they decide nothing.
async function looksGrey(path: string): Promise<boolean> {
  try {
    const { data } = await sharp(path).resize(64, 64, { fit: "inside", withoutEnlargement: true }).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    for (let p = 0; p + 2 < data.length; p += 3) {
      if (Math.abs(data[p] - data[p + 1]) > GREY_TOLERANCE || Math.abs(data[p + 1] - data[p + 2]) > GREY_TOLERANCE) return false;
    }
    return true;
  } catch {
    return true;
  }
}

/**
 * Weights [outSize, inSize] of an antialiased bilinear resize along one axis: a triangle filter
 * widened by the shrink factor when shrinking, as PIL's BILINEAR resize and torchvision's
 * Resize(antialias=True) (PyTorch's _upsample_bilinear2d_aa) compute them; each row sums to 1.
 */
export function resizeWeights(inSize: number, outSize: number): Float32Array {
  const scale = inSize / outSize;
  const support = scale >= 1 ? scale : 1;
  const invScale = scale >= 1 ? 1 / scale : 1;
  const w = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const row = new Float64Array(hi - lo);
    for (let j = lo; j < hi; j++) {
      const x = Math.abs((j - center + 0.5) * invScale);
      row[j - lo] = x < 1 ? 1 - x : 0;
      total += row[j - lo];
    }
    for (let j = lo; j < hi; j++) w[i * inSize + j] = total > 0 ? row[j - lo] / total : 0;
  }
  return w;
}

/**
 * The set's images brought to side x side as torchvision's Resize(side) + CenterCrop(side) would:
 * the centre square cropped, then an antialiased bilinear resize (resizeWeights), rounded to uint8.
 * Batched on the CPU as two matrix products per chunk of images. The set itself when it already
 * has that size.
 */
export function resizeSet(set: ImageSet, side: number): ImageSet {
  if (!Number.isInteger(side) || side < 1) throw new RangeError(`resizeSet: bad side ${side}`);
  if (set.height === side && set.width === side) return set;
  const { channels: c, height: h, width: w } = set;
  const sq = Math.min(h, w);
  const top = Math.floor((h - sq) / 2);
  const left = Math.floor((w - sq) / 2);
  const out = new Uint8Array(set.n * c * side * side);
  T.tidy(() => {
    const a = T.tensor(resizeWeights(sq, side), [side, sq]);
    const at = a.t().contiguous();
    const chunk = 2048;
    for (let start = 0; start < set.n; start += chunk) {
      const len = Math.min(chunk, set.n - start);
      T.tidy(() => {
        let x = T.tensor(set.images.subarray(start * c * h * w, (start + len) * c * h * w), [len * c, h, w]).to("float32");
        if (sq !== h || sq !== w) x = x.narrow(1, top, sq).narrow(2, left, sq);
        const y = a.matmul(x.matmul(at)).round().clamp(0, 255).to("uint8");
        out.set(y.toArray() as Uint8Array, start * c * side * side);
      });
    }
  });
  return { ...set, images: out, height: side, width: side };
}

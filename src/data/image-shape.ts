// What a folder's images are (grey or colour, how large) without decoding them, and the one resize
// policy applied to images already in memory. Training's "auto" recipe (src/train/recipe.ts) reads
// the first to choose its views; the evaluation and `byol embed` use the second to show an encoder
// images at the side it was trained on.
import { join } from "node:path";
import sharp, { type Metadata } from "sharp";
import { UserError } from "../util/errors.js";
import type { ImageSet } from "./dataset.js";
import { listFolder } from "./folder.js";
import { interleavedToPlanar } from "./image-decode.js";

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
 * The set's images brought to side x side as a folder's images are decoded (image-decode.ts): the
 * shorter side scaled to `side` with libvips' default (Lanczos) kernel, the centre cropped. The set
 * itself when it already has that size.
 */
export async function resizeSet(set: ImageSet, side: number): Promise<ImageSet> {
  if (!Number.isInteger(side) || side < 1) throw new RangeError(`resizeSet: bad side ${side}`);
  if (set.height === side && set.width === side) return set;
  const { channels: c, height: h, width: w } = set;
  const inPlane = h * w;
  const outSize = c * side * side;
  const out = new Uint8Array(set.n * outSize);
  // Grey images go through as RGB with three equal channels, as the decoder reads a grey file (libvips
  // would otherwise turn a one-channel raw image into sRGB on its own terms); channel 0 comes back.
  const one = async (i: number): Promise<void> => {
    const src = set.images.subarray(i * c * inPlane, (i + 1) * c * inPlane);
    const hwc = new Uint8Array(3 * inPlane);
    for (let ch = 0; ch < 3; ch++) for (let p = 0; p < inPlane; p++) hwc[p * 3 + ch] = src[(c === 1 ? 0 : ch) * inPlane + p];
    const { data, info } = await sharp(hwc, { raw: { width: w, height: h, channels: 3 } })
      .resize(side, side, { fit: "cover", position: "centre" })
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== side || info.height !== side) {
      throw new Error(`resizeSet: got ${info.channels}x${info.height}x${info.width}, expected 3x${side}x${side}`);
    }
    const planes = interleavedToPlanar(data, { channels: 3, height: side, width: side });
    out.set(c === 1 ? planes.subarray(0, side * side) : planes, i * outSize);
  };
  // A few images at a time: libvips runs each on its own threads.
  const chunk = 64;
  for (let start = 0; start < set.n; start += chunk) {
    await Promise.all(Array.from({ length: Math.min(chunk, set.n - start) }, (_, k) => one(start + k)));
  }
  return { ...set, images: out, height: side, width: side };
}

// Decodes one image file (JPEG, PNG, WebP, whatever libvips reads) to NCHW-ready uint8 planes of a
// fixed size. Runs inside the folder decoding workers; kept separate so it can be tested alone.
import sharp from "sharp";

export interface DecodeSize {
  height: number;
  width: number;
  channels: 1 | 3;
}

/**
 * Resize policy: scale so the image covers height x width (the shorter side matches), then crop
 * the centre -- sharp's `fit: "cover"`, the same framing as torchvision's Resize(s) + CenterCrop(s).
 * The aspect ratio is kept; nothing is stretched or letterboxed.
 *
 * Also: EXIF orientation is applied (a phone photo comes out upright, as a viewer shows it); alpha
 * is dropped without compositing, like PIL's convert("RGB") that torchvision's loader uses;
 * 16-bit sources are reduced to 8 bits; grey sources are replicated to 3 channels when asked for
 * 3, and colour sources are converted to grey when asked for 1 with ITU-R 601 weights, as PIL's
 * convert("L") and torchvision's Grayscale do (libvips' own b-w conversion uses CIE L*, which
 * gives different values, e.g. 127 instead of 76 for pure red).
 *
 * Returns channel planes, each row-major (C x H x W). Throws sharp's error for undecodable files.
 */
export async function decodeImageFile(path: string, size: DecodeSize): Promise<Uint8Array> {
  const { data, info } = await sharp(path)
    .autoOrient()
    .resize(size.width, size.height, { fit: "cover", position: "centre" })
    .removeAlpha()
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size.width || info.height !== size.height || info.channels !== 3) {
    throw new Error(`decoded to ${info.channels}x${info.height}x${info.width}, expected 3x${size.height}x${size.width}`);
  }
  return size.channels === 1 ? rgbToGrey(data, size) : interleavedToPlanar(data, size);
}

/** Interleaved RGB → one grey plane, L = (299 R + 587 G + 114 B) / 1000 in PIL's fixed point. */
export function rgbToGrey(src: Uint8Array, size: { height: number; width: number }): Uint8Array {
  const plane = size.height * size.width;
  const out = new Uint8Array(plane);
  for (let p = 0; p < plane; p++) {
    out[p] = (src[3 * p] * 19595 + src[3 * p + 1] * 38470 + src[3 * p + 2] * 7471 + 0x8000) >>> 16;
  }
  return out;
}

/** HWC (libvips' interleaved pixels) → CHW. */
export function interleavedToPlanar(src: Uint8Array, size: DecodeSize): Uint8Array {
  const { channels: c, height: h, width: w } = size;
  const out = new Uint8Array(c * h * w);
  const plane = h * w;
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < c; ch++) out[ch * plane + p] = src[p * c + ch];
  }
  return out;
}

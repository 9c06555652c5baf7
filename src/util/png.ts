import { PNG } from "pngjs";

// Small image helpers for the run report: encode 8-bit grey/RGB pixels as PNG and tile a batch of
// images into one grid picture. Everything here works on plain uint8 arrays so that it never needs the
// tensor engine; callers convert their tensors to uint8 NCHW first.

export type Channels = 1 | 3;

/** An interleaved (HWC) 8-bit image, the layout PNG wants. */
export interface RasterImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: Channels;
}

export interface GridOptions {
  /** Pixels of background between tiles and around the border (after scaling). Default 2. */
  pad?: number;
  /** Integer nearest-neighbour upscale factor per image; keeps 28x28 digits crisp. Default 1. */
  scale?: number;
  /** Background grey level 0..255 for padding and empty cells. Default 255 (white). */
  background?: number;
}

function checkDims(width: number, height: number, channels: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`png: bad image size ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3) throw new RangeError(`png: channels must be 1 or 3, got ${channels}`);
}

/** Encodes interleaved (HWC) 8-bit pixels as a PNG file: grey for 1 channel, RGB for 3. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: Channels): Buffer {
  checkDims(width, height, channels);
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`png: expected ${width * height * channels} bytes for ${width}x${height}x${channels}, got ${pixels.length}`);
  }
  // Write the buffer directly with matching input/output colour types: pngjs then skips its RGBA
  // conversion and stores exactly our bytes (and we avoid allocating a 4-channel copy).
  const png = new PNG({ width: 0, height: 0 });
  png.width = width;
  png.height = height;
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const colorType = channels === 1 ? 0 : 2;
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
}

/** A `data:` URI so a PNG can be embedded in a self-contained HTML page. */
export function pngDataUri(buf: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("base64")}`;
}

/**
 * Tiles n images (NCHW uint8, i.e. planar per image) row-major into a grid with `cols` columns.
 * Returns an interleaved HWC image ready for `encodePng`.
 */
export function imageGrid(
  images: Uint8Array,
  n: number,
  channels: Channels,
  h: number,
  w: number,
  cols: number,
  opts: GridOptions = {},
): RasterImage {
  checkDims(w, h, channels);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`imageGrid: bad image count ${n}`);
  if (images.length < n * channels * h * w) {
    throw new RangeError(`imageGrid: expected at least ${n * channels * h * w} bytes for ${n}x${channels}x${h}x${w}, got ${images.length}`);
  }
  const plane = h * w;
  const rows: Uint8Array[] = [];
  for (let i = 0; i < n; i++) rows.push(images.subarray(i * channels * plane, (i + 1) * channels * plane));
  return imageGridFromList(rows, channels, h, w, cols, opts);
}

/** Same as `imageGrid` but takes one CHW uint8 array per image (e.g. from separate batches). */
export function imageGridFromList(
  images: Uint8Array[],
  channels: Channels,
  h: number,
  w: number,
  cols: number,
  opts: GridOptions = {},
): RasterImage {
  checkDims(w, h, channels);
  const pad = opts.pad ?? 2;
  const scale = opts.scale ?? 1;
  const bg = opts.background ?? 255;
  if (!Number.isInteger(cols) || cols <= 0) throw new RangeError(`imageGrid: cols must be a positive integer, got ${cols}`);
  if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`imageGrid: pad must be a non-negative integer, got ${pad}`);
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`imageGrid: scale must be a positive integer, got ${scale}`);
  const n = images.length;
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    if (images[i]!.length !== channels * plane) {
      throw new RangeError(`imageGrid: image ${i} has ${images[i]!.length} bytes, expected ${channels * plane}`);
    }
  }
  // An empty grid still yields a valid (background-only) one-cell image rather than a 0x0 PNG,
  // which encoders reject and browsers cannot display.
  const gridCols = Math.max(1, Math.min(cols, n));
  const gridRows = Math.max(1, Math.ceil(n / cols));
  const tw = w * scale;
  const th = h * scale;
  const width = pad + gridCols * (tw + pad);
  const height = pad + gridRows * (th + pad);
  const pixels = new Uint8Array(width * height * channels).fill(bg);

  for (let i = 0; i < n; i++) {
    const img = images[i]!;
    const x0 = pad + (i % cols) * (tw + pad);
    const y0 = pad + Math.floor(i / cols) * (th + pad);
    for (let y = 0; y < th; y++) {
      const sy = Math.floor(y / scale);
      const rowOut = ((y0 + y) * width + x0) * channels;
      for (let x = 0; x < tw; x++) {
        const src = sy * w + Math.floor(x / scale);
        const out = rowOut + x * channels;
        // Planar CHW in, interleaved HWC out.
        for (let c = 0; c < channels; c++) pixels[out + c] = img[c * plane + src]!;
      }
    }
  }
  return { pixels, width, height, channels };
}

/** Convenience: grid + encode in one call. */
export function encodeGrid(grid: RasterImage): Buffer {
  return encodePng(grid.pixels, grid.width, grid.height, grid.channels);
}

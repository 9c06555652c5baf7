// The in-memory image dataset every reader produces and every consumer (augmentations, loaders,
// evaluation) takes. Plain bytes rather than tensors: src/data must not depend on the tensor engine,
// and uint8 NCHW is 4x smaller than float32 and converts on the device in one op.

/** Images held in memory as uint8 NCHW bytes, with optional labels, class names and ids. */
export interface ImageSet {
  /** n images, NCHW, row-major, uint8: image i is bytes [i*C*H*W, (i+1)*C*H*W). */
  images: Uint8Array;
  n: number;
  channels: number;
  height: number;
  width: number;
  /** Class index per image, or null for unlabeled data. -1 marks an unlabeled image in a mixed set. */
  labels: Int32Array | null;
  /** Class names, indexed by label, or null when the source has none. */
  classes: string[] | null;
  /** A stable identifier per image (e.g. a relative path), or null when the source has none. */
  ids: string[] | null;
}

/** Bytes per image (C*H*W). */
export function imageBytes(set: ImageSet): number {
  return set.channels * set.height * set.width;
}

/** Image i as a view into set.images (no copy; writing to it writes to the set). */
export function imageAt(set: ImageSet, i: number): Uint8Array {
  checkIndex(set, i);
  const size = imageBytes(set);
  return set.images.subarray(i * size, (i + 1) * size);
}

/** A new set holding copies of the given images (and their labels and ids), in the given order. */
export function subset(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = imageBytes(set);
  const m = indices.length;
  const images = new Uint8Array(m * size);
  const labels = set.labels ? new Int32Array(m) : null;
  const ids = set.ids ? new Array<string>(m) : null;
  for (let j = 0; j < m; j++) {
    const i = indices[j];
    checkIndex(set, i);
    images.set(set.images.subarray(i * size, (i + 1) * size), j * size);
    if (labels) labels[j] = set.labels![i];
    if (ids) ids[j] = set.ids![i];
  }
  return { ...shapeOf(set), images, n: m, labels, classes: set.classes, ids };
}

/** The first `count` images as a set whose pixel bytes are a view of the original (no copy). */
export function head(set: ImageSet, count: number): ImageSet {
  const m = Math.max(0, Math.min(count, set.n));
  return {
    ...shapeOf(set),
    images: set.images.subarray(0, m * imageBytes(set)),
    n: m,
    labels: set.labels ? set.labels.subarray(0, m) : null,
    classes: set.classes,
    ids: set.ids ? set.ids.slice(0, m) : null,
  };
}

/**
 * Several sets with the same image shape, one after the other. If some parts are labeled and others
 * are not (STL-10 unlabeled + train), the unlabeled images get label -1 so the labels stay aligned.
 */
export function concatSets(parts: ImageSet[]): ImageSet {
  if (parts.length === 0) throw new Error("concatSets: no sets given");
  const first = parts[0];
  for (const p of parts) {
    if (p.channels !== first.channels || p.height !== first.height || p.width !== first.width) {
      throw new Error(
        `concatSets: image shapes differ (${shapeText(first)} vs ${shapeText(p)})`,
      );
    }
  }
  const n = parts.reduce((s, p) => s + p.n, 0);
  const size = imageBytes(first);
  const images = new Uint8Array(n * size);
  const anyLabels = parts.some((p) => p.labels !== null);
  const labels = anyLabels ? new Int32Array(n).fill(-1) : null;
  const allIds = parts.every((p) => p.ids !== null);
  const ids: string[] | null = allIds ? [] : null;
  let at = 0;
  for (const p of parts) {
    images.set(p.images.subarray(0, p.n * size), at * size);
    if (labels && p.labels) labels.set(p.labels.subarray(0, p.n), at);
    if (ids) ids.push(...p.ids!.slice(0, p.n));
    at += p.n;
  }
  const classes = parts.find((p) => p.classes !== null)?.classes ?? null;
  return { ...shapeOf(first), images, n, labels, classes, ids };
}

/** Per-channel mean and standard deviation of the pixel values scaled to [0, 1]. */
export function channelStats(set: ImageSet): { mean: number[]; std: number[] } {
  const c = set.channels;
  const plane = set.height * set.width;
  // Integer sums of bytes and squared bytes per channel are exact in float64 up to ~2^53 / 65025
  // (1.4e11 pixels per channel), far beyond any set that fits in memory.
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  const img = set.images;
  for (let i = 0; i < set.n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * plane;
      let s = 0;
      let s2 = 0;
      for (let k = 0; k < plane; k++) {
        const v = img[base + k];
        s += v;
        s2 += v * v;
      }
      sum[ch] += s;
      sumSq[ch] += s2;
    }
  }
  const count = set.n * plane;
  const mean: number[] = [];
  const std: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const m = count > 0 ? sum[ch] / count : 0;
    const variance = count > 0 ? Math.max(0, sumSq[ch] / count - m * m) : 0;
    mean.push(m / 255);
    std.push(Math.sqrt(variance) / 255);
  }
  return { mean, std };
}

function shapeOf(set: ImageSet): { channels: number; height: number; width: number } {
  return { channels: set.channels, height: set.height, width: set.width };
}

function shapeText(set: ImageSet): string {
  return `${set.channels}x${set.height}x${set.width}`;
}

function checkIndex(set: ImageSet, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= set.n) {
    throw new RangeError(`image index ${i} out of range [0, ${set.n})`);
  }
}

// Frozen features for evaluation: every image of a set through an embedding function, batch by batch.
// Images stay uint8 on the host until their batch is needed; each batch is converted to
// (x/255 − mean)/std on the device, embedded, and copied into one preallocated [n, d] float32 CPU
// tensor, so peak memory is the result plus one batch whatever the size of the set.
import * as T from "../torch/index.js";
import type { ImageSet } from "../data/dataset.js";
import { UserError } from "../util/errors.js";

/** Maps a normalised float batch [b, C, H, W] (on the device) to its representation [b, d]. */
export type EmbedFn = (x: T.Tensor) => T.Tensor;

/** How images are fed to an encoder for feature extraction. */
export interface FeatureOptions {
  /** Images per forward pass (default 256). */
  batchSize?: number;
  /** Device the embedding runs on (default "cpu"). */
  device?: string;
  /** Per-channel mean and standard deviation of pixels scaled to [0, 1]. */
  mean: number[];
  std: number[];
}

/**
 * The representation of every image in `set`, as a kept [n, d] float32 CPU tensor (the caller
 * disposes it). `embed` should run the encoder in eval mode; it is called under noGrad here too.
 */
export function extractFeatures(embed: EmbedFn, set: ImageSet, opts: FeatureOptions): T.Tensor {
  const batchSize = checkedBatchSize(opts);
  if (set.n === 0) throw new UserError("features: the image set is empty");
  const device = opts.device ?? "cpu";
  let out: T.Tensor | null = null;
  try {
    T.noGrad(() =>
      T.tidy(() => {
        const norm = normaliser(set.channels, opts.mean, opts.std, device);
        for (let start = 0; start < set.n; start += batchSize) {
          const len = Math.min(batchSize, set.n - start);
          T.tidy(() => {
            const yc = embedBatch(embed, set, start, len, norm, device, start);
            if (!out) out = T.empty([set.n, yc.size(1)]).keep();
            else if (yc.size(1) !== out.size(1)) throw new Error(`features: embed changed its output dimension from ${out.size(1)} to ${yc.size(1)}`);
            out.narrow(0, start, len).copy_(yc);
          });
        }
      }),
    );
  } catch (e) {
    (out as T.Tensor | null)?.dispose();
    throw e;
  }
  return out!;
}

/**
 * The representation of every image of a stream of batches (e.g. a folder decoded as it goes), as
 * extractFeatures gives it for the same images in one set, with the ids and labels of the images in
 * order (null where the batches have none). Only the features and one batch are held at a time.
 */
export async function extractFeaturesStream(embed: EmbedFn, batches: AsyncIterable<ImageSet>, opts: FeatureOptions): Promise<{ features: T.Tensor; ids: string[] | null; labels: Int32Array | null }> {
  const device = opts.device ?? "cpu";
  const parts: T.Tensor[] = [];
  const ids: string[] = [];
  const labels: number[] = [];
  let allIds = true;
  let allLabels = true;
  let seen = 0;
  let norm: Normaliser | null = null;
  try {
    for await (const batch of batches) {
      if (batch.n === 0) continue;
      norm ??= normaliser(batch.channels, opts.mean, opts.std, device, true);
      const yc = T.noGrad(() => T.tidy(() => embedBatch(embed, batch, 0, batch.n, norm!, device, seen))).keep();
      parts.push(yc);
      if (yc.size(1) !== parts[0].size(1)) throw new Error(`features: embed changed its output dimension from ${parts[0].size(1)} to ${yc.size(1)}`);
      seen += batch.n;
      allIds &&= batch.ids !== null;
      allLabels &&= batch.labels !== null;
      if (allIds) ids.push(...batch.ids!);
      if (allLabels) labels.push(...batch.labels!);
    }
    if (parts.length === 0) throw new UserError("features: the image set is empty");
    const features = parts.length === 1 ? parts.pop()! : T.cat(parts).keep();
    return { features, ids: allIds ? ids : null, labels: allLabels ? Int32Array.from(labels) : null };
  } finally {
    for (const p of parts) p.dispose();
    norm?.mean.dispose();
    norm?.invStd.dispose();
  }
}

/** The normalised pixels themselves, flattened: a kept [n, C*H*W] float32 CPU tensor. */
export function rawPixelFeatures(set: ImageSet, mean: number[], std: number[]): T.Tensor {
  return extractFeatures((x) => x.flatten(1), set, { mean, std, batchSize: 1024 });
}

interface Normaliser {
  mean: T.Tensor; // [1, C, 1, 1] on the device
  invStd: T.Tensor; // [1, C, 1, 1]
}

// `keep`: the tensors outlive every scope (the caller disposes them).
function normaliser(channels: number, mean: number[], std: number[], device: string, keep = false): Normaliser {
  if (mean.length !== channels || std.length !== channels) {
    throw new UserError(`features: mean/std have ${mean.length}/${std.length} entries for ${channels}-channel images`);
  }
  for (const s of std) if (!(s > 0)) throw new UserError(`features: std must be > 0, got ${s}`);
  const m = T.tensor(Float32Array.from(mean), [1, channels, 1, 1], { device });
  const inv = T.tensor(Float32Array.from(std, (s) => 1 / s), [1, channels, 1, 1], { device });
  return keep ? { mean: m.keep(), invStd: inv.keep() } : { mean: m, invStd: inv };
}

function checkedBatchSize(opts: FeatureOptions): number {
  const batchSize = opts.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`features: batch size must be a positive integer, got ${batchSize}`);
  return batchSize;
}

// Images [start, start+len) of a set through `embed`: [len, d] float32 on the CPU, checked finite.
// `first` numbers the images in messages.
function embedBatch(embed: EmbedFn, set: ImageSet, start: number, len: number, norm: Normaliser, device: string, first: number): T.Tensor {
  const x = normalisedBatch(set, start, len, norm, device);
  const y = embed(x);
  if (y.ndim !== 2 || y.size(0) !== len) {
    throw new Error(`features: embed returned shape [${y.shape}] for a batch of ${len} images (expected [${len}, d])`);
  }
  const yc = y.to("float32").to("cpu");
  // A diverged encoder gives NaN; every score computed from it would be silently wrong.
  if (!T.callOp("aten::isfinite", "", yc).all().item()) {
    throw new UserError(`features: the encoder produced non-finite values (NaN or Inf) for images ${first}..${first + len - 1}`);
  }
  return yc;
}

// uint8 bytes [start, start+len) → float [(x/255 − mean)/std] on the device. The bytes cross to the
// device as uint8 (4x less traffic than float) and are converted there.
function normalisedBatch(set: ImageSet, start: number, len: number, norm: Normaliser, device: string): T.Tensor {
  const size = set.channels * set.height * set.width;
  const bytes = set.images.subarray(start * size, (start + len) * size);
  const u8 = T.tensor(bytes, [len, set.channels, set.height, set.width]);
  const onDevice = device === "cpu" ? u8 : u8.to(device);
  return onDevice.to("float32").div(255).sub(norm.mean).mul(norm.invStd);
}

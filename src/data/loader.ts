// Which images go into which batch, epoch by epoch: a seeded shuffle that is the same on every
// machine and every run (so a resumed run or another rank sees the same order), sharded across
// ranks the way PyTorch's DistributedSampler does it.
import type { ImageSet } from "./dataset.js";
import { imageBytes, subset } from "./dataset.js";

export interface EpochOrderOptions {
  /** Shuffle (seeded by seed and epoch) or keep 0..n-1. */
  shuffle: boolean;
  /** This process's rank in [0, worldSize); default 0. */
  rank?: number;
  /** Number of ranks; default 1 (no sharding). */
  worldSize?: number;
  /**
   * When n is not divisible by worldSize: false (default) pads by wrapping around to the start of
   * the order so every rank gets ceil(n/worldSize) indices; true drops the tail so every rank gets
   * floor(n/worldSize) and no index appears twice.
   */
  dropLast?: boolean;
}

/**
 * The indices rank `rank` visits in epoch `epoch`. Every rank computes the same global order from
 * (seed, epoch), pads or trims it to a multiple of worldSize, and takes every worldSize-th index
 * starting at its rank, so shards are equal in size and disjoint (apart from wrap-around padding).
 */
export function epochOrder(n: number, seed: number, epoch: number, opts: EpochOrderOptions): Int32Array {
  const worldSize = opts.worldSize ?? 1;
  const rank = opts.rank ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`epochOrder: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new RangeError(`epochOrder: worldSize must be >= 1, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`epochOrder: rank ${rank} not in [0, ${worldSize})`);
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (opts.shuffle) shuffleInPlace(order, prng(seed, epoch));
  if (worldSize === 1) return order;

  const perRank = opts.dropLast ? Math.floor(n / worldSize) : Math.ceil(n / worldSize);
  const shard = new Int32Array(perRank);
  if (n === 0) return shard;
  for (let j = 0; j < perRank; j++) {
    // Position in the padded global order; positions past n wrap to the start, as PyTorch repeats
    // the head of the order to fill the last round.
    shard[j] = order[(rank + j * worldSize) % n];
  }
  return shard;
}

/**
 * Splits an order into consecutive batches (views, no copies). With dropLast the final short batch
 * is left out, which keeps BatchNorm from seeing a batch of one.
 */
export function batches(order: Int32Array, batchSize: number, dropLast: boolean): Int32Array[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batches: batch size must be >= 1, got ${batchSize}`);
  const out: Int32Array[] = [];
  for (let s = 0; s < order.length; s += batchSize) {
    const e = Math.min(s + batchSize, order.length);
    if (dropLast && e - s < batchSize) break;
    out.push(order.subarray(s, e));
  }
  return out;
}

/** The NCHW bytes of the given images, packed one after another. */
export function gatherBatch(set: ImageSet, indices: ArrayLike<number>): Uint8Array {
  const size = imageBytes(set);
  const out = new Uint8Array(indices.length * size);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    if (!Number.isInteger(i) || i < 0 || i >= set.n) throw new RangeError(`gatherBatch: index ${i} out of range [0, ${set.n})`);
    out.set(set.images.subarray(i * size, (i + 1) * size), j * size);
  }
  return out;
}

/** The labels of the given images (the set must be labeled). */
export function gatherLabels(set: ImageSet, indices: ArrayLike<number>): Int32Array {
  if (!set.labels) throw new Error("gatherLabels: the set has no labels");
  const out = new Int32Array(indices.length);
  for (let j = 0; j < indices.length; j++) out[j] = set.labels[indices[j]];
  return out;
}

/**
 * A 32-bit PRNG (mulberry32) seeded from (seed, epoch). Each epoch gets an unrelated stream: the
 * two numbers are mixed through a hash, so epoch e+1 is not the stream of epoch e shifted by one.
 * Returns floats in [0, 1).
 */
export function prng(seed: number, epoch = 0): () => number {
  const seedLo = seed >>> 0;
  const seedHi = Math.floor(Math.abs(seed) / 2 ** 32) >>> 0;
  let state = fmix32(fmix32(seedLo ^ 0x9e3779b9) ^ seedHi ^ fmix32((epoch >>> 0) + 0x85ebca6b));
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle. The modulo bias of floor(u*(i+1)) is below 2^-32 * n: irrelevant here. */
export function shuffleInPlace(a: Int32Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

// MurmurHash3's finaliser: a cheap bijective mix so that nearby seeds give unrelated states.
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The indices of a fixed random subset of at most `count` of n images (seeded; the first `count`
 * of epoch 0's shuffled order), or 0..n-1 in order when n is no larger. `sorted` puts the subset
 * back in index order (the same images; a folder then reads its files in listing order).
 */
export function sampleIndices(n: number, count: number, seed: number, sorted = false): Int32Array {
  if (n <= count) return Int32Array.from({ length: n }, (_, i) => i);
  const pick = epochOrder(n, seed, 0, { shuffle: true }).subarray(0, count);
  return sorted ? pick.sort() : pick;
}

/** A fixed random subset of at most n images (seeded), or the whole set when it is no larger. */
export function sampleSubset(set: ImageSet, n: number, seed: number): ImageSet {
  return set.n <= n ? set : subset(set, sampleIndices(set.n, n, seed));
}

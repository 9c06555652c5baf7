// The pretraining images as the training loop sees them: n images addressed by index, handed out
// as batches of whatever index lists an epoch's order gives. Two kinds: a set held in memory
// (IDX, CIFAR, STL-10 and small folders), and a folder decoded batch by batch while training runs
// (folder-reader.ts). Both give the same bytes for the same indices, so a run's batches -- and so
// its losses and its checkpoints -- do not depend on which kind holds the data.
import { subset, type ImageSet } from "./dataset.js";
import { sampleIndices, sampleSubset } from "./loader.js";

/** The pretraining images as the training loop reads them: in memory or streamed from a folder. */
export interface TrainingData {
  /** Number of images; indices run over 0..n-1 (for a folder, its sorted listing). */
  readonly n: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Class index per image (-1: unlabeled image of a mixed set), or null for unlabeled data. Known without decoding. */
  readonly labels: Int32Array | null;
  readonly classes: string[] | null;
  /** The whole set when it is held in memory; null when it is streamed from files. */
  readonly set: ImageSet | null;
  /**
   * One batch per index list, in the given order; batch j holds the images of list j in that
   * order, with their labels and ids. Iterate once with for-await; breaking off stops it.
   */
  batches(lists: readonly ArrayLike<number>[]): AsyncIterable<ImageSet>;
  /** The given images as one set, in the given order (a streamed folder decodes them now). */
  take(indices: ArrayLike<number>): Promise<ImageSet>;
  /** Releases what the data holds (a folder's decoding workers). */
  close(): Promise<void>;
}

/** Training data held in memory: batches are copies gathered from the set. */
export function inMemoryData(set: ImageSet): TrainingData {
  return {
    n: set.n,
    channels: set.channels,
    height: set.height,
    width: set.width,
    labels: set.labels,
    classes: set.classes,
    set,
    batches: (lists) => ({
      async *[Symbol.asyncIterator]() {
        for (const indices of lists) yield subset(set, indices);
      },
    }),
    take: async (indices) => subset(set, indices),
    close: async () => {},
  };
}

/** A fixed random subset of at most `count` images (seeded), as `sampleSubset` picks it from a set. */
export function sampleData(data: TrainingData, count: number, seed: number): Promise<ImageSet> {
  if (data.set) return Promise.resolve(sampleSubset(data.set, count, seed));
  return data.take(sampleIndices(data.n, count, seed));
}

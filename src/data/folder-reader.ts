// An image folder read in any order the caller asks for -- an epoch's shuffled, rank-sharded order --
// as batches, with a bounded number of batches decoding ahead in worker threads. One pool of
// workers serves a reader for its whole life (every epoch, every sample drawn from it), so epochs
// do not respawn threads. This is how folders too large to hold decoded in memory are trained on.
//
// Undecodable files under onBadImage "skip": a training batch keeps its size and its place in the
// epoch, and a bad file's slot goes to the next decodable file of the listing (wrapping around at
// its end). That substitute depends only on the folder -- not on the epoch, the batch, or what was
// decoded before -- so batches stay the same under a seed, resuming mid-epoch needs nothing from
// the batches it skips, and drop-last counts the listing's n files as the step count does (a bad
// file costs no step; its substitute is seen twice that epoch). Each bad file is warned about once
// and not read again by this reader. `take` (evaluation sets, statistics samples) drops bad files
// instead, as loadFolder does. Under "error" the first bad file in batch order stops with the
// one-line UserError that names it.
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import type { ImageSet } from "./dataset.js";
import { DecodePool, defaultWorkerCount, type DecodeResult } from "./decode-pool.js";
import { decodeSize, listFolder, rejectImage, warnOnStderr, type FolderListing, type FolderOptions } from "./folder.js";
import type { DecodeSize } from "./image-decode.js";
import type { TrainingData } from "./training-data.js";

/** Decode size, channels, bad-image policy, workers and prefetch (in batches) as for folderStream. */
export type FolderReaderOptions = Pick<FolderOptions, "size" | "channels" | "onBadImage" | "workers" | "prefetch" | "warn">;

/** Counters of a reader's decoding (they let tests check the memory bound and what was read). */
export interface FolderReaderStats {
  /** Images decoded so far (substitutes for bad files included). */
  decoded: number;
  /** Decoded images not yet handed out in a batch: now, and the most there ever were. */
  ahead: number;
  maxAhead: number;
  /** Worker pools started: one per reader, unless it was closed and used again. */
  pools: number;
}

// `take` decodes in chunks of this many images, `prefetch` chunks ahead.
const TAKE_CHUNK = 256;

interface Decoded {
  index: number;
  data: Uint8Array;
}

/** An image folder as training data: batches of any index lists, decoded by worker threads a bounded number of batches ahead. */
export class FolderReader implements TrainingData {
  readonly n: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly labels: Int32Array | null;
  readonly classes: string[] | null;
  readonly set = null;
  readonly stats: FolderReaderStats = { decoded: 0, ahead: 0, maxAhead: 0, pools: 0 };
  private readonly size: DecodeSize;
  private readonly imageBytes: number;
  private readonly prefetch: number;
  private readonly workers: number;
  private readonly onBad: "skip" | "error";
  private readonly warn: (line: string) => void;
  private readonly bad = new Set<number>();
  private pool: DecodePool | null = null;

  constructor(readonly listing: FolderListing, opts: FolderReaderOptions) {
    this.size = decodeSize(opts);
    this.n = listing.files.length;
    this.channels = this.size.channels;
    this.height = this.size.height;
    this.width = this.size.width;
    this.labels = listing.labels;
    this.classes = listing.classes;
    this.imageBytes = this.channels * this.height * this.width;
    const prefetch = opts.prefetch ?? 2;
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError(`folder: prefetch must be a positive integer, got ${prefetch}`);
    this.prefetch = prefetch;
    this.workers = opts.workers ?? defaultWorkerCount();
    this.onBad = opts.onBadImage ?? "error";
    this.warn = opts.warn ?? warnOnStderr;
  }

  /** Lists `dir` now (a missing or empty folder fails here); nothing is decoded until asked for. */
  static open(dir: string, opts: FolderReaderOptions & { limit?: number }): FolderReader {
    return new FolderReader(listFolder(dir, opts.limit), opts);
  }

  /** Files found undecodable so far (skip mode). */
  get skipped(): number {
    return this.bad.size;
  }

  /**
   * Batches of the given index lists, every one full (bad files substituted, see above), with up
   * to `prefetch` batches decoding while the caller holds the last one handed out: decoded but
   * unconsumed images never exceed prefetch × batch size. Only listed batches are decoded.
   */
  batches(lists: readonly ArrayLike<number>[]): AsyncIterable<ImageSet> {
    return { [Symbol.asyncIterator]: () => this.pipeline(lists, true) };
  }

  /** The given images in the given order, bad files left out (skip mode). */
  async take(indices: ArrayLike<number>): Promise<ImageSet> {
    const all = Int32Array.from(indices);
    const m = all.length;
    const chunks: Int32Array[] = [];
    for (let s = 0; s < m; s += TAKE_CHUNK) chunks.push(all.subarray(s, Math.min(m, s + TAKE_CHUNK)));
    const images = new Uint8Array(m * this.imageBytes);
    const labels = this.labels ? new Int32Array(m) : null;
    const ids: string[] = [];
    for await (const part of this.pipeline(chunks, false)) {
      images.set(part.images, ids.length * this.imageBytes);
      labels?.set(part.labels!, ids.length);
      ids.push(...part.ids!);
    }
    if (m > 0 && ids.length === 0) throw new UserError(`${this.listing.root}: none of the ${m} images read could be decoded`);
    return this.makeSet(images, labels, ids);
  }

  /** Stops the decoding workers; call it when no iteration is running. A later read starts new ones. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.close();
  }

  // Batches are decoded whole and handed out in order; the next one is requested as each is
  // handed out, so `prefetch` batches are in flight while the caller works on the current one.
  private async *pipeline(lists: readonly ArrayLike<number>[], substitute: boolean): AsyncGenerator<ImageSet> {
    const ahead: Promise<ImageSet>[] = [];
    let next = 0;
    let previous: Promise<unknown> = Promise.resolve();
    const launch = () => {
      if (next >= lists.length) return;
      const p = this.decodeBatch(lists[next++], substitute, previous);
      previous = p;
      // Awaited in order below; this keeps a later batch that fails first from counting as unhandled.
      p.catch(() => {});
      ahead.push(p);
    };
    for (let j = 0; j < this.prefetch; j++) launch();
    try {
      while (ahead.length > 0) {
        const batch = await ahead.shift()!;
        launch();
        this.stats.ahead -= batch.n;
        yield batch;
      }
    } finally {
      // Broken off or failed: batches still decoding are dropped as they arrive.
      for (const p of ahead) p.then((b) => (this.stats.ahead -= b.n), () => {});
    }
  }

  // Decodes run in parallel with other batches'; the batch is assembled only after the one before
  // it (`after`), so bad files are met -- and warned about -- in batch order.
  private async decodeBatch(indices: ArrayLike<number>, substitute: boolean, after: Promise<unknown>): Promise<ImageSet> {
    const m = indices.length;
    const results = await Promise.all(Array.from(indices, (i) => (this.bad.has(i) ? null : this.decodeOne(i))));
    await after.catch(() => {});
    const images = new Uint8Array(m * this.imageBytes);
    const labels = this.labels ? new Int32Array(m) : null;
    const ids: string[] = [];
    let substitutes = 0;
    try {
      // In batch order, so that under "error" the first bad file of the batch is the one reported.
      for (let j = 0; j < m; j++) {
        const r = results[j];
        let got: Decoded | null = r?.ok ? { index: indices[j], data: r.data } : null;
        if (!got) {
          if (r && !r.ok) this.reject(indices[j], r);
          if (!substitute) continue;
          got = await this.substitute(indices[j]);
          substitutes++;
        }
        images.set(got.data, ids.length * this.imageBytes);
        if (labels) labels[ids.length] = this.labels![got.index];
        ids.push(this.listing.files[got.index]);
      }
    } catch (e) {
      this.stats.ahead -= results.filter((r) => r?.ok).length + substitutes;
      throw e;
    }
    return this.makeSet(images, labels, ids);
  }

  // The next decodable file after listing index i, wrapping around.
  private async substitute(i: number): Promise<Decoded> {
    for (let step = 1; step < this.n; step++) {
      const j = (i + step) % this.n;
      if (this.bad.has(j)) continue;
      const r = await this.decodeOne(j);
      if (r.ok) return { index: j, data: r.data };
      this.reject(j, r);
    }
    throw new UserError(`${this.listing.root}: none of the ${this.n} images could be decoded`);
  }

  private reject(i: number, r: { error: string; fatal: boolean }): void {
    if (!r.fatal && this.bad.has(i)) return; // already reported (a batch decoded ahead found it too)
    rejectImage(join(this.listing.root, this.listing.files[i]), r, this.onBad, this.warn);
    this.bad.add(i);
  }

  private async decodeOne(i: number): Promise<DecodeResult> {
    if (!this.pool) {
      this.pool = new DecodePool(Math.min(this.workers, this.n));
      this.stats.pools++;
    }
    const r = await this.pool.decode(join(this.listing.root, this.listing.files[i]), this.size);
    if (r.ok) {
      this.stats.decoded++;
      this.stats.ahead++;
      this.stats.maxAhead = Math.max(this.stats.maxAhead, this.stats.ahead);
    }
    return r;
  }

  private makeSet(images: Uint8Array, labels: Int32Array | null, ids: string[]): ImageSet {
    const n = ids.length;
    return {
      images: images.length === n * this.imageBytes ? images : images.subarray(0, n * this.imageBytes),
      n, channels: this.channels, height: this.height, width: this.width,
      labels: labels ? labels.subarray(0, n) : null,
      classes: this.classes,
      ids,
    };
  }
}

// Image folders: either one subfolder per class (labels from the sorted subfolder names, as
// torchvision's ImageFolder does) or a flat folder of unlabeled images. Files are decoded and
// resized in worker threads (decode-pool.ts) and delivered as fixed-size batches, in file order;
// folder-reader.ts reads a folder in any other order (training's shuffled epochs).
import { readdirSync, statSync, type Dirent } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { concatSets, type ImageSet } from "./dataset.js";
import { DecodePool, defaultWorkerCount } from "./decode-pool.js";
import { oneLine, requireDir } from "./files.js";
import type { DecodeSize } from "./image-decode.js";

export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp"];

/** The images of a folder, sorted, with their classes when the folder has class subfolders. */
export interface FolderListing {
  root: string;
  /** Image paths relative to root, "/"-separated, sorted (by class, then path). */
  files: string[];
  /** Class index per file in class-subfolder mode, null for a flat folder. */
  labels: Int32Array | null;
  /** Sorted subfolder names in class-subfolder mode, null for a flat folder. */
  classes: string[] | null;
}

/** How a folder's images are decoded and handed out. */
export interface FolderOptions {
  /** Output size: a number for square images, or height and width. See image-decode.ts for the resize policy. */
  size: number | { height: number; width: number };
  /** 3 (RGB, default) or 1 (grey). */
  channels?: 1 | 3;
  /** Images per yielded batch (folderStream); every batch is full except the last. Default 256. */
  batchSize?: number;
  /** An undecodable image: "error" (default) stops with a UserError naming it; "skip" warns and goes on. */
  onBadImage?: "skip" | "error";
  /** Decoding worker threads; default min(4, cores). */
  workers?: number;
  /** How many batches may be decoded ahead of the consumer; bounds memory. Default 2. */
  prefetch?: number;
  /** Use at most this many files, spread evenly over the sorted listing so every class is represented. */
  limit?: number;
  /** Where skip warnings go (one line each); default stderr. */
  warn?: (line: string) => void;
}

/** A one-pass stream of batches; iterate it with for-await. Counters update as it runs. */
export interface FolderStream extends AsyncIterable<ImageSet> {
  readonly listing: FolderListing;
  /** Files that failed to decode and were skipped so far. */
  readonly skipped: number;
}

/**
 * Lists the images under `dir`. If any subfolder holds images, each top-level subfolder is a class
 * (images anywhere below it belong to it; empty subfolders still take a label, so indices match
 * between a train and a test folder with the same classes) and images directly in `dir` are an
 * error. Otherwise the images directly in `dir` form an unlabeled set. Hidden entries (".name")
 * are ignored, as are files with other extensions.
 */
export function listFolder(dir: string, limit?: number): FolderListing {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`folder: limit must be a positive integer, got ${limit}`);
  requireDir(dir, "image");
  const top = entries(dir);
  const topImages = top.filter((e) => !e.dir && isImage(e.name)).map((e) => e.name);
  const subdirs = top.filter((e) => e.dir).map((e) => e.name);
  const perClass = subdirs.map((d) => walkImages(join(dir, d)).map((f) => `${d}/${f}`));
  const classMode = perClass.some((files) => files.length > 0);

  let files: string[];
  let labels: Int32Array | null = null;
  let classes: string[] | null = null;
  if (classMode) {
    if (topImages.length > 0) {
      throw new UserError(
        `${dir}: has both class subfolders and ${topImages.length} loose images (e.g. ${topImages[0]}); put every image in a class subfolder, or use a flat folder`,
      );
    }
    classes = subdirs;
    files = perClass.flat();
    labels = new Int32Array(files.length);
    let at = 0;
    perClass.forEach((list, c) => {
      labels!.fill(c, at, at + list.length);
      at += list.length;
    });
  } else {
    files = topImages;
  }
  if (files.length === 0) {
    throw new UserError(`${dir}: no images found (looked for ${IMAGE_EXTENSIONS.join(", ")} files, in the folder or in class subfolders)`);
  }
  if (limit !== undefined && limit < files.length) {
    const pick = Array.from({ length: Math.max(0, limit) }, (_, i) => Math.floor((i * files.length) / limit));
    files = pick.map((i) => files[i]);
    if (labels) labels = Int32Array.from(pick, (i) => labels![i]);
  }
  return { root: dir, files, labels, classes };
}

/**
 * Decodes a folder in batches of `batchSize`, in listing order, with up to `prefetch` batches
 * decoding ahead. The listing happens now (so a missing folder fails here); decoding starts when
 * iteration does and the workers stop when it ends, is broken off, or fails.
 */
export function folderStream(dir: string, opts: FolderOptions): FolderStream {
  const listing = listFolder(dir, opts.limit);
  const state = { skipped: 0 };
  return {
    listing,
    get skipped() {
      return state.skipped;
    },
    [Symbol.asyncIterator]: () => decodeBatches(listing, opts, state),
  };
}

/** Decodes a whole folder into one set (for folders that fit in memory). */
export async function loadFolder(dir: string, opts: FolderOptions): Promise<ImageSet> {
  const stream = folderStream(dir, opts);
  const parts: ImageSet[] = [];
  for await (const batch of stream) parts.push(batch);
  if (parts.length === 0) throw new UserError(`${dir}: none of the ${stream.listing.files.length} images could be decoded`);
  return concatSets(parts);
}

/** Normalised decode size from the options. */
export function decodeSize(opts: FolderOptions): DecodeSize {
  const h = typeof opts.size === "number" ? opts.size : opts.size.height;
  const w = typeof opts.size === "number" ? opts.size : opts.size.width;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new RangeError(`folder: bad image size ${h}x${w}`);
  const channels = opts.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new RangeError(`folder: channels must be 1 or 3, got ${channels}`);
  return { height: h, width: w, channels };
}

async function* decodeBatches(listing: FolderListing, opts: FolderOptions, state: { skipped: number }): AsyncGenerator<ImageSet> {
  const size = decodeSize(opts);
  state.skipped = 0; // a second pass over the stream counts afresh
  const batchSize = opts.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`folder: batch size must be >= 1, got ${batchSize}`);
  const prefetch = Math.max(1, opts.prefetch ?? 2);
  const onBad = opts.onBadImage ?? "error";
  const warn = opts.warn ?? warnOnStderr;
  const { files, root } = listing;
  const imageBytes = size.channels * size.height * size.width;

  // Decodes are requested in order and awaited in order; at most `window` are outstanding, which
  // bounds memory to about `prefetch` batches while keeping every worker busy.
  const window = prefetch * batchSize;
  const pool = new DecodePool(Math.min(opts.workers ?? defaultWorkerCount(), files.length));
  const pending: { index: number; result: ReturnType<DecodePool["decode"]> }[] = [];
  let next = 0;
  const fill = () => {
    while (next < files.length && pending.length < window) {
      pending.push({ index: next, result: pool.decode(join(root, files[next]), size) });
      next++;
    }
  };

  let images = new Uint8Array(batchSize * imageBytes);
  let labels: number[] = [];
  let ids: string[] = [];
  const take = (): ImageSet => {
    const n = ids.length;
    const set: ImageSet = {
      images: n === batchSize ? images : images.slice(0, n * imageBytes),
      n, channels: size.channels, height: size.height, width: size.width,
      labels: listing.labels ? Int32Array.from(labels) : null,
      classes: listing.classes, ids,
    };
    images = new Uint8Array(batchSize * imageBytes);
    labels = [];
    ids = [];
    return set;
  };

  try {
    fill();
    let head = 0;
    while (head < pending.length) {
      const { index, result } = pending[head];
      const r = await result;
      // Drop consumed entries in chunks rather than shift() per item (O(window) each).
      if (++head >= batchSize) {
        pending.splice(0, head);
        head = 0;
      }
      fill();
      if (!r.ok) {
        rejectImage(join(root, files[index]), r, onBad, warn);
        state.skipped++;
        continue;
      }
      images.set(r.data, ids.length * imageBytes);
      if (listing.labels) labels.push(listing.labels[index]);
      ids.push(files[index]);
      if (ids.length === batchSize) yield take();
    }
    if (ids.length > 0) yield take();
  } finally {
    await pool.close();
  }
}

/**
 * A file that failed to decode: a broken pool (`fatal`) is an internal error; otherwise "error" stops
 * with a one-line UserError naming the file and "skip" reports it in one warning line and returns.
 */
export function rejectImage(path: string, r: { error: string; fatal: boolean }, onBad: "skip" | "error", warn: (line: string) => void): void {
  if (r.fatal) throw new Error(r.error);
  const line = `${path}: cannot decode image (${oneLine(r.error)})`;
  if (onBad === "error") throw new UserError(line);
  warn(`warning: skipping ${line}`);
}

export function warnOnStderr(line: string): void {
  process.stderr.write(line + "\n");
}

interface Entry {
  name: string;
  dir: boolean;
}

// Directory entries, hidden ones dropped, symlinks resolved, sorted by code point (not locale, so
// the order -- and thus the labels -- are the same on every machine).
function entries(dir: string): Entry[] {
  let list: Dirent[];
  try {
    list = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new UserError(`${dir}: cannot list folder (${oneLine(e)})`);
  }
  const out: Entry[] = [];
  for (const d of list) {
    if (d.name.startsWith(".")) continue;
    let isDir = d.isDirectory();
    if (d.isSymbolicLink()) {
      try {
        isDir = statSync(join(dir, d.name)).isDirectory();
      } catch {
        continue; // a dangling link is not an image
      }
    }
    out.push({ name: d.name, dir: isDir });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// Image files anywhere below `dir`, as "/"-separated paths relative to it.
function walkImages(dir: string): string[] {
  const out: string[] = [];
  for (const e of entries(dir)) {
    if (e.dir) out.push(...walkImages(join(dir, e.name)).map((f) => `${e.name}/${f}`));
    else if (isImage(e.name)) out.push(e.name);
  }
  return out;
}

function isImage(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

// Reading an image folder in an epoch's order (FolderReader): the same batches as the in-memory set,
// bounded decoding ahead, one worker pool across epochs, and bad files under skip and error.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { ImageSet } from "../../src/data/dataset.js";
import { loadFolder } from "../../src/data/folder.js";
import { FolderReader } from "../../src/data/folder-reader.js";
import { batches, epochOrder, gatherBatch, gatherLabels } from "../../src/data/loader.js";
import { inMemoryData } from "../../src/data/training-data.js";
import { isUserError, patternImages, removeDir, tmpDir, writePngFolder } from "./fixtures.js";

const root = tmpDir("folder-reader");
after(() => removeDir(root));

const SIZE = 6;
const classes = path.join(root, "classes");
const flat = path.join(root, "flat");
const opts = { size: SIZE, workers: 2 };

async function collect(stream: AsyncIterable<ImageSet>): Promise<ImageSet[]> {
  const out: ImageSet[] = [];
  for await (const b of stream) out.push(b);
  return out;
}

before(async () => {
  const n = 30;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  await writePngFolder(classes, { images: patternImages(n, 3 * SIZE * SIZE), n, channels: 3, height: SIZE, width: SIZE, labels, classes: ["a", "b", "c"], ids: null });
  // 8 good images img0..img7 and two that do not decode. Listing order (by code point):
  // img0 img1 img2 img3 img3b(bad) img4 img5 img6 img7 img9x(bad): bad files at indices 4 and 9.
  await writePngFolder(path.join(root, "good"), { images: patternImages(8, 3 * SIZE * SIZE), n: 8, channels: 3, height: SIZE, width: SIZE, labels: null, classes: null, ids: null });
  fs.mkdirSync(flat);
  for (let i = 0; i < 8; i++) fs.renameSync(path.join(root, "good", `${i}.png`), path.join(flat, `img${i}.png`));
  fs.writeFileSync(path.join(flat, "img3b.jpg"), "this is not a JPEG");
  fs.writeFileSync(path.join(flat, "img9x.jpg"), "nor is this");
});

test("streamed batches for (seed, epoch) equal the in-memory gather byte for byte, from any batch on", async () => {
  const set = await loadFolder(classes, opts);
  const memory = inMemoryData(set);
  const reader = FolderReader.open(classes, { ...opts, prefetch: 2 });
  try {
    assert.deepEqual([reader.n, reader.channels, reader.height, reader.width], [set.n, 3, SIZE, SIZE]);
    assert.deepEqual(Array.from(reader.labels!), Array.from(set.labels!));
    for (const [epoch, rank, worldSize] of [[0, 0, 1], [1, 0, 1], [1, 1, 2]]) {
      const list = batches(epochOrder(set.n, 7, epoch, { shuffle: true, rank, worldSize }), 4, true);
      for (const from of [0, 2]) {
        const before = reader.stats.decoded;
        const got = await collect(reader.batches(list.slice(from)));
        const want = await collect(memory.batches(list.slice(from)));
        assert.equal(got.length, list.length - from);
        assert.equal(reader.stats.decoded - before, (list.length - from) * 4, "only the batches asked for are decoded");
        for (let j = 0; j < got.length; j++) {
          const idx = list[from + j];
          assert.ok(Buffer.from(got[j].images).equals(Buffer.from(gatherBatch(set, idx))), `epoch ${epoch} rank ${rank} batch ${from + j}: pixels`);
          assert.ok(Buffer.from(want[j].images).equals(Buffer.from(got[j].images)));
          assert.deepEqual(Array.from(got[j].labels!), Array.from(gatherLabels(set, idx)));
          assert.deepEqual(got[j].ids, Array.from(idx, (i) => set.ids![i]));
        }
      }
    }
    assert.deepEqual(await reader.take([5, 0, 29]), await memory.take([5, 0, 29]));
    assert.equal(reader.stats.pools, 1, "one worker pool served every epoch");
  } finally {
    await reader.close();
  }
});

test("decoding ahead is bounded by prefetch x batch size, and breaking off leaves the reader usable", async () => {
  const reader = FolderReader.open(classes, { ...opts, prefetch: 2 });
  try {
    const list = batches(epochOrder(reader.n, 1, 0, { shuffle: true }), 3, true);
    let seen = 0;
    for await (const b of reader.batches(list)) {
      seen += b.n;
      assert.ok(reader.stats.ahead <= 2 * 3, `${reader.stats.ahead} images decoded ahead`);
      await new Promise((r) => setTimeout(r, 15)); // a slow consumer: the workers get every chance to run ahead
    }
    assert.equal(seen, 30);
    assert.ok(reader.stats.maxAhead <= 2 * 3, `at most prefetch x batch decoded but unconsumed, saw ${reader.stats.maxAhead}`);
    assert.ok(reader.stats.maxAhead >= 3, `decoding ran ahead of the consumer (${reader.stats.maxAhead})`);
    for await (const b of reader.batches(list)) {
      assert.equal(b.n, 3);
      break;
    }
    const again = await collect(reader.batches(list.slice(0, 2)));
    assert.deepEqual(again.map((b) => b.n), [3, 3]);
    assert.equal(reader.stats.pools, 1);
  } finally {
    await reader.close();
  }
});

test("skip: a bad file's slot goes to the next decodable file of the listing, the same every time", async () => {
  const warnings: string[] = [];
  const reader = FolderReader.open(flat, { ...opts, onBadImage: "skip", warn: (l) => warnings.push(l) });
  try {
    assert.equal(reader.n, 10);
    const list = [Int32Array.of(4, 0, 9), Int32Array.of(9, 4, 1)];
    const ids = (bs: ImageSet[]) => bs.map((b) => b.ids);
    const first = await collect(reader.batches(list));
    // 4 (img3b) → 5 (img4); 9 (img9x, the last file) wraps around to 0 (img0).
    assert.deepEqual(ids(first), [["img4.png", "img0.png", "img0.png"], ["img0.png", "img4.png", "img1.png"]]);
    assert.ok(first.every((b) => b.n === 3 && b.images.length === 3 * 3 * SIZE * SIZE), "batches stay full");
    assert.ok(Buffer.from(first[0].images.subarray(0, 108)).equals(Buffer.from((await reader.take([5])).images)));
    const second = await collect(reader.batches(list));
    assert.deepEqual(ids(second), ids(first));
    assert.equal(reader.skipped, 2);
    assert.equal(warnings.length, 2, "each bad file is reported once");
    assert.match(warnings[0], /^warning: skipping .*img3b\.jpg: cannot decode image/);
    // take (evaluation sets, statistics) leaves bad files out.
    assert.deepEqual((await reader.take([4, 1, 9])).ids, ["img1.png"]);
  } finally {
    await reader.close();
  }
});

test("error: the first bad file in batch order stops with one line naming it", async () => {
  const reader = FolderReader.open(flat, opts);
  try {
    await assert.rejects(collect(reader.batches([Int32Array.of(1, 2), Int32Array.of(9, 4)])), isUserError(path.join(flat, "img9x.jpg"), "cannot decode image"));
    await assert.rejects(reader.take([0, 4]), isUserError(path.join(flat, "img3b.jpg")));
  } finally {
    await reader.close();
  }
});

test("a folder where nothing decodes is a UserError under skip too", async () => {
  const d = path.join(root, "all-bad");
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, "a.jpg"), "x");
  fs.writeFileSync(path.join(d, "b.jpg"), "y");
  const reader = FolderReader.open(d, { ...opts, onBadImage: "skip", warn: () => {} });
  try {
    await assert.rejects(collect(reader.batches([Int32Array.of(0)])), isUserError(d, "none of the 2 images"));
    await assert.rejects(reader.take([0, 1]), isUserError(d, "none of the 2 images"));
  } finally {
    await reader.close();
  }
});

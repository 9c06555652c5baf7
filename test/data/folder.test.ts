import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { PNG } from "pngjs";
import sharp from "sharp";
import { imageAt } from "../../src/data/dataset.js";
import { folderStream, listFolder, loadFolder } from "../../src/data/folder.js";
import { isUserError, removeDir, tmpDir } from "./fixtures.js";

const root = tmpDir("folder");
after(() => removeDir(root));

type RGB = [number, number, number];
const RED: RGB = [255, 0, 0];
const GREEN: RGB = [0, 255, 0];
const BLUE: RGB = [0, 0, 255];

// A PNG (lossless, so pixel values are exact) whose pixel (x, y) has colour fn(x, y).
function writePng(file: string, w: number, h: number, fn: (x: number, y: number) => RGB): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = fn(x, y);
      png.data.set([r, g, b, 255], (y * w + x) * 4);
    }
  }
  fs.writeFileSync(file, PNG.sync.write(png));
}

async function writeSolid(file: string, format: "jpeg" | "webp", [r, g, b]: RGB): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: 12, height: 9, channels: 3, background: { r, g, b } } })[format]({ quality: 95 }).toFile(file);
}

function writeBad(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "this is not a JPEG");
}

const near = (a: number, b: number, tol = 12) => Math.abs(a - b) <= tol;
const pixel = (img: Uint8Array, plane: number, p: number): RGB => [img[p], img[plane + p], img[2 * plane + p]];
const classes = path.join(root, "classes");
const flat = path.join(root, "flat");
const opts = { size: 6, workers: 2 };

before(async () => {
  writePng(path.join(classes, "cats", "a.png"), 10, 8, () => RED);
  await writeSolid(path.join(classes, "cats", "b.jpg"), "jpeg", GREEN);
  await writeSolid(path.join(classes, "dogs", "c.webp"), "webp", BLUE);
  writePng(path.join(classes, "dogs", "nested", "d.PNG"), 8, 8, () => [10, 20, 30]);
  writePng(path.join(classes, "dogs", ".hidden.png"), 8, 8, () => RED);
  fs.writeFileSync(path.join(classes, "dogs", "notes.txt"), "ignored");
  fs.mkdirSync(path.join(classes, "zebra")); // empty class keeps its label
  // 23 flat images whose grey value encodes their position.
  for (let i = 0; i < 23; i++) writePng(path.join(flat, `img${String(i).padStart(2, "0")}.png`), 5, 5, () => [i * 10, i * 10, i * 10]);
});

test("class subfolders: sorted classes, labels, relative ids, decoded pixels", async () => {
  const set = await loadFolder(classes, opts);
  assert.deepEqual(set.classes, ["cats", "dogs", "zebra"]);
  assert.deepEqual(set.ids, ["cats/a.png", "cats/b.jpg", "dogs/c.webp", "dogs/nested/d.PNG"]);
  assert.deepEqual(Array.from(set.labels!), [0, 0, 1, 1]);
  assert.deepEqual([set.n, set.channels, set.height, set.width], [4, 3, 6, 6]);
  const want: RGB[] = [RED, GREEN, BLUE, [10, 20, 30]];
  for (let i = 0; i < 4; i++) {
    const img = imageAt(set, i);
    for (const p of [0, 17, 35]) {
      const got = pixel(img, 36, p);
      assert.ok(got.every((v, c) => near(v, want[i][c])), `image ${i} pixel ${p}: ${got} vs ${want[i]}`);
    }
  }
});

test("a flat folder is unlabeled", async () => {
  const set = await loadFolder(flat, { ...opts, size: { height: 2, width: 3 } });
  assert.equal(set.n, 23);
  assert.equal(set.labels, null);
  assert.equal(set.classes, null);
  assert.deepEqual([set.height, set.width], [2, 3]);
  assert.equal(set.ids![22], "img22.png");
});

test("resize covers the target then crops the centre (no stretching)", async () => {
  // 40x20: red columns 0-3, green 4-35, blue 36-39. Covering 8x8 scales to 16x8 and keeps source
  // columns 10-30, all green; a stretch would put red and blue at the edges.
  const file = path.join(root, "wide", "w.png");
  writePng(file, 40, 20, (x) => (x < 4 ? RED : x < 36 ? GREEN : BLUE));
  const set = await loadFolder(path.dirname(file), { size: 8, workers: 1 });
  const img = imageAt(set, 0);
  for (let p = 0; p < 64; p++) {
    const [r, g, b] = pixel(img, 64, p);
    assert.ok(r < 40 && g > 215 && b < 40, `pixel ${p} is ${[r, g, b]}`);
  }
});

test("one channel: grey by ITU-R 601 weights, as PIL and torchvision", async () => {
  const set = await loadFolder(path.join(classes, "cats"), { size: 4, channels: 1, workers: 1, limit: 1 });
  assert.equal(set.channels, 1);
  assert.equal(set.images.length, 16);
  assert.ok(set.images.every((v) => v === 76), `pure red → 76, got ${set.images[0]}`); // 0.299 * 255
});

test("batches are full, in file order, with decoding ahead bounded", async () => {
  const stream = folderStream(flat, { size: 2, batchSize: 5, workers: 2, prefetch: 1 });
  const sizes: number[] = [];
  const values: number[] = [];
  for await (const b of stream) {
    sizes.push(b.n);
    for (let i = 0; i < b.n; i++) values.push(imageAt(b, i)[0]);
  }
  assert.deepEqual(sizes, [5, 5, 5, 5, 3]);
  assert.deepEqual(values, Array.from({ length: 23 }, (_, i) => i * 10));
  assert.equal(stream.skipped, 0);
});

test("breaking out of a stream early stops cleanly", async () => {
  let seen = 0;
  for await (const b of folderStream(flat, { size: 2, batchSize: 4, workers: 2 })) {
    seen += b.n;
    break;
  }
  assert.equal(seen, 4);
});

test("limit picks files spread over the listing", () => {
  const l = listFolder(flat, 5);
  assert.deepEqual(l.files, ["img00.png", "img04.png", "img09.png", "img13.png", "img18.png"]);
  const c = listFolder(classes, 2);
  assert.deepEqual(Array.from(c.labels!), [0, 1]);
});

test("an undecodable .jpg: error mode throws a UserError naming it", async () => {
  const d = path.join(root, "bad-error");
  writePng(path.join(d, "a", "ok.png"), 4, 4, () => RED);
  writeBad(path.join(d, "b", "broken.jpg"));
  await assert.rejects(loadFolder(d, opts), isUserError(path.join(d, "b", "broken.jpg"), "cannot decode image"));
  await assert.rejects(loadFolder(d, { ...opts, onBadImage: "error" }), isUserError("broken.jpg"));
});

test("an undecodable .jpg: skip mode warns once per image and keeps batches full", async () => {
  const d = path.join(root, "bad-skip");
  for (let i = 0; i < 7; i++) writePng(path.join(d, `f${i}.png`), 3, 3, () => [i, i, i]);
  writeBad(path.join(d, "f2x.jpg"));
  writeBad(path.join(d, "f5x.jpg"));
  const warnings: string[] = [];
  const stream = folderStream(d, { size: 3, batchSize: 3, workers: 2, onBadImage: "skip", warn: (l) => warnings.push(l) });
  const ids: string[] = [];
  const sizes: number[] = [];
  for await (const b of stream) {
    sizes.push(b.n);
    ids.push(...b.ids!);
  }
  assert.deepEqual(sizes, [3, 3, 1]);
  assert.deepEqual(ids, ["f0.png", "f1.png", "f2.png", "f3.png", "f4.png", "f5.png", "f6.png"]);
  assert.equal(stream.skipped, 2);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /^warning: skipping .*f2x\.jpg: cannot decode image/);
  assert.ok(!warnings[0].includes("\n"));
});

test("a folder where nothing decodes is a UserError", async () => {
  const d = path.join(root, "all-bad");
  writeBad(path.join(d, "x.jpg"));
  await assert.rejects(loadFolder(d, { ...opts, onBadImage: "skip", warn: () => {} }), isUserError(d, "none of the 1 images"));
});

test("missing, empty and mixed folders are UserErrors", () => {
  const missing = path.join(root, "missing");
  assert.throws(() => listFolder(missing), isUserError(missing, "not found"));
  const empty = path.join(root, "empty");
  fs.mkdirSync(path.join(empty, "sub"), { recursive: true });
  fs.writeFileSync(path.join(empty, "readme.txt"), "x");
  assert.throws(() => listFolder(empty), isUserError(empty, "no images found"));
  const mixed = path.join(root, "mixed");
  writePng(path.join(mixed, "loose.png"), 2, 2, () => RED);
  writePng(path.join(mixed, "cls", "in.png"), 2, 2, () => RED);
  assert.throws(() => listFolder(mixed), isUserError(mixed, "loose.png", "class subfolder"));
});

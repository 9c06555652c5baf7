import { test } from "node:test";
import assert from "node:assert/strict";
import { PNG } from "pngjs";
import { encodeGrid, encodePng, imageGrid, imageGridFromList, pngDataUri } from "../../src/util/png.js";

test("encodePng round-trips a grey image through pngjs", () => {
  const w = 3;
  const h = 2;
  const px = Uint8Array.from([0, 50, 100, 150, 200, 255]);
  const buf = encodePng(px, w, h, 1);
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const back = PNG.sync.read(buf);
  assert.equal(back.width, w);
  assert.equal(back.height, h);
  assert.equal(back.colorType, 0, "stored as greyscale, not expanded to RGBA");
  // pngjs decodes to RGBA; grey g becomes (g, g, g, 255).
  for (let i = 0; i < w * h; i++) assert.deepEqual([...back.data.subarray(4 * i, 4 * i + 4)], [px[i], px[i], px[i], 255]);
});

test("encodePng round-trips an RGB image", () => {
  const px = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
  const back = PNG.sync.read(encodePng(px, 2, 2, 3));
  assert.equal(back.colorType, 2);
  for (let i = 0; i < 4; i++) assert.deepEqual([...back.data.subarray(4 * i, 4 * i + 3)], [...px.subarray(3 * i, 3 * i + 3)]);
});

test("encodePng accepts a view into a larger buffer", () => {
  const big = new Uint8Array(20).map((_, i) => i * 10);
  const back = PNG.sync.read(encodePng(big.subarray(5, 9), 2, 2, 1));
  assert.deepEqual([0, 1, 2, 3].map((i) => back.data[4 * i]), [50, 60, 70, 80]);
});

test("encodePng rejects wrong sizes", () => {
  assert.throws(() => encodePng(new Uint8Array(5), 3, 2, 1), /expected 6 bytes/);
  assert.throws(() => encodePng(new Uint8Array(0), 0, 0, 1), /bad image size/);
  assert.throws(() => encodePng(new Uint8Array(8), 2, 2, 2 as 1), /channels/);
});

test("pngDataUri is base64 of the bytes", () => {
  const buf = encodePng(new Uint8Array([7]), 1, 1, 1);
  const uri = pngDataUri(buf);
  assert.ok(uri.startsWith("data:image/png;base64,"));
  assert.deepEqual(Buffer.from(uri.slice(22), "base64"), buf);
});

test("imageGrid places images row-major with padding", () => {
  // Five 2x2 grey images, image i filled with value 10*(i+1); 3 columns -> 2 rows, last row partial.
  const n = 5;
  const imgs = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) imgs.fill(10 * (i + 1), i * 4, (i + 1) * 4);
  const g = imageGrid(imgs, n, 1, 2, 2, 3, { pad: 1, background: 0 });
  assert.equal(g.width, 1 + 3 * (2 + 1));
  assert.equal(g.height, 1 + 2 * (2 + 1));
  assert.equal(g.channels, 1);
  const at = (x: number, y: number): number => g.pixels[y * g.width + x]!;
  for (let i = 0; i < n; i++) {
    const x0 = 1 + (i % 3) * 3;
    const y0 = 1 + Math.floor(i / 3) * 3;
    for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) assert.equal(at(x0 + dx, y0 + dy), 10 * (i + 1), `image ${i}`);
  }
  assert.equal(at(0, 0), 0, "border is background");
  assert.equal(at(3, 1), 0, "gap between tiles is background");
  assert.equal(at(7, 4), 0, "empty sixth cell is background");
  const back = PNG.sync.read(encodeGrid(g));
  assert.equal(back.width, g.width);
  assert.equal(back.data[4 * (1 * g.width + 4)], 20);
});

test("imageGrid converts planar RGB to interleaved and upscales by nearest neighbour", () => {
  // One 1x2 RGB image (CHW): pixel0 = (1,3,5), pixel1 = (2,4,6).
  const img = Uint8Array.from([1, 2, 3, 4, 5, 6]);
  const g = imageGrid(img, 1, 3, 1, 2, 4, { pad: 0, scale: 3 });
  assert.equal(g.width, 6);
  assert.equal(g.height, 3);
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 6; x++) {
      const o = (y * 6 + x) * 3;
      assert.deepEqual([...g.pixels.subarray(o, o + 3)], x < 3 ? [1, 3, 5] : [2, 4, 6], `(${x},${y})`);
    }
  }
});

test("imageGridFromList matches imageGrid and handles an empty list", () => {
  const a = Uint8Array.from([1, 2, 3, 4]);
  const b = Uint8Array.from([5, 6, 7, 8]);
  const both = new Uint8Array([...a, ...b]);
  assert.deepEqual(imageGridFromList([a, b], 1, 2, 2, 2), imageGrid(both, 2, 1, 2, 2, 2));
  const empty = imageGridFromList([], 1, 2, 2, 4, { pad: 1, background: 9 });
  assert.ok(empty.width > 0 && empty.height > 0);
  assert.ok(empty.pixels.every((v) => v === 9));
  assert.throws(() => imageGridFromList([new Uint8Array(3)], 1, 2, 2, 1), /image 0 has 3 bytes/);
  assert.throws(() => imageGrid(both, 3, 1, 2, 2, 2), /expected at least/);
});

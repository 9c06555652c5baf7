import assert from "node:assert/strict";
import { test } from "node:test";
import { PNG } from "pngjs";
import * as T from "../../src/torch/index.js";
import { ViewAugmenter, byolPresets, grayscale28Presets, renderPreview } from "../../src/augment/index.js";
import { UserError } from "../../src/util/errors.js";

T.setNumThreads(1);

function pair(cfgs: ReturnType<typeof byolPresets>, c: number): [ViewAugmenter, ViewAugmenter] {
  return [new ViewAugmenter(cfgs[0], c), new ViewAugmenter(cfgs[1], c)];
}

function images(n: number, c: number, side: number): Uint8Array {
  const a = new Uint8Array(n * c * side * side);
  for (let i = 0; i < a.length; i++) a[i] = (i * 37 + (i >> 5) * 11) % 256;
  return a;
}

test("preview: rows of original | view-1 samples | view-2 samples, originals shown as they are", () => {
  const n = 3, side = 28, samples = 2;
  const imgs = images(n, 1, side);
  const png = PNG.sync.read(renderPreview(imgs, n, 1, side, side, pair(grayscale28Presets(), 1), { samples, seed: 1 }));
  const scale = 3, pad = 2, cols = 3 + 2 * samples; // original, gap, samples, gap, samples
  assert.equal(png.width, pad + cols * (side * scale + pad));
  assert.equal(png.height, pad + n * (side * scale + pad));
  // Top-left pixel of image 1's original tile (RGBA after decoding) is its first pixel.
  const at = (x: number, y: number) => png.data[(y * png.width + x) * 4]!;
  const y0 = pad + 1 * (side * scale + pad);
  assert.equal(at(pad, y0), imgs[side * side]);
  assert.equal(at(pad + 5 * scale, y0 + 7 * scale), imgs[side * side + 7 * side + 5]);
  // The gap column is background.
  assert.equal(at(pad + side * scale + pad + 10, y0 + 10), 255);
});

test("preview is reproducible by seed and leaves the global generator as it was", () => {
  const imgs = images(2, 3, 32);
  const augs = pair(byolPresets(24), 3); // views smaller than the originals: originals are resized
  T.manualSeed(99);
  const a = renderPreview(imgs, 2, 3, 32, 32, augs, { samples: 3, seed: 5 });
  const after = T.rand([4]).toList();
  T.manualSeed(99);
  assert.deepEqual(T.rand([4]).toList(), after, "generator state restored");
  const b = renderPreview(imgs, 2, 3, 32, 32, augs, { samples: 3, seed: 5 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(renderPreview(imgs, 2, 3, 32, 32, augs, { samples: 3, seed: 6 }), a);
  const png = PNG.sync.read(a);
  assert.equal(png.width, 2 + 9 * (24 * 4 + 2));
  assert.throws(() => renderPreview(imgs, 2, 1, 32, 32, augs), UserError);
  assert.throws(() => renderPreview(imgs, 5, 3, 32, 32, augs), /expected/);
});

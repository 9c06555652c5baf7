import assert from "node:assert/strict";
import { test } from "node:test";
import { channelStats, concatSets, head, imageAt, imageBytes, subset, type ImageSet } from "../../src/data/dataset.js";

function tiny(n: number, labeled = true): ImageSet {
  const images = new Uint8Array(n * 2 * 2 * 3);
  for (let i = 0; i < images.length; i++) images[i] = i & 0xff;
  return {
    images, n, channels: 2, height: 2, width: 3,
    labels: labeled ? Int32Array.from({ length: n }, (_, i) => i % 2) : null,
    classes: labeled ? ["a", "b"] : null,
    ids: Array.from({ length: n }, (_, i) => `img${i}`),
  };
}

test("imageAt returns a view of one image", () => {
  const set = tiny(3);
  assert.equal(imageBytes(set), 12);
  const v = imageAt(set, 1);
  assert.deepEqual(Array.from(v), Array.from({ length: 12 }, (_, k) => 12 + k));
  v[0] = 200;
  assert.equal(set.images[12], 200, "a view, not a copy");
  assert.throws(() => imageAt(set, 3), RangeError);
  assert.throws(() => imageAt(set, -1), RangeError);
});

test("subset copies images, labels and ids in the given order", () => {
  const set = tiny(4);
  const s = subset(set, [3, 0, 3]);
  assert.equal(s.n, 3);
  assert.deepEqual(Array.from(imageAt(s, 0)), Array.from(imageAt(set, 3)));
  assert.deepEqual(Array.from(imageAt(s, 1)), Array.from(imageAt(set, 0)));
  assert.deepEqual(Array.from(s.labels!), [1, 0, 1]);
  assert.deepEqual(s.ids, ["img3", "img0", "img3"]);
  s.images[0] = 99;
  assert.notEqual(set.images[36], 99, "a copy");
  assert.throws(() => subset(set, [4]), RangeError);
});

test("head keeps the first images", () => {
  const s = head(tiny(5), 2);
  assert.equal(s.n, 2);
  assert.equal(s.images.length, 24);
  assert.deepEqual(Array.from(s.labels!), [0, 1]);
  assert.deepEqual(s.ids, ["img0", "img1"]);
});

test("concatSets marks images from unlabeled parts with label -1", () => {
  const a = tiny(2, false);
  const b = tiny(3, true);
  const c = concatSets([a, b]);
  assert.equal(c.n, 5);
  assert.deepEqual(Array.from(c.labels!), [-1, -1, 0, 1, 0]);
  assert.deepEqual(c.classes, ["a", "b"]);
  assert.deepEqual(Array.from(imageAt(c, 2)), Array.from(imageAt(b, 0)));
  assert.equal(c.ids!.length, 5);
  assert.throws(() => concatSets([a, { ...b, width: 4 }]), /shapes differ/);
});

test("channelStats gives per-channel mean and std on the [0, 1] scale", () => {
  // Two 1x2 images, two channels: channel 0 values {0, 255, 0, 255}, channel 1 all 51.
  const set: ImageSet = {
    images: Uint8Array.from([0, 255, 51, 51, 0, 255, 51, 51]),
    n: 2, channels: 2, height: 1, width: 2, labels: null, classes: null, ids: null,
  };
  const { mean, std } = channelStats(set);
  assert.deepEqual(mean, [0.5, 0.2]);
  assert.ok(Math.abs(std[0] - 0.5) < 1e-12);
  assert.ok(Math.abs(std[1]) < 1e-12);
});

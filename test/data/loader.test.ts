import assert from "node:assert/strict";
import { test } from "node:test";
import type { ImageSet } from "../../src/data/dataset.js";
import { batches, epochOrder, gatherBatch, gatherLabels, prng } from "../../src/data/loader.js";

const sorted = (a: ArrayLike<number>) => Array.from(a).sort((x, y) => x - y);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test("same seed and epoch give the same permutation; epochs and seeds differ", () => {
  const a = epochOrder(100, 42, 3, { shuffle: true });
  const b = epochOrder(100, 42, 3, { shuffle: true });
  assert.deepEqual(a, b);
  assert.deepEqual(sorted(a), range(100), "a permutation of 0..n-1");
  assert.notDeepEqual(Array.from(a), range(100));
  assert.notDeepEqual(a, epochOrder(100, 42, 4, { shuffle: true }));
  assert.notDeepEqual(a, epochOrder(100, 43, 3, { shuffle: true }));
  // Seeds above 2^32 still matter.
  assert.notDeepEqual(epochOrder(50, 2 ** 32 + 1, 0, { shuffle: true }), epochOrder(50, 1, 0, { shuffle: true }));
});

test("the order is pinned: changing the PRNG would silently change resumed and multi-rank runs", () => {
  assert.deepEqual(Array.from(epochOrder(10, 0, 0, { shuffle: true })), [8, 5, 1, 3, 2, 9, 6, 7, 4, 0]);
  assert.deepEqual(Array.from(epochOrder(10, 0, 1, { shuffle: true })), [0, 4, 5, 3, 1, 8, 7, 2, 6, 9]);
  const r = prng(1, 0);
  for (let k = 0; k < 1000; k++) {
    const v = r();
    assert.ok(v >= 0 && v < 1);
  }
});

test("shuffle false keeps 0..n-1", () => {
  assert.deepEqual(Array.from(epochOrder(7, 1, 1, { shuffle: false })), range(7));
  assert.equal(epochOrder(0, 1, 1, { shuffle: true }).length, 0);
});

test("shards are disjoint, equal in size and cover everything when n divides", () => {
  const n = 24;
  const world = 4;
  const shards = range(world).map((rank) => epochOrder(n, 7, 2, { shuffle: true, rank, worldSize: world }));
  for (const s of shards) assert.equal(s.length, 6);
  assert.deepEqual(sorted(shards.flatMap((s) => Array.from(s))), range(n));
  // Each shard is the strided slice of the global order, as in PyTorch's DistributedSampler.
  const global = epochOrder(n, 7, 2, { shuffle: true });
  assert.deepEqual(Array.from(shards[1]), Array.from(global).filter((_, i) => i % world === 1));
});

test("when n does not divide, shards are padded by wrapping to equal size", () => {
  const n = 10;
  const world = 4;
  const global = Array.from(epochOrder(n, 5, 0, { shuffle: true }));
  const padded = [...global, global[0], global[1]]; // 12 = ceil(10/4)*4
  const shards = range(world).map((rank) => Array.from(epochOrder(n, 5, 0, { shuffle: true, rank, worldSize: world })));
  for (let rank = 0; rank < world; rank++) {
    assert.deepEqual(shards[rank], padded.filter((_, i) => i % world === rank));
  }
  assert.deepEqual([...new Set(shards.flat())].sort((a, b) => a - b), range(n), "every index is covered");
  // Padding more than n (tiny set, many ranks) wraps repeatedly.
  const tiny = range(5).map((rank) => Array.from(epochOrder(2, 0, 0, { shuffle: false, rank, worldSize: 5 })));
  assert.deepEqual(tiny, [[0], [1], [0], [1], [0]]);
});

test("dropLast sharding trims instead of padding: disjoint, no repeats", () => {
  const shards = range(3).map((rank) => Array.from(epochOrder(11, 9, 1, { shuffle: true, rank, worldSize: 3, dropLast: true })));
  for (const s of shards) assert.equal(s.length, 3);
  const all = shards.flat();
  assert.equal(new Set(all).size, 9);
});

test("bad rank or world size is rejected", () => {
  assert.throws(() => epochOrder(10, 0, 0, { shuffle: true, rank: 2, worldSize: 2 }), RangeError);
  assert.throws(() => epochOrder(10, 0, 0, { shuffle: true, worldSize: 0 }), RangeError);
});

test("batches splits an order, with or without the short last batch", () => {
  const order = Int32Array.from(range(10));
  assert.deepEqual(batches(order, 4, false).map((b) => Array.from(b)), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  assert.deepEqual(batches(order, 4, true).map((b) => Array.from(b)), [[0, 1, 2, 3], [4, 5, 6, 7]]);
  assert.deepEqual(batches(order, 5, true).length, 2);
  assert.throws(() => batches(order, 0, false), RangeError);
});

test("gatherBatch packs the chosen images' NCHW bytes", () => {
  const set: ImageSet = {
    images: Uint8Array.from(range(4 * 2 * 2 * 1)), n: 4, channels: 1, height: 2, width: 2,
    labels: Int32Array.from([5, 6, 7, 8]), classes: null, ids: null,
  };
  assert.deepEqual(Array.from(gatherBatch(set, [2, 0])), [8, 9, 10, 11, 0, 1, 2, 3]);
  assert.deepEqual(Array.from(gatherLabels(set, Int32Array.from([3, 1]))), [8, 6]);
  assert.throws(() => gatherBatch(set, [4]), RangeError);
});

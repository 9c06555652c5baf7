// The host's cost of the views: on a GPU every native call is host time while the device waits, so
// two views of a batch must take a fixed, small number of calls whatever the batch size, and never
// wait for the device (no read-backs).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { ViewAugmenter, makeViews, presetByName, type PresetName } from "../../src/augment/index.js";

T.setNumThreads(1);

const MAX_OPS = 120;
const MAX_RELEASES = 120;

function counted(augs: [ViewAugmenter, ViewAugmenter], n: number, c: number, side: number): T.NativeCallCounts {
  const x = T.randint(0, 256, [n, c, side, side], { dtype: "uint8" });
  // The first call uploads the augmenters' constants (kept for their lifetime); count a later one.
  makeViews(x, augs).forEach((v) => v.dispose());
  const live = T.liveTensors();
  const { result, counts } = T.countNativeCalls(() => makeViews(x, augs));
  result.forEach((v) => v.dispose());
  assert.equal(T.liveTensors(), live, "every intermediate is freed");
  x.dispose();
  return counts;
}

const cases: [PresetName, number, number, number][] = [
  // preset, channels, input side, output side (the paper's pair on smaller images: same op sequence)
  ["byol", 3, 72, 64],
  ["cifar", 3, 32, 32],
  ["gray28", 1, 28, 28],
];

for (const [preset, c, side, size] of cases) {
  test(`${preset}: two views take ≤ ${MAX_OPS} op calls and ≤ ${MAX_RELEASES} releases at batch 8 and 256, no read-back`, () => {
    const augs = presetByName(preset, size).map((cfg) => new ViewAugmenter(cfg, c)) as [ViewAugmenter, ViewAugmenter];
    const small = counted(augs, 8, c, side);
    const large = counted(augs, 256, c, side);
    for (const [n, k] of [[8, small], [256, large]] as const) {
      assert.ok(k.ops <= MAX_OPS, `batch ${n}: ${k.ops} op calls (${JSON.stringify(k.byName)})`);
      assert.ok(k.releases <= MAX_RELEASES, `batch ${n}: ${k.releases} releases`);
      assert.equal(k.readBacks, 0, `batch ${n}: read-backs ${JSON.stringify(k.byName)}`);
    }
    assert.deepEqual(large.byName, small.byName, "the same calls at both batch sizes");
  });
}

test("one view alone also takes a batch-independent number of calls", () => {
  const aug = new ViewAugmenter(presetByName("byol", 32)[1], 3);
  const count = (n: number) => {
    const x = T.randint(0, 256, [n, 3, 40, 40], { dtype: "uint8" });
    aug.apply(x).dispose();
    const { result, counts } = T.countNativeCalls(() => aug.apply(x));
    result.dispose();
    x.dispose();
    return counts;
  };
  const a = count(4);
  const b = count(64);
  assert.deepEqual(a.byName, b.byName);
  assert.equal(a.readBacks, 0);
  // A scope per stage (and per jitter slot) frees its intermediates in one call each.
  assert.ok(a.releases <= 25, `${a.releases} release calls`);
});

test("views whose configs cannot share a pass are computed one after the other, with the same results per view", () => {
  const [t1, t2] = presetByName("cifar", 32);
  t2.outputSize = 24;
  const augs = [new ViewAugmenter(t1, 3), new ViewAugmenter(t2, 3)] as [ViewAugmenter, ViewAugmenter];
  assert.equal(augs[0].pairedWith(augs[1]), null);
  T.tidy(() => {
    const x = T.randint(0, 256, [4, 3, 32, 32], { dtype: "uint8" });
    T.manualSeed(3);
    const [v1, v2] = makeViews(x, augs);
    T.manualSeed(3);
    const w1 = augs[0].apply(x);
    const w2 = augs[1].apply(x);
    assert.deepEqual(v2.shape, [4, 3, 24, 24]);
    assert.deepEqual(Array.from(v1.toFloat32Array()), Array.from(w1.toFloat32Array()));
    assert.deepEqual(Array.from(v2.toFloat32Array()), Array.from(w2.toFloat32Array()));
  });
});

// Multi-crop's local views (src/augment/local.ts): what they draw (crop area range, output size, T/T′
// alternation, per-image and per-view independence) and what they cost (one more batched pass: a
// fixed number of native calls whatever the batch size and the number of local views, no read-back).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import {
  LocalViewAugmenter, ViewAugmenter, grayscale28Presets, localViewConfigs, makeViews, presetByName, type ViewDraws,
} from "../../src/augment/index.js";
import { UserError } from "../../src/util/errors.js";
import { values } from "./helpers.js";

T.setNumThreads(1);

const LV = { count: 2, outputSize: 12, minScale: 0.05, maxScale: 0.4 };

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
function corr(a: number[], b: number[]): number {
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

test("local view j takes global view (j mod 2)'s photometric pipeline, with the local crop range and size", () => {
  const globals = grayscale28Presets();
  const cfgs = localViewConfigs(globals, { ...LV, count: 3 });
  assert.equal(cfgs.length, 3);
  for (const [j, c] of cfgs.entries()) {
    const g = globals[j % 2]!;
    assert.equal(c.outputSize, 12);
    assert.deepEqual(c.crop.scale, [0.05, 0.4]);
    assert.deepEqual(c.crop.ratio, g.crop.ratio);
    assert.deepEqual([c.blur.p, c.solarize.p, c.jitter, c.flipP, c.mean, c.std], [g.blur.p, g.solarize.p, g.jitter, g.flipP, g.mean, g.std]);
  }
  assert.equal(globals[0].outputSize, 28, "the global configs are left alone");
  assert.deepEqual(localViewConfigs(globals, { ...LV, count: 0 }), []);
  for (const bad of [{ count: 1.5 }, { count: -1 }, { outputSize: 0 }, { minScale: 0 }, { maxScale: 0.01 }, { maxScale: 1.5 }]) {
    assert.throws(() => localViewConfigs(globals, { ...LV, ...bad }), UserError, JSON.stringify(bad));
  }
  assert.throws(() => new LocalViewAugmenter(globals, { ...LV, count: 0 }, 1), UserError);
});

test("crop areas fill [minScale, maxScale], outputs are S×S, and every image and every local view draws its own", () => {
  const n = 600;
  const aug = new LocalViewAugmenter(grayscale28Presets(), { ...LV, count: 2 }, 1);
  T.manualSeed(11);
  T.tidy(() => {
    const x = T.randint(0, 256, [n, 1, 28, 28], { dtype: "uint8" });
    let drawn: number[][] = [];
    const out = aug.apply(x, (d: ViewDraws) => {
      drawn = [d.boxes.size, d.boxes.pos, d.solarized.float(), d.blurred.float()].map(values);
    });
    assert.deepEqual(out.shape, [2 * n, 1, 12, 12]);
    assert.equal(out.dtype, "float32");
    assert.ok(values(out).every(Number.isFinite));
    const [wh, pos, sol, blur] = drawn as [number[], number[], number[], number[]];
    const area = Array.from({ length: 2 * n }, (_, i) => (wh[2 * i]! * wh[2 * i + 1]!) / (28 * 28));
    // Sides are whole pixels (rounded from √(area·r)): at ≥ 5 px a side moves by at most 10%.
    assert.ok(Math.min(...area) >= 0.05 * 0.8 && Math.max(...area) <= 0.4 * 1.2, `areas in [${Math.min(...area)}, ${Math.max(...area)}]`);
    // Uniform on (0.05, 0.4): mean 0.225, both ends reached.
    assert.ok(Math.abs(mean(area) - 0.225) < 0.015, `mean area ${mean(area)}`);
    assert.ok(Math.min(...area) < 0.07 && Math.max(...area) > 0.36, "both ends of the range are drawn");
    // Local views 0 and 1 of the same image are independent draws.
    const a0 = area.slice(0, n);
    const a1 = area.slice(n);
    assert.ok(Math.abs(corr(a0, a1)) < 0.15, `corr ${corr(a0, a1)}`);
    const same = a0.filter((_, i) => wh[2 * i] === wh[2 * (n + i)] && wh[2 * i + 1] === wh[2 * (n + i) + 1] && pos[2 * i] === pos[2 * (n + i)] && pos[2 * i + 1] === pos[2 * (n + i) + 1]).length;
    assert.ok(same < n * 0.05, `${same} of ${n} images got the same box in both local views`);
    // Alternation reaches the plan: view 0 (T) never solarizes, view 1 (T′) does with p 0.2; blur 0.5 vs 0.1.
    assert.equal(mean(sol.slice(0, n)), 0);
    assert.ok(Math.abs(mean(sol.slice(n)) - 0.2) < 0.05, `solarized ${mean(sol.slice(n))}`);
    assert.ok(Math.abs(mean(blur.slice(0, n)) - 0.5) < 0.07 && Math.abs(mean(blur.slice(n)) - 0.1) < 0.05);
  });
});

test("the same image repeated gets a different local view in every row (draws are per image)", () => {
  const aug = new LocalViewAugmenter(grayscale28Presets(), { ...LV, count: 1 }, 1);
  T.tidy(() => {
    const one = T.randint(0, 256, [1, 1, 28, 28], { dtype: "uint8" });
    const x = one.repeat(16, 1, 1, 1);
    const v = values(aug.apply(x));
    const rows = Array.from({ length: 16 }, (_, i) => v.slice(i * 144, (i + 1) * 144).join());
    assert.ok(new Set(rows).size >= 15, `${new Set(rows).size} distinct rows of 16`);
  });
});

function calls(augs: [ViewAugmenter, ViewAugmenter], local: LocalViewAugmenter | null, n: number): T.NativeCallCounts {
  const x = T.randint(0, 256, [n, 1, 28, 28], { dtype: "uint8" });
  const run = () => {
    const out = makeViews(x, augs);
    if (local) out.push(local.apply(x));
    return out;
  };
  run().forEach((v) => v.dispose()); // constants are uploaded on first use
  const live = T.liveTensors();
  const { result, counts } = T.countNativeCalls(run);
  result.forEach((v) => v.dispose());
  assert.equal(T.liveTensors(), live, "every intermediate is freed");
  x.dispose();
  return counts;
}

test("local views add a fixed number of native calls, whatever the batch size and their count, and no read-back", () => {
  const globals = presetByName("gray28", 28);
  const augs = globals.map((c) => new ViewAugmenter(c, 1)) as [ViewAugmenter, ViewAugmenter];
  const extra: Record<string, { ops: number; releases: number }> = {};
  for (const m of [1, 2, 4]) {
    const local = new LocalViewAugmenter(globals, { ...LV, count: m }, 1);
    for (const n of [8, 128]) {
      const base = calls(augs, null, n);
      const withLocal = calls(augs, local, n);
      assert.equal(withLocal.readBacks, 0);
      extra[`${m}/${n}`] = { ops: withLocal.ops - base.ops, releases: withLocal.releases - base.releases };
    }
  }
  const all = JSON.stringify(extra);
  // One local view runs T's pipeline only; from two on, T and T′ share the pass (solarize joins it).
  const pass = extra["2/8"]!;
  assert.ok(pass.ops > 0 && pass.ops <= 70, `one local pass: ${pass.ops} op calls`);
  for (const k of ["2/128", "4/8", "4/128"]) assert.deepEqual(extra[k], pass, `count/batch ${k}: ${all}`);
  assert.deepEqual(extra["1/128"], extra["1/8"], all);
  assert.ok(extra["1/8"]!.ops <= pass.ops, all);
});

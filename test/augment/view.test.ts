import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import {
  type ViewConfig, ViewAugmenter, byolPresets, cifarPresets, grayscale28Presets, makeViews, presetByName,
} from "../../src/augment/index.js";
import { UserError } from "../../src/util/errors.js";
import { assertClose, values } from "./helpers.js";

T.setNumThreads(1);

/** A config that changes nothing (whole-image crop, every step off, mean 0 / std 1). */
function identity(size: number, channels: number, patch: Partial<ViewConfig> = {}): ViewConfig {
  return {
    outputSize: size,
    crop: { scale: [1, 1], ratio: [1, 1], interpolation: "bilinear" },
    flipP: 0,
    jitter: { p: 0, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
    grayscaleP: 0,
    blur: { p: 0, sigma: [0.1, 2], kernelFraction: 0.1 },
    solarize: { p: 0, threshold: 0.5 },
    mean: Array(channels).fill(0),
    std: Array(channels).fill(1),
    ...patch,
  };
}

test("identity settings give the input back, for uint8 and float input, 1 and 3 channels", () => {
  T.tidy(() => {
    for (const c of [1, 3]) {
      const u8 = T.randint(0, 256, [5, c, 12, 12], { dtype: "uint8" });
      const f = u8.float().div(255);
      for (const mode of ["bilinear", "bicubic"] as const) {
        const aug = new ViewAugmenter(identity(12, c, { crop: { scale: [1, 1], ratio: [1, 1], interpolation: mode } }), c);
        assertClose(values(aug.apply(u8)), values(f), 1e-5, `uint8 ${mode} c=${c}`);
        assertClose(values(aug.apply(f)), values(f), 1e-5, `float ${mode} c=${c}`);
      }
      // Jitter that is always applied but has zero strength is also the identity.
      const zero = new ViewAugmenter(identity(12, c, { jitter: { p: 1, brightness: 0, contrast: 0, saturation: 0, hue: 0 } }), c);
      assertClose(values(zero.apply(f)), values(f), 1e-5, "zero jitter");
    }
  });
});

test("outputs keep shape, dtype, device and range; the input is left untouched", () => {
  T.tidy(() => {
    T.manualSeed(1);
    const cases: [string, number, number][] = [["byol", 40, 3], ["cifar", 32, 3], ["gray28", 28, 1]];
    for (const [name, size, c] of cases) {
      const zeroMean = Array(c).fill(0);
      const unitStd = Array(c).fill(1);
      const pair = presetByName(name as "byol", name === "byol" ? 24 : size, zeroMean, unitStd);
      const x = T.randint(0, 256, [16, c, size, size], { dtype: "uint8" });
      const before = values(x);
      for (const cfg of pair) {
        const out = new ViewAugmenter(cfg, c).apply(x);
        assert.deepEqual(out.shape, [16, c, cfg.outputSize, cfg.outputSize]);
        assert.equal(out.dtype, "float32");
        assert.equal(out.device, x.device);
        const v = values(out);
        assert.ok(v.every((p) => p >= 0 && p <= 1), `${name}: values outside [0, 1]`);
      }
      assert.deepEqual(values(x), before);
      // Float64 input still gives float32 views; normalisation is applied last.
      const norm = new ViewAugmenter(presetByName(name as "byol", size)[0], c).apply(x.to("float64").div(255));
      assert.equal(norm.dtype, "float32");
      assert.ok(values(norm).some((p) => p < 0), "normalised");
    }
  });
});

test("flip is drawn per image with p 0.5", () => {
  T.tidy(() => {
    T.manualSeed(2);
    const n = 4096;
    // A left-to-right ramp: flipped images have their bright side on the left.
    const ramp = T.linspace(0, 1, 8).view(1, 1, 1, 8).expand(n, 1, 8, 8).contiguous();
    const out = new ViewAugmenter(identity(8, 1, { flipP: 0.5 }), 1).apply(ramp);
    const flipped = values(out.select(3, 0).select(2, 0).select(1, 0).gt(0.5).float().sum())[0]! / n;
    assert.ok(Math.abs(flipped - 0.5) < 0.04, `flip rate ${flipped}`);
  });
});

test("BYOL's view 2 solarizes about 20% of images, view 1 none", () => {
  T.tidy(() => {
    T.manualSeed(3);
    const n = 4096;
    const x = T.full([n, 3, 8, 8], 0.8);
    const [t1, t2] = byolPresets(8);
    assert.equal(t1.solarize.p, 0);
    const rates = [t1, t2].map((cfg) => {
      const out = new ViewAugmenter(identity(8, 3, { solarize: cfg.solarize }), 3).apply(x);
      return values(out.select(3, 0).select(2, 0).select(1, 0).lt(0.5).float().sum())[0]! / n;
    });
    assert.equal(rates[0], 0);
    assert.ok(Math.abs(rates[1]! - 0.2) < 0.03, `view 2 solarize rate ${rates[1]}`);
  });
});

test("the full paper pipeline draws per image: ~20% grey images, different crops for identical images", () => {
  T.tidy(() => {
    T.manualSeed(4);
    const n = 2048;
    const one = T.rand([1, 3, 32, 32]);
    const x = one.expand(n, 3, 32, 32).contiguous();
    const [t1] = byolPresets(32, [0, 0, 0], [1, 1, 1]);
    const out = new ViewAugmenter(t1, 3).apply(x);
    // Grey images have equal channels everywhere (nothing after grayscale separates them).
    const spread = out.amax(1).sub(out.amin(1)).amax([1, 2]);
    const grey = values(spread.lt(1e-6).float().sum())[0]! / n;
    assert.ok(Math.abs(grey - 0.2) < 0.03, `grey rate ${grey}`);
    const a = values(out.narrow(0, 0, 1));
    const b = values(out.narrow(0, 1, 1));
    assert.notDeepEqual(a, b, "two copies of one image get different views");
  });
});

test("the same seed gives the same views; another seed other views", () => {
  T.tidy(() => {
    const x = T.randint(0, 256, [32, 3, 32, 32], { dtype: "uint8" });
    const augs = byolPresets(32).map((cfg) => new ViewAugmenter(cfg, 3)) as [ViewAugmenter, ViewAugmenter];
    const run = (seed: number) => {
      T.manualSeed(seed);
      return makeViews(x, augs).map(values);
    };
    const [a1, a2] = run(7);
    const [b1, b2] = run(7);
    assert.deepEqual(a1, b1);
    assert.deepEqual(a2, b2);
    assert.notDeepEqual(a1, a2, "the two views differ");
    assert.notDeepEqual(run(8)[0], a1);
  });
});

test("augmenting frees every intermediate tensor", () => {
  const x = T.randint(0, 256, [8, 3, 32, 32], { dtype: "uint8" });
  const aug = new ViewAugmenter(byolPresets(24)[1], 3);
  aug.apply(x).dispose();
  const before = T.liveTensors();
  aug.apply(x).dispose();
  assert.equal(T.liveTensors(), before);
  x.dispose();
});

test("bad parameters fail with a clear UserError", () => {
  const good = byolPresets(32)[0];
  const bad = (patch: (c: ViewConfig) => void, channels = 3): ViewConfig => {
    const c = structuredClone(good);
    if (channels === 1) { c.mean = [0.5]; c.std = [0.5]; }
    patch(c);
    return c;
  };
  const cases: [ViewConfig, RegExp, number?][] = [
    [bad((c) => { c.flipP = -0.1; }), /flipP must be a probability/],
    [bad((c) => { c.jitter.p = 1.5; }), /jitter\.p must be a probability/],
    [bad((c) => { c.solarize.p = -1; }), /solarize\.p/],
    [bad((c) => { c.crop.scale = [0.5, 0.2]; }), /crop\.scale is an empty range/],
    [bad((c) => { c.crop.scale = [0, 1]; }), /crop\.scale/],
    [bad((c) => { c.crop.ratio = [2, 1]; }), /crop\.ratio is an empty range/],
    [bad((c) => { c.blur.sigma = [2, 0.1]; }), /blur\.sigma is an empty range/],
    [bad((c) => { (c.crop as { interpolation: string }).interpolation = "nearest"; }), /interpolation/],
    [bad((c) => { c.jitter.hue = 0.7; }), /jitter\.hue/],
    [bad((c) => { c.jitter.brightness = -0.1; }), /jitter\.brightness/],
    [bad((c) => { c.outputSize = 0; }), /outputSize/],
    [bad((c) => { c.std = [1, 0, 1]; }), /std\[1\] must be > 0/],
    [bad((c) => { c.mean = [0.5]; }), /mean must have 3 value/],
    [bad((c) => { c.flipP = Number.NaN; }), /flipP must be a finite number/],
    [good, /1 or 3 channels/, 2],
  ];
  for (const [cfg, re, channels] of cases) {
    assert.throws(() => new ViewAugmenter(cfg, channels ?? 3), (e: unknown) => e instanceof UserError && re.test(e.message), re.source);
  }
  const aug = new ViewAugmenter(good, 3);
  T.tidy(() => {
    assert.throws(() => aug.apply(T.zeros([2, 1, 32, 32])), (e: unknown) => e instanceof UserError && /3-channel images/.test(e.message));
    assert.throws(() => aug.apply(T.zeros([3, 32, 32])), (e: unknown) => e instanceof UserError && /\[N, C, H, W\]/.test(e.message));
    assert.throws(() => aug.apply(T.zeros([1, 3, 8, 8], { dtype: "int64" })), (e: unknown) => e instanceof UserError && /uint8 or float/.test(e.message));
  });
  assert.throws(() => presetByName("imagenet" as "byol", 32), UserError);
});

test("presets: the paper's table, CIFAR without blur, gray28 for one channel", () => {
  const [t1, t2] = byolPresets(224);
  assert.deepEqual([t1.blur.p, t2.blur.p, t1.solarize.p, t2.solarize.p], [1, 0.1, 0, 0.2]);
  assert.deepEqual(t1.crop, { scale: [0.08, 1], ratio: [3 / 4, 4 / 3], interpolation: "bicubic" });
  assert.deepEqual(t1.jitter, { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 });
  assert.deepEqual([t1.flipP, t1.grayscaleP, t1.blur.sigma, t1.blur.kernelFraction], [0.5, 0.2, [0.1, 2], 0.1]);
  assert.equal(new ViewAugmenter(t1, 3).blurKernel, 23);
  const [c1, c2] = cifarPresets();
  assert.deepEqual([c1.outputSize, c1.blur.p, c2.blur.p, c2.solarize.p], [32, 0, 0, 0.2]);
  const [g1, g2] = grayscale28Presets();
  assert.deepEqual([g1.outputSize, g1.mean.length, g2.solarize.p], [28, 1, 0.2]);
  new ViewAugmenter(g1, 1);
  new ViewAugmenter(g2, 1);
  // Presets are fresh objects: editing one leaves the next call alone.
  c1.crop.scale[0] = 0.5;
  assert.equal(cifarPresets()[0].crop.scale[0], 0.08);
});

// The samplers draw what SPEC §1's table says: each test takes a few thousand draws from the same pass
// that makeViews runs (the paired plan of BYOL's T and T′), or observes its effect on crafted images,
// and checks location and spread, so a sampler stuck at one end or in the middle of its range fails.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { type ViewConfig, type ViewDraws, ViewAugmenter, byolPresets, makeViews, runPlan } from "../../src/augment/index.js";
import { values } from "./helpers.js";

T.setNumThreads(1);

const N = 3000; // draws per view

/** The paired pass of the paper's two views, and its draws for N images per view of a 224×224 input. */
function pairDraws(seed: number, patch: (c: ViewConfig) => void = () => {}): { draws: ViewDraws; cfgs: ViewConfig[] } {
  const cfgs = byolPresets(32);
  cfgs.forEach(patch);
  const augs = cfgs.map((c) => new ViewAugmenter(c, 3));
  const plan = augs[0]!.pairedWith(augs[1]!);
  assert.ok(plan, "the paper's two views share one pass");
  T.manualSeed(seed);
  return { draws: plan.draw(N, 224, 224, "cpu"), cfgs };
}

/** Values of view v (0 or 1) of a view-major tensor with `per` numbers per image. */
function ofView(t: T.Tensor, v: number, per = 1): number[] {
  return values(t).slice(v * N * per, (v + 1) * N * per);
}

function column(xs: number[], per: number, k: number): number[] {
  return xs.filter((_, i) => i % per === k);
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function std(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** Kolmogorov–Smirnov distance of a sample from U[lo, hi]. */
function ksUniform(xs: number[], lo: number, hi: number): number {
  const s = [...xs].sort((a, b) => a - b);
  let d = 0;
  s.forEach((x, i) => {
    const f = Math.min(1, Math.max(0, (x - lo) / (hi - lo)));
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs(f - (i + 1) / s.length));
  });
  return d;
}

// KS critical value at the 0.1% level for N draws: 1.95/√N ≈ 0.036.
const KS = 1.95 / Math.sqrt(N);

function assertUniform(xs: number[], lo: number, hi: number, what: string): void {
  assert.ok(xs.every((x) => x >= lo && x <= hi), `${what}: outside [${lo}, ${hi}]`);
  const ks = ksUniform(xs, lo, hi);
  assert.ok(ks < KS, `${what}: KS distance ${ks.toFixed(4)} from U[${lo}, ${hi}] ≥ ${KS.toFixed(4)}`);
  // Mean within 4 standard errors, spread within 5% of (hi − lo)/√12.
  const sd = (hi - lo) / Math.sqrt(12);
  assert.ok(Math.abs(mean(xs) - (lo + hi) / 2) < (4 * sd) / Math.sqrt(xs.length), `${what}: mean ${mean(xs)}`);
  assert.ok(Math.abs(std(xs) / sd - 1) < 0.05, `${what}: spread ${std(xs)} vs ${sd}`);
}

function assertRate(hits: number, n: number, p: number, what: string): void {
  // 4 binomial standard errors (and exact for p = 0 or 1).
  const tol = 4 * Math.sqrt((p * (1 - p)) / n);
  assert.ok(Math.abs(hits / n - p) <= tol, `${what}: rate ${hits / n}, expected ${p} ± ${tol.toFixed(4)}`);
}

test("jitter factors are uniform on [1 − s, 1 + s], hue shifts on [−h, h], for both views", () => {
  T.tidy(() => {
    const { draws } = pairDraws(1);
    for (const v of [0, 1]) {
      const f = ofView(draws.jitter.factors, v, 5);
      assertUniform(column(f, 5, 0), 0.6, 1.4, `view ${v + 1} brightness`);
      assertUniform(column(f, 5, 1), 0.6, 1.4, `view ${v + 1} contrast`);
      assertUniform(column(f, 5, 2), 0.8, 1.2, `view ${v + 1} saturation`);
      assertUniform(ofView(draws.jitter.hue, v), -0.1, 0.1, `view ${v + 1} hue`);
      assertRate(ofView(draws.jittered, v).filter((x) => x === 1).length, N, 0.8, `view ${v + 1} jitter applied`);
    }
  });
});

test("the order of the four jitter steps is a uniformly random permutation", () => {
  T.tidy(() => {
    const { draws } = pairDraws(2);
    const orders = draws.jitter.order.toList();
    const counts = new Map<string, number>();
    for (let i = 0; i < 2 * N; i++) {
      const key = orders.slice(4 * i, 4 * i + 4).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    assert.equal(counts.size, 24, `all 24 orders appear: ${[...counts.keys()]}`);
    // Each order 1/24 of the time: expected 250 of 6000, standard deviation ≈ 15.5.
    for (const [key, c] of counts) assert.ok(Math.abs(c - (2 * N) / 24) < 70, `order ${key}: ${c} times`);
  });
});

test("crops: aspect ratio log-uniform in [3/4, 4/3], area fraction spanning the scale range", () => {
  T.tidy(() => {
    const { draws } = pairDraws(3);
    const size = values(draws.boxes.size); // (w, h) per image
    const pos = values(draws.boxes.pos);
    const logRatio: number[] = [];
    const area: number[] = [];
    for (let i = 0; i < 2 * N; i++) {
      const [w, h, left, top] = [size[2 * i]!, size[2 * i + 1]!, pos[2 * i]!, pos[2 * i + 1]!];
      assert.ok(left >= 0 && top >= 0 && left + w <= 224 && top + h <= 224 && w >= 1 && h >= 1, `box ${[left, top, w, h]}`);
      logRatio.push(Math.log(w / h));
      area.push((w * h) / (224 * 224));
    }
    const lr = Math.log(4 / 3);
    // Rounding to whole pixels widens the range by at most one pixel per side.
    assert.ok(logRatio.every((r) => Math.abs(r) <= lr + 0.02), "aspect ratio within [3/4, 4/3]");
    assert.ok(Math.abs(mean(logRatio)) < 0.01, `log ratio mean ${mean(logRatio)}`);
    // Log-uniform on [−log 4/3, log 4/3] has standard deviation 2·log(4/3)/√12 ≈ 0.166; rejecting large
    // boxes that do not fit thins the ends a little.
    assert.ok(std(logRatio) > 0.14 && std(logRatio) < 0.18, `log ratio spread ${std(logRatio)}`);
    const third = (lo: number, hi: number) => logRatio.filter((r) => r >= lo && r < hi).length / logRatio.length;
    for (const [lo, hi] of [[-lr - 0.1, -lr / 3], [-lr / 3, lr / 3], [lr / 3, lr + 0.1]] as const) {
      assert.ok(Math.abs(third(lo, hi) - 1 / 3) < 0.05, `log ratio third [${lo}, ${hi}): ${third(lo, hi)}`);
    }
    assert.ok(Math.min(...area) < 0.085 && Math.max(...area) > 0.97, `area fraction ${Math.min(...area)} … ${Math.max(...area)}`);
    const m = mean(area);
    assert.ok(m > 0.45 && m < 0.56, `mean area fraction ${m}`);
    for (let q = 0; q < 3; q++) {
      const lo = 0.08 + (q * 0.92) / 4;
      const share = area.filter((a) => a >= lo && a < lo + 0.23).length / area.length;
      assert.ok(share > 0.2 && share < 0.32, `area quarter ${q}: ${share}`);
    }
  });
});

test("flip, grayscale, blur and solarize coins fall with each view's probability", () => {
  T.tidy(() => {
    const { draws, cfgs } = pairDraws(4);
    for (const v of [0, 1]) {
      const cfg = cfgs[v]!;
      const rate = (t: T.Tensor) => ofView(t, v).filter((x) => x === 1).length;
      assertRate(rate(draws.flip), N, cfg.flipP, `view ${v + 1} flip`);
      assertRate(rate(draws.grey), N, cfg.grayscaleP, `view ${v + 1} grayscale`);
      assertRate(rate(draws.blurred), N, cfg.blur.p, `view ${v + 1} blur`);
      assertRate(rate(draws.solarized), N, cfg.solarize.p, `view ${v + 1} solarize`);
      assertUniform(ofView(draws.sigma, v), 0.1, 2.0, `view ${v + 1} blur σ`);
    }
  });
});

/** A config that only blurs (whole-image crop, no flip, jitter, grey or solarize; mean 0, std 1). */
function blurOnly(cfg: ViewConfig, size: number, kernelFraction: number): ViewConfig {
  return {
    ...cfg, outputSize: size, flipP: 0, grayscaleP: 0,
    crop: { scale: [1, 1], ratio: [1, 1], interpolation: "bilinear" },
    jitter: { ...cfg.jitter, p: 0 }, solarize: { ...cfg.solarize, p: 0 },
    blur: { ...cfg.blur, kernelFraction }, mean: [0, 0, 0], std: [1, 1, 1],
  };
}

/** Variance of the normalised discrete Gaussian on taps −half … half. */
function discreteVariance(sigma: number, half: number): number {
  let s = 0;
  let m = 0;
  for (let t = -half; t <= half; t++) {
    const w = Math.exp(-(t * t) / (2 * sigma * sigma));
    s += w;
    m += w * t * t;
  }
  return m / s;
}

test("blur changes images with each view's probability, with σ spread over [0.1, 2] (recovered from a blurred dot)", () => {
  T.tidy(() => {
    const [t1, t2] = byolPresets(33);
    const size = 33;
    const kernelFraction = 0.5; // 17 taps: σ = 2 is cut at 4σ, so the recovered σ is exact up to rounding
    const half = 8;
    const augs = [blurOnly(t1, size, kernelFraction), blurOnly(t2, size, kernelFraction)].map((c) => new ViewAugmenter(c, 3)) as [ViewAugmenter, ViewAugmenter];
    const n = 2000;
    // A white dot on black: blurred, its column profile is the kernel, whose variance gives σ.
    const dot = T.zeros([1, 3, size, size]);
    dot.narrow(2, 16, 1).narrow(3, 16, 1).fill_(1);
    T.manualSeed(5);
    const views = makeViews(dot.expand(n, 3, size, size).contiguous(), augs);
    // A blur with σ below σ* moves less than THRESHOLD of the dot to its neighbour: w(1)·w(0) of the
    // separable kernel, invisible in float32 for σ near 0.1. So an image shows a change with
    // probability p·(2 − σ*)/1.9.
    const THRESHOLD = 1e-6;
    const neighbour = (s: number) => {
      let z = 0;
      for (let t = -half; t <= half; t++) z += Math.exp(-(t * t) / (2 * s * s));
      return Math.exp(-1 / (2 * s * s)) / (z * z);
    };
    let sLo = 0.05;
    let sHi = 1;
    for (let it = 0; it < 50; it++) {
      const mid = (sLo + sHi) / 2;
      if (neighbour(mid) < THRESHOLD) sLo = mid;
      else sHi = mid;
    }
    const visible = (2 - sLo) / 1.9;
    for (const [v, p] of [[0, 1.0], [1, 0.1]] as const) {
      const out = views[v]!.select(1, 0); // [n, S, S], channel 0
      const changed = values(out.sub(dot.select(1, 0)).abs().amax([1, 2]).gt(THRESHOLD).float());
      assertRate(changed.filter((x) => x === 1).length, n, p * visible, `view ${v + 1}: fraction of images changed by blur`);
      // σ of each changed image from the column profile's variance, inverted through the discrete kernel.
      const profile = values(out.sum(1)); // [n, S]
      const sigmas: number[] = [];
      for (let i = 0; i < n; i++) {
        if (changed[i] !== 1) continue;
        let varx = 0;
        for (let x = 0; x < size; x++) varx += profile[i * size + x]! * (x - 16) ** 2;
        let lo = 0.05;
        let hi = 3;
        for (let it = 0; it < 40; it++) {
          const mid = (lo + hi) / 2;
          if (discreteVariance(mid, half) < varx) lo = mid;
          else hi = mid;
        }
        sigmas.push(lo);
      }
      if (v === 0) {
        // σ below ~0.3 barely spreads a dot (exp(−1/(2σ²)) < 0.004) and cannot be recovered well, so
        // compare the σ ≥ 0.4 part: it is uniform on [0.4, 2], with (2 − 0.4)/1.9 of the draws.
        const upper = sigmas.filter((s) => s >= 0.4);
        assertRate(upper.length, sigmas.length, 1.6 / (2 - sLo), "share of σ ≥ 0.4 among the visible blurs");
        assert.ok(Math.max(...sigmas) <= 2.01, `largest σ ${Math.max(...sigmas)}`);
        const ks = ksUniform(upper, 0.4, 2.0);
        assert.ok(ks < 1.95 / Math.sqrt(upper.length), `recovered σ: KS distance ${ks} from U[0.4, 2]`);
      } else {
        assert.ok(sigmas.some((s) => s > 1.2) && sigmas.some((s) => s < 0.9), "view 2's blurred images have varied σ");
      }
    }
  });
});

test("each stage's draw is the one applied: the pipeline's images follow its draws", () => {
  T.tidy(() => {
    // Grey images, flips and solarized images of one pass match that pass's own coins, image by image.
    const [t1, t2] = byolPresets(16, [0, 0, 0], [1, 1, 1]);
    const only = (cfg: ViewConfig): ViewConfig => ({
      ...cfg, crop: { scale: [1, 1], ratio: [1, 1], interpolation: "bilinear" }, jitter: { ...cfg.jitter, p: 0 }, blur: { ...cfg.blur, p: 0 },
    });
    const augs = [new ViewAugmenter(only(t1), 3), new ViewAugmenter(only(t2), 3)];
    const plan = augs[0]!.pairedWith(augs[1]!)!;
    const n = 400;
    // A left-right ramp from 0.05 to 0.7 (flip detectable, even after solarize: its inverted part stays
    // above 0.05), channels that differ (grey detectable), every image's maximum ≥ 0.66 unless solarized.
    const ramp = T.linspace(0.05, 0.7, 16).view(1, 1, 1, 16).expand(n, 3, 16, 16).contiguous();
    ramp.narrow(1, 1, 1).mul_(0.9);
    // The draws live in the pass's scope: read the coins while it runs.
    const coins: Record<string, number[]> = {};
    const [v1, v2] = runPlan(plan, ramp, 3, (d) => {
      for (const k of ["grey", "flip", "solarized"] as const) coins[k] = values(d[k].view(-1).float());
    });
    const out = T.cat([v1!, v2!], 0);
    const grey = values(out.select(1, 0).sub(out.select(1, 1)).abs().amax([1, 2]).lt(1e-6).float());
    const row = out.select(1, 2).select(1, 8); // blue channel, middle row [2n, 16]
    const flipped = values(row.select(1, 0).gt(row.select(1, 15)).float());
    // Solarize turns every pixel ≥ 0.5 into 1 − x: a solarized image has nothing above 0.5.
    const solarized = values(out.amax([1, 2, 3]).le(0.5).float());
    assert.deepEqual(grey, coins.grey, "grey images are the drawn ones");
    assert.deepEqual(flipped, coins.flip, "flipped images are the drawn ones");
    assert.deepEqual(solarized, coins.solarized, "solarized images are the drawn ones");
    assert.ok(coins.grey!.some((x) => x === 1) && coins.flip!.some((x) => x === 1) && coins.solarized!.some((x) => x === 1));
  });
});

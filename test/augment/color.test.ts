import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import {
  adjustBrightness, adjustContrast, adjustSaturation, grayscale, normalize, randomGrayscale, solarize,
} from "../../src/augment/color.js";
import { adjustHue, hsvToRgb, rgbToHsv } from "../../src/augment/hue.js";
import { HUE, colorJitter, type JitterParams } from "../../src/augment/jitter.js";
import { ViewPlan } from "../../src/augment/plan.js";
import { byolPresets } from "../../src/augment/presets.js";
import { HAS_TORCHVISION, assertClose, ft, python, values } from "./helpers.js";

T.setNumThreads(1);
const f32 = (xs: number[]) => xs.map(Math.fround);

test("brightness multiplies and clamps, per image", () => {
  T.tidy(() => {
    const x = ft([0.2, 0.5, 0.9, 0.2, 0.5, 0.9], [2, 1, 1, 3]);
    const out = adjustBrightness(x, ft([1.5, 0.5]));
    assertClose(values(out), [0.3, 0.75, 1, 0.1, 0.25, 0.45], 1e-6);
  });
});

test("contrast blends with the mean grey level of each image", () => {
  T.tidy(() => {
    // One channel: mean 0.5; factor 2 → 2x − 0.5 (clamped), factor 0.5 → 0.5x + 0.25.
    const g = ft([0.2, 0.4, 0.9, 0.2, 0.4, 0.9], [2, 1, 1, 3]);
    assertClose(values(adjustContrast(g, ft([2, 0.5]))), [0, 0.3, 1, 0.35, 0.45, 0.7], 1e-6);
    // RGB, two pixels (1,0,0) and (0,1,0.5): grey levels 0.2989 and 0.644, mean 0.47145.
    const rgb = ft([1, 0, 0, 1, 0, 0.5], [1, 3, 1, 2]);
    const m = 0.5 * 0.47145;
    assertClose(values(adjustContrast(rgb, ft([0.5]))), [0.5 + m, m, m, 0.5 + m, m, 0.25 + m], 1e-6);
  });
});

test("saturation blends with the grey image; grayscale uses the ITU-R 601 weights", () => {
  T.tidy(() => {
    const rgb = ft([1, 0, 0, 1, 0, 0.5], [1, 3, 1, 2]); // pixels (1,0,0) and (0,1,0.5)
    assertClose(values(grayscale(rgb)), [0.2989, 0.644], 1e-6);
    // Factor 0: fully grey. Factor 2: 2x − grey, clamped. Factor 0.5: 0.5x + 0.5·grey.
    const both = T.cat([rgb, rgb], 0);
    const out = values(adjustSaturation(T.cat([both, rgb], 0), ft([0, 2, 0.5])));
    assertClose(out.slice(0, 6), [0.2989, 0.644, 0.2989, 0.644, 0.2989, 0.644], 1e-6);
    assertClose(out.slice(6, 12), [1, 0, 0, 1, 0, 1 - 0.644], 1e-6);
    assertClose(out.slice(12), [0.5 + 0.14945, 0.322, 0.14945, 0.822, 0.14945, 0.572], 1e-6);
    // One channel: saturation does nothing.
    const g = ft([0.1, 0.7], [1, 1, 1, 2]);
    assert.deepEqual(values(adjustSaturation(g, ft([0]))), f32([0.1, 0.7]));
  });
});

test("random grayscale replaces only the masked images, replicated over channels", () => {
  T.tidy(() => {
    const rgb = ft([1, 0, 0, 1, 0, 0.5], [1, 3, 1, 2]);
    const x = T.cat([rgb, rgb], 0);
    const out = values(randomGrayscale(x, T.tensor([1, 0], undefined, { dtype: "bool" })));
    assertClose(out.slice(0, 6), [0.2989, 0.644, 0.2989, 0.644, 0.2989, 0.644], 1e-6);
    assert.deepEqual(out.slice(6), values(rgb));
  });
});

test("solarize inverts pixels at or above the threshold, exactly, only where masked", () => {
  T.tidy(() => {
    const x = ft([0.2, 0.5, 0.7, 1.0, 0.2, 0.5, 0.7, 1.0], [2, 1, 1, 4]);
    const one = Math.fround(1);
    const out = values(solarize(x, 0.5, T.tensor([1, 0], undefined, { dtype: "bool" })));
    assert.deepEqual(out, [Math.fround(0.2), one - Math.fround(0.5), Math.fround(one - Math.fround(0.7)), 0, ...f32([0.2, 0.5, 0.7, 1.0])]);
    assert.deepEqual(values(solarize(x, 0.5)).slice(4), values(solarize(x, 0.5)).slice(0, 4), "no mask: every image");
  });
});

test("normalize subtracts the mean and divides by the std per channel", () => {
  T.tidy(() => {
    const x = ft([0.5, 0.25, 1, 0], [1, 2, 1, 2]);
    assertClose(values(normalize(x, [0.5, 0.2], [0.25, 0.4])), [0, -1, 2, -0.5], 1e-6);
    assert.deepEqual(values(x), f32([0.5, 0.25, 1, 0]), "input untouched");
  });
});

test("HSV: known colours, round trip, and hue shifts of 0 and of a full turn are identity", () => {
  T.tidy(() => {
    // red, green, blue, grey, black, white, orange (1, 0.5, 0) as in the textbook.
    const px = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [0, 0, 0], [1, 1, 1], [1, 0.5, 0]];
    const x = T.tensor(px.flat(), [1, px.length, 3]).permute(0, 2, 1).contiguous().view(1, 3, 1, px.length);
    const hsv = values(rgbToHsv(x));
    const n = px.length;
    assertClose(hsv.slice(0, n), [0, 1 / 3, 2 / 3, 0, 0, 0, 1 / 12], 1e-6, "hue");
    assertClose(hsv.slice(n, 2 * n), [1, 1, 1, 0, 0, 0, 1], 1e-6, "saturation");
    assertClose(hsv.slice(2 * n), [1, 1, 1, 0.5, 0, 1, 1], 1e-6, "value");

    T.manualSeed(3);
    const img = T.rand([4, 3, 8, 8]);
    assertClose(values(hsvToRgb(rgbToHsv(img))), values(img), 2e-6, "rgb → hsv → rgb");
    for (const turn of [0, 1, -1, 2]) {
      assertClose(values(adjustHue(img, T.full([4], turn))), values(img), 2e-6, `shift ${turn}`);
    }
    // A third of a turn maps red to green to blue; −1/3 the other way.
    const rgbPrimaries = ft([1, 0, 0, 0, 1, 0, 0, 0, 1], [1, 3, 1, 3]);
    assertClose(values(adjustHue(rgbPrimaries, ft([1 / 3]))), [0, 0, 1, 1, 0, 0, 0, 1, 0], 1e-6);
    assertClose(values(adjustHue(rgbPrimaries, ft([-1 / 3]))), [0, 1, 0, 0, 0, 1, 1, 0, 0], 1e-6);
  });
});

test("hue shift matches torchvision's adjust_hue", { skip: !HAS_TORCHVISION && "no torchvision" }, () => {
  T.tidy(() => {
    T.manualSeed(4);
    const x = T.rand([6, 3, 7, 5]);
    // Quantised colours include exact ties between channels, where the sector choice matters.
    const q = x.mul(8).round().div(8);
    const shifts = [-0.5, -0.23, 0, 0.1, 0.37, 0.5];
    for (const img of [x, q]) {
      const ours = values(adjustHue(img, ft(shifts)));
      const ref = python(
        "x = t(inp['x'], [6, 3, 7, 5])\nout = torch.cat([F.adjust_hue(x[i:i+1], s) for i, s in enumerate(inp['s'])]).flatten().tolist()",
        { x: values(img), s: shifts },
      );
      assertClose(ours, ref, 2e-6, "adjust_hue");
    }
  });
});

function params(b: number[], c: number[], s: number[], h: number[], order: number[][]): JitterParams {
  return { brightness: ft(b), contrast: ft(c), saturation: ft(s), hue: ft(h), order: T.tensor(order, undefined, { dtype: "int64" }) };
}

test("jitter applies each image's steps in that image's order (hue at each of the four positions)", () => {
  T.tidy(() => {
    T.manualSeed(5);
    const x = T.rand([4, 3, 6, 6]);
    const b = [1.3, 0.7, 1.2, 0.8];
    const c = [0.6, 1.4, 0.8, 1.3];
    const s = [1.2, 0.3, 1.1, 0.5];
    const h = [0.08, -0.1, 0.05, 0.2];
    const orders = [[HUE, 0, 1, 2], [2, 1, 0, HUE], [1, HUE, 2, 0], [0, 2, HUE, 1]];
    const p = params(b, c, s, h, orders);
    const steps = [
      (t: T.Tensor, i: number) => adjustBrightness(t, ft([b[i]!])),
      (t: T.Tensor, i: number) => adjustContrast(t, ft([c[i]!])),
      (t: T.Tensor, i: number) => adjustSaturation(t, ft([s[i]!])),
      (t: T.Tensor, i: number) => adjustHue(t, ft([h[i]!])),
    ];
    const expected = orders.map((o, i) => o.reduce((img, step) => steps[step]!(img, i), x.narrow(0, i, 1)));
    assertClose(values(colorJitter(x, p)), values(T.cat(expected, 0)), 1e-6, "batched");
  });
});

test("one-channel jitter orders brightness and contrast per image", () => {
  T.tidy(() => {
    T.manualSeed(8);
    const x = T.rand([2, 1, 5, 5]);
    const p: JitterParams = {
      brightness: ft([1.4, 1.4]), contrast: ft([0.5, 0.5]), saturation: ft([1, 1]), hue: ft([0, 0]),
      order: T.tensor([[0, 1], [1, 0]], undefined, { dtype: "int64" }),
    };
    const b = (t: T.Tensor) => adjustBrightness(t, ft([1.4]));
    const c = (t: T.Tensor) => adjustContrast(t, ft([0.5]));
    const want = T.cat([c(b(x.narrow(0, 0, 1))), b(c(x.narrow(0, 1, 1)))], 0);
    assertClose(values(colorJitter(x, p)), values(want), 1e-6);
  });
});

test("jitter in a given order matches torchvision's functional ops", { skip: !HAS_TORCHVISION && "no torchvision" }, () => {
  T.tidy(() => {
    T.manualSeed(6);
    const x = T.rand([4, 3, 5, 5]);
    // Hue first, last, second and third.
    const order = [[HUE, 0, 1, 2], [2, 1, 0, HUE], [1, HUE, 2, 0], [0, 2, HUE, 1]];
    const f = [[1.3, 0.65, 1.1, 0.7], [0.6, 1.4, 0.9, 1.2], [1.2, 0.8, 0.5, 1.15], [0.08, -0.1, 0.3, -0.45]];
    const p = params(f[0]!, f[1]!, f[2]!, f[3]!, order);
    const ref = python(
      [
        "x = t(inp['x'], [4, 3, 5, 5])",
        "fns = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]",
        "res = []",
        "for i in range(4):",
        "  img = x[i]",
        "  for step in inp['order'][i]: img = fns[step](img, inp['f'][step][i])",
        "  res.append(img)",
        "out = torch.stack(res).flatten().tolist()",
      ].join("\n"),
      { x: values(x), order, f },
    );
    assertClose(values(colorJitter(x, p)), ref, 2e-6);
  });
});

test("sampled jitter: factors in range, jitter applied with p, orders are permutations", () => {
  T.tidy(() => {
    T.manualSeed(7);
    const n = 2000;
    const cfg = byolPresets(16)[0];
    cfg.jitter = { p: 0.8, brightness: 0.4, contrast: 0.3, saturation: 0.2, hue: 0.1 };
    const d = new ViewPlan([cfg], 3).draw(n, 16, 16, "cpu");
    const f = values(d.jitter.factors); // rows of 5: b, c, s, 1, 1
    const h = values(d.jitter.hue);
    const col = (k: number) => f.filter((_, i) => i % 5 === k);
    assert.ok(col(0).every((v) => v >= 0.6 && v <= 1.4) && col(1).every((v) => v >= 0.7 && v <= 1.3));
    assert.ok(col(2).every((v) => v >= 0.8 && v <= 1.2) && h.every((v) => v >= -0.1 && v <= 0.1));
    assert.ok(col(3).every((v) => v === 1) && col(4).every((v) => v === 1), "hue and identity rows stay 1");
    const applied = values(d.jittered).filter((v) => v === 1).length / n;
    assert.ok(Math.abs(applied - 0.8) < 0.04, `jittered fraction ${applied}`);
    const orders = d.jitter.order.toList();
    for (let i = 0; i < n; i++) assert.deepEqual(orders.slice(4 * i, 4 * i + 4).sort(), [0, 1, 2, 3]);
    // Every step shows up first about a quarter of the time.
    for (let step = 0; step < 4; step++) {
      const first = orders.filter((v, i) => i % 4 === 0 && v === step).length / n;
      assert.ok(Math.abs(first - 0.25) < 0.04, `step ${step} first in ${first}`);
    }
    // One channel: saturation stays 1, hue 0, and only brightness and contrast are ordered (first).
    const g = byolPresets(16, [0.5], [0.5])[0];
    const dg = new ViewPlan([g], 1).draw(100, 16, 16, "cpu");
    assert.ok(values(dg.jitter.factors).filter((_, i) => i % 5 === 2).every((v) => v === 1));
    assert.ok(values(dg.jitter.hue).every((v) => v === 0));
    const go = dg.jitter.order.toList();
    for (let i = 0; i < 100; i++) {
      const row = go.slice(4 * i, 4 * i + 4);
      assert.deepEqual(row.slice(0, 2).sort(), [0, 1]);
      assert.deepEqual(row.slice(2), [2, 3]);
    }
  });
});

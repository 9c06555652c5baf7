import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { resizedCrop, sampleCropBoxes } from "../../src/augment/crop.js";
import { type ViewConfig, ViewAugmenter, byolPresets, runPlan } from "../../src/augment/index.js";
import { HAS_TORCHVISION, assertClose, ft, python, values } from "./helpers.js";

T.setNumThreads(1);

const slice = (x: T.Tensor, i: number, top: number, left: number, h: number, w: number) =>
  x.narrow(0, i, 1).narrow(2, top, h).narrow(3, left, w);

test("a box of exactly the output size returns those pixels; flip mirrors them", () => {
  T.tidy(() => {
    T.manualSeed(1);
    const x = T.rand([2, 3, 16, 16]);
    const boxes = ft([[3, 4, 8, 8], [0, 8, 8, 8]]);
    const want = T.cat([slice(x, 0, 3, 4, 8, 8), slice(x, 1, 0, 8, 8, 8)], 0);
    for (const mode of ["bilinear", "bicubic"] as const) {
      assertClose(values(resizedCrop(x, boxes, 8, mode)), values(want.clamp(0, 1)), 1e-5, mode);
    }
    const flip = T.tensor([0, 1], undefined, { dtype: "bool" });
    const flipped = T.cat([want.narrow(0, 0, 1), want.narrow(0, 1, 1).flip([3])], 0);
    assertClose(values(resizedCrop(x, boxes, 8, "bilinear", flip)), values(flipped), 1e-5, "flip");
  });
});

test("a box twice the output size is the bilinear downscale of the slice (as interpolate)", () => {
  T.tidy(() => {
    T.manualSeed(2);
    const x = T.rand([2, 1, 20, 20]);
    const boxes = ft([[2, 3, 12, 16], [8, 0, 12, 16]]); // non-square box → 6x6 output
    const out = resizedCrop(x, boxes, 6, "bilinear");
    // Sampling at 2u + 0.5 stays inside the box, so this is exact up to rounding.
    const want = T.cat([
      T.interpolate(slice(x, 0, 2, 3, 12, 16), [6, 6], "bilinear"),
      T.interpolate(slice(x, 1, 8, 0, 12, 16), [6, 6], "bilinear"),
    ], 0);
    assertClose(values(out), values(want), 1e-5);
  });
});

test("upscaling agrees with interpolate away from the box edge", () => {
  T.tidy(() => {
    T.manualSeed(3);
    const x = T.rand([1, 3, 12, 12]);
    const out = resizedCrop(x, ft([[4, 5, 4, 4]]), 8, "bilinear");
    const want = T.interpolate(slice(x, 0, 4, 5, 4, 4), [8, 8], "bilinear");
    // Rows/columns 1..6 sample inside the 4x4 box; the outer ring reads the neighbouring pixels.
    const inner = (t: T.Tensor) => values(t.narrow(2, 1, 6).narrow(3, 1, 6).contiguous());
    assertClose(inner(out), inner(want), 1e-5);
  });
});

test("crops match torchvision's resized_crop for known boxes", { skip: !HAS_TORCHVISION && "no torchvision" }, () => {
  T.tidy(() => {
    T.manualSeed(4);
    const x = T.rand([3, 3, 24, 24]);
    const boxes = [[0, 0, 24, 24], [5, 2, 16, 10], [10, 12, 12, 12]];
    for (const mode of ["bilinear", "bicubic"] as const) {
      const ours = resizedCrop(x, ft(boxes), 12, mode);
      const ref = python(
        [
          "x = t(inp['x'], [3, 3, 24, 24])",
          "mode = F.InterpolationMode.BILINEAR if inp['mode'] == 'bilinear' else F.InterpolationMode.BICUBIC",
          "out = torch.cat([F.resized_crop(x[i:i+1], *b, [12, 12], mode, antialias=False).clamp(0, 1) for i, b in enumerate(inp['boxes'])]).flatten().tolist()",
        ].join("\n"),
        { x: values(x), boxes, mode },
      );
      const theirs = ft(ref, [3, 3, 12, 12]);
      // Downscaling boxes (image 0 and 2) sample inside the box; compare the interior for all.
      const margin = mode === "bicubic" ? 2 : 1;
      const inner = (t: T.Tensor) => values(t.narrow(2, margin, 12 - 2 * margin).narrow(3, margin, 12 - 2 * margin).contiguous());
      assertClose(inner(ours), inner(theirs), 1e-5, mode);
      // Image 0: the whole image, bilinear 2x down: no edge effects at all.
      if (mode === "bilinear") assertClose(values(ours.narrow(0, 0, 1)), values(theirs.narrow(0, 0, 1)), 1e-5, "whole image");
    }
  });
});

test("sampled boxes fit the image, span the area range, respect the aspect range, differ per image", () => {
  T.tidy(() => {
    T.manualSeed(5);
    const n = 4096;
    for (const side of [224, 32]) {
      const b = sampleCropBoxes(n, side, side, [0.08, 1], [3 / 4, 4 / 3], "cpu").toList();
      const areas: number[] = [];
      const lefts = new Set<number>();
      for (let i = 0; i < n; i++) {
        const [top, left, h, w] = b.slice(4 * i, 4 * i + 4) as [number, number, number, number];
        assert.ok([top, left, h, w].every(Number.isInteger), "whole pixels");
        assert.ok(top >= 0 && left >= 0 && h >= 1 && w >= 1 && top + h <= side && left + w <= side, `box ${[top, left, h, w]} outside ${side}`);
        // Rounding to whole pixels widens the aspect range a little on small images.
        const slack = 1 / Math.min(h, w);
        assert.ok(w / h >= 3 / 4 - 2 * slack && w / h <= 4 / 3 + 2 * slack, `aspect ${w / h}`);
        areas.push((h * w) / (side * side));
        lefts.add(left);
      }
      const min = Math.min(...areas);
      const max = Math.max(...areas);
      const mean = areas.reduce((a, v) => a + v, 0) / n;
      assert.ok(min < 0.09 && min > 0.06, `smallest area ${min} (side ${side})`);
      assert.ok(max > 0.97, `largest area ${max} (side ${side})`);
      assert.ok(mean > 0.45 && mean < 0.58, `mean area ${mean} (side ${side})`);
      // Roughly uniform over [0.08, 1]: each quarter of the range holds a fair share (the top quarter
      // less, as large areas with a non-square aspect do not fit and are redrawn, as in torchvision).
      for (let q = 0; q < 4; q++) {
        const lo = 0.08 + (q * 0.92) / 4;
        const share = areas.filter((a) => a >= lo && a < lo + 0.23).length / n;
        assert.ok(share > (q === 3 ? 0.08 : 0.2) && share < 0.33, `area quarter ${q}: ${share}`);
      }
      assert.ok(lefts.size > side / 2, "positions vary");
    }
    const two = sampleCropBoxes(2, 64, 64, [0.08, 1], [3 / 4, 4 / 3], "cpu").toList();
    assert.notDeepEqual(two.slice(0, 4), two.slice(4), "two images, two crops");
  });
});

test("when no candidate fits, the centre crop with the nearest allowed aspect ratio is used", () => {
  T.tidy(() => {
    // Ratio 2 with the whole area never fits a square image: torchvision falls back to w = W, h = W / 2.
    const b = sampleCropBoxes(3, 20, 20, [1, 1], [2, 2], "cpu").toList();
    assert.deepEqual(b, [5, 0, 10, 20, 5, 0, 10, 20, 5, 0, 10, 20]);
  });
});

test("resizedCrop equals grid_sample with border padding on an independently built theta, flips and edges included", () => {
  T.tidy(() => {
    T.manualSeed(6);
    const n = 64;
    const x = T.rand([n, 3, 20, 24]);
    const boxes = sampleCropBoxes(n, 20, 24, [0.05, 1], [0.5, 2], "cpu");
    const flip = T.rand([n]).lt(0.5);
    // The same map as an affine grid: x_in = (w/W)·x_out + (2·left + w)/W − 1 (sign flipped for flips).
    const [top, left, h, w] = [0, 1, 2, 3].map((k) => boxes.select(1, k));
    const sx = w!.div(24);
    const zero = T.zerosLike(sx);
    const theta = T.stack([
      T.where(flip, sx.neg(), sx), zero, left!.mul(2).add(w!).div(24).sub(1),
      zero, h!.div(20), top!.mul(2).add(h!).div(20).sub(1),
    ], 1).view(n, 2, 3);
    const grid = T.affineGrid(theta, [n, 3, 16, 16]);
    for (const mode of ["bilinear", "bicubic"] as const) {
      const ref = T.gridSample(x, grid, mode, "border").clamp(0, 1);
      assertClose(values(resizedCrop(x, boxes, 16, mode, flip)), values(ref), 2e-5, mode);
    }
  });
});

test("the views' crops and flips match PyTorch's affine_grid + grid_sample on the same boxes, borders included", { skip: !HAS_TORCHVISION && "no torchvision" }, () => {
  T.tidy(() => {
    const n = 24;
    const [h, w, size] = [20, 26, 12];
    T.manualSeed(9);
    const x = T.randint(0, 256, [n, 3, h, w], { dtype: "uint8" });
    for (const mode of ["bilinear", "bicubic"] as const) {
      // Crop and flip only (everything else off, mean 0, std 1); both views in one pass, as makeViews.
      const only = (cfg: ViewConfig): ViewConfig => ({
        ...cfg, outputSize: size, crop: { ...cfg.crop, scale: [0.05, 1], interpolation: mode }, jitter: { ...cfg.jitter, p: 0 },
        grayscaleP: 0, blur: { ...cfg.blur, p: 0 }, solarize: { ...cfg.solarize, p: 0 }, mean: [0, 0, 0], std: [1, 1, 1],
      });
      const augs = byolPresets(size).map((c) => new ViewAugmenter(only(c), 3));
      const plan = augs[0]!.pairedWith(augs[1]!)!;
      let boxes: number[] = [];
      let flips: number[] = [];
      const views = runPlan(plan, x, 3, (d) => {
        boxes = values(T.cat([d.boxes.size, d.boxes.pos], 2).view(-1)); // (w, h, left, top) per image
        flips = values(d.flip.view(-1).float());
      });
      assert.ok(flips.some((f) => f === 1) && flips.some((f) => f === 0), "both flipped and unflipped images");
      const ref = python(
        [
          "x = torch.tensor(inp['x'], dtype=torch.uint8).reshape(inp['n'], 3, inp['h'], inp['w']).float() / 255",
          "x = torch.cat([x, x])",
          "b = torch.tensor(inp['boxes'], dtype=torch.float64).reshape(-1, 4)",
          "W, H = inp['w'], inp['h']",
          "sx = b[:, 0] / W * (1 - 2 * torch.tensor(inp['flips'], dtype=torch.float64))",
          "z = torch.zeros_like(sx)",
          "theta = torch.stack([sx, z, (2 * b[:, 2] + b[:, 0]) / W - 1, z, b[:, 1] / H, (2 * b[:, 3] + b[:, 1]) / H - 1], 1).reshape(-1, 2, 3)",
          "grid = torch.nn.functional.affine_grid(theta, [x.shape[0], 3, inp['s'], inp['s']], align_corners=False).float()",
          "y = torch.nn.functional.grid_sample(x, grid, mode=inp['mode'], padding_mode='border', align_corners=False)",
          "out = (y.clamp(0, 1) if inp['mode'] == 'bicubic' else y).flatten().tolist()",
        ].join("\n"),
        { x: Array.from(x.toArray() as Uint8Array), n, h, w, s: size, boxes, flips, mode },
      );
      // The grids agree to float32 rounding of the box coordinates; samples move by at most that much.
      assertClose(values(T.cat(views, 0)), ref, 2e-5, mode);
    }
  });
});

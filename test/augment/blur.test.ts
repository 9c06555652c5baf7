import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { gaussianBlur, gaussianKernels } from "../../src/augment/blur.js";
import { blurKernelSize } from "../../src/augment/config.js";
import { HAS_TORCHVISION, assertClose, ft, python, values } from "./helpers.js";

T.setNumThreads(1);

test("kernel side is 10% of the image side made odd", () => {
  assert.equal(blurKernelSize(224, 0.1), 23);
  assert.equal(blurKernelSize(96, 0.1), 9);
  assert.equal(blurKernelSize(32, 0.1), 3);
  assert.equal(blurKernelSize(28, 0.1), 3);
  assert.equal(blurKernelSize(16, 0.1), 1);
});

test("kernels are normalised Gaussians per image; masked-out images get the delta kernel", () => {
  T.tidy(() => {
    const e = Math.exp(-0.5);
    const k = values(gaussianKernels(ft([1, 2, 1]), 3, T.tensor([1, 1, 0], undefined, { dtype: "bool" })));
    const e2 = Math.exp(-0.125);
    assertClose(k, [e / (1 + 2 * e), 1 / (1 + 2 * e), e / (1 + 2 * e), e2 / (1 + 2 * e2), 1 / (1 + 2 * e2), e2 / (1 + 2 * e2), 0, 1, 0], 1e-6);
  });
});

test("blur keeps constant images, leaves unmasked images bit-identical, matches the 1-D formula", () => {
  T.tidy(() => {
    T.manualSeed(1);
    const flat = T.full([2, 3, 9, 9], 0.3);
    assertClose(values(gaussianBlur(flat, ft([0.5, 1.7]), 5)), values(flat), 1e-6, "constant");
    const x = T.rand([2, 1, 8, 8]);
    const out = gaussianBlur(x, ft([1, 1]), 3, T.tensor([0, 1], undefined, { dtype: "bool" }));
    assert.deepEqual(values(out.narrow(0, 0, 1)), values(x.narrow(0, 0, 1)), "unmasked image untouched");
    // Interior pixel of image 1 by hand: separable 3x3 weights w_i·w_j.
    const e = Math.exp(-0.5);
    const w = [e / (1 + 2 * e), 1 / (1 + 2 * e), e / (1 + 2 * e)];
    const img = values(x.narrow(0, 1, 1));
    let want = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) want += w[i]! * w[j]! * img[(3 + i) * 8 + (4 + j)]!;
    assertClose([values(out)[64 + 4 * 8 + 5]!], [want], 1e-6, "interior pixel");
  });
});

test("blur matches torchvision's gaussian_blur (reflect padding)", { skip: !HAS_TORCHVISION && "no torchvision" }, () => {
  T.tidy(() => {
    T.manualSeed(2);
    const x = T.rand([3, 3, 12, 10]);
    const sigmas = [0.1, 0.9, 2.0];
    const ours = values(gaussianBlur(x, ft(sigmas), 5));
    const ref = python(
      "x = t(inp['x'], [3, 3, 12, 10])\nout = torch.cat([F.gaussian_blur(x[i:i+1], [5, 5], [s, s]) for i, s in enumerate(inp['s'])]).flatten().tolist()",
      { x: values(x), s: sigmas },
    );
    assertClose(ours, ref, 1e-5);
  });
});

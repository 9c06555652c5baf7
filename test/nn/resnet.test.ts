import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { Module, resnet18, resnet34, resnet50 } from "../../src/nn/index.js";
import { UserError } from "../../src/util/errors.js";

test("parameter counts equal torchvision's without fc", () => {
  // torchvision: resnet18 11,689,512 − fc 513,000; resnet34 21,797,672 − 513,000; resnet50 25,557,032 − 2,049,000
  const counts: [() => Module & { outDim: number }, number, number][] = [
    [() => resnet18(), 11_176_512, 512],
    [() => resnet34(), 21_284_672, 512],
    [() => resnet50(), 23_508_032, 2048],
  ];
  for (const [make, n, dim] of counts) {
    const m = make();
    assert.equal(m.numParameters(), n);
    assert.equal(m.outDim, dim);
    m.dispose();
  }
});

test("stems, input channels and width multiplier", () => {
  const x = T.randn([2, 1, 28, 28]);
  const small = resnet18({ inChannels: 1, stem: "small", widthMultiplier: 0.25 });
  assert.deepEqual(small.widths, [16, 32, 64, 128]);
  assert.equal(small.outDim, 128);
  assert.deepEqual(small.child("conv1").param("weight").shape, [16, 1, 3, 3]);
  assert.deepEqual(small.forward(x).shape, [2, 128]);
  const imagenet = resnet50({ inChannels: 1, widthMultiplier: 0.125 });
  assert.equal(imagenet.outDim, 256);
  assert.deepEqual(imagenet.child("conv1").param("weight").shape, [8, 1, 7, 7]);
  assert.deepEqual(imagenet.forward(x).shape, [2, 256]);
  assert.deepEqual(Object.keys(imagenet.stateDict()).filter((k) => k.includes("downsample")).slice(0, 2), [
    "layer1.0.downsample.0.weight", "layer1.0.downsample.1.weight",
  ]);
  assert.throws(() => small.forward(T.randn([2, 3, 28, 28])), UserError);
  assert.throws(() => resnet18({ widthMultiplier: 0 }), UserError);
  assert.throws(() => resnet18({ inChannels: 0 }), UserError);
  assert.throws(() => resnet18({ stem: "tiny" as "small" }), UserError);
  small.dispose();
  imagenet.dispose();
});

test("resetParameters re-draws weights and resets BatchNorm", () => {
  const m = resnet18({ widthMultiplier: 0.125, stem: "small" });
  T.tidy(() => m.forward(T.randn([4, 3, 8, 8])));
  const before = m.child("conv1").param("weight").toFloat32Array();
  m.resetParameters();
  const after = m.child("conv1").param("weight").toFloat32Array();
  assert.ok(before.some((v, i) => v !== after[i]));
  assert.equal(m.stateDict()["bn1.num_batches_tracked"].item(), 0);
  assert.deepEqual(Array.from(m.stateDict()["bn1.running_mean"].toFloat32Array()), new Array(8).fill(0));
  m.dispose();
});

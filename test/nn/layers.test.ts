// Layers against PyTorch (Debian's python3-torch as the oracle) and PyTorch's default initialisations.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import {
  AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, resnet18,
} from "../../src/nn/index.js";
import { assertClose, pythonTorchAvailable, runPython } from "../torch/helpers.js";

const noTorch = pythonTorchAvailable() ? false : "python3-torch is not installed";
const arr = (t: T.Tensor) => Array.from(t.toFloat32Array());

const ORACLE = `
import json, sys, torch
import torch.nn as nn
d = json.load(sys.stdin)
t = lambda k: torch.tensor(d[k], dtype=torch.float32).reshape(d[k + "_shape"])
out = {}
x = t("x")
conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
with torch.no_grad():
    conv.weight.copy_(t("cw")); conv.bias.copy_(t("cb"))
out["conv"] = conv(x).flatten().tolist()
lin = nn.Linear(5, 3)
with torch.no_grad():
    lin.weight.copy_(t("lw")); lin.bias.copy_(t("lb"))
out["linear"] = lin(t("v")).flatten().tolist()
bn = nn.BatchNorm2d(3, momentum=0.3, eps=1e-3)
with torch.no_grad():
    bn.weight.copy_(t("bw")); bn.bias.copy_(t("bb"))
y1 = bn(x); y2 = bn(x * 2 + 1)
out["bn_train"] = y2.flatten().tolist()
out["bn_mean"] = bn.running_mean.tolist(); out["bn_var"] = bn.running_var.tolist()
out["bn_count"] = int(bn.num_batches_tracked)
bn.eval()
out["bn_eval"] = bn(x).flatten().tolist()
bn1 = nn.BatchNorm1d(5, affine=False)
out["bn1_train"] = bn1(t("v")).flatten().tolist()
bn1.eval()
out["bn1_eval"] = bn1(t("v")).flatten().tolist()
nt = nn.BatchNorm1d(5, track_running_stats=False).eval()
out["bn1_untracked"] = nt(t("v")).flatten().tolist()
out["maxpool"] = nn.MaxPool2d(3, 2, 1)(x).flatten().tolist()
out["avgpool"] = nn.AvgPool2d(2)(x).flatten().tolist()
out["adaptive"] = nn.AdaptiveAvgPool2d(1)(x).flatten().tolist()
print(json.dumps(out))
`;

test("layers match PyTorch: conv, linear, batch norm (train, eval, affine or not, untracked), pooling", { skip: noTorch }, () => {
  T.manualSeed(1);
  const x = T.randn([2, 3, 6, 6]);
  const v = T.randn([4, 5]);
  const conv = new Conv2d(3, 4, 3, { stride: 2, padding: 1 });
  const lin = new Linear(5, 3);
  const bn = new BatchNorm2d(3, { momentum: 0.3, eps: 1e-3 });
  T.noGrad(() => {
    bn.weight!.copy_(T.rand([3]));
    bn.bias!.copy_(T.randn([3]));
  });
  const input: Record<string, unknown> = {};
  for (const [k, t] of Object.entries({ x, v, cw: conv.weight, cb: conv.bias!, lw: lin.weight, lb: lin.bias!, bw: bn.weight!, bb: bn.bias! })) {
    input[k] = arr(t);
    input[`${k}_shape`] = t.shape;
  }
  const ref = runPython<Record<string, number[]>>(ORACLE, input);
  assertClose(arr(conv.forward(x)), ref.conv, 1e-5, 1e-5, "conv");
  assertClose(arr(lin.forward(v)), ref.linear, 1e-5, 1e-5, "linear");
  bn.forward(x);
  assertClose(arr(bn.forward(x.mul(2).add(1))), ref.bn_train, 1e-5, 1e-5, "bn train");
  assertClose(arr(bn.runningMean!), ref.bn_mean, 1e-5, 1e-5, "running mean");
  assertClose(arr(bn.runningVar!), ref.bn_var, 1e-5, 1e-5, "running var");
  assert.equal(bn.numBatchesTracked!.item(), ref.bn_count as unknown as number);
  bn.eval();
  assertClose(arr(bn.forward(x)), ref.bn_eval, 1e-5, 1e-5, "bn eval");
  const bn1 = new BatchNorm1d(5, { affine: false });
  assert.equal(bn1.parameters().length, 0);
  assertClose(arr(bn1.forward(v)), ref.bn1_train, 1e-5, 1e-5, "bn1d train");
  bn1.eval();
  assertClose(arr(bn1.forward(v)), ref.bn1_eval, 1e-5, 1e-5, "bn1d eval");
  const untracked = new BatchNorm1d(5, { trackRunningStats: false }).eval();
  assert.deepEqual(Object.keys(untracked.stateDict()), ["weight", "bias"]);
  assertClose(arr(untracked.forward(v)), ref.bn1_untracked, 1e-5, 1e-5, "bn1d untracked");
  assertClose(arr(new MaxPool2d(3, 2, 1).forward(x)), ref.maxpool, 1e-6, 1e-6, "maxpool");
  assertClose(arr(new AvgPool2d(2).forward(x)), ref.avgpool, 1e-6, 1e-6, "avgpool");
  assertClose(arr(new AdaptiveAvgPool2d(1).forward(x)), ref.adaptive, 1e-6, 1e-6, "adaptive avgpool");
});

test("Sequential chains its children; ReLU and Flatten", () => {
  const s = new Sequential(new Flatten(), new ReLU());
  const x = T.tensor([[[-1, 2], [3, -4]]]);
  assert.deepEqual(s.forward(x).shape, [1, 4]);
  assert.deepEqual(arr(s.forward(x)), [0, 2, 3, 0]);
  assert.equal(s.length, 2);
  assert.ok(s.at(-1) instanceof ReLU);
  const y = T.tensor([-1, 1]);
  assert.equal(new ReLU(true).forward(y), y);
  assert.deepEqual(arr(y), [0, 1]);
});

function stats(t: T.Tensor): { min: number; max: number; std: number; mean: number } {
  const a = t.toFloat32Array();
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of a) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  const mean = sum / a.length;
  let sq = 0;
  for (const v of a) sq += (v - mean) ** 2;
  return { min, max, std: Math.sqrt(sq / a.length), mean };
}

test("default initialisations are PyTorch's", () => {
  // Linear/Conv2d: U(−1/√fan_in, 1/√fan_in) for weight and bias; std of a uniform = bound/√3
  const lin = new Linear(400, 300);
  const b = 1 / Math.sqrt(400);
  const w = stats(lin.weight);
  assert.ok(w.min >= -b && w.max <= b);
  assert.ok(Math.abs(w.std - b / Math.sqrt(3)) < 0.02 * b, `linear std ${w.std}`);
  const bias = stats(lin.bias!);
  assert.ok(bias.min >= -b && bias.max <= b && bias.max > 0.8 * b);
  const conv = new Conv2d(16, 64, 3);
  const cb = 1 / Math.sqrt(16 * 9);
  const c = stats(conv.weight);
  assert.ok(c.min >= -cb && c.max <= cb && Math.abs(c.std - cb / Math.sqrt(3)) < 0.05 * cb);
  // BatchNorm: weight 1, bias 0, running mean 0, running var 1
  const bn = new BatchNorm2d(5);
  assert.deepEqual(arr(bn.weight!), [1, 1, 1, 1, 1]);
  assert.deepEqual(arr(bn.bias!), [0, 0, 0, 0, 0]);
  assert.deepEqual(arr(bn.runningVar!), [1, 1, 1, 1, 1]);
  // torchvision's ResNet: convolutions He-normal with fan_out (std √(2/fan_out))
  const r = resnet18();
  const k = r.child<Sequential>("layer4").at(0).child<Conv2d>("conv2").weight; // [512, 512, 3, 3]
  const s = stats(k);
  const want = Math.sqrt(2 / (512 * 9));
  assert.ok(Math.abs(s.std - want) < 0.01 * want, `resnet conv std ${s.std} vs ${want}`);
  assert.ok(Math.abs(s.mean) < 0.01 * want);
  r.dispose();
});

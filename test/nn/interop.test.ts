// An encoder saved by byol-ts loads into torchvision.models.resnet18() (strict=False, only fc.* missing)
// and computes the same representation in eval mode.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { ResNet, resnet18, resnet50, saveModule } from "../../src/nn/index.js";
import { PYTHON, runPython } from "../torch/helpers.js";
import { spawnSync } from "node:child_process";

const hasTorchvision = spawnSync(PYTHON, ["-c", "import torchvision"], { stdio: "ignore" }).status === 0;
const skip = hasTorchvision ? false : "python3-torchvision is not installed";
const dir = mkdtempSync(join(tmpdir(), "byol-interop-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// A minimal safetensors reader (the Python side has no safetensors package) and the comparison.
const SCRIPT = `
import json, struct, sys
import numpy as np, torch, torchvision
d = json.load(sys.stdin)
raw = open(d["weights"], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
types = {"F32": np.float32, "I64": np.int64}
sd = {}
for k, v in header.items():
    if k == "__metadata__": continue
    s, e = v["data_offsets"]
    sd[k] = torch.from_numpy(np.frombuffer(raw[8 + n + s:8 + n + e], dtype=types[v["dtype"]]).reshape(v["shape"]).copy())
m = getattr(torchvision.models, d["arch"])()
if d["small"]:
    m.conv1 = torch.nn.Conv2d(d["channels"], 64, 3, 1, 1, bias=False)
    m.maxpool = torch.nn.Identity()
elif d["channels"] != 3:
    m.conv1 = torch.nn.Conv2d(d["channels"], 64, 7, 2, 3, bias=False)
want = {k: list(v.shape) for k, v in m.state_dict().items()}
res = m.load_state_dict(sd, strict=False)
out = {"missing": sorted(res.missing_keys), "unexpected": sorted(res.unexpected_keys),
       "shape_mismatch": [k for k, v in sd.items() if k in want and list(v.shape) != want[k]]}
if d.get("x_shape"):
    x = torch.from_numpy(np.fromfile(d["x"], dtype=np.float32).reshape(d["x_shape"]))
    m.fc = torch.nn.Identity()
    m.eval()
    with torch.no_grad():
        out["y"] = m(x).flatten().tolist()
print(json.dumps(out))
`;

function compare(name: string, model: ResNet, arch: string, small: boolean, x: T.Tensor | null) {
  // Non-trivial running statistics first: a few training-mode batches.
  const n = x ? x.shape[0] : 2;
  for (let i = 0; i < 3; i++) T.tidy(() => model.forward(T.randn([n, model.inChannels, 32, 32]).mul(1 + i).add(i * 0.1)));
  const weights = join(dir, `${name}.safetensors`);
  saveModule(weights, model);
  const input: Record<string, unknown> = { weights, arch, small, channels: model.inChannels };
  if (x) {
    const xf = join(dir, `${name}.f32`);
    writeFileSync(xf, x.toFloat32Array());
    Object.assign(input, { x: xf, x_shape: x.shape });
  }
  const r = runPython<{ missing: string[]; unexpected: string[]; shape_mismatch: string[]; y?: number[] }>(SCRIPT, input);
  assert.deepEqual(r.missing, ["fc.bias", "fc.weight"]);
  assert.deepEqual(r.unexpected, []);
  assert.deepEqual(r.shape_mismatch, []);
  if (x) {
    model.eval();
    const y = T.noGrad(() => model.forward(x)).toFloat32Array();
    assert.equal(y.length, r.y!.length);
    let maxDiff = 0;
    y.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - r.y![i]))));
    assert.ok(maxDiff <= 1e-4, `${name}: max abs difference ${maxDiff}`);
  }
}

test("ResNet-18 (ImageNet stem) loads into torchvision.models.resnet18 and gives the same output", { skip }, () => {
  T.manualSeed(3);
  const m = resnet18();
  compare("r18", m, "resnet18", false, T.randn([4, 3, 64, 64]));
  m.dispose();
});

test("ResNet-18 with the small stem on 1 channel matches torchvision with conv1/maxpool replaced", { skip }, () => {
  T.manualSeed(4);
  const m = resnet18({ stem: "small", inChannels: 1 });
  compare("r18small", m, "resnet18", true, T.randn([3, 1, 28, 28]));
  m.dispose();
});

test("ResNet-50 tensor names and shapes are torchvision's", { skip }, () => {
  const m = resnet50();
  compare("r50", m, "resnet50", false, null);
  m.dispose();
});

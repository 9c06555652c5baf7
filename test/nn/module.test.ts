import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { BatchNorm1d, Conv2d, Linear, Module, ReLU, Sequential, loadModule, mlpHead, resnet18, saveModule } from "../../src/nn/index.js";
import { UserError } from "../../src/util/errors.js";

const dir = mkdtempSync(join(tmpdir(), "byol-nn-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const values = (t: T.Tensor) => Array.from(t.toFloat32Array());

// A user module with its own parameter, a buffer and children referenced from fields.
class Custom extends Module {
  readonly head: Linear;
  readonly blocks: Sequential[];
  constructor() {
    super();
    this.registerParameter("scale", T.ones([3]));
    this.registerBuffer("count", T.zeros([], { dtype: "int64" }));
    this.registerBuffer("scratch", T.zeros([2]), false);
    this.blocks = [this.registerModule("body", new Sequential(new Linear(4, 3), new ReLU()))];
    this.head = this.registerModule("head", new Linear(3, 2, { bias: false }));
  }
  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => this.head.forward(this.blocks[0].forward(x).mul(this.param("scale"))));
  }
}

test("names follow PyTorch: own tensors first, Sequential children 0, 1, ...; non-persistent buffers not saved", () => {
  const m = new Custom();
  assert.deepEqual(m.namedParameters().map(([n]) => n), ["scale", "body.0.weight", "body.0.bias", "head.weight"]);
  assert.deepEqual(Object.keys(m.stateDict()), ["scale", "count", "body.0.weight", "body.0.bias", "head.weight"]);
  assert.deepEqual(m.namedBuffers().map(([n]) => n), ["count", "scratch"]);
  assert.ok(m.parameters().every((p) => p.requiresGrad && p.isLeaf && p.kept));
  const head = mlpHead(8, 16, 4);
  assert.deepEqual(Object.keys(head.stateDict()), [
    "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "3.weight", "3.bias",
  ]);
  assert.equal(head.stateDict()["1.num_batches_tracked"].dtype, "int64");
  m.dispose();
  head.dispose();
});

test("train/eval reach every descendant", () => {
  const m = resnet18({ widthMultiplier: 0.125 });
  assert.ok(m.modules().every((x) => x.training));
  m.eval();
  assert.ok(m.modules().every((x) => !x.training));
  m.train();
  assert.ok(m.modules().every((x) => x.training));
  m.dispose();
});

test("loadStateDict copies values, reports missing and unexpected keys, and rejects shape mismatches", () => {
  const a = new Custom();
  const b = new Custom();
  b.loadStateDict(a.stateDict());
  for (const [k, t] of Object.entries(a.stateDict())) assert.deepEqual(values(b.stateDict()[k]), values(t), k);
  // the copy is by value: changing a later leaves b alone
  T.noGrad(() => a.param("scale").fill_(7));
  assert.deepEqual(values(b.param("scale")), [1, 1, 1]);

  const partial = { ...a.stateDict(), extra: T.zeros([1]) } as Record<string, T.Tensor>;
  delete partial["head.weight"];
  assert.throws(() => b.loadStateDict(partial), (e: Error) => e instanceof UserError && /missing head\.weight/.test(e.message) && /unexpected extra/.test(e.message));
  const r = b.loadStateDict(partial, { strict: false });
  assert.deepEqual(r, { missing: ["head.weight"], unexpected: ["extra"] });
  assert.deepEqual(values(b.param("scale")), [7, 7, 7]);

  const wrong = { ...a.stateDict(), "body.0.weight": T.zeros([3, 5]) };
  assert.throws(() => b.loadStateDict(wrong), (e: Error) => e instanceof UserError && /body\.0\.weight/.test(e.message) && /\[3,5\]/.test(e.message));
  a.dispose();
  b.dispose();
});

test("clone is deep: new tensors, same values, fields point at the cloned children", () => {
  const a = new Custom();
  const c = a.clone();
  assert.ok(c instanceof Custom);
  assert.notEqual(c.param("scale"), a.param("scale"));
  assert.equal(c.head, c.child("head"));
  assert.equal(c.blocks[0], c.child("body"));
  assert.notEqual(c.head, a.head);
  for (const [k, t] of Object.entries(a.stateDict())) assert.deepEqual(values(c.stateDict()[k]), values(t), k);
  T.noGrad(() => c.head.weight.zero_());
  assert.ok(values(a.head.weight).some((v) => v !== 0));
  assert.ok(c.parameters().every((p) => p.requiresGrad && p.isLeaf));
  const x = T.randn([5, 4]);
  const ya = a.forward(x);
  const r = resnet18({ widthMultiplier: 0.125, stem: "small" });
  const rc = r.clone();
  const img = T.randn([2, 3, 16, 16]);
  assert.deepEqual(values(rc.eval().forward(img)), values(r.eval().forward(img)));
  assert.equal(ya.shape[1], 2);
  for (const m of [a, c, r, rc]) m.dispose();
});

test("save and load through safetensors round-trip every tensor, with metadata", () => {
  const a = resnet18({ widthMultiplier: 0.125, inChannels: 1, stem: "small" });
  // make the running statistics non-trivial
  T.tidy(() => a.forward(T.randn([4, 1, 12, 12])));
  const path = join(dir, "enc.safetensors");
  saveModule(path, a, { arch: "resnet18" });
  const b = resnet18({ widthMultiplier: 0.125, inChannels: 1, stem: "small" });
  const r = loadModule(path, b);
  assert.deepEqual(r.missing, []);
  assert.equal(r.metadata.arch, "resnet18");
  for (const [k, t] of Object.entries(a.stateDict())) assert.deepEqual(Array.from(b.stateDict()[k].toArray() as ArrayLike<number | bigint>), Array.from(t.toArray() as ArrayLike<number | bigint>), k);
  assert.equal(b.stateDict()["bn1.num_batches_tracked"].item(), 1);
  const other = resnet18({ widthMultiplier: 0.25, inChannels: 1, stem: "small" });
  assert.throws(() => loadModule(path, other), UserError);
  for (const m of [a, b, other]) m.dispose();
});

test("to() on the same device keeps the tensors; toChannelsLast keeps values and outputs", () => {
  const m = resnet18({ widthMultiplier: 0.125, stem: "small" }).eval();
  const before = m.parameters();
  m.to("cpu");
  assert.deepEqual(m.parameters(), before);
  const x = T.randn([2, 3, 16, 16]);
  const y = values(m.forward(x));
  m.toChannelsLast();
  const conv = m.child<Conv2d>("conv1");
  assert.ok(conv.weight.isContiguous("channelsLast"));
  assert.ok(conv.weight.requiresGrad && conv.weight.isLeaf);
  const y2 = values(m.forward(x));
  y.forEach((v, i) => assert.ok(Math.abs(v - y2[i]) < 1e-5));
  m.dispose();
});

test("forward inside tidy leaves no tensors behind; gradients reach every parameter", () => {
  const m = resnet18({ widthMultiplier: 0.125, stem: "small" });
  const x = T.randn([3, 3, 8, 8]).keep();
  T.tidy(() => m.forward(x).sum().backward());
  assert.ok(m.parameters().every((p) => {
    const g = p.grad;
    g?.dispose();
    return g !== null;
  }));
  m.zeroGrad();
  const live = T.liveTensors();
  for (let i = 0; i < 3; i++) T.tidy(() => m.forward(x).sum().backward());
  m.zeroGrad();
  assert.equal(T.liveTensors(), live);
  m.dispose();
  x.dispose();
});

test("BatchNorm rejects a wrong input shape and a batch of one in training", () => {
  const bn = new BatchNorm1d(4);
  assert.throws(() => bn.forward(T.zeros([2, 3])), (e: Error) => e instanceof UserError && /BatchNorm1d\(4\)/.test(e.message));
  assert.throws(() => bn.forward(T.zeros([1, 4])), UserError);
  bn.eval();
  assert.deepEqual(bn.forward(T.zeros([1, 4])).shape, [1, 4]);
});

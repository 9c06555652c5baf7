import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";
import { BYOL } from "../../src/byol/index.js";
import { Module, ReLU, resnet18 } from "../../src/nn/index.js";
import { TinyEncoder } from "./tiny-encoder.js";
import { SGD } from "../../src/optim/index.js";
import { UserError } from "../../src/util/errors.js";
import { assertClose } from "../torch/helpers.js";

const arr = (t: T.Tensor) => Array.from(t.toFloat32Array());


const small = (targetInit: "copy" | "independent" = "copy") =>
  new BYOL({ encoder: new TinyEncoder(), hiddenDim: 16, projectionDim: 4, targetInit });

function views(n = 5): [T.Tensor, T.Tensor] {
  return [T.randn([n, 1, 8, 8]).keep(), T.randn([n, 1, 8, 8]).keep()];
}

test("structure, names and initialisation modes", () => {
  const b = small("copy");
  assert.deepEqual(Object.keys(b.stateDict()).filter((k) => k.endsWith("conv.weight")), ["online.encoder.conv.weight", "target.encoder.conv.weight"]);
  assert.ok(Object.keys(b.stateDict()).includes("predictor.3.bias"));
  assert.ok(Object.keys(b.stateDict()).includes("target.projector.1.running_var"));
  assert.equal(b.trainableParameters().length, 4 + 6 + 6);
  assert.deepEqual(b.namedTrainableParameters()[0][0], "online.encoder.conv.weight");
  const sd = b.stateDict();
  assert.deepEqual(arr(sd["target.encoder.conv.weight"]), arr(sd["online.encoder.conv.weight"]));
  assert.deepEqual(arr(sd["target.projector.0.weight"]), arr(sd["online.projector.0.weight"]));
  const ind = small("independent");
  const si = ind.stateDict();
  assert.notDeepEqual(arr(si["target.encoder.conv.weight"]), arr(si["online.encoder.conv.weight"]));
  assert.notDeepEqual(arr(si["target.projector.0.weight"]), arr(si["online.projector.0.weight"]));
  // with makeEncoder, and with a ResNet (clone + torchvision re-init)
  const withMake = new BYOL({ encoder: new TinyEncoder(), makeEncoder: () => new TinyEncoder(), hiddenDim: 8, projectionDim: 4 });
  assert.ok(withMake.target.encoder instanceof TinyEncoder);
  const r = new BYOL({ encoder: resnet18({ widthMultiplier: 0.125, stem: "small", inChannels: 1 }), hiddenDim: 8, projectionDim: 4 });
  assert.notDeepEqual(arr(r.target.encoder.child("conv1").param("weight")), arr(r.online.encoder.child("conv1").param("weight")));
  assert.throws(() => new BYOL({ encoder: new ReLU() as unknown as Module & { outDim: number } }), UserError);
  for (const x of [b, ind, withMake, r]) x.dispose();
});

test("no gradient reaches the target; the target runs in training mode", () => {
  const b = small("independent");
  const [v1, v2] = views();
  b.eval(); // the online network's mode does not change the target's
  b.train();
  const { loss, repr1 } = b.forwardLoss(v1, v2);
  assert.equal(repr1.requiresGrad, false);
  assert.deepEqual(repr1.shape, [5, 6]);
  loss.backward();
  for (const p of [...b.target.encoder.parameters(), ...b.target.projector.parameters()]) {
    assert.equal(p.requiresGrad, false);
    assert.equal(p.grad, null);
  }
  for (const p of b.trainableParameters()) {
    const g = p.grad;
    assert.notEqual(g, null);
    g!.dispose();
  }
  assert.ok(b.target.encoder.modules().every((m) => m.training));
  // the target used batch statistics and updated its running statistics: two views → two batches
  assert.equal(b.target.encoder.child("bn").buffer("num_batches_tracked").item(), 2);
  b.dispose();
});

test("the loss is symmetric in the two views and equals the formula from the parts", () => {
  const b = small("independent");
  const [v1, v2] = views();
  const l12 = b.forwardLoss(v1, v2).loss.item();
  const l21 = b.forwardLoss(v2, v1).loss.item();
  assert.ok(Math.abs(l12 - l21) < 1e-5, `${l12} vs ${l21}`);
  const manual = T.tidy(() => {
    const p = (v: T.Tensor) => b.predictor.forward(b.online.projector.forward(b.online.encoder.forward(v)));
    const z = (v: T.Tensor) => b.targetProject(v);
    const l = (a: T.Tensor, c: T.Tensor) => T.cosineSimilarity(a, c, 1).mul(-2).add(2);
    return l(p(v1), z(v2)).add(l(p(v2), z(v1))).mean().item();
  });
  assert.ok(Math.abs(l12 - manual) < 1e-5);
  assert.ok(l12 >= 0 && l12 <= 8);
  b.dispose();
});

test("updateTarget is the EMA τ·ξ + (1 − τ)·θ of parameters and running statistics; counters copied", () => {
  const b = small("independent");
  const [v1, v2] = views();
  const opt = new SGD(b.trainableParameters(), { lr: 0.1, momentum: 0.9 });
  T.tidy(() => {
    const { loss } = b.forwardLoss(v1, v2);
    loss.backward();
    opt.step();
  });
  T.tidy(() => b.online.encoder.forward(v1)); // one more online batch: counters differ
  const before = Object.fromEntries(Object.entries(b.stateDict()).map(([k, t]) => [k, t.toArray()]));
  const tau = 0.9;
  b.updateTarget(tau);
  const after = b.stateDict();
  let checked = 0;
  for (const [k, t] of Object.entries(after)) {
    if (!k.startsWith("target.")) continue;
    const online = before[k.replace(/^target\./, "online.")];
    const old = before[k];
    if (k.endsWith("num_batches_tracked")) {
      assert.equal(t.item(), Number((online as BigInt64Array)[0]), k);
    } else {
      const want = Array.from(old as Float32Array, (x, i) => tau * x + (1 - tau) * (online as Float32Array)[i]);
      assertClose(arr(t), want, 1e-6, 1e-5, k);
    }
    checked++;
  }
  assert.equal(checked, 7 + 9); // encoder: conv w,b + bn w,b,mean,var,count; projector: 0.w,0.b, 1.w,1.b,mean,var,count, 3.w,3.b
  // τ = 1 leaves the target unchanged; τ = 0 makes it a copy
  b.updateTarget(0);
  assert.deepEqual(arr(b.stateDict()["target.encoder.conv.weight"]), arr(b.stateDict()["online.encoder.conv.weight"]));
  assert.throws(() => b.updateTarget(1.5), UserError);
  opt.dispose();
  b.dispose();
});

test("embed: eval mode, no gradients, batched, previous mode restored", () => {
  const b = small();
  const x = T.randn([7, 1, 8, 8]);
  T.tidy(() => b.forwardLoss(x, x.flip([3]))); // non-trivial running statistics
  const y = b.embed(x, 3);
  assert.deepEqual(y.shape, [7, 6]);
  assert.equal(y.requiresGrad, false);
  assert.ok(b.online.encoder.modules().every((m) => m.training));
  b.online.encoder.eval();
  const direct = T.noGrad(() => b.online.encoder.forward(x));
  assertClose(arr(y), arr(direct), 1e-6, 1e-5, "embed");
  assert.ok(b.online.encoder.modules().every((m) => !m.training));
  assertClose(arr(b.embed(x)), arr(direct), 1e-6, 1e-5, "one batch");
  b.dispose();
});

test("state dict round-trips into a new learner; mismatches are UserErrors", () => {
  const a = small("independent");
  const [v1, v2] = views();
  T.tidy(() => a.forwardLoss(v1, v2));
  a.updateTarget(0.5);
  const b = small("independent");
  const r = b.loadStateDict(a.stateDict());
  assert.deepEqual(r, { missing: [], unexpected: [] });
  for (const [k, t] of Object.entries(a.stateDict())) assert.deepEqual(Array.from(b.stateDict()[k].toArray() as ArrayLike<number>), Array.from(t.toArray() as ArrayLike<number>), k);
  assert.ok(Math.abs(a.forwardLoss(v1, v2).loss.item() - b.forwardLoss(v1, v2).loss.item()) < 1e-6);
  const partial = { ...a.stateDict() };
  delete partial["predictor.0.weight"];
  assert.throws(() => b.loadStateDict(partial), (e: Error) => e instanceof UserError && /predictor\.0\.weight/.test(e.message));
  assert.throws(() => b.loadStateDict({ ...a.stateDict(), "online.encoder.conv.weight": T.zeros([1]) }), UserError);
  assert.throws(() => b.loadStateDict({ ...a.stateDict(), "other.x": T.zeros([1]) }), UserError);
  a.dispose();
  b.dispose();
});

test("a training loop leaves no tensors behind and lowers the loss on a fixed pair", () => {
  T.manualSeed(5);
  const b = new BYOL({ encoder: resnet18({ widthMultiplier: 0.125, stem: "small", inChannels: 1 }), hiddenDim: 32, projectionDim: 8 });
  const opt = new SGD(b.trainableParameters(), { lr: 0.05, momentum: 0.9 });
  const [v1, v2] = views(8);
  const step = () =>
    T.tidy(() => {
      const { loss } = b.forwardLoss(v1, v2);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      b.updateTarget(0.99);
      return loss.item();
    });
  const first = step();
  const live = T.liveTensors();
  let last = first;
  for (let i = 0; i < 8; i++) last = step();
  assert.equal(T.liveTensors(), live);
  assert.ok(last < first, `loss ${first} → ${last}`);
  opt.dispose();
  b.dispose();
});

// Memory: explicit disposal, scopes (tidy, Scope, keep, nesting, results moved to the parent), a long
// training loop whose live-tensor count and RSS stay flat, and the GC backstop for dropped tensors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";

const live = () => T.liveTensors();

test("dispose frees the handle at once; a second dispose is harmless", () => {
  const before = live();
  const t = T.rand([3]);
  assert.equal(live(), before + 1);
  assert.equal(t.disposed, false);
  t.dispose();
  assert.equal(t.disposed, true);
  assert.equal(live(), before);
  t.dispose();
  assert.equal(live(), before);
});

test("the addon's release takes several handles or an array of them, and ignores dead ones", () => {
  const t = T.rand([2]);
  const before = live();
  const h = () => T.native.share(t.id); // raw handles to the same tensor
  T.native.release(h(), h());
  T.native.release([h(), h(), h()]);
  T.native.release(h(), [h()], h(), h(), h(), h()); // more than the fast path's four arguments
  assert.equal(live(), before);
  T.native.release(-1, 1e9, [-5]);
  // Numbers that are no handle are ignored, never wrapped or truncated onto a live one.
  T.native.release(t.id + 2 ** 32, t.id + 0.5, NaN, [Infinity]);
  assert.equal(live(), before);
  assert.equal(t.numel, 2, "still alive");
  t.dispose();
});

test("tidy frees what it made except its result; arrays, objects and Maps in the result are searched", () => {
  const before = live();
  const one = T.tidy(() => T.rand([2]).add(1).mul(2));
  assert.equal(live(), before + 1);
  const many = T.tidy(() => {
    const a = T.rand([2]);
    const b = a.mul(3);
    a.add(b);
    return { pair: [a, b], map: new Map([["c", b.neg()]]), n: 3 };
  });
  assert.equal(live(), before + 4);
  assert.equal(many.n, 3);
  assert.equal(T.tidy(() => 42), 42, "any value passes through");
  T.tidy(() => {}); // nothing made, nothing returned
  one.dispose();
  many.pair[0].dispose();
  many.pair[1].dispose();
  many.map.get("c")!.dispose();
  assert.equal(live(), before);
});

test("keep() exempts a tensor from every enclosing scope", () => {
  const before = live();
  const held: T.Tensor[] = [];
  const r = T.tidy(() => T.tidy(() => {
    held.push(T.rand([2]).keep());
    held.push(T.rand([2]).mul(2).keep());
    T.rand([2]); // not kept: freed
    return null;
  }));
  assert.equal(r, null);
  assert.equal(live(), before + 2, "the two kept tensors outlive both scopes");
  assert.equal(held[0].kept, true);
  for (const t of held) t.dispose();
  assert.equal(live(), before);
  const p = T.zeros([1]).keep();
  assert.equal(T.tidy(() => p.add_(1)), p, "in-place ops return `this`");
  assert.deepEqual(p.toList(), [1], "a kept tensor returned from tidy stays alive");
  p.dispose();
  assert.equal(live(), before);
});

test("nested scopes: a result moves to the parent scope, which frees it unless it returns it too", () => {
  const before = live();
  let inner: T.Tensor | undefined;
  const outer = T.tidy(() => {
    inner = T.tidy(() => T.rand([2]).mul(2));
    assert.equal(inner.disposed, false, "alive in the parent after the inner scope ends");
    const mid = T.tidy(() => T.rand([2]));
    return mid.add(1); // mid and inner are not returned
  });
  assert.equal(inner!.disposed, true, "freed by the parent scope");
  assert.equal(outer.disposed, false);
  assert.equal(live(), before + 1);
  outer.dispose();
  assert.equal(live(), before);
});

test("Scope: tensors live until close(); close(...keepAlive) moves those to the parent", () => {
  const before = live();
  const s = new T.Scope();
  const a = T.rand([2]);
  const b = a.add(1);
  const c = b.mul(2);
  assert.equal(live(), before + 3);
  const out = T.tidy(() => {
    const inner = new T.Scope();
    const x = c.sub(1);
    const y = x.mul(x);
    inner.close(y);
    assert.equal(x.disposed, true);
    assert.equal(y.disposed, false, "moved to the enclosing tidy");
    return y;
  });
  assert.equal(out.disposed, false, "the tidy's result now belongs to the open Scope");
  s.close(c);
  s.close(); // closing twice is harmless
  assert.equal(a.disposed, true);
  assert.equal(b.disposed, true);
  assert.equal(out.disposed, true, "freed by the Scope, which did not keep it alive");
  assert.equal(c.disposed, false, "kept alive past the outermost scope, for its owner to dispose");
  assert.equal(live(), before + 1);
  c.dispose();
  assert.equal(live(), before);
});

test("gradients read inside tidy are freed with it; tidy refuses async functions without leaking", async () => {
  const w = T.rand([3], { requiresGrad: true }).keep();
  const before = live();
  T.tidy(() => {
    w.mul(w).sum().backward();
    const g = w.grad!;
    assert.equal(g.numel, 3);
  });
  assert.equal(live(), before);
  assert.throws(() => T.tidy(async () => T.rand([2])), /synchronous/);
  assert.equal(live(), before, "the tensor made before the refusal was freed");
  await Promise.resolve();
  w.dispose();
});

test("10,000 small training steps: live tensors return to the start and RSS stays flat", () => {
  const steps = 10_000;
  const start = live();
  T.manualSeed(0);
  // A tiny linear regression: y = x·Wᵀ + b learnt by SGD from a fixed batch.
  const x = T.randn([16, 4]).keep();
  const wTrue = T.tensor([[1, -2, 0.5, 3], [0, 1, -1, 2]]);
  const y = T.tidy(() => T.linear(x, wTrue, T.tensor([0.5, -0.5]))).keep();
  wTrue.dispose();
  const w = T.zeros([2, 4], { requiresGrad: true }).keep();
  const b = T.zeros([2], { requiresGrad: true }).keep();
  const afterSetup = live();
  const lr = 0.05;
  const rss: number[] = [];
  let firstLoss = 0;
  let lastLoss = 0;
  const t0 = Date.now();
  for (let step = 1; step <= steps; step++) {
    const loss = T.tidy(() => {
      const l = T.mseLoss(T.linear(x, w, b), y);
      l.backward();
      T.noGrad(() => {
        w.sub_(w.grad!, lr);
        b.sub_(b.grad!, lr);
      });
      w.grad = null;
      b.grad = null;
      return step === 1 || step === steps ? l.item() : 0;
    });
    if (step === 1) firstLoss = loss;
    if (step === steps) lastLoss = loss;
    if (step >= 2000 && step % 250 === 0) rss.push(process.memoryUsage.rss());
    assert.equal(live(), afterSetup, "no handle survives a step");
  }
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(lastLoss < 1e-6 * Math.max(1, firstLoss) || lastLoss < 1e-8, `the model trained (loss ${firstLoss} -> ${lastLoss})`);
  // RSS: compare the low points of the first and last quarters of the window (step 2,000 to 10,000),
  // so that a collection that happened to run just before one sample does not decide the outcome.
  const q = Math.floor(rss.length / 4);
  const early = Math.min(...rss.slice(0, q));
  const late = Math.min(...rss.slice(rss.length - q));
  const growthMB = (late - early) / 2 ** 20;
  if (process.env.BYOL_TEST_VERBOSE) console.log(`RSS ${(early / 2 ** 20).toFixed(1)} -> ${(late / 2 ** 20).toFixed(1)} MB, ${seconds}s`);
  assert.ok(growthMB < 4, `RSS grew ${growthMB.toFixed(2)} MB between step 2,000 and 10,000`);
  for (const t of [x, y, w, b]) t.dispose();
  assert.equal(live(), start, "back to the start value");
  assert.ok(seconds < 60, `${steps} steps took ${seconds}s`);
});

test("tensors dropped without dispose are freed by the GC backstop; live ones are untouched", () => {
  // A child process, since only there can the test force garbage collection (--expose-gc).
  const torchUrl = new URL("../../src/torch/index.js", import.meta.url).href;
  const script = `
    import * as T from ${JSON.stringify(torchUrl)};
    const base = T.liveTensors();
    const survivor = T.tensor([1, 2, 3]);
    const kept = T.tidy(() => T.tensor([7]).keep());
    const returned = T.tidy(() => T.tensor([8]).add(1));
    for (let i = 0; i < 1000; i++) T.rand([10]);                        // outside any scope
    for (let i = 0; i < 100; i++) T.tidy(() => T.rand([10]));          // returned past the outermost scope
    for (let i = 0; i < 100; i++) T.tidy(() => T.rand([10]).keep());    // kept, then dropped
    for (let i = 0; i < 100; i++) T.rand([10]).dispose();               // disposed by hand: never freed twice
    const made = T.liveTensors() - base;
    for (let k = 0; k < 50 && T.liveTensors() - base > 3; k++) {
      await new Promise((r) => setTimeout(r, 5));
      globalThis.gc();
    }
    console.log(JSON.stringify({ made, left: T.liveTensors() - base,
      values: [survivor.toList(), kept.toList(), returned.toList()] }));
  `;
  const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.equal(out.made, 1203);
  assert.equal(out.left, 3, "only the three referenced tensors remain");
  assert.deepEqual(out.values, [[1, 2, 3], [7], [9]], "and they still hold their values");
});

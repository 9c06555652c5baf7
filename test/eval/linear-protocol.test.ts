// The linear-evaluation protocol: the validation split (stratified, seeded, inside the train split),
// the L-BFGS logistic regression against PyTorch's LBFGS on the same objective, the grid's choice (the
// argmax of validation accuracy), the final probe trained on every train label, and the records that
// evaluateRepresentations returns for eval.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { validationSplit } from "../../src/eval/validation-split.js";
import { covariancePreconditioner, fitLogisticLbfgs } from "../../src/eval/logistic-lbfgs.js";
import { argmaxValidation, runLinearProtocol, standardiseFeatures } from "../../src/eval/linear-protocol.js";
import { balancedSubset } from "../../src/eval/label-fractions.js";
import { evaluateRepresentations } from "../../src/eval/evaluate.js";
import { UserError } from "../../src/util/errors.js";
import { blobs, kept, tinyImages } from "./helpers.js";
import { pythonTorchAvailable, runPython } from "../torch/helpers.js";

function counts(labels: Int32Array, idx: Int32Array): number[] {
  const c: number[] = [];
  for (const i of idx) c[labels[i]] = (c[labels[i]] ?? 0) + 1;
  return c;
}

test("validation split: 10% of each class, seeded, disjoint from the fitting part, which keeps the rest", () => {
  // Unbalanced classes (600, 250, 7, 1) and unlabeled rows, in a mixed order.
  const parts = [...Array(600).fill(0), ...Array(250).fill(1), ...Array(7).fill(2), 3, ...Array(30).fill(-1)];
  const labels = Int32Array.from(parts.map((_, i) => parts[(i * 389) % parts.length]));
  const { fit, val } = validationSplit(labels, 0.1, 4);
  assert.deepEqual(counts(labels, val), [60, 25, 1], "round(0.1·n_c), at least 1, never a class's only image");
  assert.equal(fit.length + val.length, labels.length - 30, "every labelled row in exactly one part");
  const inVal = new Set(val);
  assert.ok(fit.every((i) => !inVal.has(i) && labels[i] >= 0));
  assert.deepEqual(validationSplit(labels, 0.1, 4), { fit, val }, "same seed, same split");
  const other = validationSplit(labels, 0.1, 5).val;
  assert.ok(other.filter((i) => inVal.has(i)).length < val.length / 2, "another seed, another split");
  // The label-fraction subsets are drawn outside it, with quotas of the whole class.
  const sub = balancedSubset(labels, 0.1, 4, val);
  assert.ok(sub.every((i) => !inVal.has(i)));
  assert.deepEqual(counts(labels, sub), [60, 25, 1, 1]);
  assert.throws(() => validationSplit(labels, 1, 0), (e: unknown) => e instanceof UserError && /validation fraction/.test(e.message));
});

// A small problem: 3 classes of 5-d blobs, some overlap so the penalty matters.
function smallProblem() {
  const b = blobs(240, 5, 3, 1.2, 21);
  return { x: b.x, labels: b.labels, n: 240, d: 5, C: 3 };
}

test("L-BFGS fit matches PyTorch's LBFGS (strong Wolfe, float64) on the same penalised objective", { skip: !pythonTorchAvailable() && "python3 with torch is not available" }, () => {
  const p = smallProblem();
  const wd = 0.01;
  const ref = runPython<{ w: number[]; b: number[]; loss: number }>(`
import json, sys, torch
inp = json.load(sys.stdin)
x = torch.tensor(inp["x"], dtype=torch.float64).view(inp["n"], inp["d"])
y = torch.tensor(inp["y"], dtype=torch.int64)
w = torch.zeros(inp["C"], inp["d"], dtype=torch.float64, requires_grad=True)
b = torch.zeros(inp["C"], dtype=torch.float64, requires_grad=True)
opt = torch.optim.LBFGS([w, b], lr=1, max_iter=1000, tolerance_grad=1e-12, tolerance_change=1e-15, history_size=10, line_search_fn="strong_wolfe")
def closure():
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(x @ w.T + b, y) + 0.5 * inp["wd"] * (w * w).sum()
    loss.backward()
    return loss
for _ in range(5):
    opt.step(closure)
with torch.no_grad():
    loss = torch.nn.functional.cross_entropy(x @ w.T + b, y) + 0.5 * inp["wd"] * (w * w).sum()
print(json.dumps({"w": w.detach().flatten().tolist(), "b": b.detach().tolist(), "loss": loss.item()}))
`, { x: Array.from(p.x), y: Array.from(p.labels), n: p.n, d: p.d, C: p.C, wd });
  const x = kept(p.x, p.n, p.d);
  const pre = covariancePreconditioner(x, p.C);
  for (const precondition of [undefined, pre.apply(wd)]) {
    const fit = fitLogisticLbfgs(x, p.labels, p.C, wd, { maxIter: 500, gradTol: 1e-6, precondition });
    assert.ok(fit.converged, `converged in ${fit.iterations} iterations`);
    // Tolerances: float32 arithmetic against float64, stopped at max |∇f| ≤ 1e-6.
    assert.ok(Math.abs(fit.loss - ref.loss) < 1e-5, `loss ${fit.loss} vs ${ref.loss}`);
    const w = fit.weight.toArray() as Float32Array;
    const b = fit.bias.toArray() as Float32Array;
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(w[i] - ref.w[i]) < 1e-3, `w[${i}] ${w[i]} vs ${ref.w[i]}`);
    // The bias is determined up to a constant shared by all classes: compare differences.
    for (let c = 1; c < p.C; c++) assert.ok(Math.abs(b[c] - b[0] - (ref.b[c] - ref.b[0])) < 1e-3, `bias ${c}`);
    fit.weight.dispose();
    fit.bias.dispose();
  }
  pre.dispose();
  x.dispose();
});

test("L-BFGS: a warm start reaches the same optimum; the penalty shrinks the weights; bad input is refused", () => {
  const p = smallProblem();
  const x = kept(p.x, p.n, p.d);
  const before = T.liveTensors();
  const cold = fitLogisticLbfgs(x, p.labels, p.C, 0.01, { maxIter: 500, gradTol: 1e-6 });
  const strong = fitLogisticLbfgs(x, p.labels, p.C, 1, { maxIter: 500, gradTol: 1e-6 });
  const warm = fitLogisticLbfgs(x, p.labels, p.C, 0.01, { maxIter: 500, gradTol: 1e-6 }, strong);
  assert.ok(Math.abs(cold.loss - warm.loss) < 1e-6, `${cold.loss} vs ${warm.loss}`);
  const norm = (t: T.Tensor) => T.tidy(() => t.norm().item());
  assert.ok(norm(strong.weight) < norm(cold.weight) / 2, "λ = 1 shrinks W");
  for (const f of [cold, strong, warm]) { f.weight.dispose(); f.bias.dispose(); }
  assert.equal(T.liveTensors(), before, "no tensor leaked");
  assert.throws(() => fitLogisticLbfgs(x, p.labels, 2, 0.01), (e: unknown) => e instanceof UserError && /label 2 outside/.test(e.message));
  assert.throws(() => fitLogisticLbfgs(x, p.labels, p.C, -1), (e: unknown) => e instanceof UserError && /weight decay/.test(e.message));
  x.dispose();
});

test("protocol: the chosen weight decay is the grid's argmax of validation accuracy; the final probe trains on every train row", () => {
  assert.equal(argmaxValidation([{ val_top1: 0.5 }, { val_top1: 0.7 }, { val_top1: 0.7 }, { val_top1: 0.6 }]), 1, "first of a tie");
  // 20 noisy dimensions, 2 informative: the penalty matters on 300 rows.
  const tr = blobs(300, 22, 3, 0.6, 31);
  const te = blobs(150, 22, 3, 0.6, 32);
  const ftr = kept(tr.x, 300, 22);
  const fte = kept(te.x, 150, 22);
  const s = standardiseFeatures(ftr, fte, "cpu");
  const split = validationSplit(tr.labels, 0.1, 0);
  const weightDecays = [1, 1e-1, 1e-2, 1e-3, 1e-4];
  const before = T.liveTensors();
  const r = runLinearProtocol(s.x, tr.labels, s.xTest, te.labels, split, { numClasses: 3, validationFraction: 0.1, weightDecays });
  assert.equal(T.liveTensors(), before, "no tensor leaked");
  assert.deepEqual(r.grid.map((g) => g.weight_decay), weightDecays);
  assert.ok(r.grid.every((g) => g.lr === null && g.val_top1 >= 0 && g.val_top1 <= 1));
  assert.deepEqual(r.chosen, r.grid[argmaxValidation(r.grid)]);
  assert.equal(r.validation_images, 30);
  assert.equal(r.fit_images, 270);
  assert.equal(r.train_images, 300, "retrained on the whole train split");
  // The final probe is the chosen λ fitted on all 300 rows: the same as a fresh fit there.
  const ref = fitLogisticLbfgs(s.x, tr.labels, 3, r.chosen.weight_decay, { maxIter: 500, gradTol: 1e-6 });
  const refTrain = T.tidy(() => T.linear(s.x, ref.weight, ref.bias).argmax(1).eq(T.tensor(tr.labels, [300]).to("int64")).to("float32").mean().item());
  assert.ok(Math.abs(r.train_top1 - refTrain) <= 1 / 300 + 1e-9, `train top-1 ${r.train_top1} vs ${refTrain}`);
  ref.weight.dispose();
  ref.bias.dispose();
  // A label fraction: the grid fits its subset; its final probe is that fit (trained on the subset's rows only).
  const sub = balancedSubset(tr.labels, 0.1, 0, split.val);
  const rf = runLinearProtocol(s.x, tr.labels, s.xTest, te.labels, split, { numClasses: 3, validationFraction: 0.1, weightDecays }, sub);
  assert.equal(rf.train_images, sub.length);
  assert.equal(rf.fit_images, sub.length);
  assert.deepEqual(rf.chosen, rf.grid[argmaxValidation(rf.grid)]);
  for (const t of [ftr, fte, s.x, s.xTest]) t.dispose();
});

test("evaluateRepresentations records the protocol per representation, named baselines included", () => {
  const train = tinyImages(200, 1, 6, 3, 1);
  const testSet = tinyImages(60, 1, 6, 3, 2);
  T.manualSeed(5);
  const P = T.randn([36, 8]).keep();
  const embedTrained = (x: T.Tensor) => x.flatten(1).mm(P);
  const embedRandom = (x: T.Tensor) => x.flatten(1).mm(P).mul(-1);
  const before = T.liveTensors();
  const r = evaluateRepresentations({
    embedTrained, embedRandom, embedOthers: [{ name: "other_init", embed: (x) => x.flatten(1).narrow(1, 0, 4) }],
    train, test: testSet, mean: [0.4], std: [0.25], knnK: 10, labelFractions: [0.1], linear: { weightDecays: [1e-1, 1e-3] },
  });
  assert.equal(T.liveTensors(), before, "no tensor leaked");
  assert.deepEqual(Object.keys(r.linear_protocol), ["byol", "random_init", "other_init", "raw_pixels"]);
  assert.deepEqual(Object.keys(r.baselines), ["random_init", "other_init", "raw_pixels"]);
  for (const [name, rec] of Object.entries(r.linear_protocol)) {
    assert.equal(rec.validation_fraction, 0.1);
    assert.equal(rec.validation_images, 21, `${name}: round(0.1 · 67) of each class`);
    assert.equal(rec.train_images, 200, `${name}: the final probe sees every train label`);
    assert.deepEqual(rec.grid.map((g) => g.weight_decay), [1e-1, 1e-3]);
    assert.ok([1e-1, 1e-3].includes(rec.chosen.weight_decay));
    assert.ok(rec.train_top1 >= 0 && rec.train_top1 <= 1);
  }
  assert.equal(r.linear_top1, r.linear_protocol.byol.test_top1);
  assert.equal(r.baselines.other_init.linear_top1, r.linear_protocol.other_init.test_top1);
  const f = r.label_fractions!["0.1"];
  assert.equal(f.raw_pixels, f.linear_protocol.raw_pixels.test_top1);
  assert.equal(f.linear_protocol.byol.train_images, 21, "round(0.1 · 67) of each class, drawn outside the validation split");
  assert.throws(() => evaluateRepresentations({ embedTrained, embedRandom, embedOthers: [{ name: "byol", embed: embedTrained }], train, test: testSet, mean: [0.4], std: [0.25] }), /cannot name a baseline/);
  P.dispose();
});

// The target network moves by the EMA of SPEC §1 after every update: ξ₁ = τ₀·ξ₀ + (1 − τ₀)·θ₁, with
// τ₀ = τ_base (the first update's τ). Checked through the run folder: two one-step runs from the same
// seed, one with τ_base = 1 (the target never moves, so its checkpoint holds ξ₀) and one with τ_base =
// 0.75. The target does not change the online network's first update (its gradient sees ξ₀ in both),
// so both runs hold the same θ₁, and the second run's target must be 0.75·ξ₀ + 0.25·θ₁ — parameters and
// BatchNorm running statistics alike (the target's own forward passes update its statistics before the
// average, equally in both runs).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import * as T from "../../src/torch/index.js";
import { checkpointPath, loadCheckpoint } from "../../src/train/checkpoint.js";
import { byol } from "../cli/run-cli.js";

const root = mkdtempSync(join(tmpdir(), "byol-ema-"));
after(() => rmSync(root, { recursive: true, force: true }));

function run(name: string, tauBase: number, steps = 1): Record<string, T.Tensor> {
  const dir = join(root, name);
  const r = byol(["train", "--preset", "smoke", "--quiet", "--threads", "1", "--no-eval", "--out", dir, "--limit", "128",
    "--stop-after", String(steps), "--set", `tauBase=${tauBase}`, "--set", "optimizer.warmupEpochs=0"]);
  assert.equal(r.code, 0, r.stderr);
  const { meta, tensors } = loadCheckpoint(checkpointPath(dir));
  assert.equal(meta.step, steps);
  return tensors;
}

const values = (t: T.Tensor) => Array.from(t.float().toFloat32Array());

/** Largest |a − b| over two equally named tensor sets. */
function maxDiff(a: T.Tensor, b: T.Tensor): number {
  const x = values(a);
  const y = values(b);
  assert.equal(x.length, y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

test("after one update the target is τ₀·(its initialisation) + (1 − τ₀)·(the updated online network)", () => {
  const fixed = run("fixed", 1);
  const moving = run("moving", 0.75);
  const targetKeys = Object.keys(moving).filter((k) => k.startsWith("model.target.") && !k.endsWith("num_batches_tracked"));
  assert.ok(targetKeys.length > 20, `the target's float tensors are in the checkpoint (${targetKeys.length})`);
  let moved = 0;
  for (const k of targetKeys) {
    const onlineKey = k.replace("model.target.", "model.online.");
    assert.ok(onlineKey in moving, `${onlineKey} exists`);
    // The same first update of the online network in both runs.
    assert.ok(maxDiff(moving[onlineKey], fixed[onlineKey]) <= 1e-6, `${onlineKey}: the same θ₁ in both runs`);
    const x0 = values(fixed[k]);
    const th = values(fixed[onlineKey]);
    const got = values(moving[k]);
    let err = 0;
    let dist = 0;
    for (let i = 0; i < got.length; i++) {
      err = Math.max(err, Math.abs(got[i] - (0.75 * x0[i] + 0.25 * th[i])));
      dist = Math.max(dist, Math.abs(got[i] - x0[i]));
    }
    assert.ok(err <= 1e-5 * (1 + Math.max(...th.map(Math.abs))), `${k}: target off the EMA by ${err}`);
    if (dist > 1e-4) moved++;
  }
  // Online and target start from independent initialisations, so nearly every tensor moves visibly.
  assert.ok(moved >= targetKeys.length * 0.8, `the target moved in ${moved} of ${targetKeys.length} tensors`);
  // num_batches_tracked is copied from the online network.
  for (const k of Object.keys(moving).filter((k) => k.startsWith("model.target.") && k.endsWith("num_batches_tracked"))) {
    assert.equal(moving[k].item(), moving[k.replace("model.target.", "model.online.")].item(), k);
  }
});

test("over a whole run the target ends far from where it started and close to the online network", () => {
  // With τ_base = 1 the target never moves; with the schedule it must.
  const still = run("still", 1, 8);
  const ran = run("ran", 0.9, 8);
  const enc = Object.keys(ran).filter((k) => k.startsWith("model.target.encoder.") && k.endsWith(".weight"));
  let closer = 0;
  for (const k of enc) {
    const online = ran[k.replace("model.target.", "model.online.")];
    if (maxDiff(ran[k], online) < maxDiff(still[k], online)) closer++;
    assert.ok(maxDiff(ran[k], still[k]) > 1e-4, `${k} moved`);
  }
  assert.equal(closer, enc.length, "every target weight is closer to the online network than an unmoved target");
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { presetConfig } from "../../src/train/config.js";
import { assertCompatible, checkpointPath, loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.js";
import { UserError } from "../../src/util/errors.js";

test("a checkpoint round-trips tensors and metadata", () => {
  const dir = mkdtempSync(join(tmpdir(), "byol-ck-"));
  const cfg = presetConfig("smoke");
  const w = T.tensor([1, 2, 3, 4], [2, 2]);
  const n = T.tensor([7], [1], { dtype: "int64" });
  saveCheckpoint(dir, { step: 5, epoch: 1, stepInEpoch: 2, config: cfg, extra: { wallS: 3.5 } }, { "model.w": w, "model.n": n });
  const { meta, tensors } = loadCheckpoint(checkpointPath(dir));
  assert.equal(meta.step, 5);
  assert.equal(meta.stepInEpoch, 2);
  assert.deepEqual(meta.config, cfg);
  assert.deepEqual(tensors["model.w"].toList(), [1, 2, 3, 4]);
  assert.deepEqual(tensors["model.w"].shape, [2, 2]);
  assert.equal(tensors["model.n"].dtype, "int64");
});

test("loading refuses missing, corrupt and foreign files with one clear line", () => {
  const dir = mkdtempSync(join(tmpdir(), "byol-ck-"));
  assert.throws(() => loadCheckpoint(join(dir, "nope.safetensors")), (e: Error) => e instanceof UserError && /no checkpoint at/.test(e.message));
  const p = join(dir, "bad.safetensors");
  writeFileSync(p, Buffer.from([1, 2, 3]));
  assert.throws(() => loadCheckpoint(p), (e: Error) => e instanceof UserError);
  const q = join(dir, "plain.safetensors");
  T.saveSafetensors(q, { a: T.ones([2]) });
  assert.throws(() => loadCheckpoint(q), /not a byol-ts checkpoint/);
});

test("a checkpoint from another configuration is refused, naming the difference", () => {
  const a = presetConfig("smoke");
  const b = presetConfig("smoke");
  b.encoder.widthMultiplier = 0.5;
  assert.throws(() => assertCompatible(a, b, "x"), (e: Error) => e instanceof UserError && /encoder.widthMultiplier: checkpoint has 0.125, this run has 0.5/.test(e.message));
  const c = presetConfig("smoke");
  c.device = "cuda";
  c.threads = 7;
  assertCompatible(a, c, "x"); // device and threads may change between sessions
});

test("a writer killed midway leaves the previous checkpoint loadable", async () => {
  const dir = mkdtempSync(join(tmpdir(), "byol-ck-"));
  saveCheckpoint(dir, { step: 1, epoch: 0, stepInEpoch: 0, config: presetConfig("smoke"), extra: {} }, { w: T.ones([3]) });
  const child = spawn(process.execPath, [new URL("./checkpoint-writer.js", import.meta.url).pathname, dir], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  // Kill it at several moments while it is rewriting the 16 MB file.
  await new Promise((r) => setTimeout(r, 300));
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  const { meta, tensors } = loadCheckpoint(checkpointPath(dir));
  assert.ok(meta.step === 1 || meta.step > 1000, "either the old checkpoint or a complete new one");
  if (meta.step === 1) assert.deepEqual(tensors.w.toList(), [1, 1, 1]);
  else assert.equal(tensors.w.numel, 4_000_000);
  // Leftover temporary files are allowed, but the checkpoint itself is never partial.
  assert.ok(readdirSync(join(dir, "checkpoints")).includes("last.safetensors"));
  assert.ok(readFileSync(checkpointPath(dir)).length > 8);
});

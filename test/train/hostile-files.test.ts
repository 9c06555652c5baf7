// Trusted file contents are validated before use: checkpoint metadata and tensors, encoder metadata
// and shapes (before any network is built), configuration paths that would reach a prototype.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as T from "../../src/torch/index.js";
import { decodeSafetensors, encodeSafetensors } from "../../src/torch/safetensors-format.js";
import { applyOverrides, presetConfig, setField } from "../../src/train/config.js";
import { checkpointPath, checkpointStep, loadCheckpoint, saveCheckpoint, withPrefix, addPrefix } from "../../src/train/checkpoint.js";
import { encoderTensorShapes, parseEncoderMeta, readEncoderFile, saveEncoder, type EncoderMeta } from "../../src/train/export.js";
import { makeEncoder } from "../../src/train/build.js";
import { UserError } from "../../src/util/errors.js";

const root = mkdtempSync(join(tmpdir(), "byol-hostile-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => join(root, `r${n++}`);

/** Rewrites one metadata entry of a safetensors file (bytes only; the tensors stay as they are). */
function rewriteMeta(path: string, key: string, edit: (m: any) => unknown, dropTensor?: string): void {
  const { entries, metadata } = decodeSafetensors(readFileSync(path));
  const m = edit(JSON.parse(metadata[key]));
  const kept = entries.filter((e) => e.name !== dropTensor);
  writeFileSync(path, Buffer.concat(encodeSafetensors(kept, { ...metadata, [key]: typeof m === "string" ? m : JSON.stringify(m) })));
}

const userError = (...parts: (string | RegExp)[]) => (e: unknown) => {
  assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
  assert.ok(!e.message.includes("\n"), "one line");
  for (const p of parts) assert.ok(typeof p === "string" ? e.message.includes(p) : p.test(e.message), `${e.message} lacks ${String(p)}`);
  return true;
};

// A checkpoint as the trainer writes it: step 10 = epoch 1 x 8 steps + 2, with an RNG state.
function goodCheckpoint(): string {
  const d = dir();
  const cfg = presetConfig("smoke");
  saveCheckpoint(d, { step: 10, epoch: 1, stepInEpoch: 2, config: cfg, extra: { wallS: 1.5, probeCorrect: 3, probeSeen: 64 } },
    { "model.w": T.ones([2]), "rng.cpu": T.getRngState() });
  return checkpointPath(d);
}

test("every checkpoint metadata field is validated, naming the file and the field", () => {
  const expect = { config: presetConfig("smoke"), stepsPerEpoch: 8 };
  const ok = goodCheckpoint();
  const { meta, tensors } = loadCheckpoint(ok, expect);
  assert.equal(meta.step, 10);
  for (const t of Object.values(tensors)) t.dispose();
  assert.equal(checkpointStep(ok), 10);

  const cases: [(m: any) => unknown, string[]][] = [
    [(m) => { delete m.extra; return m; }, ["checkpoint field extra", "missing"]],
    [(m) => { delete m.config; return m; }, ["checkpoint field config", "missing"]],
    [(m) => ({ ...m, config: { ...m.config, epochs: 0 } }), ["checkpoint field config is invalid", "epochs must be a positive integer"]],
    [(m) => ({ ...m, config: { ...m.config, widthMultiplier: 2 } }), ["unknown configuration field \"widthMultiplier\""]],
    [(m) => ({ ...m, stepInEpoch: -3 }), ["checkpoint field stepInEpoch must be a non-negative integer, got -3"]],
    [(m) => ({ ...m, stepInEpoch: 8 }), ["stepInEpoch is 8, not in [0, 8)"]],
    [(m) => ({ ...m, epoch: 1e12 }), ["checkpoint field epoch is 1000000000000, past the 2 epochs"]],
    [(m) => ({ ...m, epoch: 2, stepInEpoch: 1, step: 17 }), ["stepInEpoch is 1 in epoch 2, after the last epoch"]],
    [(m) => ({ ...m, step: 11 }), ["checkpoint field step is 11, but epoch 1 and stepInEpoch 2 at 8 steps per epoch make 10"]],
    [(m) => ({ ...m, step: "10" }), ["checkpoint field step must be a non-negative integer"]],
    [(m) => ({ ...m, extra: { wallS: -1 } }), ["extra.wallS"]],
    [(m) => ({ ...m, extra: { probeCorrect: 5, probeSeen: 4 } }), ["extra.probeCorrect"]],
    [(m) => ({ ...m, format: 2 }), ["checkpoint format 2 is not supported"]],
    [() => "[1, 2]", ["metadata is not a JSON object"]],
    [() => "{oops", ["metadata is not valid JSON"]],
  ];
  for (const [edit, parts] of cases) {
    const p = goodCheckpoint();
    rewriteMeta(p, "byol-ts", edit);
    const live = T.liveTensors();
    assert.throws(() => loadCheckpoint(p, expect), userError(p, ...parts));
    assert.equal(T.liveTensors(), live, "a refused checkpoint's tensors are freed");
  }
  // The step relation is only checked where it is knowable: same process count and image count.
  const p = goodCheckpoint();
  rewriteMeta(p, "byol-ts", (m) => ({ ...m, step: 11 }));
  const other = presetConfig("smoke");
  other.nproc = 2;
  for (const t of Object.values(loadCheckpoint(p, { config: other, stepsPerEpoch: 8 }).tensors)) t.dispose();
});

test("a resumed checkpoint needs a 1-D uint8 RNG state", () => {
  const expect = { config: presetConfig("smoke"), stepsPerEpoch: 8 };
  const p = goodCheckpoint();
  rewriteMeta(p, "byol-ts", (m) => m, "rng.cpu");
  assert.throws(() => loadCheckpoint(p, expect), userError(p, 'no tensor "rng.cpu"'));
  const d = dir();
  saveCheckpoint(d, { step: 10, epoch: 1, stepInEpoch: 2, config: presetConfig("smoke"), extra: {} }, { "rng.cpu": T.zeros([2, 3]) });
  assert.throws(() => loadCheckpoint(checkpointPath(d), expect), userError('"rng.cpu" must be a 1-D U8 (uint8) tensor, got F32 [2, 3]'));
});

test('prefixing tensor names keeps "__proto__" an ordinary key', () => {
  const t = T.ones([1]);
  const into: Record<string, T.Tensor> = {};
  addPrefix(JSON.parse('{"__proto__": 1}') as Record<string, T.Tensor>, "model", into);
  assert.deepEqual(Object.keys(into), ["model.__proto__"]);
  const out = withPrefix({ "model.__proto__": t } as Record<string, T.Tensor>, "model");
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.keys(out), ["__proto__"]);
  t.dispose();
});

test("--set and config files cannot reach Object.prototype", () => {
  const cfg = presetConfig("smoke");
  for (const path of ["__proto__.toString", "__proto__.polluted", "constructor.prototype.polluted", "encoder.__proto__.x", "prototype", "hasOwnProperty", "toString"]) {
    assert.throws(() => setField(cfg, path, "1"), userError(/not allowed|unknown configuration field/), path);
  }
  assert.throws(() => applyOverrides(cfg, JSON.parse('{"__proto__": {"polluted": 1}}')), userError('"__proto__" is not allowed'));
  assert.throws(() => applyOverrides(cfg, JSON.parse('{"encoder": {"constructor": 1}}')), userError('"encoder.constructor" is not allowed'));
  assert.throws(() => setField(cfg, "encoder", "x"), userError('"encoder" is a group of fields'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(typeof Object.prototype.toString, "function");
  assert.equal(Object.getPrototypeOf(cfg), Object.prototype);
});

const META: EncoderMeta = {
  encoder: { arch: "resnet18", stem: "small", stemStride: 2, widthMultiplier: 0.125, stageWidths: null }, channels: 1, height: 28, width: 28,
  mean: [0.28], std: [0.35], dataset: "fashion-mnist",
};

function encoderFile(): string {
  const p = `${dir()}.safetensors`;
  const cfg = presetConfig("smoke");
  const enc = makeEncoder({ ...cfg, encoder: META.encoder }, 1);
  saveEncoder(p, enc, META);
  enc.dispose();
  return p;
}

test("the expected encoder tensors match what makeEncoder builds", () => {
  const cases: [EncoderMeta["encoder"], number][] = [
    [{ arch: "resnet18", stem: "small", stemStride: 2, widthMultiplier: 0.125, stageWidths: null }, 1],
    [{ arch: "resnet34", stem: "imagenet", stemStride: 1, widthMultiplier: 0.1, stageWidths: null }, 3],
    [{ arch: "resnet50", stem: "small", stemStride: 1, widthMultiplier: 0.0625, stageWidths: null }, 3],
    // Explicit stage widths override the multiplier, also through a bottleneck's expansion.
    [{ arch: "resnet18", stem: "small", stemStride: 2, widthMultiplier: 0.25, stageWidths: [8, 12, 16, 40] }, 1],
    [{ arch: "resnet50", stem: "small", stemStride: 1, widthMultiplier: 1, stageWidths: [4, 8, 8, 12] }, 3],
  ];
  for (const [enc, channels] of cases) {
    const net = makeEncoder({ ...presetConfig("smoke"), encoder: enc }, channels);
    const sd = net.stateDict();
    const want = encoderTensorShapes(enc, channels);
    assert.deepEqual([...want.keys()].sort(), Object.keys(sd).sort(), enc.arch);
    for (const [k, t] of Object.entries(sd)) {
      assert.deepEqual(want.get(k)!.shape, t.shape, k);
      assert.equal(want.get(k)!.dtype, t.dtype === "int64" ? "I64" : "F32", k);
    }
    net.dispose();
  }
});

test("encoder metadata is validated by the rules for flags, and shapes before building", () => {
  const ok = encoderFile();
  const { tensors, meta } = readEncoderFile(ok);
  assert.deepEqual(meta, META);
  for (const t of Object.values(tensors)) t.dispose();
  const cases: [(m: any) => unknown, string[]][] = [
    [() => "not json", ["encoder description is not valid JSON"]],
    [(m) => ({ ...m, encoder: { ...m.encoder, arch: "vgg11" } }), ["encoder field encoder is invalid", "encoder.arch must be resnet18, resnet34 or resnet50"]],
    [(m) => ({ ...m, encoder: { ...m.encoder, widthMultiplier: 6 } }), ["encoder.widthMultiplier must be in (0, 4], got 6"]],
    [(m) => ({ ...m, height: 30000 }), ["encoder field height is invalid", "height must be an integer in [8, 1024], got 30000"]],
    [(m) => ({ ...m, width: 2.5 }), ["encoder field width"]],
    [(m) => ({ ...m, channels: 2 }), ["encoder field channels must be 1 or 3"]],
    [(m) => ({ ...m, std: [0] }), ["encoder field std"]],
    [(m) => ({ ...m, mean: [] }), ["encoder field mean"]],
    [(m) => { delete m.encoder.stem; return m; }, ["encoder.stem is missing"]],
    [(m) => ({ ...m, encoder: { ...m.encoder, widthMultiplier: 0.25 } }), ['tensor "conv1.weight" is F32 [8, 1, 3, 3], a resnet18 (small stem, width ×0.25, 1 channel) has F32 [16, 1, 3, 3]']],
    [(m) => ({ ...m, encoder: { ...m.encoder, arch: "resnet34" } }), ['tensor "layer1.2.conv1.weight" of a resnet34']],
  ];
  for (const [edit, parts] of cases) {
    const p = encoderFile();
    rewriteMeta(p, "byol-ts-encoder", edit);
    const live = T.liveTensors();
    assert.throws(() => readEncoderFile(p), userError(p, ...parts));
    assert.equal(T.liveTensors(), live, "nothing was built or read");
  }
});

test("an encoder file that claims a much wider network is refused before it is built (peak RSS bound)", { timeout: 120_000 }, () => {
  const p = encoderFile(); // about 0.7 MB of tensors
  rewriteMeta(p, "byol-ts-encoder", (m) => ({ ...m, encoder: { ...m.encoder, arch: "resnet50", widthMultiplier: 4 } }));
  const child = fileURLToPath(new URL("../data/peak-rss-child.js", import.meta.url));
  const r = spawnSync(process.execPath, [child, "encoder", p], { encoding: "utf8", timeout: 100_000, env: { ...process.env, OMP_NUM_THREADS: "1" } });
  assert.equal(r.status, 0, r.stderr);
  const { message, peakRssMiB } = JSON.parse(r.stdout.trim()) as { message: string; peakRssMiB: number };
  assert.match(message, /tensor "conv1.weight" is F32 \[8, 1, 3, 3\], a resnet50 \(small stem, width ×4, 1 channel\) has F32 \[256, 1, 3, 3\]/);
  // A resnet50 at width 4 holds about 370 million parameters (1.5 GB of float32); refused, the process
  // stays near its baseline (node + libtorch).
  assert.ok(peakRssMiB < 400, `peak RSS ${peakRssMiB.toFixed(0)} MiB`);
  process.stderr.write(`wide-encoder claim: peak RSS ${peakRssMiB.toFixed(0)} MiB\n`);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyOverrides, effectivePrecision, presetConfig, savedConfig, setField, validateConfig } from "../../src/train/config.js";
import { resolveTrainConfig } from "../../src/cli/train.js";
import { UserError } from "../../src/util/errors.js";
import { makeEncoder } from "../../src/train/build.js";
import { resolveRecipe } from "../../src/train/recipe.js";

test("presets resolve to complete, valid configurations", () => {
  for (const p of ["cpu", "gpu", "smoke"]) {
    const c = validateConfig(presetConfig(p));
    assert.equal(c.preset, p);
  }
  const gpu = presetConfig("gpu");
  assert.equal(gpu.projector.hiddenDim, 4096, "the gpu preset keeps the paper's 4096-wide heads");
  assert.equal(gpu.projector.outDim, 256);
  assert.equal(gpu.optimizer.trustCoefficient, 1e-3);
  assert.equal(gpu.optimizer.momentum, 0.9);
  assert.throws(() => presetConfig("huge"), (e: Error) => e instanceof UserError && /unknown preset "huge"/.test(e.message));
});

test("setField types values by the field and rejects unknown fields", () => {
  const c = presetConfig("cpu");
  setField(c, "optimizer.weightDecay", "1e-5");
  assert.equal(c.optimizer.weightDecay, 1e-5);
  setField(c, "channelsLast", "true");
  assert.equal(c.channelsLast, true);
  setField(c, "datasetLimit", "100");
  assert.equal(c.datasetLimit, 100);
  assert.throws(() => setField(c, "optimizer.nope", "1"), /unknown configuration field "optimizer.nope"/);
  assert.throws(() => setField(c, "epochs", "ten"), /epochs must be a number/);
  assert.throws(() => setField(c, "channelsLast", "yes"), /must be true or false/);
});

test("a JSON override merges deeply and refuses unknown keys", () => {
  const c = applyOverrides(presetConfig("cpu"), { encoder: { widthMultiplier: 0.5 }, epochs: 3 });
  assert.equal(c.encoder.widthMultiplier, 0.5);
  assert.equal(c.encoder.arch, "resnet18", "untouched siblings keep their values");
  assert.equal(c.epochs, 3);
  assert.throws(() => applyOverrides(presetConfig("cpu"), { encoder: { depth: 3 } }), /unknown configuration field "encoder.depth"/);
});

test("explicit stage widths: set as a list, validated, and built as layer1..layer4 with the last one the representation", () => {
  // The cpu preset widens only its last stage; the others scale every stage by the multiplier.
  assert.deepEqual(presetConfig("cpu").encoder.stageWidths, [16, 32, 64, 256]);
  assert.equal(presetConfig("gpu").encoder.stageWidths, null);
  assert.equal(presetConfig("smoke").encoder.stageWidths, null);
  const cfg = presetConfig("cpu");
  resolveRecipe(cfg, { channels: 1, side: 28 });
  setField(cfg, "encoder.stageWidths", "null");
  setField(cfg, "encoder.stageWidths", "16,32,64,256");
  assert.deepEqual(cfg.encoder.stageWidths, [16, 32, 64, 256]);
  validateConfig(cfg);
  const net = makeEncoder({ ...cfg, channelsLast: false }, 1);
  assert.deepEqual(net.widths, [16, 32, 64, 256]);
  assert.equal(net.outDim, 256);
  assert.deepEqual(net.stateDict()["layer4.1.conv2.weight"].shape, [256, 256, 3, 3]);
  assert.deepEqual(net.stateDict()["layer3.0.conv1.weight"].shape, [64, 32, 3, 3]);
  net.dispose();
  setField(cfg, "encoder.stageWidths", "null");
  assert.equal(cfg.encoder.stageWidths, null);
  for (const bad of ["16,32,64", "16,32,64,0", "16,32,64,2.5", "16,32,64,5000"]) {
    const c = presetConfig("cpu");
    setField(c, "encoder.stageWidths", bad);
    assert.throws(() => validateConfig(c), /encoder.stageWidths must be null or 4 integers in \[1, 4096\]/, bad);
  }
  assert.throws(() => setField(presetConfig("cpu"), "encoder.stageWidths", "16,x,64,256"), /comma-separated numbers/);
  assert.throws(() => validateConfig(applyOverrides(presetConfig("cpu"), { encoder: { stageWidths: "wide" } })), /encoder.stageWidths/);
});

test("validation names the bad field and the value", () => {
  const bad: [string, string, RegExp][] = [
    ["epochs", "0", /epochs must be a positive integer, got 0/],
    ["batchSize", "1", /batchSize must be an integer of at least 2/],
    ["optimizer.baseLr", "-1", /optimizer.baseLr must be in \(0, 100\)/],
    ["tauBase", "1.5", /tauBase must be in \[0, 1\]/],
    ["device", "tpu", /device must be cpu, cuda or cuda:N/],
    ["augment.preset", "fancy", /augment.preset must be auto, byol, cifar or gray28/],
    ["optimizer.warmupEpochs", "99", /warmupEpochs must be in \[0, epochs\]/],
  ];
  for (const [field, value, re] of bad) {
    const c = presetConfig("cpu");
    setField(c, field, value);
    assert.throws(() => validateConfig(c), (e: Error) => e instanceof UserError && re.test(e.message), `${field}=${value}`);
  }
});

// Independent reading of the CPU's flags: any line of /proc/cpuinfo naming a native bf16 unit.
function cpuinfoNamesNativeBf16(): boolean {
  try {
    return /\b(avx512_bf16|amx_bf16)\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return false;
  }
}

test("precision auto: bf16 on a GPU and on a CPU with native bf16, float32 elsewhere", () => {
  const nativeBf16 = cpuinfoNamesNativeBf16();
  assert.equal(effectivePrecision({ precision: "auto", device: "cpu" }), nativeBf16 ? "bf16" : "fp32");
  assert.equal(effectivePrecision({ precision: "auto", device: "cuda:0" }), "bf16");
  assert.equal(effectivePrecision({ precision: "fp32", device: "cuda" }), "fp32");
  assert.equal(effectivePrecision({ precision: "bf16", device: "cpu" }), "bf16");
  assert.equal(presetConfig("smoke").precision, "fp32", "the smoke preset is float32 everywhere, so tests compare alike");
  const c = presetConfig("cpu");
  c.precision = "half" as never;
  assert.throws(() => validateConfig(c), /precision must be auto, fp32 or bf16, got "half"/);
});

test("the cpu preset's epochs come from its time budget in bf16 and float32 alike; an explicit count wins", () => {
  const nativeBf16 = cpuinfoNamesNativeBf16();
  const auto = resolveTrainConfig({});
  assert.equal(auto.precision, nativeBf16 ? "bf16" : "fp32", "config.json records the resolved precision, never auto");
  // No float32 fallback count: the budget times the steps at whatever precision they run.
  assert.equal(auto.epochs, 8, "the provisional count until the budget fixes it");
  assert.equal(auto.timeBudgetS, 430);
  assert.equal(resolveTrainConfig({ precision: "fp32" }).timeBudgetS, 430);
  // An explicit choice is kept, whichever way it was given, and turns the budget off.
  for (const c of [resolveTrainConfig({ epochs: "8" }), resolveTrainConfig({ set: ["epochs=6"] })]) assert.equal(c.timeBudgetS, null);
  assert.equal(resolveTrainConfig({ epochs: "8" }).epochs, 8);
  assert.equal(resolveTrainConfig({ set: ["epochs=6"] }).epochs, 6);
  const file = join(mkdtempSync(join(tmpdir(), "byol-cfg-")), "c.json");
  writeFileSync(file, JSON.stringify({ epochs: 8 }));
  assert.equal(resolveTrainConfig({ config: file }).epochs, 8);
  assert.equal(resolveTrainConfig({ config: file }).timeBudgetS, null);
  const fp32 = resolveTrainConfig({ precision: "fp32" });
  assert.equal(fp32.precision, "fp32");
  assert.equal(resolveTrainConfig({ preset: "smoke" }).precision, "fp32");
});

test("a resumed run folder keeps what its version trained with: fields it never wrote take their old values, not today's preset's", () => {
  // A cpu run written before optimizer.predictorLrMultiplier and before time budgets.
  const old = presetConfig("cpu") as unknown as Record<string, any>;
  delete old.optimizer.predictorLrMultiplier;
  delete old.timeBudgetS;
  assert.equal(presetConfig("cpu").optimizer.predictorLrMultiplier, 10, "today's cpu preset differs from what the old run trained with");
  const dir = mkdtempSync(join(tmpdir(), "byol-saved-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify(old));
  const resumed = resolveTrainConfig({ resume: dir });
  assert.equal(resumed.optimizer.predictorLrMultiplier, 1);
  assert.equal(resumed.timeBudgetS, null);
  validateConfig(resumed);
  // A folder that wrote the fields keeps them.
  const now = presetConfig("cpu");
  now.optimizer.predictorLrMultiplier = 3;
  const kept = savedConfig(JSON.parse(JSON.stringify(now)), presetConfig("cpu"));
  assert.equal(kept.optimizer.predictorLrMultiplier, 3);
  assert.equal(kept.timeBudgetS, now.timeBudgetS);
  // The base (the preset the folder is completed from) is not changed.
  const base = presetConfig("cpu");
  savedConfig(old, base);
  const { optimizer: _, ...noOptimizer } = old;
  assert.equal(savedConfig(noOptimizer, base).optimizer.predictorLrMultiplier, 1);
  assert.equal(base.optimizer.predictorLrMultiplier, 10);
});

// Times one full BYOL training step in byol-ts and in PyTorch (bench/torch_reference.py, run with Debian's
// /usr/bin/python3) on the presets' own networks, in the same run, and prints JSON lines plus the
// TS/PyTorch ratio of the median step times. A step: two views through the online network one view at a
// time, both through the target without gradients, the symmetric loss, backward, SGD (the preset's
// momentum, weight decay with biases and BatchNorm excluded, peak learning rate) and the EMA target
// update. No data loading or augmentation: the views are fixed random tensors.
//
// Configurations, read from src/train/config.ts's presets (not restated here):
//   cpu-preset  the cpu preset as it trains: its encoder (stem stride, width), heads, batch, channels-last
//               and precision ("auto" resolved for this CPU, as a run resolves it).
//   gpu-preset  the gpu preset's network (full-width ResNet-18, stride-1 stem, 4096 → 256 heads,
//               channels-last, bf16) on this CPU at a small batch (BENCH_GPU_PRESET_BATCH, default 32:
//               its 512 would take minutes per step here), with SGD on both sides (PyTorch has no LARS).
//
// Each side runs ROUNDS times, alternating which goes first; each round builds the model, runs WARMUP
// steps, then times STEPS steps one by one. The spread (median, quartiles, extremes) is over all timed
// steps. PyTorch starts with the addon's allocator settings (bench/allocator.ts).
//
// Usage: npm run bench:step   (env: BENCH_THREADS=2, BENCH_ROUNDS=3, BENCH_STEPS=4, BENCH_WARMUP=2,
//        BENCH_CONFIGS=cpu-preset,gpu-preset, BENCH_PRECISION=fp32|bf16 (overrides the presets'),
//        BENCH_GPU_PRESET_BATCH=32, BENCH_PY_MALLOC=default)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import * as T from "../src/torch/index.js";
import { effectivePrecision, presetConfig, type TrainConfig } from "../src/train/config.js";
import { resolveRecipe } from "../src/train/recipe.js";
import { makeLearner, makeOptimizer, peakLr } from "../src/train/build.js";
import { pythonEnv, pythonMallocTuned } from "./allocator.js";
import { round, spread, spreadFields } from "./stats.js";

interface Config {
  name: string;
  cfg: TrainConfig;
  precision: "fp32" | "bf16";
  channels: number;
  imageSize: number;
  /** The preset's own batch, where the bench runs another. */
  presetBatch: number;
}

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STEPS = Number(process.env.BENCH_STEPS ?? 4);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const ONLY = process.env.BENCH_CONFIGS?.split(",");
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const REFERENCE = fileURLToPath(new URL("../../bench/torch_reference.py", import.meta.url));

function configs(): Config[] {
  const forced = process.env.BENCH_PRECISION;
  const make = (name: string, preset: "cpu" | "gpu", batch?: number): Config => {
    const cfg = presetConfig(preset);
    resolveRecipe(cfg, { channels: 1, side: 28 }); // Fashion-MNIST
    const presetBatch = cfg.batchSize;
    cfg.device = "cpu";
    cfg.threads = THREADS;
    if (batch !== undefined) cfg.batchSize = batch;
    if (cfg.optimizer.name !== "sgd") cfg.optimizer.name = "sgd";
    const precision = forced === "fp32" || forced === "bf16" ? forced : effectivePrecision(cfg);
    // The default dataset (Fashion-MNIST): one channel at the augmentation's output size.
    return { name, cfg, precision, channels: 1, imageSize: cfg.augment.outputSize as number, presetBatch };
  };
  return [make("cpu-preset", "cpu"), make("gpu-preset", "gpu", Number(process.env.BENCH_GPU_PRESET_BATCH ?? 32))];
}

function describe(c: Config): Record<string, unknown> {
  const e = c.cfg.encoder;
  return {
    config: c.name, batch: c.cfg.batchSize, preset_batch: c.presetBatch, width: e.widthMultiplier, stage_widths: e.stageWidths, stem_stride: e.stemStride,
    hidden: c.cfg.projector.hiddenDim, pred_hidden: c.cfg.predictor.hiddenDim, proj: c.cfg.projector.outDim,
    image_size: c.imageSize, channels: c.channels, precision: c.precision, channels_last: c.cfg.channelsLast,
  };
}

interface Side {
  ms: number[];
  line: Record<string, unknown>;
}

function runTs(c: Config): Side {
  T.manualSeed(0);
  const cfg = c.cfg;
  const learner = makeLearner(cfg, c.channels);
  const opt = makeOptimizer(cfg, learner);
  const shape = [cfg.batchSize, c.channels, c.imageSize, c.imageSize];
  const input = () => T.tidy(() => (cfg.channelsLast ? T.rand(shape).contiguous("channelsLast") : T.rand(shape)));
  const v1 = input().keep();
  const v2 = input().keep();
  const bf16 = c.precision === "bf16";
  const step = (): number =>
    T.tidy(() => {
      const { loss } = T.autocast("cpu", "bfloat16", () => learner.forwardLoss(v1, v2), bf16);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      learner.updateTarget(cfg.tauBase);
      return loss.item();
    });
  for (let i = 0; i < WARMUP; i++) step();
  const ms: number[] = [];
  let loss = NaN;
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    loss = step();
    ms.push(performance.now() - t0);
  }
  opt.dispose();
  learner.dispose();
  v1.dispose();
  v2.dispose();
  return { ms, line: { impl: "byol-ts", torch: T.torchVersion(), threads: T.getNumThreads(), ...describe(c), loss: round(loss, 4) } };
}

function runTorch(c: Config): Side | { error: string } {
  const cfg = c.cfg;
  const e = cfg.encoder;
  const args = [
    REFERENCE, "--device", "cpu", "--threads", String(THREADS), "--batch", String(cfg.batchSize), "--width", String(e.widthMultiplier),
    ...(e.stageWidths ? ["--stage-widths", e.stageWidths.join(",")] : []),
    "--stem-stride", String(e.stemStride), "--image-size", String(c.imageSize), "--channels", String(c.channels),
    "--hidden", String(cfg.projector.hiddenDim), "--pred-hidden", String(cfg.predictor.hiddenDim), "--proj", String(cfg.projector.outDim),
    "--precision", c.precision, ...(cfg.channelsLast ? ["--channels-last"] : []),
    "--lr", String(peakLr(cfg)), "--momentum", String(cfg.optimizer.momentum), "--weight-decay", String(cfg.optimizer.weightDecay),
    "--tau", String(cfg.tauBase), "--steps", String(STEPS), "--warmup", String(WARMUP),
  ];
  const r = spawnSync(PYTHON, args, { encoding: "utf8", env: pythonEnv({ OMP_NUM_THREADS: String(THREADS) }) });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || "failed").trim().split("\n").pop()! };
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  const { step_ms: ms, ...rest } = out;
  return { ms: ms as number[], line: { ...rest, config: c.name } };
}

function main(): void {
  T.setNumThreads(THREADS);
  for (const c of configs()) {
    if (ONLY && !ONLY.includes(c.name)) continue;
    const all: { ts: number[]; torch: number[] } = { ts: [], torch: [] };
    const loadBefore = loadavg()[0];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate the order each round so neither side always runs first.
      const order = r % 2 === 0 ? ["ts", "torch"] as const : ["torch", "ts"] as const;
      for (const which of order) {
        const res = which === "ts" ? runTs(c) : runTorch(c);
        if ("error" in res) {
          console.log(JSON.stringify({ impl: "pytorch", config: c.name, round: r, error: res.error }));
          continue;
        }
        all[which].push(...res.ms);
        console.log(JSON.stringify({ ...res.line, round: r, step_ms: res.ms.map((v) => round(v)) }));
      }
    }
    const ts = all.ts.length ? spread(all.ts) : null;
    const py = all.torch.length ? spread(all.torch) : null;
    console.log(JSON.stringify({
      impl: "ratio", ...describe(c), threads: THREADS, rounds: ROUNDS, steps_per_round: STEPS, warmup_per_round: WARMUP,
      pytorch_malloc: pythonMallocTuned() ? "addon's mallopt settings" : "glibc defaults",
      ...(ts ? spreadFields("ts_ms", ts) : {}), ...(py ? spreadFields("torch_ms", py) : {}),
      ts_img_per_s: ts ? round((c.cfg.batchSize * 1000) / ts.median, 1) : null,
      ratio: ts && py ? round(ts.median / py.median, 3) : null,
      // Other processes on the machine distort both timings; a load above the core count makes the ratio noise.
      load_avg_1m: [round(loadBefore), round(loadavg()[0])], cores: cpus().length,
    }));
  }
}

main();

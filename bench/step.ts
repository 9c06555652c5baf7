// Times one full BYOL training step in byol-ts and in PyTorch (bench/torch_reference.py, run with Debian's
// /usr/bin/python3) with the same settings, in the same run, and prints JSON lines plus the TS/PyTorch
// time ratio per configuration. A step: two views through the online network one view at a time, both
// through the target without gradients, the symmetric loss, backward, SGD (momentum 0.9, weight decay) and
// the EMA target update. No data loading or augmentation: the views are fixed random tensors.
//
// The two implementations run alternately for ROUNDS rounds and the best time of each is kept, so that
// load from other processes on a shared machine distorts the ratio less.
//
// Usage: npm run bench:step   (env: BENCH_THREADS=2, BENCH_ROUNDS=3, BENCH_CONFIGS=cpu-preset,resnet18-32px,
//        BENCH_PRECISION=fp32|bf16 (bf16: both sides under CPU autocast), BENCH_CHANNELS_LAST=1)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import * as T from "../src/torch/index.js";
import { resnet18 } from "../src/nn/resnet.js";
import { SGD } from "../src/optim/sgd.js";
import { BYOL } from "../src/byol/learner.js";

interface Config {
  name: string;
  channels: number;
  imageSize: number;
  /** Width divisor of ResNet-18's stages (4 → 16, 32, 64, 128 channels). */
  widthDiv: number;
  hidden: number;
  proj: number;
  batch: number;
  steps: number;
  warmup: number;
}

// The CPU preset's encoder (ResNet-18, small stem, 1 channel, 28x28, width/4, heads 512 → 128), and a
// full-width ResNet-18 at 32x32 with BYOL's heads (4096 → 256) at a batch a 2-core machine can time quickly.
const CONFIGS: Config[] = [
  { name: "cpu-preset", channels: 1, imageSize: 28, widthDiv: 4, hidden: 512, proj: 128, batch: 128, steps: 4, warmup: 2 },
  { name: "resnet18-32px", channels: 3, imageSize: 32, widthDiv: 1, hidden: 4096, proj: 256, batch: 16, steps: 2, warmup: 1 },
];
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ONLY = process.env.BENCH_CONFIGS?.split(",");
const PRECISION = process.env.BENCH_PRECISION === "bf16" ? "bf16" : "fp32";
const CHANNELS_LAST = process.env.BENCH_CHANNELS_LAST === "1";
const LR = 0.05;
const MOMENTUM = 0.9;
const WEIGHT_DECAY = 1.5e-6;
const TAU = 0.996;
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const REFERENCE = fileURLToPath(new URL("../../bench/torch_reference.py", import.meta.url));

interface Result {
  impl: string;
  ms_per_step: number;
  [k: string]: unknown;
}

function runTs(c: Config): Result {
  T.manualSeed(0);
  const encoder = resnet18({ inChannels: c.channels, stem: "small", widthMultiplier: 1 / c.widthDiv });
  // The reference copies the online weights into the target; do the same so both do identical work.
  if (CHANNELS_LAST) encoder.toChannelsLast();
  const learner = new BYOL({ encoder, hiddenDim: c.hidden, projectionDim: c.proj, targetInit: "copy" });
  const opt = new SGD(learner.trainableParameters(), { lr: LR, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY });
  const shape = [c.batch, c.channels, c.imageSize, c.imageSize];
  const input = () => (CHANNELS_LAST ? T.tidy(() => T.rand(shape).contiguous("channelsLast")) : T.rand(shape));
  const v1 = input().keep();
  const v2 = input().keep();
  const step = (): T.Tensor =>
    T.tidy(() => {
      const { loss } = T.autocast("cpu", "bfloat16", () => learner.forwardLoss(v1, v2), PRECISION === "bf16");
      opt.zeroGrad();
      loss.backward();
      opt.step();
      learner.updateTarget(TAU);
      return loss;
    });
  for (let i = 0; i < c.warmup; i++) step().dispose();
  const t0 = performance.now();
  let loss: T.Tensor | null = null;
  for (let i = 0; i < c.steps; i++) {
    loss?.dispose();
    loss = step();
  }
  const ms = (performance.now() - t0) / c.steps;
  const lossValue = loss!.item();
  loss!.dispose();
  opt.dispose();
  learner.dispose();
  v1.dispose();
  v2.dispose();
  return {
    impl: "byol-ts", torch: T.torchVersion(), device: "cpu", config: c.name, batch: c.batch, width_div: c.widthDiv,
    image_size: c.imageSize, channels: c.channels, precision: PRECISION, channels_last: CHANNELS_LAST, threads: T.getNumThreads(), ms_per_step: round(ms),
    img_per_s: round((c.batch * 1000) / ms, 1), loss: round(lossValue, 4),
  };
}

function runTorch(c: Config): Result | { impl: string; error: string } {
  const args = [
    REFERENCE, "--device", "cpu", "--threads", String(THREADS), "--batch", String(c.batch), "--width-div", String(c.widthDiv),
    "--image-size", String(c.imageSize), "--channels", String(c.channels), "--hidden", String(c.hidden), "--proj", String(c.proj),
    "--steps", String(c.steps), "--warmup", String(c.warmup), "--precision", PRECISION,
    ...(CHANNELS_LAST ? ["--channels-last"] : []),
  ];
  const r = spawnSync(PYTHON, args, { encoding: "utf8" });
  if (r.status !== 0) return { impl: "pytorch", error: (r.stderr || r.error?.message || "failed").trim().split("\n").pop()! };
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as Result;
  return { ...out, config: c.name };
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function main(): void {
  T.setNumThreads(THREADS);
  for (const c of CONFIGS) {
    if (ONLY && !ONLY.includes(c.name)) continue;
    let best: { ts?: number; torch?: number } = {};
    const loadBefore = loadavg()[0];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate the order each round so neither side always runs first.
      const order = r % 2 === 0 ? ["ts", "torch"] : ["torch", "ts"];
      for (const which of order) {
        const res = which === "ts" ? runTs(c) : runTorch(c);
        console.log(JSON.stringify({ ...res, round: r }));
        if ("ms_per_step" in res) {
          const k = which as "ts" | "torch";
          best = { ...best, [k]: Math.min(best[k] ?? Infinity, res.ms_per_step) };
        }
      }
    }
    console.log(JSON.stringify({
      impl: "ratio", config: c.name, precision: PRECISION, channels_last: CHANNELS_LAST, threads: THREADS, ts_ms_per_step: best.ts ?? null, torch_ms_per_step: best.torch ?? null,
      ratio: best.ts !== undefined && best.torch !== undefined ? round(best.ts / best.torch, 3) : null,
      // Other processes on the machine distort both timings; a load above the core count makes the ratio noise.
      load_avg_1m: [round(loadBefore), round(loadavg()[0])], cores: cpus().length,
    }));
  }
}

main();

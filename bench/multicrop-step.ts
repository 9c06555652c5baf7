// Times the cpu preset's full training step (augmentation of the views included) with 0, 2 and 4
// multi-crop local views (augment.localViews, docs/multi-crop.md), in one process, on a random uint8
// Fashion-MNIST-sized batch: WARMUP steps of each, then ROUNDS × STEPS timed steps of each, interleaved.
// Prints one JSON line per configuration (median, quartiles and minimum of the step's wall time, and
// the median of the process's CPU time per step, in seconds) and the load average: on a busy machine
// the wall time follows the neighbours; the minimum and the CPU time follow them less.
//
// Usage: node dist/bench/multicrop-step.js   (env: BENCH_THREADS=2, BENCH_ROUNDS=1, BENCH_STEPS=4,
//        BENCH_WARMUP=1, BENCH_COUNTS=0,2,4, BENCH_LOCAL_SIZE=12, BENCH_LOCAL_PREDICTOR=separate)
import { loadavg } from "node:os";
import * as T from "../src/torch/index.js";
import { effectivePrecision, presetConfig, validateConfig } from "../src/train/config.js";
import { makeAugmenters, makeLearner, makeLocalViews, makeOptimizer, peakLr } from "../src/train/build.js";
import { TrainStep } from "../src/train/step.js";
import { round, spread } from "./stats.js";

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const STEPS = Number(process.env.BENCH_STEPS ?? 4);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const COUNTS = (process.env.BENCH_COUNTS ?? "0,2,4").split(",").map(Number);
const LOCAL_SIZE = Number(process.env.BENCH_LOCAL_SIZE ?? 12);
const LOCAL_PREDICTOR = (process.env.BENCH_LOCAL_PREDICTOR ?? "separate") as "shared" | "separate";

T.setNumThreads(THREADS);
const times = new Map<number, number[]>(COUNTS.map((c) => [c, []]));
const cpuTimes = new Map<number, number[]>(COUNTS.map((c) => [c, []]));
let precision = "";
let batch = 0;
// Every configuration is built up front and the steps are interleaved (0, 2, 4, 0, 2, 4, …; the
// order reversed every other round), so that a neighbour's load falls on all of them alike.
const runs = COUNTS.map((count) => {
  const cfg = presetConfig("cpu");
  cfg.threads = THREADS;
  cfg.augment.localViews = { ...cfg.augment.localViews, count, outputSize: LOCAL_SIZE };
  cfg.augment.localPredictor = LOCAL_PREDICTOR;
  validateConfig(cfg);
  precision = effectivePrecision(cfg);
  batch = cfg.batchSize;
  T.manualSeed(0);
  const learner = makeLearner(cfg, 1);
  const optimizer = makeOptimizer(cfg, learner);
  const augs = makeAugmenters(cfg, 1, [0.286], [0.353]);
  const shape = [cfg.batchSize, 1, 28, 28];
  const step = new TrainStep({
    learner, optimizer, augmenters: augs, localViews: makeLocalViews(cfg, augs), probe: null, device: "cpu",
    bf16: precision === "bf16", batchShape: shape,
  });
  return { count, cfg, step };
});
const x = T.randint(0, 256, [batch, 1, 28, 28], { dtype: "uint8" }).keep();
for (let i = 0; i < WARMUP + ROUNDS * STEPS; i++) {
  for (const { count, cfg, step } of i % 2 === 0 ? runs : [...runs].reverse()) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    step.run(x, null, peakLr(cfg), 0.99);
    step.readStats(); // the step's work has finished (a CPU runs it synchronously; this reads the loss)
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    if (i >= WARMUP) {
      times.get(count)!.push(s);
      cpuTimes.get(count)!.push(cpu);
    }
    process.stderr.write(`localViews ${count} step ${i + 1}${i < WARMUP ? " (warm-up)" : ""}: ${s.toFixed(3)} s wall, ${cpu.toFixed(3)} s cpu\n`);
  }
}
const base = spread(times.get(COUNTS[0]!)!).median;
const baseCpu = spread(cpuTimes.get(COUNTS[0]!)!).median;
for (const count of COUNTS) {
  const s = spread(times.get(count)!);
  console.log(JSON.stringify({
    localViews: count, localSize: LOCAL_SIZE, localPredictor: LOCAL_PREDICTOR, batch, precision, threads: THREADS,
    steps: times.get(count)!.length, medianS: round(s.median, 3), p25S: round(s.p25, 3), p75S: round(s.p75, 3),
    minS: round(s.min, 3), cpuMedianS: round(spread(cpuTimes.get(count)!).median, 3),
    wallVsFirst: round(s.median / base, 2), cpuVsFirst: round(spread(cpuTimes.get(count)!).median / baseCpu, 2),
  }));
}
console.log(JSON.stringify({ loadavg: loadavg().map((v) => round(v, 2)) }));

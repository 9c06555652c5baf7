// `npm run bench:augment`: time per batch of 256 of each BYOL view and of both views together
// (makeViews, as training draws them), for 28x28x1 images (gray28 presets) and 32x32x3 images (cifar
// presets), on the CPU with 2 threads and on CUDA when there is a GPU; and, per preset, the native calls
// that two views of a batch make at the addon boundary (op calls, releases, read-backs), which is the
// host's cost of the views on a GPU. One JSON line per measurement; the whole run stays well under a minute.
import * as T from "../src/torch/index.js";
import { ViewAugmenter, makeViews, presetByName, type PresetName } from "../src/augment/index.js";

const BATCH = 256;
const SECONDS_PER_CASE = Number(process.env.BENCH_SECONDS ?? 2.5);
const CPU_THREADS = Number(process.env.BENCH_THREADS ?? 2);

interface Case {
  preset: PresetName;
  channels: number;
  side: number;
}

const CASES: Case[] = [
  { preset: "gray28", channels: 1, side: 28 },
  { preset: "cifar", channels: 3, side: 32 },
];
// The counts do not depend on the batch size; the paper's 224-pixel pair is counted on a small batch.
const COUNT_CASES: (Case & { batch: number })[] = [
  ...CASES.map((c) => ({ ...c, batch: BATCH })),
  { preset: "byol", channels: 3, side: 224, batch: 8 },
];

function sync(device: string): void {
  if (device.startsWith("cuda")) T.cuda.synchronize();
}

/**
 * Milliseconds per call of fn over at least 5 calls and about SECONDS_PER_CASE seconds, after 3 warm-ups:
 * the median (robust to a busy machine stealing a thread now and then) and the best, of the wall time
 * and of the process's CPU time (user + system, all threads: on a shared machine the CPU time is the
 * steadier measure of the work done).
 */
function timeIt(device: string, fn: () => void): { median: number; best: number; cpuMedian: number; iters: number } {
  for (let i = 0; i < 3; i++) fn();
  sync(device);
  const times: number[] = [];
  const cpu: number[] = [];
  const t0 = performance.now();
  while (times.length < 5 || performance.now() - t0 < SECONDS_PER_CASE * 1000) {
    const t = performance.now();
    const c = process.cpuUsage();
    fn();
    // Synchronise every call on CUDA, so each time covers the work and not just its launch.
    sync(device);
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  return { median: times[mid]!, best: times[0]!, cpuMedian: cpu[mid]!, iters: times.length };
}

function augmenters(c: Case): [ViewAugmenter, ViewAugmenter] {
  const [t1, t2] = presetByName(c.preset, c.side, Array(c.channels).fill(0.5), Array(c.channels).fill(0.25));
  return [new ViewAugmenter(t1, c.channels), new ViewAugmenter(t2, c.channels)];
}

function bench(device: string): void {
  for (const c of CASES) {
    const augs = augmenters(c);
    T.manualSeed(0);
    const x = T.randint(0, 256, [BATCH, c.channels, c.side, c.side], { dtype: "uint8", device }).keep();
    const runs: [string, () => void][] = [
      ["1", () => augs[0].apply(x).dispose()],
      ["2", () => augs[1].apply(x).dispose()],
      ["both", () => makeViews(x, augs).forEach((v) => v.dispose())],
    ];
    for (const [view, fn] of runs) {
      const { median, best, cpuMedian, iters } = timeIt(device, fn);
      console.log(JSON.stringify({
        bench: "augment", device, threads: device === "cpu" ? T.getNumThreads() : undefined, preset: c.preset,
        shape: [BATCH, c.channels, c.side, c.side], view, iters,
        ms_per_batch: +median.toFixed(2), img_per_s: Math.round((BATCH * 1000) / median),
        best_ms_per_batch: +best.toFixed(2), best_img_per_s: Math.round((BATCH * 1000) / best),
        cpu_ms_per_batch: +cpuMedian.toFixed(2),
      }));
    }
    x.dispose();
  }
}

/** Native calls of makeViews on one batch, after a warm-up call (which uploads the augmenters' constants). */
function countCalls(device: string): void {
  for (const c of COUNT_CASES) {
    const augs = augmenters(c);
    const x = T.randint(0, 256, [c.batch, c.channels, c.side, c.side], { dtype: "uint8", device });
    makeViews(x, augs).forEach((v) => v.dispose());
    const { result, counts } = T.countNativeCalls(() => makeViews(x, augs));
    result.forEach((v) => v.dispose());
    x.dispose();
    console.log(JSON.stringify({
      bench: "augment-calls", device, preset: c.preset, shape: [c.batch, c.channels, c.side, c.side],
      op_calls_per_two_views: counts.ops, releases_per_two_views: counts.releases, read_backs: counts.readBacks,
    }));
  }
}

T.setNumThreads(CPU_THREADS);
countCalls("cpu");
bench("cpu");
if (T.cuda.isAvailable()) {
  countCalls("cuda");
  bench("cuda");
}

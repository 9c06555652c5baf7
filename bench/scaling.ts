// `npm run bench:scaling`: BYOL training throughput with 1 and with several data-parallel processes on
// this machine. Each rank runs the data-parallel step (two views through online and target, backward,
// gradient all-reduce, SGD, EMA target update) on fixed random views of its own per-rank batch; the
// global throughput is world size × per-rank batch / the slowest rank's step time.
//   CPU: 1 and 2 processes over Gloo; the cores are split between the processes (1 × 2 threads vs
//        2 × 1 thread on a 2-core machine), so the comparison is at equal hardware.
//   GPU: NCCL with one process per GPU where several GPUs are present; with one GPU, the single-GPU path.
// Prints one JSON line per configuration and round, and per data-parallel configuration a summary line:
// its speed-up over the best single process and over one process with the same threads, both sides.
//   The network is the cpu preset's on a CPU (read from src/train/config.ts: stem stride, width, heads,
//   channels-last, precision as "auto" resolves it here) and the gpu preset's on a GPU; the per-process
//   batch is half the preset's batch, so that two processes train the preset's global batch.
//   Data-parallel byol-ts runs all-reduce the gradients in buckets while backward runs (bucketMb,
//   BENCH_BUCKET_MB, default 25 as DDP); one more 2-process line with bucket_mb 0 shows the single flat
//   all-reduce after backward. allreduce_ms is the part of the step spent waiting for the reduction
//   after backward (with buckets, what overlap did not hide).
//   On a CPU each configuration is also run by PyTorch (bench/torch_reference.py --nproc N, Gloo, with
//   DistributedDataParallel at the same bucket size for N > 1 (BENCH_TORCH_DDP=0: one flat all-reduce),
//   the addon's allocator settings), and its ratio printed.
//   Step times are per step, the slowest rank's; lines give their median, quartiles and extremes.
//
// Env: BENCH_BATCH (per rank), BENCH_STEPS (timed, default 8), BENCH_WARMUP, BENCH_SYNC_BN=1 (add a
// cross-replica BatchNorm run), BENCH_DEVICE=cpu|cuda, BENCH_PY_MALLOC=default, BENCH_BUCKET_MB,
// BENCH_TORCH_DDP=0, BENCH_FLAT=0 (no bucket_mb 0 line), BENCH_ROUNDS (default 3: the configurations are
// measured round-robin that many times; summary lines give the median speed-up over rounds).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import * as T from "../src/torch/index.js";
import { resnet18 } from "../src/nn/resnet.js";
import { SGD } from "../src/optim/sgd.js";
import { BYOL } from "../src/byol/learner.js";
import { convertSyncBatchNorm } from "../src/nn/sync-batchnorm.js";
import { launchLocal } from "../src/train/launcher.js";
import { dataParallel, distContextFromEnv, initProcessGroup, rankDevice } from "../src/train/dist-context.js";
import { effectivePrecision, presetConfig } from "../src/train/config.js";
import { resolveRecipe } from "../src/train/recipe.js";
import { pythonEnv, pythonMallocTuned } from "./allocator.js";
import { spread, spreadFields } from "./stats.js";

interface Setup {
  device: string;
  channels: number;
  imageSize: number;
  width: number;
  stageWidths: number[] | null;
  stemStride: number;
  hidden: number;
  predHidden: number;
  proj: number;
  batch: number;
  channelsLast: boolean;
  bf16: boolean;
}

const SCRIPT = fileURLToPath(import.meta.url);
const STEPS = Number(process.env.BENCH_STEPS ?? 8);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const BUCKET_MB = Number(process.env.BENCH_BUCKET_MB ?? 25);
const TORCH_DDP = process.env.BENCH_TORCH_DDP !== "0";
const ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS ?? 3)));
const REFERENCE = fileURLToPath(new URL("../../bench/torch_reference.py", import.meta.url));

function setupFor(device: string): Setup {
  // The preset that trains on this device, on its default dataset (Fashion-MNIST: 1 channel).
  const gpu = device.startsWith("cuda");
  const cfg = presetConfig(gpu ? "gpu" : "cpu");
  cfg.device = device;
  resolveRecipe(cfg, { channels: 1, side: 28 }); // Fashion-MNIST
  return {
    device, channels: 1, imageSize: cfg.augment.outputSize as number, width: cfg.encoder.widthMultiplier, stageWidths: cfg.encoder.stageWidths, stemStride: cfg.encoder.stemStride,
    hidden: cfg.projector.hiddenDim, predHidden: cfg.predictor.hiddenDim, proj: cfg.projector.outDim,
    batch: Number(process.env.BENCH_BATCH ?? cfg.batchSize / 2), channelsLast: cfg.channelsLast, bf16: effectivePrecision(cfg) === "bf16",
  };
}

// ---- one rank -------------------------------------------------------------------------------------------
function worker(): void {
  const ctx = distContextFromEnv();
  const s = setupFor(process.env.BENCH_DEVICE ?? "cpu");
  const device = ctx ? rankDevice(ctx, s.device) : s.device === "cuda" ? "cuda:0" : s.device;
  T.setNumThreads(Number(process.env.BENCH_THREADS ?? 1));
  const pg = ctx ? initProcessGroup(ctx, device) : null;
  const dp = pg ? dataParallel(pg, device, { bucketMb: Number(process.env.BENCH_RUN_BUCKET_MB ?? BUCKET_MB) }) : null;
  T.manualSeed(0);
  const encoder = resnet18({ inChannels: s.channels, stem: "small", widthMultiplier: s.width, stageWidths: s.stageWidths, stemStride: s.stemStride }).to(device);
  if (s.channelsLast) encoder.toChannelsLast();
  const learner = new BYOL({ encoder, hiddenDim: s.hidden, predictorHiddenDim: s.predHidden, projectionDim: s.proj });
  if (pg && process.env.BENCH_SYNC_BN === "1") {
    for (const m of [learner.online.encoder, learner.online.projector, learner.predictor, learner.target.encoder, learner.target.projector]) convertSyncBatchNorm(m, pg);
  }
  const params = learner.trainableParameters();
  if (dp) dp.broadcast(params);
  const opt = new SGD(params, { lr: 0.05, momentum: 0.9, weightDecay: 1e-6 });
  const shape = [s.batch, s.channels, s.imageSize, s.imageSize];
  const input = () => T.tidy(() => (s.channelsLast ? T.rand(shape, { device }).contiguous("channelsLast") : T.rand(shape, { device })));
  const v1 = input().keep();
  const v2 = input().keep();
  const gpu = device.startsWith("cuda");
  const sync = () => gpu && T.cuda.synchronize();
  let reduceMs = 0;
  const step = () => T.tidy(() => {
    const { loss } = T.autocast(gpu ? "cuda" : "cpu", "bfloat16", () => learner.forwardLoss(v1, v2), s.bf16);
    opt.zeroGrad();
    dp?.beforeBackward?.(params);
    loss.backward();
    if (dp) {
      sync();
      const t = performance.now();
      dp.averageGradients(params);
      sync();
      reduceMs += performance.now() - t;
    }
    opt.step();
    learner.updateTarget(0.99);
  });
  for (let i = 0; i < WARMUP; i++) step();
  pg?.barrier();
  sync();
  reduceMs = 0;
  const ms: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    step();
    sync();
    ms.push(performance.now() - t0);
  }
  pg?.barrier();
  pg?.destroy();
  process.stdout.write(`RESULT ${JSON.stringify({ rank: ctx?.rank ?? 0, step_ms: ms, allreduce_ms: reduceMs / STEPS, device })}\n`);
}

// ---- the driver -----------------------------------------------------------------------------------------
interface Run {
  nproc: number;
  syncBn: boolean;
  backend: string;
  threads: number;
  /** Gradient bucket size of the data-parallel runs (0: one flat all-reduce after backward). */
  bucketMb?: number;
}

async function measure(run: Run, device: string): Promise<Record<string, unknown>> {
  const results: { rank: number; step_ms: number[]; allreduce_ms: number }[] = [];
  const env: Record<string, string> = {
    BYOL_SCALING_WORKER: "1", BENCH_DEVICE: device, BENCH_THREADS: String(run.threads), BENCH_SYNC_BN: run.syncBn ? "1" : "0",
    OMP_NUM_THREADS: String(run.threads), BENCH_RUN_BUCKET_MB: String(run.bucketMb ?? BUCKET_MB),
  };
  const code = await launchLocal(run.nproc, [], {
    script: SCRIPT, env,
    onLine: (line, stream, rank) => {
      if (line.startsWith("RESULT ")) results.push(JSON.parse(line.slice(7)));
      else if (stream === "stderr" && line.trim()) process.stderr.write(`[rank ${rank}] ${line}\n`);
    },
  });
  if (code !== 0 || results.length !== run.nproc) return { bench: "scaling", ...run, error: `ranks exited with ${code}` };
  const s = setupFor(device);
  // Per step, the slowest rank sets the pace.
  const perStep = results[0].step_ms.map((_, i) => Math.max(...results.map((r) => r.step_ms[i])));
  const st = spread(perStep);
  const line: Record<string, unknown> = {
    bench: "scaling", device, backend: run.nproc > 1 ? run.backend : "none", nproc: run.nproc, sync_bn: run.syncBn,
    bucket_mb: run.nproc > 1 ? run.bucketMb ?? BUCKET_MB : undefined,
    threads_per_proc: device === "cpu" ? run.threads : undefined, batch_per_proc: s.batch, global_batch: s.batch * run.nproc,
    precision: s.bf16 ? "bf16" : "fp32", channels_last: s.channelsLast,
    ms_per_step: +st.median.toFixed(1), ...spreadFields("step_ms", st, 1), allreduce_ms: +Math.max(...results.map((r) => r.allreduce_ms)).toFixed(1),
    img_per_s: Math.round((s.batch * run.nproc * 1000) / st.median),
  };
  if (device === "cpu" && !run.syncBn && !(run.nproc > 1 && run.bucketMb === 0)) {
    const py = torchSide(run, s);
    if ("error" in py) line.torch_error = py.error;
    else {
      line.torch_ms_per_step = py.median;
      Object.assign(line, spreadFields("torch_step_ms", py, 1));
      line.torch_img_per_s = Math.round((s.batch * run.nproc * 1000) / py.median);
      if (run.nproc > 1) line.torch_mode = TORCH_DDP ? `DistributedDataParallel, bucket_cap_mb ${BUCKET_MB}` : "one flat all-reduce";
      line.ratio = +(st.median / py.median).toFixed(3);
      line.torch_malloc = pythonMallocTuned() ? "addon's mallopt settings" : "glibc defaults";
    }
  }
  return line;
}

/** The same configuration in PyTorch: per-step times (slowest rank), or why it could not run. */
function torchSide(run: Run, s: Setup): ReturnType<typeof spread> | { error: string } {
  const args = [
    REFERENCE, "--device", "cpu", "--nproc", String(run.nproc), "--threads", String(run.threads), "--batch", String(s.batch),
    "--width", String(s.width), ...(s.stageWidths ? ["--stage-widths", s.stageWidths.join(",")] : []), "--stem-stride", String(s.stemStride), "--image-size", String(s.imageSize), "--channels", String(s.channels),
    "--hidden", String(s.hidden), "--pred-hidden", String(s.predHidden), "--proj", String(s.proj), "--precision", s.bf16 ? "bf16" : "fp32",
    ...(s.channelsLast ? ["--channels-last"] : []), "--lr", "0.05", "--momentum", "0.9", "--weight-decay", "1e-6", "--tau", "0.99",
    "--steps", String(STEPS), "--warmup", String(WARMUP),
    ...(run.nproc > 1 && TORCH_DDP ? ["--ddp", "--bucket-mb", String(BUCKET_MB)] : []),
  ];
  const r = spawnSync(PYTHON, args, { encoding: "utf8", env: pythonEnv({ OMP_NUM_THREADS: String(run.threads) }) });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || "failed").trim().split("\n").pop()! };
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { step_ms: number[] };
  return spread(out.step_ms);
}

async function main(): Promise<void> {
  const device = process.env.BENCH_DEVICE ?? (T.cuda.isAvailable() ? "cuda" : "cpu");
  const runs: Run[] = [];
  if (device === "cpu") {
    const cores = availableParallelism();
    // One process with every core, and with one thread (on a loaded machine extra intra-op threads can
    // cost more than they bring); the faster of the two is the baseline.
    runs.push({ nproc: 1, syncBn: false, backend: "gloo", threads: cores });
    if (cores > 1) runs.push({ nproc: 1, syncBn: false, backend: "gloo", threads: 1 });
    runs.push({ nproc: 2, syncBn: false, backend: "gloo", threads: Math.max(1, Math.floor(cores / 2)) });
    if (process.env.BENCH_FLAT !== "0" && BUCKET_MB > 0) runs.push({ nproc: 2, syncBn: false, backend: "gloo", threads: Math.max(1, Math.floor(cores / 2)), bucketMb: 0 });
    if (process.env.BENCH_SYNC_BN === "1") runs.push({ nproc: 2, syncBn: true, backend: "gloo", threads: Math.max(1, Math.floor(cores / 2)) });
  } else {
    const gpus = T.cuda.deviceCount();
    const backend = T.ProcessGroup.backends().includes("nccl") ? "nccl" : "gloo";
    runs.push({ nproc: 1, syncBn: false, backend, threads: 1 });
    if (gpus > 1) {
      runs.push({ nproc: gpus, syncBn: false, backend, threads: 1 });
      if (process.env.BENCH_SYNC_BN === "1") runs.push({ nproc: gpus, syncBn: true, backend, threads: 1 });
    } else {
      console.error("one GPU: measuring the single-GPU path only (data-parallel runs use one process per GPU)");
    }
  }
  // The whole list is measured ROUNDS times, round-robin, so that a slow minute of a shared machine
  // falls on every configuration alike instead of on one; speed-ups are computed within each round.
  const rounds: Record<string, unknown>[][] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const out: Record<string, unknown>[] = [];
    for (const r of runs) {
      const res = await measure(r, device);
      if (ROUNDS > 1) res.round = k + 1;
      console.log(JSON.stringify(res));
      out.push(res);
    }
    rounds.push(out);
  }
  for (const line of scalingSummary(rounds, device)) console.log(JSON.stringify(line));
}

/** Throughput of a line's field, or null where that side did not run. */
const ips = (line: Record<string, unknown> | undefined, key: string): number | null => (typeof line?.[key] === "number" ? (line[key] as number) : null);

/**
 * One summary line per data-parallel configuration: its speed-up on both sides, per round and as the
 * median over rounds with the extremes.
 *   speedup: over the faster single process (all cores in one process, or one thread), the whole
 *     machine against the whole machine;
 *   speedup_same_threads: over one process with the threads each data-parallel process has, i.e. what
 *     a second process adds when every process keeps its share of the hardware (the GPU meaning: one
 *     process per device).
 */
function scalingSummary(rounds: Record<string, unknown>[][], device: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  rounds[0].forEach((first, j) => {
    if ((first.nproc as number) <= 1) return;
    const per = { speedup: [] as number[], torch: [] as number[], same: [] as number[], torchSame: [] as number[] };
    for (const out of rounds) {
      const r = out[j];
      const singles = out.filter((o) => o.nproc === 1);
      const same = singles.find((o) => o.threads_per_proc === r.threads_per_proc);
      // r's throughput over a single-process one, kept where both sides of the ratio ran.
      const add = (into: number[], key: string, over: number | null) => {
        const mine = ips(r, key);
        if (mine !== null && over !== null && over > 0) into.push(mine / over);
      };
      const best = (key: string) => Math.max(...singles.map((o) => ips(o, key) ?? -Infinity));
      add(per.speedup, "img_per_s", best("img_per_s"));
      add(per.torch, "torch_img_per_s", best("torch_img_per_s"));
      add(per.same, "img_per_s", ips(same, "img_per_s"));
      add(per.torchSame, "torch_img_per_s", ips(same, "torch_img_per_s"));
    }
    const med = (v: number[]) => (v.length ? +spread(v).median.toFixed(3) : null);
    const ext = (name: string, v: number[]) => (v.length > 1 ? { [`${name}_min`]: +Math.min(...v).toFixed(3), [`${name}_max`]: +Math.max(...v).toFixed(3) } : {});
    const speedup = med(per.speedup);
    lines.push({
      bench: "scaling-summary", device, nproc: first.nproc, sync_bn: first.sync_bn, bucket_mb: first.bucket_mb, threads_per_proc: first.threads_per_proc, rounds: rounds.length,
      speedup, ...ext("speedup", per.speedup), efficiency: speedup === null ? null : +(speedup / (first.nproc as number)).toFixed(3),
      torch_speedup: med(per.torch), ...ext("torch_speedup", per.torch),
      speedup_same_threads: med(per.same), ...ext("speedup_same_threads", per.same),
      torch_speedup_same_threads: med(per.torchSame), ...ext("torch_speedup_same_threads", per.torchSame),
      img_per_s: med(rounds.map((o) => ips(o[j], "img_per_s")).filter((v): v is number => v !== null)),
      torch_img_per_s: med(rounds.map((o) => ips(o[j], "torch_img_per_s")).filter((v): v is number => v !== null)),
    });
  });
  return lines;
}

if (process.env.BYOL_SCALING_WORKER === "1") worker();
else await main();

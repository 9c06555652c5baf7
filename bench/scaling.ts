// `npm run bench:scaling`: BYOL training throughput with 1 and with several data-parallel processes on
// this machine. Each rank runs the data-parallel step (two views through online and target, backward,
// gradient all-reduce, SGD, EMA target update) on fixed random views of its own per-rank batch; the
// global throughput is world size × per-rank batch / the slowest rank's step time.
//   CPU: 1 and 2 processes over Gloo; the cores are split between the processes (1 × 2 threads vs
//        2 × 1 thread on a 2-core machine), so the comparison is at equal hardware.
//   GPU: NCCL with one process per GPU where several GPUs are present; with one GPU, the single-GPU path.
// Prints one JSON line per configuration and a summary line with speed-up and efficiency against the
// best single-process run.
//
// Env: BENCH_BATCH (per rank), BENCH_STEPS, BENCH_WARMUP, BENCH_SYNC_BN=1 (add a cross-replica
// BatchNorm run), BENCH_DEVICE=cpu|cuda.
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import * as T from "../src/torch/index.js";
import { resnet18 } from "../src/nn/resnet.js";
import { SGD } from "../src/optim/sgd.js";
import { BYOL } from "../src/byol/learner.js";
import { convertSyncBatchNorm } from "../src/nn/sync-batchnorm.js";
import { launchLocal } from "../src/train/launcher.js";
import { dataParallel, distContextFromEnv, initProcessGroup, rankDevice } from "../src/train/dist-context.js";

interface Setup {
  device: string;
  channels: number;
  imageSize: number;
  width: number;
  hidden: number;
  proj: number;
  batch: number;
}

const SCRIPT = fileURLToPath(import.meta.url);
const STEPS = Number(process.env.BENCH_STEPS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);

function setupFor(device: string): Setup {
  // CPU: the cpu preset's network (ResNet-18 at width 1/4, small stem, 28x28x1, heads 1024 → 128).
  // GPU: full-width ResNet-18 at 32x32x3 with the paper's heads (4096 → 256).
  const gpu = device.startsWith("cuda");
  return {
    device, channels: gpu ? 3 : 1, imageSize: gpu ? 32 : 28, width: gpu ? 1 : 0.25, hidden: gpu ? 4096 : 1024, proj: gpu ? 256 : 128,
    batch: Number(process.env.BENCH_BATCH ?? (gpu ? 256 : 64)),
  };
}

// ---- one rank -------------------------------------------------------------------------------------------
function worker(): void {
  const ctx = distContextFromEnv();
  const s = setupFor(process.env.BENCH_DEVICE ?? "cpu");
  const device = ctx ? rankDevice(ctx, s.device) : s.device === "cuda" ? "cuda:0" : s.device;
  T.setNumThreads(Number(process.env.BENCH_THREADS ?? 1));
  const pg = ctx ? initProcessGroup(ctx, device) : null;
  const dp = pg ? dataParallel(pg, device) : null;
  T.manualSeed(0);
  const encoder = resnet18({ inChannels: s.channels, stem: "small", widthMultiplier: s.width });
  const learner = new BYOL({ encoder: encoder.to(device), hiddenDim: s.hidden, projectionDim: s.proj });
  if (pg && process.env.BENCH_SYNC_BN === "1") {
    for (const m of [learner.online.encoder, learner.online.projector, learner.predictor, learner.target.encoder, learner.target.projector]) convertSyncBatchNorm(m, pg);
  }
  const params = learner.trainableParameters();
  if (dp) dp.broadcast(params);
  const opt = new SGD(params, { lr: 0.05, momentum: 0.9, weightDecay: 1e-6 });
  const shape = [s.batch, s.channels, s.imageSize, s.imageSize];
  const v1 = T.rand(shape, { device }).keep();
  const v2 = T.rand(shape, { device }).keep();
  const gpu = device.startsWith("cuda");
  const sync = () => gpu && T.cuda.synchronize();
  let reduceMs = 0;
  const step = () => T.tidy(() => {
    const { loss } = gpu ? T.autocast("cuda", "bfloat16", () => learner.forwardLoss(v1, v2)) : learner.forwardLoss(v1, v2);
    opt.zeroGrad();
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
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) step();
  sync();
  const ms = (performance.now() - t0) / STEPS;
  pg?.barrier();
  pg?.destroy();
  process.stdout.write(`RESULT ${JSON.stringify({ rank: ctx?.rank ?? 0, ms_per_step: ms, allreduce_ms: reduceMs / STEPS, device })}\n`);
}

// ---- the driver -----------------------------------------------------------------------------------------
interface Run {
  nproc: number;
  syncBn: boolean;
  backend: string;
  threads: number;
}

async function measure(run: Run, device: string): Promise<Record<string, unknown>> {
  const results: { rank: number; ms_per_step: number; allreduce_ms: number }[] = [];
  const env: Record<string, string> = {
    BYOL_SCALING_WORKER: "1", BENCH_DEVICE: device, BENCH_THREADS: String(run.threads), BENCH_SYNC_BN: run.syncBn ? "1" : "0",
    OMP_NUM_THREADS: String(run.threads),
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
  const slowest = Math.max(...results.map((r) => r.ms_per_step));
  return {
    bench: "scaling", device, backend: run.nproc > 1 ? run.backend : "none", nproc: run.nproc, sync_bn: run.syncBn,
    threads_per_proc: device === "cpu" ? run.threads : undefined, batch_per_proc: s.batch, global_batch: s.batch * run.nproc,
    ms_per_step: +slowest.toFixed(1), allreduce_ms: +Math.max(...results.map((r) => r.allreduce_ms)).toFixed(1),
    img_per_s: Math.round((s.batch * run.nproc * 1000) / slowest),
  };
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
  const out: Record<string, unknown>[] = [];
  for (const r of runs) {
    const res = await measure(r, device);
    console.log(JSON.stringify(res));
    out.push(res);
  }
  const singles = out.filter((r) => r.nproc === 1 && typeof r.img_per_s === "number").map((r) => r.img_per_s as number);
  const base = singles.length ? Math.max(...singles) : undefined;
  for (const r of out.filter((o) => (o.nproc as number) > 1)) {
    if (base && typeof r.img_per_s === "number") {
      const speedup = r.img_per_s / base;
      console.log(JSON.stringify({ bench: "scaling-summary", device, nproc: r.nproc, sync_bn: r.sync_bn, speedup: +speedup.toFixed(3), efficiency: +(speedup / (r.nproc as number)).toFixed(3) }));
    }
  }
}

if (process.env.BYOL_SCALING_WORKER === "1") worker();
else await main();

// The training step on one GPU, byol-ts against PyTorch, in the same run. byol-ts runs its real step
// (src/train/step.ts: per-image views, forward and loss in bf16 autocast, backward, LARS, EMA, online
// probe) on the gpu preset's networks (ResNet-18 with the small stem, 4096 → 256 heads, channels-last)
// for 32×32×3 images, with CUDA graphs on and off. Beside it:
//  - bench/torch_reference.py: the same networks and step in PyTorch, without augmentation (fixed views),
//    so only the engine's work is compared;
//  - bench/torch_idiomatic_byol.py: a BYOL step as popular PyTorch implementations write it, with
//    torchvision.transforms.v2 on the GPU (one random draw per batch), LARS-like SGD and an online probe.
// Prints JSON lines: one per measurement, and per batch size the ratios of byol-ts's img/s to PyTorch's
// (above 1: byol-ts is faster). Without a GPU it says so in one line and exits 0.
//
// Usage: npm run bench:gpu   (env: BENCH_BATCHES=256,512,1024, BENCH_STEPS=30, BENCH_WARMUP=8,
//        BYOL_PYTHON=python3 (the Python with PyTorch 2.x and torchvision), BENCH_NO_PYTHON=1)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as T from "../src/torch/index.js";
import { presetConfig } from "../src/train/config.js";
import { makeAugmenters, makeLearner, makeOptimizer } from "../src/train/build.js";
import { resolveRecipe } from "../src/train/recipe.js";
import { OnlineProbe } from "../src/eval/online-probe.js";
import type { ResNet } from "../src/nn/resnet.js";
import { TrainStep } from "../src/train/step.js";

const BATCHES = (process.env.BENCH_BATCHES ?? "256,512,1024").split(",").map(Number);
const STEPS = Number(process.env.BENCH_STEPS ?? 30);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 8);
const PYTHON = process.env.BYOL_PYTHON ?? "python3";
const here = (name: string) => fileURLToPath(new URL(`../../bench/${name}`, import.meta.url));
// CIFAR-10's channel statistics (the views normalise with them; the pixels are random).
const MEAN = [0.4914, 0.4822, 0.4465];
const STD = [0.247, 0.243, 0.261];

interface Measured {
  impl: string;
  img_per_s?: number;
  error?: string;
  [k: string]: unknown;
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function runTs(batch: number, cudaGraph: "on" | "off"): Measured {
  const cfg = presetConfig("gpu");
  cfg.batchSize = batch;
  cfg.augment = { ...cfg.augment, preset: "cifar", outputSize: 32, minScale: null };
  resolveRecipe(cfg, { channels: 3, side: 32 }); // CIFAR-sized images: the small stem
  cfg.cudaGraph = cudaGraph;
  T.manualSeed(0);
  const learner = makeLearner(cfg, 3);
  const optimizer = makeOptimizer(cfg, learner);
  const augmenters = makeAugmenters(cfg, 3, MEAN, STD);
  const probe = new OnlineProbe((learner.online.encoder as ResNet).outDim, 10, { lr: cfg.onlineProbe.lr, device: cfg.device });
  const warnings: string[] = [];
  const step = new TrainStep({
    learner, optimizer, augmenters, probe, device: cfg.device, bf16: true, batchShape: [batch, 3, 32, 32], cudaGraph,
    warn: (l) => warnings.push(l),
  });
  // A few host batches, uploaded every step as training does.
  const host = Array.from({ length: 4 }, () => Uint8Array.from({ length: batch * 3 * 32 * 32 }, () => Math.floor(Math.random() * 256)));
  const labels = Array.from({ length: 4 }, () => Array.from({ length: batch }, () => Math.floor(Math.random() * 10)));
  try {
    for (let i = 0; i < WARMUP; i++) step.run(host[i % 4], labels[i % 4], 0.1, 0.99);
    step.readStats();
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) step.run(host[i % 4], labels[i % 4], 0.1, 0.99);
    const queued = performance.now();
    const stats = step.readStats(); // waits for the device
    const s = (performance.now() - t0) / 1000;
    return {
      impl: `byol-ts graph ${cudaGraph}`, torch: T.torchVersion(), batch, cuda_graph: step.graphMode, graph_captured: step.graphCaptured,
      ...(warnings.length ? { warning: warnings[0] } : {}), ms_per_step: round((s * 1000) / STEPS, 2),
      host_ms_per_step: round((queued - t0) / STEPS, 2), img_per_s: round((batch * STEPS) / s), loss: round(stats.lastLoss, 4),
    };
  } catch (e) {
    return { impl: `byol-ts graph ${cudaGraph}`, batch, error: (e as Error).message.split("\n")[0] };
  } finally {
    step.dispose();
    probe.dispose();
    optimizer.dispose();
    learner.dispose();
    T.cuda.emptyCache();
  }
}

function runPython(script: string, args: string[], impl: string): Measured {
  const r = spawnSync(PYTHON, [here(script), ...args], { encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0) return { impl, error: (r.stderr || r.error?.message || "failed").trim().split("\n").pop()! };
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Measured;
}

function main(): void {
  if (!T.cuda.isAvailable()) {
    console.log(JSON.stringify({ bench: "gpu", skipped: `no CUDA GPU here (libtorch ${T.torchVersion()}); nothing to measure` }));
    return;
  }
  const python = process.env.BENCH_NO_PYTHON !== "1";
  for (const batch of BATCHES) {
    const res: Record<string, Measured> = {};
    res.graph = runTs(batch, "on");
    res.eager = runTs(batch, "off");
    if (python) {
      const common = ["--device", "cuda", "--batch", String(batch), "--steps", String(STEPS), "--warmup", String(WARMUP)];
      res.reference = runPython("torch_reference.py", [...common, "--precision", "bf16", "--channels-last", "--width-div", "1", "--image-size", "32", "--channels", "3", "--hidden", "4096", "--proj", "256"], "pytorch");
      res.idiomatic = runPython("torch_idiomatic_byol.py", common, "pytorch-idiomatic");
    }
    for (const m of Object.values(res)) console.log(JSON.stringify({ ...m, batch }));
    const ratio = (a: Measured | undefined, b: Measured | undefined) => (a?.img_per_s && b?.img_per_s ? round(a.img_per_s / b.img_per_s, 3) : null);
    console.log(JSON.stringify({
      impl: "ratio", batch,
      graph_vs_eager: ratio(res.graph, res.eager),
      graph_vs_pytorch_idiomatic: ratio(res.graph, res.idiomatic),
      eager_vs_pytorch_idiomatic: ratio(res.eager, res.idiomatic),
      // The reference has no augmentation: byol-ts's step does more work than it.
      graph_vs_pytorch_reference_no_views: ratio(res.graph, res.reference),
    }));
  }
}

main();

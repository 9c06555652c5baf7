// This process's place in a data-parallel run, read from the environment variables torchrun sets
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) — so `byol train --nproc N`,
// torchrun-style launchers and cluster schedulers all start byol-ts the same way — and the glue from it
// to a process group and to the trainer's DataParallel interface.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import type { BYOL } from "../byol/learner.js";
import { MultiCropBYOL } from "../byol/multicrop.js";
import { convertSyncBatchNorm } from "../nn/sync-batchnorm.js";
import type { DataParallel } from "./trainer.js";

export interface DistContext {
  rank: number;
  worldSize: number;
  /** Rank among the processes of this machine (selects the GPU). */
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** Bound on the rendezvous and on every collective (BYOL_DIST_TIMEOUT_S, default 30 min). */
  timeoutMs: number;
}

type Env = Record<string, string | undefined>;

function intVar(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  if (!/^\s*\d+\s*$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UserError(`environment variable ${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return Number(raw);
}

/**
 * The data-parallel context, or null for a single process (WORLD_SIZE unset or 1). Inconsistent or
 * malformed variables end with one clear UserError.
 */
export function distContextFromEnv(env: Env = process.env): DistContext | null {
  const worldSize = intVar(env, "WORLD_SIZE", 1, 65536);
  const rank = intVar(env, "RANK", 0, 65535);
  if (worldSize === undefined) {
    if (rank !== undefined && rank > 0) throw new UserError(`RANK=${rank} is set but WORLD_SIZE is not`);
    return null;
  }
  if (worldSize === 1) return null;
  if (rank === undefined) throw new UserError(`WORLD_SIZE=${worldSize} is set but RANK is not`);
  if (rank >= worldSize) throw new UserError(`RANK=${rank} must be smaller than WORLD_SIZE=${worldSize}`);
  const masterAddr = env.MASTER_ADDR?.trim();
  if (!masterAddr) throw new UserError(`WORLD_SIZE=${worldSize} needs MASTER_ADDR (the address of rank 0's machine)`);
  const masterPort = intVar(env, "MASTER_PORT", 1, 65535);
  if (masterPort === undefined) throw new UserError(`WORLD_SIZE=${worldSize} needs MASTER_PORT (a free port on rank 0's machine)`);
  const localWorldSize = intVar(env, "LOCAL_WORLD_SIZE", 1, worldSize) ?? worldSize;
  const localRank = intVar(env, "LOCAL_RANK", 0, 65535) ?? rank % localWorldSize;
  if (localRank >= localWorldSize) throw new UserError(`LOCAL_RANK=${localRank} must be smaller than LOCAL_WORLD_SIZE=${localWorldSize}`);
  const timeoutS = intVar(env, "BYOL_DIST_TIMEOUT_S", 1, 7 * 24 * 3600);
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, timeoutMs: timeoutS !== undefined ? timeoutS * 1000 : T.DEFAULT_DIST_TIMEOUT_MS };
}

/** The device this rank trains on: "cuda" becomes this rank's GPU (LOCAL_RANK, wrapping around the GPUs there are). */
export function rankDevice(ctx: DistContext, device: string): string {
  if (device !== "cuda") return device;
  const n = T.native.cudaDeviceCount() as number;
  return n > 0 ? `cuda:${ctx.localRank % n}` : device;
}

/** NCCL for CUDA tensors where this build has it, Gloo otherwise. */
export function backendFor(device: string): T.DistBackend {
  return device.startsWith("cuda") && T.ProcessGroup.backends().includes("nccl") ? "nccl" : "gloo";
}

/** Joins the run's process group (blocks until every rank has joined, or throws after the timeout). */
export function initProcessGroup(ctx: DistContext, device: string): T.ProcessGroup {
  return T.ProcessGroup.init({
    rank: ctx.rank, worldSize: ctx.worldSize, masterAddr: ctx.masterAddr, masterPort: ctx.masterPort,
    backend: backendFor(device), timeoutMs: ctx.timeoutMs,
  });
}

/** The trainer's DataParallel, plus the group itself and the --sync-bn conversion. */
export interface DistDataParallel extends DataParallel {
  pg: T.ProcessGroup;
  /** Cross-replica BatchNorm for every BatchNorm of the learner (see syncLearnerBatchNorm). */
  syncBatchNorm(learner: BYOL): void;
}

/** How the gradients are averaged: bucket size in MiB (0: one all-reduce after backward). */
export interface DataParallelOptions {
  bucketMb?: number;
}

/**
 * The trainer's view of a process group; device: where this rank's tensors live (NCCL reduces CUDA
 * tensors only). With bucketMb > 0 (default 25), beforeBackward arms gradient buckets that all-reduce
 * while backward runs and averageGradients waits for them; a step without beforeBackward (or with
 * bucketMb 0) averages with one flat all-reduce after backward. Both give the same values.
 */
export function dataParallel(pg: T.ProcessGroup, device = "cpu", opts: DataParallelOptions = {}): DistDataParallel {
  const capBytes = Math.round((opts.bucketMb ?? T.DEFAULT_BUCKET_MB) * 1024 * 1024);
  let buckets: T.GradientBuckets | null = null;
  let armed = false;
  return {
    pg,
    rank: pg.rank,
    worldSize: pg.worldSize,
    broadcast: (tensors) => T.broadcastParameters(pg, tensors, 0),
    beforeBackward: (params) => {
      if (capBytes <= 0 || pg.worldSize === 1 || params.length === 0) return;
      if (!buckets?.covers(params)) {
        buckets?.dispose();
        buckets = pg.gradientBuckets(params, capBytes);
      }
      buckets.prepare();
      armed = true;
    },
    averageGradients: (params) => {
      if (armed && buckets?.covers(params)) {
        armed = false;
        buckets.finish();
      } else {
        if (armed) throw new Error("averageGradients: the parameters differ from the ones given to beforeBackward");
        T.averageGradients(pg, params);
      }
    },
    meanOf: (values) => T.tidy(() => {
      const t = T.tensor(Float64Array.from(values), [values.length], { device });
      pg.allReduce(t, "avg");
      return Array.from(t.toArray() as Float64Array);
    }),
    syncBatchNorm: (learner) => syncLearnerBatchNorm(learner, pg),
  };
}

export interface RankSetup {
  ctx: DistContext;
  pg: T.ProcessGroup;
  /** This rank's device ("cuda" resolved to "cuda:LOCAL_RANK"). */
  device: string;
  dp: DistDataParallel;
}

/**
 * When this process is one rank of a data-parallel run (torchrun's variables set, by `--nproc` or by a
 * launcher), joins the run's process group; null for a single process. Blocks until every rank joined.
 */
export function joinFromEnv(device: string, env: Env = process.env, opts: DataParallelOptions = {}): RankSetup | null {
  const ctx = distContextFromEnv(env);
  if (!ctx) return null;
  const dev = rankDevice(ctx, device);
  const pg = initProcessGroup(ctx, dev);
  return { ctx, pg, device: dev, dp: dataParallel(pg, dev, opts) };
}

/**
 * Cross-replica BatchNorm (--sync-bn) for every BatchNorm of a BYOL learner: online and target encoders,
 * projectors and the predictor, as in the paper (the target also normalises over the global batch).
 * The layers keep their tensors, so an optimizer made before stays valid.
 */
export function syncLearnerBatchNorm(learner: BYOL, pg: T.ProcessGroup): void {
  const local = learner instanceof MultiCropBYOL ? learner.extraModules() : [];
  for (const m of [learner.online.encoder, learner.online.projector, learner.predictor, learner.target.encoder, learner.target.projector, ...local]) {
    convertSyncBatchNorm(m, pg);
  }
}

// One BYOL training step as a unit: two views of a uint8 batch → forward and loss (bf16 autocast when
// configured) → backward → gradient averaging across ranks → optimizer → EMA target update → online
// probe. The training loop, benchmarks and tests all run steps through this class.
//
// No host sync inside a step. On a GPU every read of device memory (loss.item(), say) makes the host
// wait for the queued kernels, so the host cannot run ahead and the GPU idles between steps. So the
// step keeps what the loop needs to know on the device: the last loss, whether a loss was ever
// non-finite (and at which step first), and the probe's running count of right answers. The loop reads
// them with one small read-back (readStats) on logging steps and before a checkpoint.
//
// CUDA graphs. On a GPU a step of a small network is bound by the host launching its ~thousand kernels.
// After a few eager steps the step is captured once as a CUDA graph and then replayed with one launch
// per step: the batch is copied into a static input buffer, and the learning rate and τ are written
// into device scalars that the captured optimizer and EMA read. If the capture fails, one warning line
// is printed and training goes on eagerly. On a CPU, or with several processes, steps are eager.
import * as T from "../torch/index.js";
import type { BYOL } from "../byol/learner.js";
import { MultiCropBYOL } from "../byol/multicrop.js";
import type { Optimizer } from "../optim/index.js";
import { makeViews, type LocalViewAugmenter, type ViewAugmenter } from "../augment/index.js";
import type { OnlineProbe } from "../eval/online-probe.js";
import { collapseMetric } from "../byol/collapse.js";

/** What data-parallel training needs from the process group (src/torch/distributed.ts provides it). */
export interface DataParallel {
  rank: number;
  worldSize: number;
  /** Copies rank 0's values into these tensors on every rank. */
  broadcast(tensors: T.Tensor[]): void;
  /**
   * Optional: called right before backward with the parameters averageGradients will get, so that
   * their gradients can be all-reduced while backward runs (gradient buckets).
   */
  beforeBackward?(params: T.Tensor[]): void;
  /** Replaces each parameter's gradient by the mean over ranks. */
  averageGradients(params: T.Tensor[]): void;
  /** Element-wise mean over ranks of a few numbers (for logging). */
  meanOf(values: number[]): number[];
  /** Swaps the learner's BatchNorm layers for cross-replica ones (optional). */
  syncBatchNorm?(learner: BYOL): void;
}

export type CudaGraphSetting = "auto" | "on" | "off";

export interface TrainStepOptions {
  learner: BYOL;
  optimizer: Optimizer;
  augmenters: [ViewAugmenter, ViewAugmenter];
  /**
   * Multi-crop's local views (docs/multi-crop.md), or null/absent for BYOL's two views. Needs a
   * MultiCropBYOL learner. Their count and size are fixed per run, so the step's shapes stay static.
   */
  localViews?: LocalViewAugmenter | null;
  /** The online linear probe, trained on sg(y) of view 1 when a batch is fully labelled; or null. */
  probe: OnlineProbe | null;
  device: string;
  bf16: boolean;
  /** Shape [B, C, H, W] of the uint8 batches. */
  batchShape: number[];
  dp?: DataParallel | null;
  /** "auto": graphs on a GPU in a single process, eager otherwise. Default "auto". */
  cudaGraph?: CudaGraphSetting;
  /** Eager steps before the capture (default 3: lazy initialisation and autotuning happen in them). */
  warmupSteps?: number;
  /**
   * Read lr and τ from device scalars in eager steps too (graph mode always does). For tests: it runs
   * the graph's arithmetic on a CPU.
   */
  deviceScalars?: boolean;
  /** Where the one warning line goes if a capture fails (default: stderr). */
  warn?: (line: string) => void;
}

/** What the device-side accumulators hold, after one read-back. */
export interface StepStats {
  /** Loss of the last step run. */
  lastLoss: number;
  /** Whether some step's loss was inf or NaN. */
  nonFinite: boolean;
  /** The global step number (1-based) of the first non-finite loss, and that loss; NaN when none. */
  firstBadStep: number;
  firstBadLoss: number;
  /** Right answers of the online probe since the last setProbeCorrect. */
  probeCorrect: number;
  /** The collapse metric (src/byol/collapse.ts) of the last step's online projections. */
  collapse: number;
}

/** The graph mode a run uses, and why (for the log and config). */
export function resolveCudaGraph(setting: CudaGraphSetting, device: string, dataParallel: boolean): { mode: "on" | "off"; reason: string } {
  if (setting === "off") return { mode: "off", reason: "cudaGraph is off" };
  if (!device.startsWith("cuda")) return { mode: "off", reason: `CUDA graphs are for GPUs; eager on ${device}` };
  if (dataParallel) return { mode: "off", reason: "eager with several processes (collectives are not captured)" };
  if (!T.cudaGraphsAvailable()) return { mode: "off", reason: "this libtorch build cannot capture CUDA graphs" };
  return { mode: "on", reason: setting === "on" ? "cudaGraph is on" : "auto: on for a GPU" };
}

export class TrainStep {
  readonly graphMode: "on" | "off";
  /** Why graphMode is what it is. */
  readonly graphReason: string;
  /** Whether the graph has been captured (and steps are replayed). */
  get graphCaptured(): boolean {
    return this.graph !== null;
  }

  private readonly o: TrainStepOptions;
  private readonly onGpu: boolean;
  private readonly deviceScalars: boolean;
  private readonly warmupSteps: number;
  private eagerSteps = 0;
  private graph: T.CudaGraph | null = null;
  // Whether the captured step trains the probe (only fully labelled batches replay it).
  private graphHasProbe = false;
  private graphFailed = false;
  private pinOk = true;
  // Device state, kept across steps.
  private readonly tau: T.Tensor;
  private readonly oneMinusTau: T.Tensor;
  private readonly stepIndex: T.Tensor;
  private readonly lastLoss: T.Tensor;
  private readonly badStep: T.Tensor;
  private readonly badLoss: T.Tensor;
  private readonly probeCorrect: T.Tensor;
  private readonly collapse: T.Tensor;
  // Static inputs on a GPU: each batch is copied in (asynchronously) before the step reads it.
  private readonly input: T.Tensor | null;
  private readonly labelInput: T.Tensor | null;

  constructor(opts: TrainStepOptions) {
    if (opts.localViews && !(opts.learner instanceof MultiCropBYOL)) throw new Error("TrainStep: local views need a MultiCropBYOL learner");
    this.o = opts;
    const device = opts.device;
    this.onGpu = device.startsWith("cuda");
    const r = resolveCudaGraph(opts.cudaGraph ?? "auto", device, !!opts.dp);
    this.graphMode = r.mode;
    this.graphReason = r.reason;
    this.deviceScalars = this.graphMode === "on" || (opts.deviceScalars ?? false);
    this.warmupSteps = opts.warmupSteps ?? 3;
    if (this.deviceScalars) {
      opts.optimizer.useDeviceScalars(device);
      opts.probe?.useDeviceScalars(device);
    }
    const f32 = { device };
    this.tau = T.zeros([], f32).keep();
    this.oneMinusTau = T.zeros([], f32).keep();
    this.stepIndex = T.zeros([], f32).keep();
    this.lastLoss = T.full([], NaN, f32).keep();
    this.badStep = T.full([], NaN, f32).keep();
    this.badLoss = T.full([], NaN, f32).keep();
    this.probeCorrect = T.zeros([], f32).keep();
    this.collapse = T.full([], NaN, f32).keep();
    this.input = this.onGpu ? T.empty(opts.batchShape, { dtype: "uint8", device }).keep() : null;
    this.labelInput = this.onGpu ? T.empty([opts.batchShape[0]], { dtype: "int64", device }).keep() : null;
  }

  /** Sets the global number of the last step taken (the next run() is step n + 1); no sync. */
  setStep(n: number): void {
    this.stepIndex.fill_(n);
  }

  /** Sets the probe's running count of right answers (0 at an epoch start, a checkpoint's on resume). */
  setProbeCorrect(n: number): void {
    this.probeCorrect.fill_(n);
  }

  /**
   * One training step on a batch: uint8 images [B, C, H, W] (host bytes or a tensor), the labels of the
   * batch (or null; the probe trains only when every label is ≥ 0), the learning rate and τ. Returns
   * whether the probe trained on this batch.
   */
  run(images: Uint8Array | T.Tensor, labels: ArrayLike<number> | null, lr: number, tau: number): boolean {
    const { optimizer, probe } = this.o;
    optimizer.lr = lr; // (in device-scalar mode this writes the optimizer's device lr)
    if (this.deviceScalars) {
      this.tau.fill_(tau);
      this.oneMinusTau.fill_(1 - tau);
    }
    const useProbe = probe !== null && labels !== null && labels.length === this.o.batchShape[0] && allLabelled(labels);
    T.tidy(() => {
      const x = this.upload(images);
      const y = useProbe ? this.uploadLabels(labels!) : null;
      if (this.graph && useProbe === this.graphHasProbe) {
        this.graph.replay();
        optimizer.stepCount++;
        if (useProbe) probe!.countReplayedStep();
        return;
      }
      if (this.graphMode === "on" && !this.graph && !this.graphFailed && this.eagerSteps >= this.warmupSteps && (useProbe || probe === null)) {
        if (this.capture(x, y)) {
          this.graph!.replay();
          return;
        }
      }
      // The warm-up steps before a capture run on a side stream, as the capture will. (Later eager steps,
      // e.g. unlabelled batches waiting for a labelled one to capture the probe with, stay on the
      // default stream: the side stream costs two device syncs.)
      const warmup = this.graphMode === "on" && !this.graph && !this.graphFailed && this.eagerSteps < this.warmupSteps;
      if (warmup) T.onSideStream(this.o.device, () => this.body(x, y, this.tau));
      else this.body(x, y, this.deviceScalars ? this.tau : tau);
      this.eagerSteps++;
    });
    return useProbe;
  }

  /** Reads the accumulators back to the host: one small read-back (a device sync on a GPU). */
  readStats(): StepStats {
    const v = T.tidy(() => T.stack([this.lastLoss, this.badStep, this.badLoss, this.probeCorrect, this.collapse]).toFloat32Array());
    return { lastLoss: v[0], nonFinite: !Number.isNaN(v[1]), firstBadStep: v[1], firstBadLoss: v[2], probeCorrect: v[3], collapse: v[4] };
  }

  dispose(): void {
    this.graph?.dispose();
    this.graph = null;
    for (const t of [this.tau, this.oneMinusTau, this.stepIndex, this.lastLoss, this.badStep, this.badLoss, this.probeCorrect, this.collapse, this.input, this.labelInput]) t?.dispose();
  }

  // The batch on the device: on a GPU copied into the static input without waiting for the device.
  private upload(images: Uint8Array | T.Tensor): T.Tensor {
    const shape = this.o.batchShape;
    const host = images instanceof T.Tensor ? images : T.tensor(images, shape, { dtype: "uint8" });
    if (!this.input) return host.device === this.o.device ? host : host.to(this.o.device);
    return this.input.copy_(this.pinned(host), true);
  }

  private uploadLabels(labels: ArrayLike<number>): T.Tensor {
    const host = T.tensor(Array.from(labels), undefined, { dtype: "int64" });
    return this.labelInput ? this.labelInput.copy_(this.pinned(host), true) : host;
  }

  // A page-locked copy of a host tensor, so that the copy to the GPU is a true asynchronous DMA (from
  // pageable memory the driver stages it and may wait). libtorch's pinned-memory cache reuses the block
  // only once the copy that read it has finished. Host tensors on the GPU already, or where pinning is
  // unavailable, go as they are.
  private pinned(host: T.Tensor): T.Tensor {
    if (host.device !== "cpu" || !this.pinOk) return host;
    try {
      return T.callOp("pin_memory", "", host) as T.Tensor;
    } catch {
      this.pinOk = false;
      return host;
    }
  }

  // Captures one step from the static inputs; false (after one warning line) if that fails.
  private capture(x: T.Tensor, y: T.Tensor | null): boolean {
    const { optimizer, probe } = this.o;
    // Host-side counters a capture advances (it records the step without running it; the replay
    // that follows runs it). A failed capture puts them back before the step runs eagerly.
    const steps = [optimizer.stepCount, probe?.optimizerSteps ?? 0];
    const graph = new T.CudaGraph();
    try {
      graph.capture(this.o.device, () => this.body(x, y, this.tau));
    } catch (e) {
      graph.dispose();
      optimizer.stepCount = steps[0];
      if (probe) probe.optimizerSteps = steps[1];
      this.graphFailed = true;
      const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
      (this.o.warn ?? ((l: string) => process.stderr.write(l + "\n")))(`warning: CUDA graph capture failed, training on eagerly (${msg})`);
      return false;
    }
    this.graph = graph;
    this.graphHasProbe = y !== null;
    return true;
  }

  // The step itself. Everything in it stays on the device: no read-back, no shape that depends on data.
  private body(x: T.Tensor, labels: T.Tensor | null, tau: number | T.Tensor): void {
    const { learner, optimizer, augmenters, probe, dp, bf16, device } = this.o;
    T.tidy(() => {
      // Both views in one pass (a fixed number of kernels whatever the batch size).
      const [v1, v2] = makeViews(x, augmenters);
      // Multi-crop: the local views in one more pass, after the global views (so that without them the
      // random stream, and so the step, is exactly BYOL's).
      const locals = this.o.localViews ? this.o.localViews.apply(x) : null;
      const forward = locals
        ? () => (learner as MultiCropBYOL).forwardMultiCropLoss(v1, v2, locals)
        : () => learner.forwardLoss(v1, v2);
      const { loss, repr1, proj1 } = bf16 ? T.autocast(device.startsWith("cuda") ? "cuda" : "cpu", "bfloat16", forward) : forward();
      optimizer.zeroGrad();
      const params = dp ? learner.trainableParameters() : null;
      if (dp && params) dp.beforeBackward?.(params);
      loss.backward();
      if (dp && params) dp.averageGradients(params);
      optimizer.step();
      if (typeof tau === "number") learner.updateTarget(tau);
      else learner.updateTarget(tau, this.oneMinusTau);
      if (probe && labels) probe.stepOnDevice(repr1, labels, this.probeCorrect);
      this.record(loss);
      T.noGrad(() => this.collapse.copy_(collapseMetric(proj1)));
    });
  }

  // Loss bookkeeping on the device: the last loss, and the first non-finite one with its step.
  private record(loss: T.Tensor): void {
    T.noGrad(() =>
      T.tidy(() => {
        this.stepIndex.add_(1);
        this.lastLoss.copy_(loss);
        const bad = this.lastLoss.abs().lt(Infinity).logicalNot(); // NaN and ±inf
        // The first one only: badStep is NaN until a bad step is recorded (NaN ≠ NaN).
        const first = bad.logicalAnd(this.badStep.ne(this.badStep));
        this.badStep.copy_(T.where(first, this.stepIndex, this.badStep));
        this.badLoss.copy_(T.where(first, this.lastLoss, this.badLoss));
      }),
    );
  }
}

function allLabelled(labels: ArrayLike<number>): boolean {
  for (let i = 0; i < labels.length; i++) if (!(labels[i] >= 0)) return false;
  return true;
}

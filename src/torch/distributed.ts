// torch.distributed for TypeScript: a process group over libtorch's c10d (Gloo on CPU, NCCL on CUDA)
// and the two operations data-parallel training is built from (broadcast the initial weights, average
// the gradients). Every call blocks until all ranks have taken part, or throws once the group's timeout
// has passed or a peer has gone away; after a failure the group is unusable (create a new one).
import { native } from "./native.js";
import { Tensor } from "./tensor.js";
import { tensor, zeros } from "./creation.js";

/** gloo (CPU tensors) or nccl (CUDA tensors). */
export type DistBackend = "gloo" | "nccl";
/** Element-wise reduction of an all-reduce. */
export type ReduceOp = "sum" | "avg" | "max" | "min" | "product";

/** How a process joins its group: rank, world size, rendezvous address, backend, timeout. */
export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  /** Where rank 0 listens for the rendezvous (torchrun's MASTER_ADDR). */
  masterAddr: string;
  /** torchrun's MASTER_PORT. */
  masterPort: number;
  /** Default: "gloo". NCCL needs CUDA tensors, one process per GPU. */
  backend?: DistBackend;
  /** Bound on the rendezvous and on every collective (default 30 minutes, as torch.distributed). */
  timeoutMs?: number;
}

/** How long a collective waits for every rank before it fails (30 minutes, as PyTorch). */
export const DEFAULT_DIST_TIMEOUT_MS = 30 * 60 * 1000;

/** A c10d process group (Gloo on CPU, NCCL on CUDA) and its collectives. */
export class ProcessGroup {
  private id: number;
  private constructor(
    id: number,
    readonly rank: number,
    readonly worldSize: number,
    readonly backend: DistBackend,
    readonly timeoutMs: number,
  ) {
    this.id = id;
  }

  /** Backends this build of the addon can create ("gloo" always on Debian's libtorch; "nccl" with CUDA). */
  static backends(): DistBackend[] {
    return native.distBackends() as DistBackend[];
  }

  /** Joins the group: returns once all worldSize ranks have connected (throws after timeoutMs). */
  static init(opts: ProcessGroupOptions): ProcessGroup {
    const backend = opts.backend ?? "gloo";
    const timeoutMs = opts.timeoutMs ?? DEFAULT_DIST_TIMEOUT_MS;
    const id = native.distInit({
      rank: opts.rank, worldSize: opts.worldSize, masterAddr: opts.masterAddr, masterPort: opts.masterPort, backend, timeoutMs,
    }) as number;
    return new ProcessGroup(id, opts.rank, opts.worldSize, backend, timeoutMs);
  }

  private get handle(): number {
    if (this.id < 0) throw new Error("this process group was destroyed");
    return this.id;
  }

  /**
   * Reduces the tensors over all ranks, in place. Several tensors travel as one flat buffer per dtype
   * and device (one collective). "avg" is the sum divided by the world size (floating point only).
   */
  allReduce(tensors: Tensor | Tensor[], op: ReduceOp = "sum"): void {
    const list = Array.isArray(tensors) ? tensors : [tensors];
    if (list.length) native.distAllReduce(this.handle, list.map((t) => t.id), op);
  }

  /** Every rank's copy of t (all ranks pass the same shape and dtype), indexed by rank. */
  allGather(t: Tensor): Tensor[] {
    return (native.distAllGather(this.handle, t.id) as number[]).map((h) => new Tensor(h));
  }

  /** Copies root's values into these tensors on every rank, in place. */
  broadcast(tensors: Tensor | Tensor[], root = 0): void {
    const list = Array.isArray(tensors) ? tensors : [tensors];
    if (list.length) native.distBroadcast(this.handle, list.map((t) => t.id), root);
  }

  barrier(): void {
    native.distBarrier(this.handle);
  }

  /**
   * The sum of t over all ranks, as a new tensor that autograd differentiates through: its backward
   * all-reduces the gradient (∂(Σ_s L_s)/∂t_r = Σ_s ∂L_s/∂y). Every rank must run backward through it.
   */
  allReduceDifferentiable(t: Tensor): Tensor {
    return new Tensor(native.distAllReduceDiff(this.handle, t.id) as number);
  }

  /**
   * Gradient buckets over these parameters (see GradientBuckets): all-reduced while backward runs,
   * in contiguous buffers of at most capBytes.
   */
  gradientBuckets(params: Tensor[], capBytes: number): GradientBuckets {
    return new GradientBuckets(native.distBucketsCreate(this.handle, params.map((p) => p.id), capBytes) as number, params);
  }

  /** Leaves the group and frees it (rank 0 also stops the rendezvous server). Call it on every rank. */
  destroy(): void {
    if (this.id < 0) return;
    native.distDestroy(this.id);
    this.id = -1;
  }

  get destroyed(): boolean {
    return this.id < 0;
  }
}

/**
 * Replaces each parameter's gradient by its mean over the ranks, with one all-reduce of one flat buffer
 * (per dtype and device): the gradients are concatenated, reduced and copied back. A flag per parameter
 * travels in the same buffer, so that a parameter without a gradient on some ranks (unused there) still
 * ends with the same averaged gradient everywhere, and one without a gradient on every rank keeps none.
 */
export function averageGradients(pg: ProcessGroup, params: Tensor[]): void {
  if (pg.worldSize === 1 || params.length === 0) return;
  const grads: Tensor[] = [];
  const missing: number[] = [];
  const flags = new Float32Array(params.length);
  try {
    for (let i = 0; i < params.length; i++) {
      const g = params[i].grad;
      if (g) {
        flags[i] = 1;
        grads.push(g);
      } else {
        missing.push(i);
        grads.push(zeros(params[i].shape, { dtype: params[i].dtype, device: params[i].device }));
      }
    }
    const flagT = tensor(flags, [params.length], { dtype: grads[0].dtype, device: params[0].device });
    grads.push(flagT);
    pg.allReduce(grads, "avg");
    if (missing.length) {
      const seen = flagT.toFloat32Array();
      for (const i of missing) if (seen[i] > 0) params[i].grad = grads[i];
    }
  } finally {
    for (const g of grads) g.dispose();
  }
}

/** DistributedDataParallel's default bucket size, in MiB. */
export const DEFAULT_BUCKET_MB = 25;

/**
 * Data-parallel gradient averaging as DistributedDataParallel does it: the parameters are split in
 * backward order (the reverse of the list) into buckets of one dtype and device, at most capBytes each
 * (the first at most 1 MiB, so communication starts early). prepare() before backward arms a hook on each
 * parameter's gradient accumulation; when a bucket's gradients are all there, the hook copies them into
 * the bucket's flat buffer and issues its all-reduce without waiting, so the reduction runs on the
 * backend's threads while backward goes on. finish() after backward issues the rest, waits, and leaves
 * each gradient replaced by its mean over the ranks: the same values, bit for bit, as averageGradients
 * (a sum over the ranks, then one division), including its handling of parameters without a gradient.
 */
export class GradientBuckets {
  private id: number;
  private readonly handles: number[];
  constructor(id: number, params: Tensor[]) {
    this.id = id;
    this.handles = params.map((p) => p.id);
  }

  /** Number of parameters in each bucket, in the order the buckets are reduced. */
  sizes(): number[] {
    return native.distBucketsSizes(this.live) as number[];
  }

  /** Call right before backward: the next backward fills the buckets. */
  prepare(): void {
    native.distBucketsPrepare(this.live);
  }

  /** Call after backward: waits for the buckets and leaves the averaged gradients in place. */
  finish(): void {
    native.distBucketsFinish(this.live);
  }

  /** Whether these buckets were made for exactly this parameter list. */
  covers(params: Tensor[]): boolean {
    return params.length === this.handles.length && params.every((p, i) => p.id === this.handles[i]);
  }

  dispose(): void {
    if (this.id < 0) return;
    native.distBucketsDestroy(this.id);
    this.id = -1;
  }

  private get live(): number {
    if (this.id < 0) throw new Error("these gradient buckets were disposed");
    return this.id;
  }
}

/** Copies root's values of these tensors (parameters and buffers) to every rank. */
export function broadcastParameters(pg: ProcessGroup, tensors: Tensor[], root = 0): void {
  if (pg.worldSize === 1 || tensors.length === 0) return;
  pg.broadcast(tensors, root);
}

// CUDA graphs: capture the kernels of a piece of work once, then replay them with one launch. The host
// then no longer pays a launch per kernel, which is most of a small model's step time on a fast GPU.
// A replay reuses the captured tensors' memory: inputs must be copied into the tensors the capture read
// ("static" inputs), and numbers that change between replays (a learning rate) must live in device
// tensors written before each replay. Nothing may read device memory back to the host inside a capture.
import { native } from "./native.js";

/** A memory pool id of the caching allocator, shared by graphs replayed in capture order. */
export type GraphPool = [number, number];

interface GraphNative {
  cudaGraphsAvailable(): boolean;
  cudaGraphCreate(): number;
  cudaGraphPoolHandle(): GraphPool;
  cudaGraphCaptureBegin(id: number, device: number, pool: GraphPool | null): void;
  cudaGraphCaptureEnd(id: number): void;
  cudaGraphAbort(id: number): void;
  cudaGraphReplay(id: number): void;
  cudaGraphPool(id: number): GraphPool;
  cudaGraphReset(id: number): void;
  cudaGraphDestroy(id: number): void;
  cudaSideStreamBegin(device: number): void;
  cudaSideStreamEnd(): void;
}
const g = native as unknown as GraphNative;

/** Whether this addon can capture CUDA graphs (a CUDA build of libtorch and a GPU). */
export function cudaGraphsAvailable(): boolean {
  return g.cudaGraphsAvailable();
}

/** A fresh pool id for graphs that should share memory. */
export function graphPoolHandle(): GraphPool {
  return g.cudaGraphPoolHandle();
}

/** The device index of "cuda" (0) or "cuda:N". */
export function cudaIndex(device: string): number {
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw new Error(`not a CUDA device: "${device}"`);
  return m[1] ? Number(m[1]) : 0;
}

/**
 * Runs fn with a side stream of `device` current (the work queued before is finished first, and fn's
 * work after), as PyTorch recommends for the eager warm-up steps before a capture.
 */
export function onSideStream<R>(device: string, fn: () => R): R {
  g.cudaSideStreamBegin(cudaIndex(device));
  try {
    return fn();
  } finally {
    g.cudaSideStreamEnd();
  }
}

/**
 * One captured CUDA graph (libtorch's at::cuda::CUDAGraph): `capture(fn)` records the kernels fn
 * launches on a side stream, `replay()` launches them all again in one call. Tensors used inside
 * keep their addresses, so inputs are copied into static buffers before each replay. Graphs may
 * share a memory pool. Throws on a CPU-only build of libtorch.
 */
export class CudaGraph {
  private id: number;

  constructor() {
    this.id = g.cudaGraphCreate();
  }

  /**
   * Runs fn while capturing its kernels on a side stream of `device` (work queued before is finished
   * first). If fn or the capture fails, the capture is abandoned, the previous stream restored, and
   * the error rethrown. Returns fn's result: the tensors it made belong to the graph's memory.
   */
  capture<R>(device: string, fn: () => R, pool: GraphPool | null = null): R {
    this.check();
    g.cudaGraphCaptureBegin(this.id, cudaIndex(device), pool);
    let result: R;
    try {
      result = fn();
    } catch (e) {
      g.cudaGraphAbort(this.id);
      throw e;
    }
    try {
      g.cudaGraphCaptureEnd(this.id);
    } catch (e) {
      g.cudaGraphAbort(this.id);
      throw e;
    }
    return result;
  }

  /** Launches the captured kernels on the current stream (asynchronously). */
  replay(): void {
    this.check();
    g.cudaGraphReplay(this.id);
  }

  /** The memory pool of this graph, for a later capture that may share it. */
  pool(): GraphPool {
    this.check();
    return g.cudaGraphPool(this.id);
  }

  /** Frees the captured graph; the object can capture again. */
  reset(): void {
    this.check();
    g.cudaGraphReset(this.id);
  }

  dispose(): void {
    if (this.id < 0) return;
    g.cudaGraphDestroy(this.id);
    this.id = -1;
  }

  private check(): void {
    if (this.id < 0) throw new Error("CUDA graph used after dispose()");
  }
}

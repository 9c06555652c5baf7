// Devices, seeds, threads, mixed precision and random-generator state.
import { readFileSync } from "node:fs";
import { native } from "./native.js";
import { DType, DTYPE_CODE } from "./dtype.js";
import { Tensor } from "./tensor.js";
import { UserError } from "../util/errors.js";

/** CUDA devices: availability, count, synchronisation and the caching allocator's memory. */
export const cuda = {
  isAvailable: (): boolean => native.cudaAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  /** Waits for the work queued on a GPU: the current one (as torch.cuda.synchronize()) when none is named. */
  synchronize: (device?: number): void => (device === undefined ? native.cudaSynchronize() : native.cudaSynchronize(device)),
  /** Bytes held by tensors and reserved by the caching allocator on one GPU. */
  memory(device = 0): { allocated: number; peakAllocated: number; reserved: number; peakReserved: number } {
    const [allocated, peakAllocated, reserved, peakReserved] = native.cudaMemory(device);
    return { allocated, peakAllocated, reserved, peakReserved };
  },
  resetPeakMemory: (device = 0): void => native.cudaResetPeak(device),
  emptyCache: (): void => native.cudaEmptyCache(),
};

/** Checks a device string and that the device is usable; throws a clear error otherwise. */
export function resolveDevice(device: string): string {
  if (device === "cpu") return "cpu";
  if (/^cuda(:\d+)?$/.test(device)) {
    if (!native.cudaAvailable()) throw new UserError(`device ${device} requested but CUDA is not available (libtorch ${native.version()} without a usable GPU)`);
    const idx = device.includes(":") ? Number(device.split(":")[1]) : 0;
    if (idx >= native.cudaDeviceCount()) throw new UserError(`device ${device} requested but only ${native.cudaDeviceCount()} GPU(s) are present`);
    return device;
  }
  throw new UserError(`unknown device "${device}" (expected cpu, cuda or cuda:N)`);
}

/** Seeds the CPU generator and every CUDA generator. */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

/** The default generator's state on a device, as a uint8 tensor (for checkpoints). */
export function getRngState(device = "cpu"): Tensor {
  return new Tensor(native.rngState(device));
}
/** Restores a generator state saved by getRngState. */
export function setRngState(state: Tensor, device = "cpu"): void {
  native.setRngState(device, state.id);
}

/** Sets libtorch's intra-op thread count. */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
/** libtorch's intra-op thread count. */
export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Runs fn under autocast (mixed precision) on a device type, as torch.autocast. */
export function autocast<T>(deviceType: "cpu" | "cuda", dtype: DType, fn: () => T, enabled = true): T {
  if (!enabled) return fn();
  const prev = native.setAutocast(deviceType, true, DTYPE_CODE[dtype]);
  try {
    return fn();
  } finally {
    native.setAutocast(deviceType, prev, DTYPE_CODE[dtype]);
  }
}

let cpuBf16: boolean | null = null;

/**
 * Whether this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16, read from /proc/cpuinfo). Where it
 * does, oneDNN's bf16 convolutions run about twice as fast as float32; where it does not, bf16 is
 * emulated and slower than float32. False where the flags cannot be read (not Linux).
 */
export function cpuHasNativeBf16(): boolean {
  if (cpuBf16 === null) {
    try {
      const flags = readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1].split(/\s+/) ?? [];
      cpuBf16 = flags.includes("avx512_bf16") || flags.includes("amx_bf16");
    } catch {
      cpuBf16 = false;
    }
  }
  return cpuBf16;
}

/** The version of the libtorch the addon was built against. */
export function torchVersion(): string {
  return native.version();
}

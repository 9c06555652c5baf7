// Loads the compiled addon and describes its functions. Tensors cross the boundary as integer handles.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export interface NativeAddon {
  version(): string;
  opLookup(name: string, overload: string): number;
  opSchema(op: number): string;
  opReturns(op: number): string[];
  call(op: number, ...args: unknown[]): any;
  callDrop(op: number, ...args: unknown[]): void;
  release(...ids: (number | number[])[]): void;
  liveTensors(): number;
  share(id: number): number;
  fromBuffer(data: ArrayBufferView | ArrayBuffer, shape: number[], dtype: number): number;
  toBuffer(id: number): ArrayBuffer;
  copyInto(id: number, target: ArrayBufferView): void;
  info(id: number): [number[], number, string, boolean];
  shape(id: number): number[];
  strides(id: number): number[];
  dtype(id: number): number;
  device(id: number): string;
  isContiguous(id: number, memoryFormat: number): boolean;
  item(id: number): number | boolean;
  numel(id: number): number;
  dataPtr(id: number): number;
  setRequiresGrad(id: number, value: boolean): void;
  requiresGrad(id: number): boolean;
  isLeaf(id: number): boolean;
  backward(ids: number[], grads: (number | null)[] | null, retainGraph: boolean, createGraph: boolean): void;
  grad(id: number): number | null;
  setGrad(id: number, grad: number | null): void;
  retainGrad(id: number): void;
  setGradEnabled(enabled: boolean): boolean;
  gradEnabled(): boolean;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(device?: number): void;
  cudaMemory(device: number): [number, number, number, number];
  cudaResetPeak(device: number): void;
  cudaEmptyCache(): void;
  manualSeed(seed: number): void;
  rngState(device: string): number;
  setRngState(device: string, state: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setAutocast(deviceType: "cpu" | "cuda", enabled: boolean, dtype: number): boolean;
  // torch.distributed (c10d)
  [key: string]: any;
}

function packageRoot(): string {
  // Walk up from this file (src/torch or dist/src/torch) to the folder holding package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "native"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("byol-ts: cannot find the package root");
}

function load(): NativeAddon {
  const path = process.env.BYOL_NATIVE ?? join(packageRoot(), "native", "build", "Release", "byol_native.node");
  if (!existsSync(path)) {
    throw new Error(`byol-ts: the native addon is not built (${path} is missing). Run: npm run build:native`);
  }
  return createRequire(import.meta.url)(path) as NativeAddon;
}

/** The loaded native addon (the file BYOL_NATIVE names, else native/build/Release/byol_native.node). */
export const native: NativeAddon = load();

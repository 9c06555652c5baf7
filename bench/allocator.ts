// The addon tunes glibc's allocator for itself (native/src/addon.cc: mallopt M_MMAP_THRESHOLD 32 MiB,
// M_TRIM_THRESHOLD 1 GiB, M_TOP_PAD 256 MiB), which makes a CPU step 5–10% faster by keeping large
// activation buffers in the heap. A PyTorch process started by a benchmark gets the same settings
// through glibc's environment variables, so that a ratio measures the binding, not the allocator.
// BENCH_PY_MALLOC=default starts PyTorch with glibc's defaults instead (to see what the tuning is worth).
export const ADDON_MALLOC_ENV: Record<string, string> = {
  MALLOC_MMAP_THRESHOLD_: String(32 << 20),
  MALLOC_TRIM_THRESHOLD_: String(1 << 30),
  MALLOC_TOP_PAD_: String(256 << 20),
};

/** True unless BENCH_PY_MALLOC=default. */
export function pythonMallocTuned(): boolean {
  return process.env.BENCH_PY_MALLOC !== "default";
}

/** The environment for a PyTorch child process. */
export function pythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of Object.keys(ADDON_MALLOC_ENV)) delete env[k];
  return pythonMallocTuned() ? { ...env, ...ADDON_MALLOC_ENV } : env;
}

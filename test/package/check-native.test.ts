// scripts/check-native.sh, the compile matrix CI runs, fails on what it exists to catch: a broken line
// in CUDA-only code (compiled in the CUDA configurations only), and a header that went missing so that
// compat.h silently turns the CUDA-graph code into its "throws" fallback. Each case checks a scratch copy
// of native/src with one file against torch 2.6 + CUDA. It needs nvcc and the script's cache of Debian's
// headers (filled by any earlier run of the script); without them it is skipped, as the script skips.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SCRIPT = join(ROOT, "scripts/check-native.sh");
const CACHE = process.env.BYOL_NATIVE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "byol-ts/native-check");

function skipReason(): string | false {
  if (spawnSync("sh", ["-c", "command -v nvcc"]).status !== 0) return "no nvcc on PATH";
  const pkgs = existsSync(join(CACHE, "pkg")) ? readdirSync(join(CACHE, "pkg")) : [];
  if (!pkgs.some((p) => p.startsWith("libtorch-cuda-dev_")) || !pkgs.some((p) => p.startsWith("libgloo-dev_"))) {
    return "the headers of torch 2.6 are not cached (run scripts/check-native.sh once)";
  }
  return false;
}

/** Runs the check on a scratch copy of native/src after edit(dir); returns exit code and output. */
function checkScratch(edit: (dir: string) => void): { code: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), "byol-check-native-"));
  try {
    cpSync(join(ROOT, "native/src"), dir, { recursive: true });
    edit(dir);
    const r = spawnSync("bash", [SCRIPT, "--src", dir, "--only", "2.6-cuda", "--files", "cuda_graph.cc", "--offline", "--force"], { encoding: "utf8" });
    return { code: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function replaceIn(file: string, from: string, to: string): void {
  const text = readFileSync(file, "utf8");
  assert.ok(text.includes(from), `${file} contains ${JSON.stringify(from)}`);
  writeFileSync(file, text.replace(from, to));
}

test("check-native: a broken line in CUDA-only code fails the CUDA configuration", { skip: skipReason(), timeout: 240_000 }, () => {
  const { code, out } = checkScratch((dir) => {
    // Inside `#if BYOL_HAS_CUDA_GRAPHS`: invisible to the CPU build the tests use.
    replaceIn(join(dir, "cuda_graph.cc"), "#include <cuda_runtime_api.h>\n", "#include <cuda_runtime_api.h>\nstatic int broken_on_purpose = undefined_in_cuda_only_code;\n");
  });
  assert.notEqual(code, 0, out);
  assert.match(out, /FAIL: cuda_graph\.cc/);
  assert.match(out, /undefined_in_cuda_only_code/);
  assert.match(out, /check-native: FAILED/);
});

test("check-native: a missing header that turns the CUDA-graph branch off fails loudly", { skip: skipReason(), timeout: 240_000 }, () => {
  const { code, out } = checkScratch((dir) => {
    replaceIn(join(dir, "compat.h"), "__has_include(<cuda_runtime_api.h>) && \\\n    __has_include(<c10/cuda/CUDAGuard.h>)", "__has_include(<cuda_runtime_api_gone.h>) && \\\n    __has_include(<c10/cuda/CUDAGuard.h>)");
  });
  assert.notEqual(code, 0, out);
  assert.match(out, /files 1\/1 ok: cuda_graph\.cc/); // the fallback compiles...
  assert.match(out, /FAIL: expected CUDA_GRAPHS=1/); // ...but the branch that should be compiled is not
});

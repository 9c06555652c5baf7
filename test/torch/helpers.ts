// Shared helpers for the tensor-engine tests: closeness checks and a PyTorch oracle in a child process.
// (No tests here; node --test runs this file and finds none.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Element-wise |a - e| <= atol + rtol * |e|, with the first offending index in the message. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-6, rtol = 1e-5, what = "values"): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      assert.fail(`${what}[${i}]: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Debian's python3-torch is importable by the system interpreter only; another python3 may come first on PATH. */
export const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

let torchAvailable: boolean | undefined;
/** Whether the PyTorch oracle can run here (tests that need it are skipped otherwise, with a reason). */
export function pythonTorchAvailable(): boolean {
  if (torchAvailable === undefined) {
    const r = spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" });
    torchAvailable = r.status === 0;
  }
  return torchAvailable;
}

/** Runs a Python script with `input` as JSON on stdin; returns the JSON it prints last. */
export function runPython<T = unknown>(script: string, input: unknown = null): T {
  const r = spawnSync(PYTHON, ["-c", script], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed (exit ${r.status}): ${r.stderr}`);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as T;
}

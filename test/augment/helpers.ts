// Shared helpers for the augmentation tests: array comparison and the PyTorch/torchvision oracle.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as T from "../../src/torch/index.js";

/** Debian's python3 with torch and torchvision, for cross-checks; tests skip when it is missing. */
export const HAS_TORCHVISION =
  existsSync("/usr/bin/python3") &&
  spawnSync("/usr/bin/python3", ["-c", "import torch, torchvision"], { stdio: "ignore" }).status === 0;

/**
 * Runs `body` in Python with `inp` (JSON) bound to the name `inp` and torch, torchvision's functional
 * API (as F) and `t(list, shape)` (float32 tensor) in scope; the script must set `out` to a JSON value.
 */
export function python(body: string, inp: unknown): any {
  const script = [
    "import json, sys, torch",
    "import torchvision.transforms.functional as F",
    "torch.set_num_threads(1)",
    "inp = json.load(sys.stdin)",
    "def t(v, shape): return torch.tensor(v, dtype=torch.float32).reshape(shape)",
    body,
    "json.dump(out, sys.stdout)",
  ].join("\n");
  const r = spawnSync("/usr/bin/python3", ["-c", script], { input: JSON.stringify(inp), encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python oracle failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "lengths differ");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what = "values"): void {
  const d = maxAbsDiff(a, b);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol}`);
}

/** Values of a tensor as plain numbers (float32). */
export function values(t: T.Tensor): number[] {
  return Array.from(t.toFloat32Array());
}

/** A float tensor from nested arrays. */
export function ft(data: number[] | number[][] | number[][][], shape?: number[]): T.Tensor {
  return T.tensor(data, shape, { dtype: "float32" });
}

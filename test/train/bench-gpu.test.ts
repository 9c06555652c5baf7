// `npm run bench:gpu` on a machine without a GPU: one line saying so, exit status 0.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as T from "../../src/torch/index.js";

test("bench:gpu without a GPU says so in one line and exits 0", { skip: T.cuda.isAvailable() }, () => {
  const script = fileURLToPath(new URL("../../bench/gpu.js", import.meta.url));
  const r = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  const out = JSON.parse(lines[0]);
  assert.equal(out.bench, "gpu");
  assert.match(out.skipped, /no CUDA GPU/);
});

// The local launcher (`byol train --nproc N`): torchrun's environment for each rank, --nproc removed
// from the children's arguments, output prefixed with the rank, and a failing rank stopping the others.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launchLocal, withoutNproc } from "../../src/train/launcher.js";
import { workerPath } from "./ranks.js";

function collect() {
  const lines: { line: string; stream: string; rank: number }[] = [];
  return { lines, onLine: (line: string, stream: "stdout" | "stderr", rank: number) => lines.push({ line, stream, rank }) };
}

test("withoutNproc drops both spellings", () => {
  assert.deepEqual(withoutNproc(["train", "--nproc", "2", "--epochs", "1", "--nproc=3", "--quiet"]), ["train", "--epochs", "1", "--quiet"]);
});

test("every rank gets torchrun's variables and the arguments without --nproc", { timeout: 30_000 }, async () => {
  const c = collect();
  const code = await launchLocal(3, ["--nproc", "3", "--x", "1"], { script: workerPath("echo-rank"), env: { BYOL_DIST_WORKER: "1" }, onLine: c.onLine });
  assert.equal(code, 0);
  const seen = c.lines.filter((l) => l.stream === "stdout").map((l) => ({ rank: l.rank, ...JSON.parse(l.line) }));
  assert.equal(seen.length, 3);
  const port = seen[0].MASTER_PORT;
  assert.match(port, /^\d+$/);
  for (const s of seen) {
    assert.deepEqual(s, { rank: Number(s.RANK), RANK: s.RANK, WORLD_SIZE: "3", LOCAL_RANK: s.RANK, MASTER_ADDR: "127.0.0.1", MASTER_PORT: port, args: ["--x", "1"] });
  }
  assert.deepEqual(seen.map((s) => s.rank).sort(), [0, 1, 2]);
  // A carriage return (progress bars) ends a line too, and is kept.
  const err = c.lines.filter((l) => l.stream === "stderr" && l.rank === 0).map((l) => l.line);
  assert.deepEqual(err, ["progress 1\r", "progress 2"]);
});

test("a failing rank stops the others and names itself", { timeout: 30_000 }, async () => {
  const c = collect();
  const t0 = performance.now();
  const writes: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (writes.push(String(s)), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await launchLocal(3, ["--fail-rank", "1"], { script: workerPath("echo-rank"), env: { BYOL_DIST_WORKER: "1" }, onLine: c.onLine, killGraceMs: 2000 });
  } finally {
    process.stderr.write = write;
  }
  const ms = performance.now() - t0;
  assert.equal(code, 3);
  assert.ok(ms < 10_000, `took ${ms} ms`);
  assert.deepEqual(writes, ["byol: rank 1 of 3 exited with code 3; the other ranks were stopped\n"]);
});

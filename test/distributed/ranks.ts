// Test helper: runs one worker script (test/distributed/workers/NAME.js) as `worldSize` processes on
// 127.0.0.1 with torchrun's environment and a free port, and collects each rank's exit, output and the
// JSON it reports on a line "RESULT {...}". Every run is bounded by a timeout (the ranks are killed).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../../src/train/launcher.js";

export interface RankRun {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last RESULT line's JSON, if any. */
  result: any;
  /** Wall time of the process in ms. */
  ms: number;
}

export function workerPath(name: string): string {
  return fileURLToPath(new URL(`./workers/${name}.js`, import.meta.url));
}

export async function runRanks(name: string, worldSize: number, opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RankRun[]> {
  const port = await freePort();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const runs = Array.from({ length: worldSize }, (_, rank) => new Promise<RankRun>((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [workerPath(name)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env, BYOL_DIST_TIMEOUT_S: "20", ...opts.env, BYOL_DIST_WORKER: "1", OMP_NUM_THREADS: "1",
        RANK: String(rank), WORLD_SIZE: String(worldSize), LOCAL_RANK: String(rank), MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port),
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split("\n").filter((l) => l.startsWith("RESULT ")).pop();
      resolve({ rank, code, signal, stdout, stderr, result: line ? JSON.parse(line.slice(7)) : undefined, ms: performance.now() - t0 });
    });
  }));
  return Promise.all(runs);
}

/** A readable account of a run, for assertion messages. */
export function describe(runs: RankRun[]): string {
  return runs.map((r) => `rank ${r.rank}: code ${r.code} signal ${r.signal} ${r.ms.toFixed(0)} ms\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`).join("\n");
}

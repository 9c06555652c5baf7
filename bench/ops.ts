// Op-level benchmark of the tensor engine against PyTorch, measured side by side in one run.
//
//   npm run bench:ops -- [--device cpu|cuda] [--threads 2] [--runs 15] [--conv-runs 9] [--quick]
//
// Prints one JSON line per measurement:
//   tiny_add        per-call time of a 16-element add through the typed API (`a.add(b)`, wrapper
//                   creation and dispose included) vs `a.add(b)` in Python; ratio = TS / Python.
//   typed_vs_raw    the same add through the typed API vs the bare addon call (native.call + release),
//                   and inside tidy (the usual training-step pattern): what the TypeScript layer costs.
//   conv2d_fwd_bwd  conv2d forward + backward, batch 64, 64 -> 64 channels, 32x32, 3x3, padding 1;
//                   ratio = TS / Python.
// Python is Debian's python3-torch (/usr/bin/python3) or $BYOL_PYTHON, spawned from here with the same
// thread count and device and with the addon's allocator settings (bench/allocator.ts; BENCH_PY_MALLOC=
// default gives it glibc's defaults instead); its timed runs alternate with ours. Every number is the
// median over several timed runs after a warm-up, printed with its quartiles and extremes.
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import * as T from "../src/torch/index.js";
import { pythonEnv, pythonMallocTuned } from "./allocator.js";
import { spread, type Spread } from "./stats.js";

interface Options {
  device: string;
  threads: number;
  /** Timed runs of the tiny op, each of tinyCalls calls, Python's and ours alternating. */
  runs: number;
  tinyCalls: number;
  /** Timed runs of the conv2d step, each of convIters iterations. */
  convRuns: number;
  convIters: number;
}

function parseArgs(argv: string[]): Options {
  // Many short runs rather than a few long ones: on a shared machine the alternation then spreads
  // load changes evenly over both sides.
  const o: Options = { device: "cpu", threads: 2, runs: 15, tinyCalls: 20_000, convRuns: 9, convIters: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--device") o.device = next();
    else if (a === "--threads") o.threads = Number(next());
    else if (a === "--runs") o.runs = Number(next());
    else if (a === "--conv-runs") o.convRuns = Number(next());
    else if (a === "--quick") { o.runs = 5; o.tinyCalls = 5_000; o.convRuns = 5; }
    else throw new Error(`unknown flag ${a} (expected --device, --threads, --runs, --conv-runs, --quick)`);
  }
  if (!Number.isInteger(o.threads) || o.threads < 1) throw new Error("--threads must be a positive integer");
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error("--runs must be a positive integer");
  if (!Number.isInteger(o.convRuns) || o.convRuns < 1) throw new Error("--conv-runs must be a positive integer");
  return o;
}

const round = (x: number, digits = 3): number => Number(x.toPrecision(digits + 1));

// ---- the PyTorch side -----------------------------------------------------------------------------
// Kept in this file so that the two sides are read (and changed) together. The Python process stays
// up and answers one request per line, so that its timed runs interleave with ours: on a shared machine
// a load spike then hits both sides alike instead of one of them.
const PYTHON_BENCH = String.raw`
import json, sys, time
import torch
cfg = json.loads(sys.argv[1])
dev = cfg["device"]
torch.set_num_threads(cfg["threads"])
if dev.startswith("cuda") and not torch.cuda.is_available():
    print(json.dumps({"error": "CUDA is not available to PyTorch"}), flush=True); sys.exit(0)
sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)

a = torch.rand(16, device=dev); b = torch.rand(16, device=dev)
def tiny(): a.add(b)

torch.manual_seed(0)
x = torch.randn(64, 64, 32, 32, device=dev, requires_grad=True)
w = (torch.randn(64, 64, 3, 3, device=dev) * 0.05).requires_grad_()
bias = torch.zeros(64, device=dev, requires_grad=True)
def conv():
    x.grad = None; w.grad = None; bias.grad = None
    torch.nn.functional.conv2d(x, w, bias, 1, 1).sum().backward()

def timed(fn, n):
    sync()
    t0 = time.perf_counter_ns()
    for _ in range(n): fn()
    sync()
    return (time.perf_counter_ns() - t0) / n

print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    fn = tiny if req["what"] == "tiny" else conv
    print(json.dumps({"ns": timed(fn, req["n"])}), flush=True)
`;

/** The Python side, one request at a time. */
class PythonBench {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  constructor(readonly interpreter: string, o: Options) {
    this.child = spawn(interpreter, ["-c", PYTHON_BENCH, JSON.stringify(o)], { stdio: ["pipe", "pipe", "pipe"], env: pythonEnv({ OMP_NUM_THREADS: String(o.threads) }) });
    let stderr = "";
    this.child.stderr.on("data", (d) => (stderr += d));
    this.child.on("error", (e) => (stderr += e.message));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.stderr = () => stderr.trim().split("\n").pop() ?? "";
  }
  readonly stderr: () => string;
  async read(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`${this.interpreter} ended: ${this.stderr()}`);
    return JSON.parse(r.value) as Record<string, unknown>;
  }
  /** Nanoseconds per call of `n` calls of the named workload. */
  async time(what: "tiny" | "conv", n: number): Promise<number> {
    this.child.stdin.write(JSON.stringify({ what, n }) + "\n");
    return (await this.read()).ns as number;
  }
  close(): void {
    this.child.stdin.end();
  }
}

function pythonInterpreter(): string {
  if (process.env.BYOL_PYTHON) return process.env.BYOL_PYTHON;
  // Debian's python3-torch lives under the system interpreter; another python3 may come first on PATH.
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

async function startPython(o: Options): Promise<{ py: PythonBench | null; info: Record<string, unknown> }> {
  const py = new PythonBench(pythonInterpreter(), o);
  try {
    const info = await py.read();
    if (info.error) {
      py.close();
      return { py: null, info };
    }
    return { py, info };
  } catch (e) {
    return { py: null, info: { error: (e as Error).message } };
  }
}

// ---- the TypeScript side ----------------------------------------------------------------------------
/** Nanoseconds per call of n calls of fn. */
function timeOnce(fn: () => void, n: number, sync: () => void): number {
  sync();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  sync();
  return Number(process.hrtime.bigint() - t0) / n;
}

interface Round {
  /** Our workloads, each timed once per round, in this order. */
  ts: Record<string, () => void>;
  /** The Python workload timed first in each round. */
  py: "tiny" | "conv";
  /** Calls per timed run (a TS workload may divide: see `per`). */
  n: number;
  runs: number;
  /** For workloads that do several calls per invocation: calls per invocation. */
  per?: Record<string, number>;
  warmup: number;
}

/** The spread of ns per call of each workload over r.runs rounds; each round runs Python's side, then ours. */
async function sideBySide(r: Round, sync: () => void, py: PythonBench | null): Promise<Record<string, Spread>> {
  const per = (k: string) => r.per?.[k] ?? 1;
  for (const [k, fn] of Object.entries(r.ts)) timeOnce(fn, Math.max(1, Math.round(r.warmup / per(k))), sync);
  if (py) await py.time(r.py, r.warmup);
  const samples: Record<string, number[]> = { py: [] };
  for (const k of Object.keys(r.ts)) samples[k] = [];
  for (let i = 0; i < r.runs; i++) {
    if (py) samples.py.push(await py.time(r.py, r.n));
    for (const [k, fn] of Object.entries(r.ts)) samples[k].push(timeOnce(fn, Math.max(1, Math.round(r.n / per(k))), sync) / per(k));
  }
  return Object.fromEntries(Object.entries(samples).filter(([, v]) => v.length).map(([k, v]) => [k, spread(v)]));
}

async function tinyAdd(o: Options, sync: () => void, py: PythonBench | null) {
  const a = T.rand([16], { device: o.device });
  const b = T.rand([16], { device: o.device });
  const addOp = T.native.opLookup("aten::add", "Tensor");
  const perTidy = 100;
  const res = await sideBySide({
    ts: {
      typed: () => a.add(b).dispose(),
      raw: () => T.native.release(T.native.call(addOp, a.id, b.id, 1)),
      // The training-step pattern: many ops inside one tidy, freed together at its end.
      tidy: () => T.tidy(() => {
        for (let i = 0; i < perTidy; i++) a.add(b);
      }),
    },
    per: { tidy: perTidy },
    py: "tiny", n: o.tinyCalls, runs: o.runs, warmup: Math.max(2000, o.tinyCalls >> 1),
  }, sync, py);
  a.dispose();
  b.dispose();
  return res;
}

async function conv2dFwdBwd(o: Options, sync: () => void, py: PythonBench | null) {
  T.manualSeed(0);
  const x = T.randn([64, 64, 32, 32], { device: o.device, requiresGrad: true });
  const w = T.tidy(() => T.randn([64, 64, 3, 3], { device: o.device }).mul(0.05)).requiresGrad_();
  const bias = T.zeros([64], { device: o.device, requiresGrad: true });
  const step = () => T.tidy(() => {
    x.grad = null;
    w.grad = null;
    bias.grad = null;
    T.conv2d(x, w, bias, 1, 1).sum().backward();
  });
  const res = await sideBySide({ ts: { conv: step }, py: "conv", n: o.convIters, runs: o.convRuns, warmup: 2 }, sync, py);
  x.dispose();
  w.dispose();
  bias.dispose();
  return res;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const base = { device: o.device, threads: o.threads };
  if (o.device !== "cpu") {
    try {
      T.resolveDevice(o.device);
    } catch (e) {
      console.log(JSON.stringify({ bench: "ops", ...base, error: (e as Error).message }));
      process.exitCode = 1;
      return;
    }
  }
  T.setNumThreads(o.threads);
  const sync = o.device === "cpu" ? () => {} : () => T.cuda.synchronize();
  const { py, info } = await startPython(o);
  if (!py) console.log(JSON.stringify({ bench: "python", ...base, error: info.error }));
  const versions = { torch: T.torchVersion(), py_torch: info.torch ?? null, py_threads: info.threads ?? null, py_malloc: pythonMallocTuned() ? "addon's mallopt settings" : "glibc defaults" };
  const ratio = (ts: number, p: number | undefined) => (p ? round(ts / p) : null);
  // median, then [p25, p75] and [min, max] of the timed runs, scaled to the unit of the line.
  const fields = (name: string, s: Spread | undefined, scale = 1) => (s ? {
    [name]: round(s.median / scale), [`${name}_iqr`]: [round(s.p25 / scale), round(s.p75 / scale)], [`${name}_range`]: [round(s.min / scale), round(s.max / scale)],
  } : { [name]: null });
  try {
    const tiny = await tinyAdd(o, sync, py);
    console.log(JSON.stringify({
      bench: "tiny_add", ...base, numel: 16, calls_per_run: o.tinyCalls, runs: o.runs,
      ...fields("ts_ns", tiny.typed), ...fields("py_ns", tiny.py), ratio: ratio(tiny.typed.median, tiny.py?.median), ...versions,
    }));
    console.log(JSON.stringify({
      bench: "typed_vs_raw", ...base, numel: 16, ...fields("typed_ns", tiny.typed), ...fields("typed_in_tidy_ns", tiny.tidy),
      ...fields("raw_ns", tiny.raw), wrapper_ns: round(tiny.typed.median - tiny.raw.median), ratio: round(tiny.typed.median / tiny.raw.median),
    }));
    const conv = await conv2dFwdBwd(o, sync, py);
    console.log(JSON.stringify({
      bench: "conv2d_fwd_bwd", ...base, shape: [64, 64, 32, 32], kernel: 3, padding: 1, runs: o.convRuns,
      iters_per_run: o.convIters, ...fields("ts_ms", conv.conv, 1e6), ...fields("py_ms", conv.py, 1e6),
      ratio: ratio(conv.conv.median, conv.py?.median), ...versions,
    }));
  } finally {
    py?.close();
  }
}

await main();

// `byol train --nproc N`: starts N copies of this same command on this machine, one per rank, with the
// environment torchrun would give them (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), prefixes their output with the rank, and fails fast: when one exits with an error the
// others are stopped and the launcher reports which rank failed first.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { UserError } from "../util/errors.js";

export interface LaunchOptions {
  /** Rendezvous port (default: a free one). */
  masterPort?: number;
  /** The script the children run (default: this process's, process.argv[1]). */
  script?: string;
  /** Extra environment for every child. */
  env?: Record<string, string>;
  /** Where the children's output goes, one line at a time (default: this process's stdout/stderr). */
  onLine?: (line: string, stream: "stdout" | "stderr", rank: number) => void;
  /** After a failure, how long the others get to exit on SIGTERM (rank 0 may be writing a checkpoint) before SIGKILL (default 15 s). */
  killGraceMs?: number;
}

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("could not find a free port"))));
    });
  });
}

/** Whether this process is already one rank of a run (torchrun's WORLD_SIZE is set): it must not launch again. */
export function isRankProcess(env: Record<string, string | undefined> = process.env): boolean {
  return (env.WORLD_SIZE ?? "").trim() !== "";
}

/** args without `--nproc N` / `--nproc=N` (the children are the ranks; they must not launch again). */
export function withoutNproc(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--nproc") {
      i++;
      continue;
    }
    if (args[i].startsWith("--nproc=")) continue;
    out.push(args[i]);
  }
  return out;
}

// Splits a stream into lines (a carriage return, as progress bars use, also ends a line) and prefixes them.
function pipeLines(stream: NodeJS.ReadableStream | null, emit: (line: string) => void): () => void {
  let rest = "";
  stream?.setEncoding("utf8");
  stream?.on("data", (chunk: string) => {
    rest += chunk;
    let m: RegExpExecArray | null;
    const re = /\r\n|\n|\r/g;
    let start = 0;
    while ((m = re.exec(rest))) {
      emit(rest.slice(start, m.index) + (m[0] === "\r" ? "\r" : ""));
      start = m.index + m[0].length;
    }
    rest = rest.slice(start);
  });
  return () => {
    if (rest) emit(rest);
    rest = "";
  };
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * Runs nproc ranks of `node [execArgv] script args` (args without --nproc) and resolves with 0 when all
 * succeed, else with the first failing rank's exit code (1 if it was killed by a signal).
 */
export async function launchLocal(nproc: number, args: string[], opts: LaunchOptions = {}): Promise<number> {
  if (!Number.isInteger(nproc) || nproc < 1) throw new UserError(`--nproc must be a positive integer, got ${nproc}`);
  const script = opts.script ?? process.argv[1];
  if (!script) throw new Error("launchLocal: no script to run");
  const port = opts.masterPort ?? (await freePort());
  const childArgs = [...process.execArgv, script, ...withoutNproc(args)];
  const onLine = opts.onLine ?? ((line, stream, rank) => {
    const out = stream === "stdout" ? process.stdout : process.stderr;
    out.write(`[rank ${rank}] ${line}${line.endsWith("\r") ? "" : "\n"}`);
  });
  const grace = opts.killGraceMs ?? 15_000;

  const children: ChildProcess[] = [];
  const running = new Set<number>();
  let firstFailure: { rank: number; code: number; what: string } | null = null;
  let killTimer: NodeJS.Timeout | null = null;

  const stopOthers = () => {
    for (const r of running) children[r].kill("SIGTERM");
    killTimer ??= setTimeout(() => {
      for (const r of running) children[r].kill("SIGKILL");
    }, grace);
    killTimer.unref();
  };
  // SIGINT and SIGTERM sent to the launcher (Ctrl-C, a scheduler) are passed on to every rank, which
  // then stops at a step boundary (rank 0 saving a checkpoint); the launcher waits for them. A rank that
  // already got Ctrl-C from the terminal gets it twice, which only sets the same flag again.
  let interrupted = false;
  const forward = (sig: NodeJS.Signals) => () => {
    interrupted = true;
    for (const r of running) children[r].kill(sig);
  };
  const onTerm = forward("SIGTERM");
  const onInt = forward("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);

  try {
    await new Promise<void>((resolve) => {
      for (let rank = 0; rank < nproc; rank++) {
        const child = spawn(process.execPath, childArgs, {
          stdio: ["ignore", "pipe", "pipe"],
          env: {
            ...process.env,
            ...opts.env,
            RANK: String(rank), WORLD_SIZE: String(nproc), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(nproc),
            GROUP_RANK: "0", MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port),
          },
        });
        children.push(child);
        running.add(rank);
        const flushOut = pipeLines(child.stdout, (l) => onLine(l, "stdout", rank));
        const flushErr = pipeLines(child.stderr, (l) => onLine(l, "stderr", rank));
        child.on("error", (e) => {
          if (!firstFailure) firstFailure = { rank, code: 1, what: `could not start: ${e.message}` };
        });
        child.on("close", (code, signal) => {
          flushOut();
          flushErr();
          running.delete(rank);
          const failed = code !== 0 || signal !== null;
          if (failed && !firstFailure) {
            firstFailure = { rank, code: code && code > 0 ? code : 1, what: describeExit(code, signal) };
            stopOthers();
          }
          if (running.size === 0) resolve();
        });
      }
    });
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    if (killTimer) clearTimeout(killTimer);
  }
  const failure = firstFailure as { rank: number; code: number; what: string } | null;
  if (interrupted) return failure ? failure.code : 0;
  if (failure) {
    process.stderr.write(`byol: rank ${failure.rank} of ${nproc} ${failure.what}; the other ranks were stopped\n`);
    return failure.code;
  }
  return 0;
}

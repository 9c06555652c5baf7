// Runs the byol command in a child process and captures what a user would see.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../../bin/byol.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function byol(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 240_000,
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The assertion every bad-input case shares: non-zero exit and exactly one line on stderr. */
export function oneLineError(r: CliResult): string {
  const lines = r.stderr.split("\n").filter((l) => l.trim().length > 0);
  if (r.code === 0) throw new Error(`expected a failure, got exit 0; stderr: ${r.stderr}`);
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${r.stderr}`);
  return lines[0];
}

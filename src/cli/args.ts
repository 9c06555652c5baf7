// Command-line parsing on node:util's parseArgs (strict: an unknown flag is an error), turned into
// UserErrors with one clear line.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UserError } from "../util/errors.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse(argv: string[], options: Options, command: string): { values: Record<string, any>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, any>, positionals: r.positionals };
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0].replace(/\. To specify a positional argument.*$/, "");
    throw new UserError(`${command}: ${msg} (see byol ${command} --help)`);
  }
}

export function intFlag(v: string | undefined, name: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v) || Number(v) < min) throw new UserError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return Number(v);
}

export function numFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new UserError(`--${name} must be a number, got "${v}"`);
  return n;
}

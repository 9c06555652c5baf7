// Counts calls across the addon boundary. On a GPU the host's cost of a step is its number of native
// calls, and a read-back (item, toBuffer, copyInto) makes the host wait for the device: counting both
// on the CPU is how tests and benchmarks prove that a GPU path is lean without a GPU.
import { native } from "./native.js";

/** Native functions that copy device memory to the host, and so wait for the device. */
export const READ_BACK_FUNCTIONS: readonly string[] = ["item", "toBuffer", "copyInto"];

/** Calls across the addon boundary, in total and by kind. */
export interface NativeCallCounts {
  /** Calls per native function name. */
  byName: Record<string, number>;
  /** All native calls except `release`. */
  ops: number;
  /** Calls of `release` (each frees one or more tensor handles). */
  releases: number;
  /** Calls that read device memory back to the host. */
  readBacks: number;
}

/** A running count; `stop()` puts the addon's functions back and returns the counts. */
export interface NativeCallCounter {
  stop(): NativeCallCounts;
}

/**
 * Wraps every function of the addon in a counter until `stop()`. Counters nest: each counts every call
 * made while it runs. Works across awaits (a whole async training run), so stop it in a `finally`.
 * Not for hot paths: it is a measuring tool.
 */
export function startCountingNativeCalls(): NativeCallCounter {
  const byName: Record<string, number> = {};
  const addon = native as unknown as Record<string, unknown>;
  const originals = new Map<string, unknown>();
  for (const key of Object.keys(addon)) {
    const f = addon[key];
    if (typeof f !== "function") continue;
    const original = f as (...a: unknown[]) => unknown;
    originals.set(key, original);
    addon[key] = function counted(this: unknown, ...args: unknown[]) {
      byName[key] = (byName[key] ?? 0) + 1;
      return original.apply(this, args);
    };
  }
  let stopped = false;
  return {
    stop() {
      if (!stopped) {
        stopped = true;
        for (const [key, original] of originals) addon[key] = original;
      }
      return summarise(byName);
    },
  };
}

/** Runs a synchronous fn under a counter and returns what it returned with the counts. */
export function countNativeCalls<R>(fn: () => R): { result: R; counts: NativeCallCounts } {
  const counter = startCountingNativeCalls();
  try {
    const result = fn();
    return { result, counts: counter.stop() };
  } finally {
    counter.stop();
  }
}

function summarise(byName: Record<string, number>): NativeCallCounts {
  let ops = 0;
  let readBacks = 0;
  for (const [name, n] of Object.entries(byName)) {
    if (name !== "release") ops += n;
    if (READ_BACK_FUNCTIONS.includes(name)) readBacks += n;
  }
  return { byName: { ...byName }, ops, releases: byName.release ?? 0, readBacks };
}

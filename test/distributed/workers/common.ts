// Shared start of every worker: join the process group described by torchrun's environment (the
// timeout comes from BYOL_DIST_TIMEOUT_S). Outside a test run (BYOL_DIST_WORKER unset, e.g. when
// `node --test` picks this folder up) a worker does nothing.
import * as T from "../../../src/torch/index.js";
import { joinFromEnv, type RankSetup } from "../../../src/train/dist-context.js";

export function isWorker(): boolean {
  return process.env.BYOL_DIST_WORKER === "1";
}

export function join(): RankSetup {
  T.setNumThreads(1);
  const setup = joinFromEnv("cpu");
  if (!setup) throw new Error("worker started without WORLD_SIZE > 1");
  return setup;
}

export function report(value: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
}

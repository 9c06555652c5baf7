// The byol command with a simulated file-system fault, for the I/O fault tests (not a test file):
// BYOL_FAULT="CODE:STEP:PATH_PART:N" makes the Nth write step STEP (open, write, fsync, rename,
// append, mkdir) on a path containing PATH_PART fail with errno CODE, as a full disk or a read-only
// folder would.
import { setWriteFaultHook, type WriteStep } from "../../src/util/file-writes.js";

const spec = process.env.BYOL_FAULT;
if (spec) {
  const [code, step, part, nth] = spec.split(":");
  let seen = 0;
  setWriteFaultHook((s: WriteStep, path: string) => {
    if (s !== step || !path.includes(part)) return;
    if (++seen !== Number(nth)) return;
    const e = new Error(`${code}: simulated failure, ${s} '${path}'`) as NodeJS.ErrnoException;
    e.code = code;
    e.syscall = s;
    e.path = path;
    throw e;
  });
}
await import("../../src/cli/main.js");

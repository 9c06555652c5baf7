// Rank worker for faults.test.ts. BYOL_FAULT=exit: rank 1 exits right after joining; BYOL_FAULT=hang:
// rank 1 stays alive but stops taking part. Rank 0 keeps all-reducing and must get an error (reported
// with the time it took) instead of hanging. Timeout: BYOL_DIST_TIMEOUT_S.
import * as T from "../../../src/torch/index.js";
import { isWorker, join, report } from "./common.js";

if (isWorker()) {
  const mode = process.env.BYOL_FAULT;
  const { pg } = join();
  const t = T.ones([1000]);
  pg.allReduce(t);  // one good step first
  if (pg.rank === 1) {
    if (mode === "exit") process.exit(3);
    // Alive, holding its connections, but never joining the next collective; gone well after rank 0's
    // timeout (and soon after rank 0 has reported).
    const u0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 2000 * Number(process.env.BYOL_DIST_TIMEOUT_S) + 1000));
    const u = process.cpuUsage(u0);
    report({ cpuMs: (u.user + u.system) / 1000 });
    process.exit(0);
  }
  const t0 = performance.now();
  let error: string | null = null;
  try {
    for (let i = 0; i < 1000; i++) pg.allReduce(t);
  } catch (e) {
    error = (e as Error).message;
  }
  // The failed group refuses further use with a clear message instead of hanging.
  let again: string | null = null;
  try {
    pg.barrier();
  } catch (e) {
    again = (e as Error).message;
  }
  pg.destroy();
  report({ error, again, ms: performance.now() - t0 });
  process.exit(error ? 2 : 0);
}

// Rank worker for grad-buckets.test.ts. On each rank, one BYOL backward on this rank's own batch; its
// gradients are then averaged twice from the same starting point: with averageGradients (one flat
// all-reduce after backward) and with gradient buckets (all-reduced while backward runs, small buckets
// so that there are many). Reports digests of the gradient bytes, so that the test can demand the same
// bits from both ways on every rank. Also: a parameter used on rank 0 only and one used nowhere.
import { createHash } from "node:crypto";
import * as T from "../../../src/torch/index.js";
import { resnet18 } from "../../../src/nn/resnet.js";
import { BYOL } from "../../../src/byol/learner.js";
import { isWorker, join, report } from "./common.js";

function digest(params: T.Tensor[]): string {
  const h = createHash("sha256");
  for (const p of params) {
    const g = p.grad;
    h.update(g ? Buffer.from(g.contiguous().toFloat32Array().buffer) : Buffer.from("none"));
  }
  return h.digest("hex").slice(0, 16);
}

if (isWorker()) {
  const { pg, dp } = join();
  const rank = pg.rank;
  T.manualSeed(3);
  const learner = new BYOL({ encoder: resnet18({ inChannels: 1, stem: "small", widthMultiplier: 0.125 }), hiddenDim: 32, projectionDim: 16 });
  const params = learner.trainableParameters();
  dp.broadcast(params);
  T.manualSeed(50 + rank); // each rank its own batch
  const v1 = T.rand([8, 1, 16, 16]).keep();
  const v2 = T.rand([8, 1, 16, 16]).keep();
  const backward = () => T.tidy(() => {
    for (const p of params) p.grad = null;
    learner.forwardLoss(v1, v2).loss.backward();
  });
  const out: Record<string, unknown> = { rank, paramCount: params.length };

  backward();
  out.local = digest(params);
  T.averageGradients(pg, params);
  out.flat = digest(params);

  const capBytes = 4096;
  const buckets = pg.gradientBuckets(params, capBytes);
  out.sizes = buckets.sizes();
  for (let rep = 0; rep < 2; rep++) {  // twice: the buffers and hooks are reused
    buckets.prepare();
    backward();
    buckets.finish();
    out[`bucketed${rep}`] = digest(params);
  }
  buckets.dispose();
  // A disposed set's hooks do nothing: a later backward leaves the local gradients.
  backward();
  out.afterDispose = digest(params);

  // The trainer's path: dataParallel's beforeBackward + averageGradients, default 25 MiB buckets.
  dp.beforeBackward!(params);
  backward();
  dp.averageGradients(params);
  out.dataParallel = digest(params);

  // Unused parameters: p everywhere, q on rank 0 only, z nowhere.
  const p = T.zeros([2, 2]).requiresGrad_();
  const q = T.zeros([3]).requiresGrad_();
  const z = T.zeros([1]).requiresGrad_();
  const small = pg.gradientBuckets([p, q, z], 8);
  small.prepare();
  T.tidy(() => {
    let loss = p.add(1).mul(rank + 1).sum();
    if (rank === 0) loss = loss.add(q.mul(T.tensor([4, 8, 12])).sum());
    loss.backward();
  });
  small.finish();
  out.unused = { p: p.grad!.toList(), q: q.grad?.toList() ?? null, z: z.grad === null };
  small.dispose();

  // Misuse is reported, not silently ignored.
  const b = pg.gradientBuckets([p], 1024);
  try { b.finish(); out.finishFirst = "no error"; } catch (e) { out.finishFirst = (e as Error).message; }
  b.dispose();

  pg.destroy();
  report(out);
}

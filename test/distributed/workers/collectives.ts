// Rank worker for collectives.test.ts: every collective once, with values that depend on the rank, and
// the results reported for the test to check against hand-computed ones.
import * as T from "../../../src/torch/index.js";
import { isWorker, join, report } from "./common.js";

if (isWorker()) {
  const { pg } = join();
  const r = pg.rank;
  const out: Record<string, unknown> = { rank: r, worldSize: pg.worldSize, backend: pg.backend };

  // Several tensors of two dtypes, one of them non-contiguous, in one call.
  const a = T.tensor([r + 1, 2 * r, -r], [3]);
  const i = T.tensor([r + 10], [1], { dtype: "int64" });
  const base = T.tensor([[r, 1], [2, 3 * r]]);
  const nc = base.t();  // a transposed (non-contiguous) view: its storage is base's
  pg.allReduce([a, i, nc], "sum");
  out.sum = { a: a.toList(), i: i.toList(), base: base.toList() };

  const m = T.tensor([r, 5 - r]);
  const mx = m.clone();
  const mn = m.clone();
  pg.allReduce(m, "avg");
  pg.allReduce(mx, "max");
  pg.allReduce(mn, "min");
  out.avg = m.toList();
  out.max = mx.toList();
  out.min = mn.toList();

  const gathered = pg.allGather(T.tensor([r, 10 * r, 100 * r], [3]));
  out.gather = gathered.map((t) => t.toList());

  const b1 = T.tensor([r + 0.5, r + 1.5]);
  const b2 = T.tensor([7 * (r + 1)], [1], { dtype: "int64" });
  pg.broadcast([b1, b2], 1);
  out.broadcast = { b1: b1.toList(), b2: b2.toList() };

  pg.barrier();

  // y = Σ_ranks x; each rank's loss weights y by (rank + 1): ∂(Σ_s L_s)/∂x_r = Σ_s (s + 1) for every element.
  const x = T.tensor([r + 1, 2]).requiresGrad_();
  const y = pg.allReduceDifferentiable(x);
  y.mul(r + 1).sum().backward();
  out.diff = { y: y.toList(), grad: x.grad!.toList() };

  // averageGradients: p has a gradient everywhere, q only on rank 0 (unused elsewhere), z nowhere.
  const p = T.zeros([2, 2]).requiresGrad_();
  const q = T.zeros([3]).requiresGrad_();
  const z = T.zeros([1]).requiresGrad_();
  p.grad = T.full([2, 2], r + 1);
  if (r === 0) q.grad = T.tensor([4, 8, 12]);
  T.averageGradients(pg, [p, q, z]);
  out.avgGrad = { p: p.grad!.toList(), q: q.grad?.toList() ?? null, z: z.grad === null };

  // broadcastParameters: rank 0's values everywhere.
  const w = T.full([3], r + 3).requiresGrad_();
  T.broadcastParameters(pg, [w]);
  out.bcastParams = { w: w.toList(), requiresGrad: w.requiresGrad };

  // Many steps of the same collectives leave no tensors behind.
  const live0 = T.liveTensors();
  const params = [T.randn([5, 4]).requiresGrad_(), T.randn([4]).requiresGrad_()];
  for (let step = 0; step < 5; step++) {
    T.tidy(() => {
      for (const prm of params) prm.grad = T.onesLike(prm);
      T.averageGradients(pg, params);
    });
  }
  for (const prm of params) prm.grad = null;
  for (const prm of params) prm.dispose();
  out.leaked = T.liveTensors() - live0;

  pg.destroy();
  report(out);
}

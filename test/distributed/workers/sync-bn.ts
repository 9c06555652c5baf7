// Rank worker for sync-batchnorm.test.ts. Every rank builds the same global batch (same seed), runs
// ordinary BatchNorm over all of it as the reference, and SyncBatchNorm over its own slice; it reports
// the largest differences of outputs, input gradients, parameter gradients (summed over ranks, as the
// global loss is the sum of the ranks' losses) and running statistics.
import * as T from "../../../src/torch/index.js";
import { BatchNorm1d, BatchNorm2d, Linear, ReLU, Sequential } from "../../../src/nn/index.js";
import { SyncBatchNorm, convertSyncBatchNorm } from "../../../src/nn/sync-batchnorm.js";
import { isWorker, join, report } from "./common.js";

function maxDiff(a: T.Tensor, b: T.Tensor): number {
  return T.tidy(() => a.sub(b).abs().max().item());
}

function compare(pg: T.ProcessGroup, shape: number[], steps: number): Record<string, number> {
  return T.tidy(() => {
    const C = shape[1];
    const B = shape[0] / pg.worldSize;
    const ref = shape.length === 4 ? new BatchNorm2d(C, { momentum: 0.3 }) : new BatchNorm1d(C, { momentum: 0.3 });
    const sync = new SyncBatchNorm(C, { momentum: 0.3 }, pg);
    T.manualSeed(1234);
    T.noGrad(() => {
      ref.weight!.copy_(T.rand([C]).add(0.5));
      ref.bias!.copy_(T.randn([C]));
      sync.weight!.copy_(ref.weight!);
      sync.bias!.copy_(ref.bias!);
    });
    const diffs = { y: 0, dx: 0, dw: 0, db: 0, runningMean: 0, runningVar: 0, batches: 0, eval: 0 };
    for (let s = 0; s < steps; s++) {
      // A large offset: the statistics must not cancel (E[x²] − E[x]² would lose digits here).
      const X = T.randn(shape).mul(3).add(50);
      const G = T.randn(shape);
      const Xr = X.clone().requiresGrad_();
      const yRef = ref.forward(Xr);
      yRef.mul(G).sum().backward();
      const xs = X.narrow(0, pg.rank * B, B).clone().requiresGrad_();
      const y = sync.forward(xs);
      y.mul(G.narrow(0, pg.rank * B, B)).sum().backward();
      const dw = sync.weight!.grad!;
      const db = sync.bias!.grad!;
      pg.allReduce([dw, db], "sum");
      diffs.y = Math.max(diffs.y, maxDiff(y, yRef.narrow(0, pg.rank * B, B)));
      diffs.dx = Math.max(diffs.dx, maxDiff(xs.grad!, Xr.grad!.narrow(0, pg.rank * B, B)));
      diffs.dw = Math.max(diffs.dw, maxDiff(dw, ref.weight!.grad!) / ref.weight!.grad!.abs().max().item());
      diffs.db = Math.max(diffs.db, maxDiff(db, ref.bias!.grad!) / ref.bias!.grad!.abs().max().item());
      ref.zeroGrad();
      sync.zeroGrad();
    }
    diffs.runningMean = maxDiff(sync.runningMean!, ref.runningMean!);
    diffs.runningVar = maxDiff(sync.runningVar!, ref.runningVar!);
    diffs.batches = Math.abs(sync.numBatchesTracked!.item() - ref.numBatchesTracked!.item());
    ref.eval();
    sync.eval();
    const Xe = T.randn(shape).add(50);
    diffs.eval = T.noGrad(() => maxDiff(sync.forward(Xe), ref.forward(Xe)));
    ref.dispose();
    sync.dispose();
    return diffs;
  });
}

if (isWorker()) {
  const { pg } = join();
  const out: Record<string, unknown> = {
    bn1d: compare(pg, [8, 5], 3),
    bn1d3: compare(pg, [6, 4, 7], 2),
    bn2d: compare(pg, [4, 3, 5, 6], 3),
  };

  // convertSyncBatchNorm swaps the layers in place of the old ones, keeping their tensors and names.
  const head = new Sequential(new Linear(6, 4), new BatchNorm1d(4), new ReLU(true), new Linear(4, 2));
  const keysBefore = Object.keys(head.stateDict());
  const weightBefore = head.at<BatchNorm1d>(1).weight;
  const converted = convertSyncBatchNorm(head, pg);
  const bn = converted.at(1);
  out.convert = {
    same: converted === head,
    isSync: bn instanceof SyncBatchNorm,
    sharesTensors: bn instanceof SyncBatchNorm && bn.weight === weightBefore,
    keys: JSON.stringify(Object.keys(converted.stateDict())) === JSON.stringify(keysBefore),
  };
  pg.destroy();
  report(out);
}

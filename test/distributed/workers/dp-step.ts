// Rank worker for data-parallel.test.ts: BYOL training steps on fixed views, either as one process on
// the whole batch 2B (WORLD_SIZE=1) or as one of 2 ranks on its half B, with averaged gradients and
// (BYOL_SYNC_BN=1) cross-replica BatchNorm. Reports the loss of every step (the mean over ranks) and,
// in a file named by BYOL_PARAMS_OUT (suffixed with the rank), the final online parameters as float32.
//
// A tiny network's trajectory is chaotic in float32 at larger learning rates (even the one-process run
// with 1 vs 2 threads drifts apart there), so the settings are ones where round-off stays round-off.
import { writeFileSync } from "node:fs";
import * as T from "../../../src/torch/index.js";
import { resnet18 } from "../../../src/nn/resnet.js";
import { BYOL } from "../../../src/byol/learner.js";
import { SGD } from "../../../src/optim/sgd.js";
import { distContextFromEnv } from "../../../src/train/dist-context.js";
import { isWorker, join, report } from "./common.js";

const GLOBAL_BATCH = 32;
const STEPS = 4;
const LR = 0.005;

if (isWorker()) {
  const setup = distContextFromEnv() ? join() : null;
  if (!setup) T.setNumThreads(1);
  const pg = setup?.pg ?? null;
  const dp = setup?.dp ?? null;
  const world = pg?.worldSize ?? 1;
  const rank = pg?.rank ?? 0;

  T.manualSeed(7);
  const learner = new BYOL({ encoder: resnet18({ inChannels: 1, stem: "small", widthMultiplier: 0.125 }), hiddenDim: 32, projectionDim: 16 });
  if (dp && process.env.BYOL_SYNC_BN === "1") dp.syncBatchNorm(learner);
  // Perturb rank 1's weights: the broadcast must make them rank 0's again.
  if (rank === 1) T.noGrad(() => learner.trainableParameters()[0].add_(1));
  const params = learner.trainableParameters();
  if (dp) dp.broadcast([...params, ...learner.online.encoder.buffers()]);
  const opt = new SGD(params, { lr: LR, momentum: 0.9, weightDecay: 1e-4 });

  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    T.tidy(() => {
      // The same global batch on every rank; each rank takes its slice.
      T.manualSeed(100 + s);
      const v1 = T.rand([GLOBAL_BATCH, 1, 16, 16]);
      const v2 = T.rand([GLOBAL_BATCH, 1, 16, 16]);
      const per = GLOBAL_BATCH / world;
      const { loss } = learner.forwardLoss(v1.narrow(0, rank * per, per), v2.narrow(0, rank * per, per));
      opt.zeroGrad();
      loss.backward();
      dp?.averageGradients(params);
      opt.step();
      learner.updateTarget(0.9);
      losses.push(dp ? dp.meanOf([loss.item()])[0] : loss.item());
    });
  }
  const flat = T.tidy(() => T.cat(params.map((p) => p.detach().reshape(-1))).toFloat32Array());
  writeFileSync(`${process.env.BYOL_PARAMS_OUT}.${rank}`, flat);
  pg?.destroy();
  report({ losses, world });
}

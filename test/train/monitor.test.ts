// The training monitors: kNN on the monitor subsets and the online probe's classifier on the clean test
// subset, each against the same quantity computed here from the encoder in eval mode; and the
// monitor's cost estimate.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import type { ResolvedDataset } from "../../src/data/index.js";
import { presetConfig } from "../../src/train/config.js";
import { makeLearner } from "../../src/train/build.js";
import { resolveRecipe } from "../../src/train/recipe.js";
import { estimateMonitorS, monitorKnn } from "../../src/train/monitor.js";
import { OnlineProbe } from "../../src/eval/online-probe.js";
import { extractFeatures } from "../../src/eval/features.js";
import { accuracy, knnTop1 } from "../../src/eval/knn.js";
import { tinyImages } from "../eval/helpers.js";

const cfg = presetConfig("smoke");
resolveRecipe(cfg, { channels: 1, side: 12 });
cfg.knn.k = 10;
const bank = tinyImages(120, 1, 12, 3, 1);
const query = tinyImages(45, 1, 12, 3, 2);
const data = { mean: [0.4], std: [0.25] } as unknown as ResolvedDataset;

test("the monitor reads kNN and the online probe's classifier on clean images, with the encoder in eval mode", () => {
  T.manualSeed(3);
  const learner = makeLearner(cfg, 1);
  const probe = new OnlineProbe((learner.online.encoder as unknown as { outDim: number }).outDim, 3, { lr: 0.05 });
  // Give the probe something to know: a few steps on training-mode representations of the bank.
  learner.train();
  for (let i = 0; i < 20; i++) {
    T.tidy(() => {
      const x = T.tensor(bank.images, [bank.n, 1, 12, 12]).to("float32").div(255).sub(0.4).div(0.25);
      probe.step(learner.online.encoder.forward(x).detach(), T.tensor(bank.labels!, undefined, { dtype: "int64" }));
    });
  }
  const before = T.liveTensors();
  const r = monitorKnn(learner, { bank, query }, data, cfg, probe);
  assert.equal(T.liveTensors(), before, "no tensor leaked");
  assert.equal(learner.training, false);
  // The reference: eval-mode features extracted here.
  const embed = (x: T.Tensor) => learner.online.encoder.forward(x);
  const fo = { batchSize: 512, mean: [0.4], std: [0.25] };
  const fb = extractFeatures(embed, bank, fo);
  const fq = extractFeatures(embed, query, fo);
  assert.equal(r.knn, knnTop1(fb, bank.labels!, fq, query.labels!, { k: 10, temperature: cfg.knn.temperature }));
  const pred = probe.predict(fq).to("int32").toArray() as Int32Array;
  assert.equal(r.probeClean, accuracy(pred, query.labels!));
  assert.ok(r.probeClean! > 1 / 3, `the probe learnt the easy patterns: ${r.probeClean}`);
  // Without a probe there is no clean reading.
  assert.deepEqual(Object.keys(monitorKnn(learner, { bank, query }, data, cfg)), ["knn"]);
  fb.dispose();
  fq.dispose();
  probe.dispose();
});

test("the monitor's cost estimate is a positive number of seconds and leaves the learner's mode alone", () => {
  T.manualSeed(4);
  const learner = makeLearner(cfg, 1);
  learner.train();
  const s = estimateMonitorS(learner, { bank, query }, data, cfg);
  assert.ok(s > 0 && s < 60, `${s}`);
  assert.equal(learner.training, true);
  learner.eval();
  estimateMonitorS(learner, { bank, query }, data, cfg);
  assert.equal(learner.training, false);
});

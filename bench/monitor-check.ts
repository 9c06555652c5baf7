// `node dist/bench/monitor-check.js [--steps N] [--frozen] [--threads N]`: why do the training monitors
// read below the evaluation? Trains the cpu preset for N steps on Fashion-MNIST (--frozen: a learning
// rate of 1e-9, so the weights stay at their initialisation while the BatchNorm running statistics
// follow the augmented views), then measures each candidate cause separately on the same encoder:
//   - kNN on the monitor's subsets (10k bank / 2k queries) against the full splits (60k / 10k);
//   - eval-mode BatchNorm with the running statistics training left (what the monitor and the final
//     evaluation both do), against train-mode BatchNorm (statistics of each clean batch of 512),
//     against running statistics recomputed on clean train images, against the initial ones (0 / 1:
//     how the evaluation's never-trained random-init encoder runs);
//   - the online probe: its accuracy over the epoch (augmented first views, the representation
//     moving), its classifier applied to clean test images, and an offline linear probe on clean
//     features.
// One JSON line per measurement.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../src/torch/index.js";
import { resolveDataset, sampleSubset, type ImageSet } from "../src/data/index.js";
import { presetConfig } from "../src/train/config.js";
import { datasetOptions, makeEncoder } from "../src/train/build.js";
import { resolveRecipe } from "../src/train/recipe.js";
import { train } from "../src/train/trainer.js";
import { extractFeatures } from "../src/eval/features.js";
import { knnTop1 } from "../src/eval/knn.js";
import { linearProbe } from "../src/eval/linear.js";
import { OnlineProbe } from "../src/eval/online-probe.js";
import { readMetrics } from "../src/train/metrics.js";
import { checkpointPath, loadCheckpoint, withPrefix } from "../src/train/checkpoint.js";
import { BatchNorm2d, type Module } from "../src/nn/index.js";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const steps = Number(arg("steps", "60"));
const frozen = process.argv.includes("--frozen");
const full = process.argv.includes("--full");
T.setNumThreads(Number(arg("threads", "1")));

const cfg = presetConfig("cpu");
resolveRecipe(cfg, { channels: 1, side: 28 }); // Fashion-MNIST
cfg.timeBudgetS = null;
cfg.epochs = 1;
cfg.datasetLimit = steps * cfg.batchSize;
cfg.knn.everyEpochs = 0;
cfg.checkpointEverySteps = 100000;
if (frozen) cfg.optimizer.baseLr = 1e-9;
const whole = await resolveDataset(cfg.dataset, { ...datasetOptions({ ...cfg, datasetLimit: null }) });
const limited = await resolveDataset(cfg.dataset, datasetOptions(cfg));
const data = { ...limited, mean: whole.mean, std: whole.std, trainLabeled: whole.trainLabeled, test: whole.test };
const runDir = mkdtempSync(join(tmpdir(), "monitor-check-"));
const t0 = performance.now();
const result = await train(cfg, data, { runDir, resume: false, quiet: true });
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ steps, frozen, ...o }));
emit({ what: "trained", seconds: Math.round((performance.now() - t0) / 100) / 10 });

const encoder = result.learner.online.encoder;
const bankSub = sampleSubset(whole.trainLabeled!, cfg.knn.monitorTrain, cfg.seed);
const querySub = sampleSubset(whole.test!, cfg.knn.monitorTest, cfg.seed);
const fo = { batchSize: 512, device: "cpu", mean: data.mean, std: data.std };
const bns = (m: Module) => m.modules().filter((x): x is BatchNorm2d => x instanceof BatchNorm2d);
const saved = Object.fromEntries(Object.entries(encoder.stateDict()).map(([k, v]) => [k, v.clone().keep()]));
const restore = () => T.noGrad(() => { for (const [k, v] of Object.entries(encoder.stateDict())) v.copy_(saved[k]); });

function knn(embedMode: "eval" | "train", bank: ImageSet, query: ImageSet, enc: Module = encoder): number {
  enc.train(embedMode === "train");
  const embed = (x: T.Tensor) => enc.forward(x);
  // Train-mode forward passes would move the running statistics: measure on a copy of them.
  const fb = extractFeatures(embed, bank, fo);
  const fq = extractFeatures(embed, query, fo);
  const acc = knnTop1(fb, bank.labels!, fq, query.labels!, { k: cfg.knn.k, temperature: cfg.knn.temperature, numClasses: 10 });
  fb.dispose();
  fq.dispose();
  enc.eval();
  return acc;
}

function recalibrate(enc: Module, images: ImageSet): void {
  T.noGrad(() => {
    for (const bn of bns(enc)) {
      bn.runningMean!.zero_();
      bn.runningVar!.fill_(1);
    }
    enc.train();
    // 40 batches at momentum 0.1 leave 0.9^40 = 1.5% of the reset values.
    extractFeatures((x) => enc.forward(x), sampleSubset(images, 40 * 512, 99), fo).dispose();
    enc.eval();
  });
}

const timed = (what: string, f: () => number, extra: Record<string, unknown> = {}) => {
  const t = performance.now();
  const acc = f();
  emit({ what, top1: Math.round(acc * 10000) / 10000, seconds: Math.round((performance.now() - t) / 100) / 10, ...extra });
};

timed("knn subsets, eval-mode BN, running stats from training (the monitor)", () => knn("eval", bankSub, querySub));
if (full) timed("knn full splits, eval-mode BN, running stats from training (the evaluation)", () => knn("eval", whole.trainLabeled!, whole.test!));
timed("knn subsets, train-mode BN (clean batches of 512)", () => knn("train", bankSub, querySub));
restore();
recalibrate(encoder, whole.trainLabeled!);
timed("knn subsets, eval-mode BN, running stats recomputed on clean train images", () => knn("eval", bankSub, querySub));
if (full) timed("knn full splits, eval-mode BN, running stats recomputed on clean train images", () => knn("eval", whole.trainLabeled!, whole.test!));
T.noGrad(() => { for (const bn of bns(encoder)) { bn.runningMean!.zero_(); bn.runningVar!.fill_(1); } });
timed("knn subsets, eval-mode BN, initial running stats (0 / 1)", () => knn("eval", bankSub, querySub));
restore();

// The evaluation's random-init baseline: its own initialisation, never trained, eval mode (stats 0 / 1).
T.manualSeed(cfg.seed + 7919);
const random = makeEncoder(cfg, 1);
random.eval();
timed("random-init baseline: knn subsets, initial running stats", () => knn("eval", bankSub, querySub, random));
recalibrate(random, whole.trainLabeled!);
timed("random-init baseline: knn subsets, running stats recomputed on clean train images", () => knn("eval", bankSub, querySub, random));

// The online probe: its epoch accuracy, its classifier on clean test images, an offline probe.
const rows = readMetrics(join(runDir, "metrics.jsonl"));
const online = rows.map((r) => r.online_linear_top1).filter((v): v is number => typeof v === "number").at(-1);
emit({ what: "online probe, epoch accuracy on augmented first views (metrics.jsonl)", top1: online });
const ck = loadCheckpoint(checkpointPath(runDir));
const probe = new OnlineProbe((encoder as unknown as { outDim: number }).outDim, 10, { lr: cfg.onlineProbe.lr });
probe.loadStateDict(withPrefix(ck.tensors, "probe"));
encoder.eval();
const testFeat = extractFeatures((x) => encoder.forward(x), whole.test!, fo);
timed("online probe's classifier on clean test images (eval-mode encoder)", () => {
  const pred = probe.predict(testFeat).to("int32").toArray() as Int32Array;
  let hit = 0;
  pred.forEach((p, i) => { if (p === whole.test!.labels![i]) hit++; });
  return hit / pred.length;
});
const trainSub = sampleSubset(whole.trainLabeled!, 10000, 5);
const trainFeat = extractFeatures((x) => encoder.forward(x), trainSub, fo);
timed("offline linear probe on clean features (10k train images, full test)", () => linearProbe(trainFeat, trainSub.labels!, testFeat, whole.test!.labels!, { numClasses: 10 }).top1);

// `node dist/bench/linear-protocol.js [raw_pixels|random_init ...]`: the linear protocol on Fashion-MNIST
// (60,000 train / 10,000 test images) against the earlier single mini-batch probe (AdamW, fixed lr and
// weight decay, 30 epochs), per representation: test top-1 and seconds of each, the chosen weight
// decay, and the 1% / 10% label-fraction protocols (BENCH_FRACTIONS=0 skips them). Threads:
// BENCH_THREADS (default 2). BENCH_ITER sets the L-BFGS iterations of every fit (as linearEval.epochs
// does in a run; default: the protocol's 30 per grid point, 50 for the final fit). One JSON line per
// representation.
import * as T from "../src/torch/index.js";
import { loadFashionMnist } from "../src/data/idx.js";
import { channelStats } from "../src/data/dataset.js";
import { extractFeatures, rawPixelFeatures } from "../src/eval/features.js";
import { linearProbe } from "../src/eval/linear.js";
import { runLinearProtocol, standardiseFeatures } from "../src/eval/linear-protocol.js";
import { validationSplit, VALIDATION_FRACTION } from "../src/eval/validation-split.js";
import { balancedSubset, LABEL_FRACTIONS } from "../src/eval/label-fractions.js";
import { makeEncoder } from "../src/train/build.js";
import { presetConfig } from "../src/train/config.js";

T.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
const train = loadFashionMnist(undefined, "train");
const test = loadFashionMnist(undefined, "test");
const { mean, std } = channelStats(train);
const labels = train.labels!;
const testLabels = test.labels!;
const split = validationSplit(labels, VALIDATION_FRACTION, 0);
const iters = process.env.BENCH_ITER ? { gridIter: Number(process.env.BENCH_ITER), finalIter: Number(process.env.BENCH_ITER) } : {};
// Wall seconds, and CPU seconds of this process (user + system): on a shared machine the second is the
// steadier measure of the work done.
const seconds = (t: number) => Math.round((performance.now() - t) / 10) / 100;
const cpu = (c: NodeJS.CpuUsage) => { const u = process.cpuUsage(c); return Math.round((u.user + u.system) / 1e4) / 100; };
for (const name of process.argv.slice(2).length ? process.argv.slice(2) : ["raw_pixels"]) {
  let t = performance.now();
  let ftr: T.Tensor, fte: T.Tensor;
  if (name === "raw_pixels") {
    ftr = rawPixelFeatures(train, mean, std);
    fte = rawPixelFeatures(test, mean, std);
  } else {
    const cfg = presetConfig("cpu");
    T.manualSeed(cfg.seed);
    const enc = makeEncoder(cfg, 1);
    enc.eval();
    const embed = (x: T.Tensor) => enc.forward(x);
    ftr = extractFeatures(embed, train, { mean, std, batchSize: 256 });
    fte = extractFeatures(embed, test, { mean, std, batchSize: 256 });
  }
  const featuresS = seconds(t);
  t = performance.now();
  let c = process.cpuUsage();
  const old = linearProbe(ftr, labels, fte, testLabels, { numClasses: 10, seed: 0 });
  const oldS = seconds(t);
  const oldCpu = cpu(c);
  t = performance.now();
  c = process.cpuUsage();
  const s = standardiseFeatures(ftr, fte, "cpu");
  const rec = runLinearProtocol(s.x, labels, s.xTest, testLabels, split, { numClasses: 10, validationFraction: VALIDATION_FRACTION, ...iters });
  const newS = seconds(t);
  const newCpu = cpu(c);
  const fractions: Record<string, unknown> = {};
  if (process.env.BENCH_FRACTIONS !== "0") {
    for (const f of LABEL_FRACTIONS) {
      t = performance.now();
      c = process.cpuUsage();
      const r = runLinearProtocol(s.x, labels, s.xTest, testLabels, split, { numClasses: 10, validationFraction: VALIDATION_FRACTION, ...iters }, balancedSubset(labels, f, 0, split.val));
      fractions[String(f)] = { test_top1: r.test_top1, chosen: r.chosen.weight_decay, seconds: seconds(t), cpu_s: cpu(c) };
    }
  }
  console.log(JSON.stringify({
    representation: name, dim: ftr.size(1), features_s: featuresS,
    old: { test_top1: old.top1, train_top1: old.trainTop1, seconds: oldS, cpu_s: oldCpu },
    protocol: { test_top1: rec.test_top1, train_top1: rec.train_top1, chosen: rec.chosen, grid: rec.grid, final_iterations: rec.iterations, seconds: newS, cpu_s: newCpu },
    fractions,
  }));
  for (const x of [ftr, fte, s.x, s.xTest]) x.dispose();
}

// A mini-batch linear probe on frozen features: a softmax-regression classifier trained on the train
// split's features with one fixed learning rate and weight decay, scored on the test split. The run's
// evaluation uses the linear protocol instead (linear-protocol.ts: weight decay chosen on a validation
// split, full-batch L-BFGS); this probe stays in the library API and as the benches' point of
// comparison (bench/linear-protocol.ts).
//
// Features are standardised per dimension with the TRAIN split's mean and standard deviation (the
// same affine map is applied to the test features), which plays the role of the BatchNorm without
// affine parameters that some linear-evaluation codes put before the classifier: it makes one learning
// rate fit encoders whose outputs have very different scales (a random-init ResNet, a trained one, raw
// pixels), and it cannot change what a linear classifier can separate. Dimensions that are constant
// on the train split (std 0) become 0.
//
// Training: weights and bias start at zero (the problem is convex, so no random init is needed),
// mini-batches from a seeded permutation each epoch, cross-entropy, AdamW (or SGD with momentum) with
// a cosine learning-rate decay to 0 over all steps. The same inputs and seed give the same result.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { accuracy } from "./knn.js";
import { warmupCosineLr } from "../optim/index.js";
import { headOptimizer, HEAD_LR, type HeadOptimizerName } from "./head-optimizer.js";

/** Settings of the linear probe (softmax regression on frozen features). */
export interface LinearProbeOptions {
  /** Passes over the train split (default 30); raised on small sets until there are `minSteps` steps. */
  epochs?: number;
  /** Fewest optimizer steps (default 1000), so a 1k-image split trains as long as a 60k one needs. */
  minSteps?: number;
  /** Mini-batch size (default 512). */
  batchSize?: number;
  /** "adamw" (default) or "sgd" (momentum 0.9). */
  optimizer?: HeadOptimizerName;
  /** Peak learning rate, decayed by a cosine to 0 (default 3e-3 for AdamW, 0.1 for SGD). */
  lr?: number;
  /** Weight decay on the weight matrix, not the bias (default 1e-4 for AdamW, 1e-5 for SGD). */
  weightDecay?: number;
  /** Seed of the batch order (default 0). The global generator's state is restored afterwards. */
  seed?: number;
  /** Device to train on (default: the train features' device). */
  device?: string;
  /** Number of classes; default: largest label + 1 over both splits. */
  numClasses?: number;
}

/** What the linear probe reports. */
export interface LinearProbeResult {
  /** Test top-1 accuracy, a fraction in [0, 1]. */
  top1: number;
  /** Train top-1 accuracy of the final classifier. */
  trainTop1: number;
  /** Epochs actually run (`epochs`, or more on a small split; see `minSteps`). */
  epochs: number;
  /** Mean training loss over the last epoch. */
  finalLoss: number;
}

export const LINEAR_DEFAULTS = {
  epochs: 30,
  minSteps: 1000,
  batchSize: 512,
  optimizer: "adamw" as HeadOptimizerName,
  adamw: { lr: 3e-3, weightDecay: 1e-4 },
  sgd: { lr: 0.1, weightDecay: 1e-5 },
  seed: 0,
};

/** Trains a linear classifier on (trainFeat, trainLabels) and reports its top-1 on the test rows. */
export function linearProbe(
  trainFeat: T.Tensor,
  trainLabels: Int32Array,
  testFeat: T.Tensor,
  testLabels: Int32Array,
  opts: LinearProbeOptions = {},
): LinearProbeResult {
  const c = resolveOptions(trainFeat, trainLabels, testFeat, testLabels, opts);
  const rng = T.getRngState("cpu").keep();
  try {
    T.manualSeed(c.seed);
    return T.tidy(() => train(trainFeat, trainLabels, testFeat, testLabels, c));
  } finally {
    T.setRngState(rng, "cpu");
    rng.dispose();
  }
}

type Resolved = ReturnType<typeof resolveOptions>;

function train(trainFeat: T.Tensor, trainLabels: Int32Array, testFeat: T.Tensor, testLabels: Int32Array, c: Resolved): LinearProbeResult {
  const { n, d, numClasses, device, batchSize } = c;
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const epochs = Math.max(c.epochs, Math.ceil(c.minSteps / stepsPerEpoch));
  const { x, xTest } = T.noGrad(() => standardise(trainFeat, testFeat, device));
  const y = T.tensor(trainLabels, [n]).to(device).to("int64");

  const weight = T.zeros([numClasses, d], { device }).requiresGrad_().keep();
  const bias = T.zeros([numClasses], { device }).requiresGrad_().keep();
  const opt = headOptimizer(c.optimizer, weight, bias, c.lr, c.weightDecay);
  try {
    const total = epochs * stepsPerEpoch;
    let stepIndex = 0;
    let finalLoss = NaN;
    for (let epoch = 0; epoch < epochs; epoch++) {
      T.tidy(() => {
        // The permutation is drawn on the CPU so the order is the same on every device.
        const perm = T.randperm(n).to(device);
        const lossSum = T.zeros([], { device });
        for (let start = 0; start < n; start += batchSize) {
          const len = Math.min(batchSize, n - start);
          T.tidy(() => {
            const idx = perm.narrow(0, start, len);
            const logits = T.linear(x.indexSelect(0, idx), weight, bias);
            const loss = T.crossEntropy(logits, y.indexSelect(0, idx));
            opt.zeroGrad();
            loss.backward();
            opt.lr = warmupCosineLr(stepIndex, total, 0, c.lr);
            opt.step();
            T.noGrad(() => lossSum.add_(loss.detach()));
          });
          stepIndex++;
        }
        // One read-back per epoch rather than per step (a device sync on a GPU).
        finalLoss = lossSum.item() / stepsPerEpoch;
      });
      if (!Number.isFinite(finalLoss)) throw new UserError(`linear probe: the loss became ${finalLoss} in epoch ${epoch + 1} (non-finite features, or a learning rate too high)`);
    }
    return {
      top1: accuracy(predict(xTest, weight, bias), testLabels),
      trainTop1: accuracy(predict(x, weight, bias), trainLabels),
      epochs,
      finalLoss,
    };
  } finally {
    opt.dispose();
    weight.dispose();
    bias.dispose();
  }
}

// (x − μ)/σ with μ, σ per dimension from the train rows (population std; σ = 0 → the dimension is 0).
function standardise(trainFeat: T.Tensor, testFeat: T.Tensor, device: string): { x: T.Tensor; xTest: T.Tensor } {
  const x0 = trainFeat.to(device).to("float32");
  const mean = x0.mean(0, true);
  const std = x0.std(0, { unbiased: false, keepdim: true });
  const inv = T.where(std.gt(1e-12), std.reciprocal(), 0);
  const apply = (f: T.Tensor) => f.sub(mean).mul_(inv); // one new tensor per split
  const x = apply(x0);
  x0.dispose(); // (a no-op on the data when trainFeat already was float32 on the device)
  const t0 = testFeat.to(device).to("float32");
  const xTest = apply(t0);
  t0.dispose();
  return { x, xTest };
}

/** argmax of x·Wᵀ + b per row, in chunks so the logits never exceed a few MB. */
export function predict(x: T.Tensor, weight: T.Tensor, bias: T.Tensor): Int32Array {
  const n = x.size(0);
  const out = new Int32Array(n);
  const chunk = 8192;
  T.noGrad(() => {
    for (let s = 0; s < n; s += chunk) {
      const len = Math.min(chunk, n - s);
      T.tidy(() => {
        const p = T.linear(x.narrow(0, s, len), weight, bias).argmax(1).to("int32").to("cpu");
        out.set(p.toArray() as Int32Array, s);
      });
    }
  });
  return out;
}

function resolveOptions(trainFeat: T.Tensor, trainLabels: Int32Array, testFeat: T.Tensor, testLabels: Int32Array, o: LinearProbeOptions) {
  if (trainFeat.ndim !== 2 || testFeat.ndim !== 2) {
    throw new UserError(`linear probe: features must be 2-D [rows, dim], got [${trainFeat.shape}] and [${testFeat.shape}]`);
  }
  const [n, d] = trainFeat.shape;
  if (testFeat.size(1) !== d) throw new UserError(`linear probe: train features have dimension ${d}, test features ${testFeat.size(1)}`);
  if (n === 0) throw new UserError("linear probe: no training rows");
  if (trainLabels.length !== n) throw new UserError(`linear probe: ${trainLabels.length} train labels for ${n} rows`);
  if (testLabels.length !== testFeat.size(0)) throw new UserError(`linear probe: ${testLabels.length} test labels for ${testFeat.size(0)} rows`);
  let maxLabel = -1;
  for (const labels of [trainLabels, testLabels]) {
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] < 0) throw new UserError(`linear probe: label ${labels[i]} at row ${i} (unlabeled rows must be removed first)`);
      if (labels[i] > maxLabel) maxLabel = labels[i];
    }
  }
  const numClasses = o.numClasses ?? maxLabel + 1;
  if (!Number.isInteger(numClasses) || numClasses <= maxLabel) throw new UserError(`linear probe: numClasses ${numClasses} but labels go up to ${maxLabel}`);
  const optimizer = o.optimizer ?? LINEAR_DEFAULTS.optimizer;
  if (optimizer !== "adamw" && optimizer !== "sgd") throw new UserError(`linear probe: unknown optimizer "${optimizer}" (expected adamw or sgd)`);
  const epochs = o.epochs ?? LINEAR_DEFAULTS.epochs;
  const batchSize = o.batchSize ?? LINEAR_DEFAULTS.batchSize;
  const lr = o.lr ?? LINEAR_DEFAULTS[optimizer].lr;
  const weightDecay = o.weightDecay ?? LINEAR_DEFAULTS[optimizer].weightDecay;
  const seed = o.seed ?? LINEAR_DEFAULTS.seed;
  const minSteps = o.minSteps ?? LINEAR_DEFAULTS.minSteps;
  if (!Number.isInteger(minSteps) || minSteps < 0) throw new UserError(`linear probe: minSteps must be a non-negative integer, got ${minSteps}`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new UserError(`linear probe: epochs must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`linear probe: batch size must be a positive integer, got ${batchSize}`);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new UserError(`linear probe: learning rate must be > 0, got ${lr}`);
  if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw new UserError(`linear probe: weight decay must be >= 0, got ${weightDecay}`);
  if (!Number.isInteger(seed)) throw new UserError(`linear probe: seed must be an integer, got ${seed}`);
  return { n, d, numClasses, optimizer, epochs, minSteps, batchSize, lr, weightDecay, seed, device: o.device ?? trainFeat.device };
}

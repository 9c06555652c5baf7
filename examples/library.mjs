// byol-ts as a library: pretrain an encoder of your own with BYOL (the smoke preset on Fashion-MNIST,
// seconds on a CPU), then embed ten test images with it. Run: node library.mjs [RUN_DIR]
import { train, extractFeatures, loadFashionMnist, head, Sequential, Conv2d, BatchNorm2d, ReLU, AdaptiveAvgPool2d, Flatten } from "byol-ts";

// Any Module that maps images [N, C, H, W] to [N, outDim] and says its outDim; each call builds fresh weights.
const tinyEncoder = () => Object.assign(new Sequential(
  new Conv2d(1, 16, 3, { stride: 2, padding: 1 }), new BatchNorm2d(16), new ReLU(),
  new Conv2d(16, 32, 3, { stride: 2, padding: 1 }), new BatchNorm2d(32), new ReLU(),
  new AdaptiveAvgPool2d(1), new Flatten(),
), { outDim: 32 });

// Writes the run folder as `byol train` does (config.json, metrics.jsonl, checkpoints/, encoder.safetensors);
// `evaluate: true` would add eval.json and report.html, at the cost of a minute on the 10,000 test images.
const run = await train({ preset: "smoke" }, { runDir: process.argv[2], encoder: tinyEncoder, evaluate: false, quiet: true });
console.error(`trained ${run.step} steps in ${run.wallS.toFixed(1)} s; run folder ${run.runDir}`);

// The trained encoder embeds images normalised with the training set's statistics.
const images = head(loadFashionMnist(undefined, "test"), 10);
const embeddings = extractFeatures((x) => run.encoder.forward(x), images, { mean: run.mean, std: run.std });
const [n, d] = embeddings.shape;
const rows = Array.from({ length: n }, (_, i) => Array.from(embeddings.toFloat32Array().subarray(i * d, (i + 1) * d)));
console.log(JSON.stringify({ runDir: run.runDir, embeddings: rows }));

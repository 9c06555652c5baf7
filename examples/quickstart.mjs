// byol-ts in ten lines: pretrain a small ResNet-18 with BYOL (the smoke preset on Fashion-MNIST, seconds on a CPU),
// load the exported encoder back, embed ten test images. Run: node quickstart.mjs [RUN_DIR]
import { train, loadEncoder, extractFeatures, loadFashionMnist, head } from "byol-ts";

const run = await train({ preset: "smoke" }, { runDir: process.argv[2], evaluate: false, quiet: true });
// encoder.safetensors stands alone: the weights, the architecture and the normalisation it was trained with.
const { encoder, meta } = loadEncoder(`${run.runDir}/encoder.safetensors`);
const images = head(loadFashionMnist(undefined, "test"), 10);
const embeddings = extractFeatures((x) => encoder.forward(x), images, { mean: meta.mean, std: meta.std });
console.log(JSON.stringify({ runDir: run.runDir, shape: embeddings.shape }));

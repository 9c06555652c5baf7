// `node dist/bench/label-fractions.js`: seconds the semi-supervised protocol adds to the main job's
// evaluation on Fashion-MNIST-shaped features (60,000 train and 10,000 test rows; 128-d as the cpu
// preset's encoder, 784-d as raw pixels). The cost depends on the shapes only, so random features
// stand in for real ones. One JSON line per representation, and the total for the three.
import * as T from "../src/torch/index.js";
import { fractionProbes, LABEL_FRACTIONS } from "../src/eval/label-fractions.js";

T.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
T.manualSeed(0);
const labels = Int32Array.from({ length: 60000 }, (_, i) => (i * 7) % 10);
const testLabels = Int32Array.from({ length: 10000 }, (_, i) => (i * 3) % 10);
let total = 0;
for (const [name, d] of [["byol", 128], ["random_init", 128], ["raw_pixels", 784]] as const) {
  const tr = T.randn([60000, d]).keep();
  const te = T.randn([10000, d]).keep();
  const t0 = performance.now();
  fractionProbes(tr, labels, te, testLabels, LABEL_FRACTIONS, 0, { numClasses: 10 });
  const s = (performance.now() - t0) / 1000;
  total += s;
  console.log(JSON.stringify({ representation: name, dim: d, fractions: LABEL_FRACTIONS, seconds: Math.round(s * 100) / 100 }));
  tr.dispose();
  te.dispose();
}
console.log(JSON.stringify({ total_seconds: Math.round(total * 100) / 100 }));

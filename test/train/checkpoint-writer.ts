// Child process for the atomicity test: writes a large checkpoint over and over until killed.
import * as T from "../../src/torch/index.js";
import { presetConfig } from "../../src/train/config.js";
import { saveCheckpoint } from "../../src/train/checkpoint.js";

const runDir = process.argv[2];
const big = T.randn([4_000_000]).keep();
process.stdout.write("ready\n");
for (let i = 1; ; i++) {
  saveCheckpoint(runDir, { step: 1000 + i, epoch: 0, stepInEpoch: 0, config: presetConfig("smoke"), extra: {} }, { w: big });
}

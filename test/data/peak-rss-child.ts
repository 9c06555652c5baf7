// Child process for the memory tests: runs one reader on one file, then prints the error (if any) and
// this process's peak resident memory (VmHWM) as one JSON line. Not a test file itself.
import { readFileSync } from "node:fs";
import { readIdxImages } from "../../src/data/idx.js";

const [kind, path] = process.argv.slice(2);
let message: string | null = null;
try {
  if (kind === "idx") readIdxImages(path);
  else if (kind === "encoder") {
    const { readEncoderFile } = await import("../../src/train/export.js");
    const { makeEncoder } = await import("../../src/train/build.js");
    const { presetConfig } = await import("../../src/train/config.js");
    // What byol embed does with an encoder file: read it, then build the network it describes.
    const { meta } = readEncoderFile(path);
    const cfg = presetConfig("cpu");
    cfg.encoder = meta.encoder;
    makeEncoder(cfg, meta.channels);
  } else throw new Error(`unknown kind ${kind}`);
} catch (e) {
  message = (e as Error).message;
}
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
process.stdout.write(JSON.stringify({ message, peakRssMiB: Number(hwm) / 1024 }) + "\n");

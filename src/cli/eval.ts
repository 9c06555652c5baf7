// `byol eval RUN_DIR`: re-evaluates a finished (or interrupted) run from its saved encoder.
import { UserError } from "../util/errors.js";
import { evaluateRunDir } from "../train/evaluate-run.js";
import { parse } from "./args.js";

export const EVAL_HELP = `byol eval RUN_DIR [--device DEV] [--threads N]
  Re-evaluates a run: kNN and linear top-1 of its encoder against its own step-0 weights
  (encoder-step0.safetensors), another random initialisation and raw pixels on the test split (for a labelled folder without one, its held-out part); rewrites
  RUN_DIR/eval.json and RUN_DIR/report.html. Uses RUN_DIR/encoder.safetensors, or the online
  encoder of the last checkpoint if training did not finish.`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { device: { type: "string" }, threads: { type: "string" }, help: { type: "boolean" }, quiet: { type: "boolean" } }, "eval");
  if (values.help) {
    console.log(EVAL_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UserError("eval: expected exactly one RUN_DIR (see byol eval --help)");
  const log = (s: string) => !values.quiet && process.stderr.write(s + "\n");
  const result = await evaluateRunDir(positionals[0], {
    device: values.device, threads: values.threads === undefined ? undefined : Number(values.threads), log,
  });
  console.log(JSON.stringify(result));
  return 0;
}

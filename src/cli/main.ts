// The `byol` command: dispatches to a subcommand; user errors end with one line and exit code 2.
import { UserError } from "../util/errors.js";
import { fromSystemError } from "../util/io-error.js";
import { TRAIN_HELP, trainCommand } from "./train.js";
import { EVAL_HELP, evalCommand } from "./eval.js";
import { EMBED_HELP, embedCommand } from "./embed.js";
import { PREVIEW_HELP, previewCommand } from "./preview.js";
import { EXPORT_HELP, exportCommand } from "./export.js";
import { ABLATE_HELP, ablateCommand } from "./ablate.js";

const HELP = `byol — BYOL self-supervised learning on libtorch, from TypeScript

usage: byol <command> [options]
  train     pretrain an encoder, evaluate it, write a run folder (the default command)
  eval      re-evaluate a run folder
  embed     write embeddings of images with a trained encoder
  export    write a run's encoder as ONNX (encoder.onnx), for runtimes without libtorch
  preview   write a PNG grid of the two augmented views
  ablate    run the table of BYOL ablations (one run per variant, ablation.json, ablation.html)

${TRAIN_HELP}

${EVAL_HELP}

${EMBED_HELP}

${EXPORT_HELP}

${PREVIEW_HELP}

${ABLATE_HELP}`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case "train":
      return cmd === undefined ? trainCommand([]) : trainCommand(rest);
    case "eval":
      return evalCommand(rest);
    case "embed":
      return embedCommand(rest);
    case "preview":
      return previewCommand(rest);
    case "export":
      return exportCommand(rest);
    case "ablate":
      return ablateCommand(rest);
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return 0;
    default:
      if (cmd.startsWith("-")) return trainCommand(argv);
      throw new UserError(`unknown command "${cmd}" (expected train, eval, embed, export, preview or ablate; see byol --help)`);
  }
}

function isUserFacing(e: unknown): e is Error {
  return e instanceof UserError || (e instanceof Error && (e as { code?: string }).code === "ERR_TORCH");
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    // A file-system failure no caller wrapped (a full disk, a read-only folder) is still the user's to fix.
    const e = fromSystemError(err) ?? err;
    if (isUserFacing(e)) {
      process.stderr.write(`byol: ${e.message.split("\n")[0]}\n`);
      process.exit(2);
    }
    process.stderr.write(`byol: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);

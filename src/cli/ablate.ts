// `byol ablate`: the table of BYOL ablations on one dataset, an equal time budget per variant
// (src/train/ablation.ts does the work).
import { UserError } from "../util/errors.js";
import { ABLATION_VARIANTS, DEFAULT_ABLATION_LIMIT, DEFAULT_VARIANT_BUDGET_S, parseVariantNames, runAblation } from "../train/ablation.js";
import { parseDuration } from "../train/time-budget.js";
import { parse } from "./args.js";
import { resolveTrainConfig } from "./train.js";

export const ABLATE_HELP = `byol ablate --out DIR [options]
  Trains and evaluates each variant of the ablation table with the same time budget, one run folder
  per variant under DIR, then writes DIR/ablation.json and DIR/ablation.html. Resumable: a finished
  variant is not run again; run the same command again after an interruption.
  Variants: ${ABLATION_VARIANTS.map((v) => v.name).join(", ")}
  --out DIR             the table's folder (required)
  --only NAMES          comma-separated variants to run (the others' finished folders stay in the table)
  --time-budget T       training time per variant (default ${DEFAULT_VARIANT_BUDGET_S}s: the cpu table in ~30 minutes on 2 cores)
  --limit N             pretraining images per variant (default ${DEFAULT_ABLATION_LIMIT}, or the preset's if smaller:
                        the budget must fit at least one epoch)
  --preset NAME  --dataset NAME  --data-dir DIR  --device DEV  --seed N  --threads N
  --set FIELD=VALUE     any configuration field of the base run (not ablation.*: the variants set those)
  --label-fractions     also train the 1% / 10% label probes in each evaluation (off: they cost time)
  --quiet               no progress output`;

const OPTIONS = {
  out: { type: "string" }, only: { type: "string" }, "time-budget": { type: "string" }, preset: { type: "string" }, dataset: { type: "string" },
  "data-dir": { type: "string" }, limit: { type: "string" }, device: { type: "string" }, seed: { type: "string" }, threads: { type: "string" },
  set: { type: "string", multiple: true }, "label-fractions": { type: "boolean" }, quiet: { type: "boolean" }, help: { type: "boolean" },
} as const;

export async function ablateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, "ablate");
  if (values.help) {
    console.log(ABLATE_HELP);
    return 0;
  }
  if (positionals.length) throw new UserError(`ablate: unexpected argument "${positionals[0]}" (see byol ablate --help)`);
  if (!values.out) throw new UserError("ablate: --out DIR is required (see byol ablate --help)");
  const sets: string[] = values.set ?? [];
  const own = sets.find((kv) => kv.startsWith("ablation."));
  if (own) throw new UserError(`ablate: --set ${own.split("=")[0]} is not for byol ablate: each variant sets the ablation switches itself`);
  const budget = values["time-budget"] === undefined ? DEFAULT_VARIANT_BUDGET_S : parseDuration(values["time-budget"]);
  if (budget === null) throw new UserError("ablate: --time-budget must be a duration: every variant gets the same training time");
  const only = values.only === undefined ? undefined : parseVariantNames(values.only);
  const base = resolveTrainConfig({
    preset: values.preset, dataset: values.dataset, "data-dir": values["data-dir"], limit: values.limit, device: values.device,
    seed: values.seed, threads: values.threads, set: sets, "no-label-fractions": !values["label-fractions"],
  });
  if (values.limit === undefined) base.datasetLimit = Math.min(base.datasetLimit ?? Infinity, DEFAULT_ABLATION_LIMIT);
  await runAblation({ out: values.out, base, timeBudgetS: budget, only, quiet: values.quiet });
  return 0;
}

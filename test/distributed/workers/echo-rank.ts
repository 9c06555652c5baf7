// Child script for launcher.test.ts: prints what the launcher gave it (torchrun's variables and its
// arguments); `--fail-rank R` makes rank R exit with code 3 while the others would wait for a minute.
import { isWorker } from "./common.js";

if (isWorker()) {
  const e = process.env;
  const args = process.argv.slice(2);
  console.log(JSON.stringify({ RANK: e.RANK, WORLD_SIZE: e.WORLD_SIZE, LOCAL_RANK: e.LOCAL_RANK, MASTER_ADDR: e.MASTER_ADDR, MASTER_PORT: e.MASTER_PORT, args }));
  process.stderr.write("progress 1\rprogress 2\n");
  const i = args.indexOf("--fail-rank");
  if (i >= 0) {
    if (Number(args[i + 1]) === Number(e.RANK)) {
      setTimeout(() => process.exit(3), 300);
    } else {
      setTimeout(() => process.exit(0), 60_000);
    }
  }
}

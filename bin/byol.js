#!/usr/bin/env node
// The `byol` command. The TypeScript is compiled to dist/ by `npm run build:ts` (scripts/bootstrap.sh does it).
import { existsSync } from "node:fs";
const entry = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  console.error("byol: not built yet; run: bash scripts/bootstrap.sh");
  process.exit(1);
}
await import(entry.href);

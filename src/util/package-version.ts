// The installed byol-ts version, read once from the package's own package.json (found by walking up
// from this file, which sits in src/util or dist/src/util), for the files byol writes to record.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | null = null;

/** byol-ts's version ("unknown" when no package.json of byol-ts is found above this file). */
export function packageVersion(): string {
  if (cached !== null) return cached;
  cached = "unknown";
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const p = join(dir, "package.json");
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, "utf8")) as { name?: unknown; version?: unknown };
        if (pkg.name === "byol-ts" && typeof pkg.version === "string") {
          cached = pkg.version;
          break;
        }
      } catch {
        /* not ours: keep looking */
      }
    }
    if (dirname(dir) === dir) break;
  }
  return cached;
}

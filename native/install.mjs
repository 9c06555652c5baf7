#!/usr/bin/env node
// The package's install step: builds the native addon against libtorch (found by find-libtorch.mjs)
// with node-gyp, unless there is nothing to do:
//   - BYOL_NATIVE names an addon that is already built (the library loads that file instead);
//   - native/build/Release/byol_native.node exists and is newer than every source file;
//   - this is a development checkout (not under node_modules/), where scripts/bootstrap.sh and
//     `npm run build:native` build the addon as a step of their own.
// npm runs this for `npm install byol-ts` (and for `npm ci` in a checkout, which it leaves alone). It says what it does on
// stderr, and a failed build fails the install with node-gyp's own diagnostics above one last line.
import { existsSync, readdirSync, statSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const addon = join(here, "build", "Release", "byol_native.node");
const say = (s) => process.stderr.write(`byol-ts install: ${s}\n`);

function newestSource() {
  const files = ["binding.gyp", "find-libtorch.mjs", ...readdirSync(join(here, "src")).map((f) => join("src", f))];
  return Math.max(...files.map((f) => statSync(join(here, f)).mtimeMs));
}

const given = process.env.BYOL_NATIVE;
if (given) {
  if (!existsSync(given)) {
    say(`BYOL_NATIVE=${given} does not exist; unset it to build the addon here`);
    process.exit(1);
  }
  say(`using the addon BYOL_NATIVE names (${given}); not building native/ (set BYOL_NATIVE when running too)`);
  process.exit(0);
}
if (!here.split(/[\\/]/).includes("node_modules")) {
  say("development checkout: build the addon with npm run build:native (scripts/bootstrap.sh does)");
  process.exit(0);
}
if (existsSync(addon) && statSync(addon).mtimeMs >= newestSource()) {
  say("native addon is built and up to date");
  process.exit(0);
}

say("building the native addon against libtorch with node-gyp (a few minutes)");
// npm hands its bundled node-gyp to install scripts (npm_config_node_gyp); outside npm, use PATH's.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ["node-gyp", []];
const jobs = String(Math.max(1, Math.min(4, (await import("node:os")).availableParallelism())));
const r = spawnSync(cmd, [...args, "rebuild", "-j", jobs], { cwd: here, stdio: ["ignore", "inherit", "inherit"] });
if (r.error || r.status !== 0) {
  say(`building the native addon failed (${r.error ? r.error.message : `node-gyp exit ${r.status}`}); libtorch: apt-get install -y libtorch-dev libgloo-dev, or LIBTORCH=/path/to/libtorch`);
  process.exit(1);
}
say(`built ${addon}`);

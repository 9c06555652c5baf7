// The package as a user gets it: `npm pack`, `npm install` of the tarball into an empty folder, then
// the library examples (examples/quickstart.mjs, the README's; examples/library.mjs, docs/library.md's;
// both shipped in the package) run there, the entry
// imported by name, and its types checked by tsc. The install reuses the addon this checkout built
// (BYOL_NATIVE), as the install script allows, instead of compiling it again.
//
// The tarball is packed with --ignore-scripts from the dist/ this test itself runs from (`npm test`
// compiles it first), so packing does not recompile it under the running suite; `npm pack` alone
// runs the prepack script, which compiles dist/ first.
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { removeDir, tmpDir } from "../data/fixtures.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ADDON = process.env.BYOL_NATIVE ?? join(ROOT, "native", "build", "Release", "byol_native.node");
const root = tmpDir("pack-install");
after(() => removeDir(root));

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, ...env }, timeout: 240_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

test("npm pack, npm install the tarball into an empty folder, run the library example there", { timeout: 600_000 }, () => {
  const seconds: Record<string, number> = {};
  const timed = <T>(name: string, fn: () => T): T => {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      seconds[name] = Math.round((performance.now() - t0) / 100) / 10;
    }
  };
  assert.ok(existsSync(ADDON), `the addon must be built first (${ADDON})`);
  const packDir = join(root, "pack");
  mkdirSync(packDir);
  const packed = timed("pack", () => run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", packDir], ROOT));
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const files = info.files.map((f) => f.path);
  for (const want of ["dist/src/index.js", "dist/src/index.d.ts", "bin/byol.js", "native/binding.gyp", "native/find-libtorch.mjs", "native/install.mjs", "native/src/addon.cc", "README.md", "examples/library.mjs", "examples/quickstart.mjs"]) {
    assert.ok(files.includes(want), `the tarball holds ${want}`);
  }
  const stray = files.filter((f) => /^(test|dist\/test|dist\/bench|bench|src|node_modules|native\/build|scripts)\//.test(f) || f.endsWith(".map"));
  assert.deepEqual(stray, [], "no tests, sources, build outputs or node_modules in the tarball");

  const user = join(root, "user");
  mkdirSync(user);
  writeFileSync(join(user, "package.json"), JSON.stringify({ name: "user-project", private: true }));
  const env = { BYOL_NATIVE: ADDON };
  const inst = timed("install", () => run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--foreground-scripts", join(packDir, info.filename)], user, env));
  assert.match(inst.stdout + inst.stderr, /byol-ts install: using the addon BYOL_NATIVE names/);
  const pkg = join(user, "node_modules", "byol-ts");
  assert.deepEqual(readdirSync(pkg).sort(), ["README.md", "bin", "dist", "examples", "native", "package.json"]);

  // The example the README shows, run as a user would: node library.mjs RUN_DIR.
  copyFileSync(join(pkg, "examples", "library.mjs"), join(user, "library.mjs"));
  const ex = timed("example", () => run(process.execPath, ["library.mjs", "example-run"], user, env));
  const out = JSON.parse(ex.stdout.trim().split("\n").pop()!) as { runDir: string; embeddings: number[][] };
  assert.equal(out.embeddings.length, 10, "10 embeddings");
  for (const row of out.embeddings) {
    assert.equal(row.length, 32, "of the example encoder's dimension");
    assert.ok(row.every(Number.isFinite), "finite");
  }
  assert.notDeepEqual(out.embeddings[0], out.embeddings[1], "different images, different embeddings");
  for (const f of ["config.json", "metrics.jsonl", "encoder.safetensors"]) assert.ok(existsSync(join(user, "example-run", f)), f);

  // The README's ten lines, run the same way: train, load the exported encoder back, embed.
  copyFileSync(join(pkg, "examples", "quickstart.mjs"), join(user, "quickstart.mjs"));
  const qs = timed("quickstart", () => run(process.execPath, ["quickstart.mjs", "quickstart-run"], user, env));
  const q = JSON.parse(qs.stdout.trim().split("\n").pop()!) as { runDir: string; shape: number[] };
  assert.equal(q.shape.length, 2);
  assert.equal(q.shape[0], 10, "10 embeddings");
  assert.ok(q.shape[1]! > 0, "of the encoder's representation size");
  assert.ok(existsSync(join(user, "quickstart-run", "encoder.safetensors")), "the quickstart's run folder");

  // The entry by name, from the user's folder, and its types.
  const imp = run(process.execPath, ["-e", 'import("byol-ts").then((m) => console.log(JSON.stringify([typeof m.train, typeof m.evaluate, typeof m.Module, typeof m.BYOL, typeof m.torch.zeros])))'], user, env);
  assert.deepEqual(JSON.parse(imp.stdout), ["function", "function", "function", "function", "function"]);
  writeFileSync(join(user, "check.ts"), [
    'import { train, torch, type TrainConfig, type RunResult, type Encoder } from "byol-ts";',
    "const go = (c: Partial<TrainConfig>): Promise<RunResult> => train(c);",
    "const t: torch.Tensor = torch.zeros([2, 3]);",
    "const e: Encoder | null = null;",
    "void go; void t; void e;",
  ].join("\n"));
  timed("tsc", () => run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext",
    "--target", "es2022", "--typeRoots", join(ROOT, "node_modules", "@types"), "--types", "node", "check.ts"], user));
  process.stderr.write(`pack-install: seconds ${JSON.stringify(seconds)}\n`);
});

test("the README's Library section shows examples/quickstart.mjs verbatim, docs/library.md examples/library.mjs", () => {
  const verbatim = (doc: string, example: string) => {
    const code = readFileSync(join(ROOT, "examples", example), "utf8").trim();
    const text = readFileSync(join(ROOT, doc), "utf8");
    assert.ok(text.includes("```js\n" + code + "\n```"), `${doc} shows examples/${example}, character for character`);
  };
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  assert.ok(readme.includes("## Library"), "README has a Library section");
  verbatim("README.md", "quickstart.mjs");
  verbatim("docs/library.md", "library.mjs");
});

#!/usr/bin/env node
// Targeted mutation testing: each mutant in scripts/mutants.json breaks one thing the method depends on
// (a schedule, the target update, an exclusion, a restore), and the test files it names must notice.
// For each mutant: copy the repository to a temporary folder (node_modules and the addon build are
// linked, not copied), apply that one edit, compile with tsc, run the named test files with
// `node --test`, and record whether they failed (killed) or passed (survived).
//
// The search text must occur exactly once in its file, so that a refactor that moves the code fails
// loudly here instead of turning the mutant into a no-op that "survives" or is "killed" by accident.
//
//   node scripts/mutants.mjs                 all mutants (first checks that the named tests pass unmutated)
//   node scripts/mutants.mjs --only a,b      some of them
//   node scripts/mutants.mjs --list          the list, nothing run
//   node scripts/mutants.mjs --no-baseline   skip the unmutated check
//   node scripts/mutants.mjs --keep          keep the temporary copies (their paths are printed)
//
// Exit status: 0 when every mutant run was killed, 1 when one survived, 2 on a broken mutant or setup.
// Not part of CI: a full run compiles once per mutant and takes minutes.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const listPath = join(root, "scripts", "mutants.json");
// What a compiled copy needs; everything else (dist, runs, .git) stays behind.
const COPY = ["src", "test", "bench", "bin", "scripts", "native", "package.json", "tsconfig.json"];
const LINK = ["node_modules", "native/build"];

function die(msg) {
  console.error(`mutants: ${msg}`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { only: null, list: false, baseline: true, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--only") o.only = (argv[++i] ?? "").split(",").filter(Boolean);
    else if (a === "--list") o.list = true;
    else if (a === "--no-baseline") o.baseline = false;
    else if (a === "--keep") o.keep = true;
    else die(`unknown argument "${a}" (see the header of scripts/mutants.mjs)`);
  }
  return o;
}

function loadMutants() {
  const list = JSON.parse(readFileSync(listPath, "utf8"));
  if (!Array.isArray(list) || list.length === 0) die(`${relative(root, listPath)} must be a non-empty array`);
  const seen = new Set();
  for (const m of list) {
    for (const k of ["id", "file", "search", "tests"]) if (!(k in m)) die(`a mutant lacks "${k}": ${JSON.stringify(m)}`);
    if (!("replace" in m)) die(`mutant ${m.id} lacks "replace"`);
    if (seen.has(m.id)) die(`duplicate mutant id ${m.id}`);
    seen.add(m.id);
    if (!Array.isArray(m.tests) || m.tests.length === 0) die(`mutant ${m.id}: "tests" must list test files`);
  }
  return list;
}

/** Applies one mutant to a source text; throws unless its search matches exactly once. */
export function applyMutant(text, m) {
  if (m.regex) {
    const re = new RegExp(m.search, "g");
    const hits = [...text.matchAll(re)];
    if (hits.length !== 1) throw new Error(`mutant ${m.id}: /${m.search}/ matches ${hits.length} times in ${m.file} (must be exactly once)`);
    return text.replace(new RegExp(m.search), m.replace);
  }
  const first = text.indexOf(m.search);
  const count = first < 0 ? 0 : text.split(m.search).length - 1;
  if (count !== 1) throw new Error(`mutant ${m.id}: the search text occurs ${count} times in ${m.file} (must be exactly once): ${JSON.stringify(m.search)}`);
  return text.slice(0, first) + m.replace + text.slice(first + m.search.length);
}

/** test/a/*.test.ts or test/a/b.test.ts (or .js) → the compiled files under dist/, in a copy at `dir`. */
function compiledTests(dir, patterns) {
  const out = [];
  for (const p of patterns) {
    const js = join("dist", p.replace(/\.ts$/, ".js"));
    const folder = dirname(js);
    const base = js.slice(folder.length + 1);
    if (!base.includes("*")) {
      out.push(js);
      continue;
    }
    const re = new RegExp("^" + base.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
    const full = join(dir, folder);
    const hits = existsSync(full) ? readdirSync(full).filter((f) => re.test(f)).sort().map((f) => join(folder, f)) : [];
    if (hits.length === 0) throw new Error(`no compiled test matches ${p}`);
    out.push(...hits);
  }
  for (const f of out) if (!existsSync(join(dir, f))) throw new Error(`test file ${f} does not exist (after compiling)`);
  return out;
}

function makeCopy() {
  const dir = mkdtempSync(join(tmpdir(), "byol-mutant-"));
  const linked = (s) => LINK.some((l) => s === join(root, l) || s.startsWith(join(root, l) + "/"));
  for (const p of COPY) if (existsSync(join(root, p))) cpSync(join(root, p), join(dir, p), { recursive: true, filter: (s) => !linked(s) });
  for (const p of LINK) {
    const src = join(root, p);
    if (!existsSync(src)) die(`${p} is missing: build the project first (npm run build)`);
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    symlinkSync(realpathSync(src), join(dir, p));
  }
  return dir;
}

function run(cmd, args, cwd, timeoutMs) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: timeoutMs, env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "1" } });
  return { code: r.status, signal: r.signal, out: (r.stdout ?? "") + (r.stderr ?? ""), s: (Date.now() - t0) / 1000 };
}

function compile(dir) {
  const tsc = join(dir, "node_modules", "typescript", "bin", "tsc");
  return run(process.execPath, [tsc, "-p", "tsconfig.json"], dir, 300_000);
}

function runTests(dir, files) {
  return run(process.execPath, ["--test", "--test-concurrency=1", ...files], dir, 900_000);
}

/** Returns {id, status: killed|survived|broken, seconds, detail}. */
function runMutant(m, opts) {
  const t0 = Date.now();
  const dir = makeCopy();
  const result = { id: m.id, file: m.file, status: "broken", seconds: 0, detail: "" };
  try {
    const path = join(dir, m.file);
    if (!existsSync(path)) throw new Error(`mutant ${m.id}: ${m.file} does not exist`);
    writeFileSync(path, applyMutant(readFileSync(path, "utf8"), m));
    const c = compile(dir);
    if (c.code !== 0) {
      // A mutant that does not compile says nothing about the tests: it is a broken mutant.
      result.detail = `tsc failed:\n${c.out.split("\n").slice(0, 8).join("\n")}`;
      return result;
    }
    const files = compiledTests(dir, m.tests);
    const t = runTests(dir, files);
    result.status = t.code === 0 ? "survived" : "killed";
    const failing = t.out.split("\n").filter((l) => /^not ok|^# fail|^\s+not ok/.test(l)).slice(0, 4);
    result.detail = t.signal ? `tests ended by ${t.signal}` : t.code === 0 ? `all ${files.length} named test files passed` : failing.join(" | ");
  } catch (e) {
    result.detail = e.message;
  } finally {
    result.seconds = Math.round((Date.now() - t0) / 100) / 10;
    if (opts.keep) console.log(`  (copy kept at ${dir})`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

function baseline(mutants) {
  const files = [...new Set(mutants.flatMap((m) => m.tests))];
  console.log(`baseline: the ${files.length} named test file patterns must pass on the unmutated code`);
  const dir = makeCopy();
  try {
    const c = compile(dir);
    if (c.code !== 0) die(`the unmutated code does not compile:\n${c.out}`);
    // Every mutant's search text must be found before anything is run.
    for (const m of mutants) applyMutant(readFileSync(join(dir, m.file), "utf8"), m);
    const t = runTests(dir, compiledTests(dir, files));
    if (t.code !== 0) die(`the named tests fail on the unmutated code; fix them first:\n${t.out.split("\n").filter((l) => /not ok/.test(l)).join("\n")}`);
    console.log(`baseline: passed in ${t.s.toFixed(0)} s`);
  } catch (e) {
    die(e.message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const opts = parseArgs(process.argv.slice(2));
let mutants = loadMutants();
if (opts.only) {
  const unknown = opts.only.filter((id) => !mutants.some((m) => m.id === id));
  if (unknown.length) die(`unknown mutant id(s): ${unknown.join(", ")}`);
  mutants = mutants.filter((m) => opts.only.includes(m.id));
}
if (opts.list) {
  for (const m of mutants) console.log(`${m.id.padEnd(28)} ${m.file.padEnd(28)} ${m.tests.join(" ")}\n${"".padEnd(29)}${m.why ?? ""}`);
  process.exit(0);
}
if (opts.baseline) baseline(mutants);
const results = [];
for (const m of mutants) {
  process.stdout.write(`${m.id} … `);
  const r = runMutant(m, opts);
  results.push(r);
  console.log(`${r.status.toUpperCase()} (${r.seconds} s)${r.status === "killed" ? "" : `\n    ${r.detail}`}`);
}
const killed = results.filter((r) => r.status === "killed").length;
const survived = results.filter((r) => r.status === "survived").map((r) => r.id);
const broken = results.filter((r) => r.status === "broken").map((r) => r.id);
const summary = { total: results.length, killed, survived, broken, score: results.length ? killed / results.length : 0, results };
console.log(JSON.stringify(summary, null, 2));
console.log(`mutation score: ${killed}/${results.length} killed${survived.length ? `; SURVIVED: ${survived.join(", ")}` : ""}${broken.length ? `; BROKEN: ${broken.join(", ")}` : ""}`);
process.exit(broken.length ? 2 : survived.length ? 1 : 0);

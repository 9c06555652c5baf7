// The byol command against hostile run folders, output paths and files, and under I/O faults: every
// refusal or failure is one line on stderr and a non-zero exit; nothing outside the run folder is
// written; no temporary file is left behind; a failed run says which checkpoint is still good.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeSafetensors, encodeSafetensors, type SafetensorsEntry } from "../../src/torch/safetensors-format.js";
import { byol, oneLineError, type CliResult } from "./run-cli.js";
import { writeIdx } from "../data/fixtures.js";

const FAULTY = fileURLToPath(new URL("./faulty-byol.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "byol-hostile-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));
const env = { OMP_NUM_THREADS: "1" };
// 128 images, batch 32: 4 steps per epoch, 8 in all; a checkpoint every 2 steps.
const TRAIN = ["train", "--preset", "smoke", "--set", "datasetLimit=128", "--set", "checkpointEverySteps=2", "--no-eval", "--quiet", "--threads", "1"];
let n = 0;
const fresh = () => join(root, `run${n++}`);

function faulty(fault: string, args: string[]): CliResult {
  const r = spawnSync(process.execPath, [FAULTY, ...args], { encoding: "utf8", timeout: 240_000, env: { ...process.env, ...env, BYOL_FAULT: fault } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under dir (relative paths), to check that no temporary file was left. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
}
const noTemp = (dir: string) => assert.deepEqual(tree(dir).filter((f) => f.includes(".tmp")), [], `temporary files in ${dir}`);

/** Rewrites the checkpoint's metadata with `edit` and its tensor list with `tensors` (bytes only). */
function editCheckpoint(run: string, edit: (m: any) => any, tensors: (e: SafetensorsEntry[]) => SafetensorsEntry[] = (e) => e): string {
  const p = join(run, "checkpoints", "last.safetensors");
  const { entries, metadata } = decodeSafetensors(readFileSync(p));
  writeFileSync(p, Buffer.concat(encodeSafetensors(tensors(entries), { ...metadata, "byol-ts": JSON.stringify(edit(JSON.parse(metadata["byol-ts"]))) })));
  return p;
}

let stopped = ""; // a run stopped after step 2, copied before each test that changes it
let finished = ""; // a finished run with an encoder
before(() => {
  stopped = join(root, "stopped");
  const a = byol([...TRAIN, "--out", stopped, "--stop-after", "2"], { env });
  assert.equal(a.code, 0, a.stderr);
  finished = join(root, "finished");
  const b = byol([...TRAIN, "--out", finished], { env });
  assert.equal(b.code, 0, b.stderr);
});
const copyOf = (run: string) => {
  const d = fresh();
  execFileSync("cp", ["-r", run, d]);
  return d;
};

test("a resumed run refuses a symlinked metrics.jsonl or config.json and leaves the link's target alone", () => {
  for (const name of ["metrics.jsonl", "config.json"]) {
    const run = copyOf(stopped);
    const victim = join(root, `victim-${name}`);
    const original = readFileSync(join(run, name), "utf8");
    writeFileSync(victim, original);
    unlinkSync(join(run, name));
    symlinkSync(victim, join(run, name));
    const line = oneLineError(byol(["train", "--resume", run, "--no-eval", "--quiet", "--threads", "1"], { env }));
    assert.match(line, new RegExp(`cannot write ${run}/${name.replace(".", "\\.")}: it is a symbolic link`));
    assert.match(line, new RegExp(`the last good checkpoint, step 2, is at ${run}/checkpoints/last\\.safetensors$`));
    assert.equal(readFileSync(victim, "utf8"), original, `${name}'s link target is untouched`);
  }
});

test("--out accepts a new or empty folder only; --resume a byol-ts run folder only", () => {
  const other = join(root, "home-like");
  mkdirSync(other);
  writeFileSync(join(other, "config.json"), '{"editor": "vim"}\n');
  writeFileSync(join(other, "metrics.jsonl"), "mine\n");
  assert.match(oneLineError(byol([...TRAIN, "--out", other], { env })), /--out .*home-like is a folder that is neither empty nor a byol-ts run folder/);
  assert.deepEqual(readdirSync(other).sort(), ["config.json", "metrics.jsonl"]);
  assert.equal(readFileSync(join(other, "metrics.jsonl"), "utf8"), "mine\n");
  assert.match(oneLineError(byol(["train", "--resume", other, "--quiet"], { env })), /unknown configuration field "editor"|not a byol-ts run folder/);
  const file = join(root, "a-file");
  writeFileSync(file, "x");
  assert.match(oneLineError(byol([...TRAIN, "--out", file], { env })), /--out .*a-file exists and is not a folder/);
  assert.match(oneLineError(byol([...TRAIN, "--out", stopped], { env })), /already holds a run; continue it with --resume/);
  const link = join(root, "link-to-empty");
  mkdirSync(join(root, "empty-target"));
  symlinkSync(join(root, "empty-target"), link);
  assert.match(oneLineError(byol([...TRAIN, "--out", link], { env })), /--out .*link-to-empty is a symbolic link/);
  assert.deepEqual(readdirSync(join(root, "empty-target")), []);
  // A run folder is known by its checkpoint alone too.
  const ckOnly = copyOf(stopped);
  unlinkSync(join(ckOnly, "config.json"));
  assert.match(oneLineError(byol([...TRAIN, "--out", ckOnly], { env })), /already holds a run/);
  // An empty folder is fine.
  const empty = fresh();
  mkdirSync(empty);
  const r = byol([...TRAIN, "--out", empty, "--stop-after", "1"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(empty, "checkpoints", "last.safetensors")));
});

test("embed and preview refuse an --out that is a link, a folder or a special file", () => {
  const target = join(root, "precious.npy");
  writeFileSync(target, "precious");
  const link = join(root, "emb-link.npy");
  symlinkSync(target, link);
  const enc = join(finished, "encoder.safetensors");
  assert.match(oneLineError(byol(["embed", "--encoder", enc, "--input", "fashion-mnist", "--out", link])), /--out .*emb-link\.npy is a symbolic link/);
  mkdirSync(join(root, "dir.npy"));
  assert.match(oneLineError(byol(["embed", "--encoder", enc, "--input", "fashion-mnist", "--out", join(root, "dir.npy")])), /is a folder, not a file/);
  symlinkSync(target, join(root, "e2.npy.ids.txt"));
  assert.match(oneLineError(byol(["embed", "--encoder", enc, "--input", "fashion-mnist", "--out", join(root, "e2.npy")])), /e2\.npy\.ids\.txt is a symbolic link/);
  assert.match(oneLineError(byol(["preview", "--out", link])), /emb-link\.npy is a symbolic link/);
  assert.match(oneLineError(byol(["embed", "--encoder", "/dev/zero", "--input", "fashion-mnist", "--out", join(root, "z.npy")])), /\/dev\/zero: cannot read safetensors file \(not a regular file/);
  assert.equal(readFileSync(target, "utf8"), "precious");
});

test("hostile checkpoint metadata ends a resume with one line naming the file and the field", () => {
  const cases: [(m: any) => any, RegExp][] = [
    [(m) => ({ ...m, epoch: 1e12 }), /checkpoint field epoch is 1000000000000, past the 2 epochs/],
    [(m) => ({ ...m, stepInEpoch: -3 }), /checkpoint field stepInEpoch must be a non-negative integer, got -3/],
    [(m) => { delete m.extra; return m; }, /checkpoint field extra is missing/],
    [(m) => { delete m.config; return m; }, /checkpoint field config is missing/],
  ];
  for (const [edit, re] of cases) {
    const run = copyOf(stopped);
    const p = editCheckpoint(run, edit);
    const line = oneLineError(byol(["train", "--resume", run, "--no-eval", "--quiet", "--threads", "1"], { env }));
    assert.ok(line.includes(p), line);
    assert.match(line, re);
  }
  // Tensors: a missing one, a wrong shape, an RNG state of the wrong kind.
  const same = (m: any) => m;
  const W = "model.online.encoder.bn1.weight";
  const tensorCases: [(e: SafetensorsEntry[]) => SafetensorsEntry[], RegExp][] = [
    [(e) => e.filter((t) => t.name !== W), /missing .*online\.encoder\.bn1\.weight/],
    [(e) => e.map((t) => (t.name === W ? { ...t, shape: [t.shape[0] / 2], data: t.data.subarray(0, t.data.length / 2) } : t)), /bn1\.weight: shape \[4\] does not match the model's \[8\]/],
    [(e) => e.map((t) => (t.name === "rng.cpu" ? { ...t, dtype: "I8" as const } : t)), /"rng\.cpu" must be a 1-D U8 \(uint8\) tensor, got I8/],
  ];
  for (const [edit, re] of tensorCases) {
    const run = copyOf(stopped);
    const p = editCheckpoint(run, same, edit);
    const line = oneLineError(byol(["train", "--resume", run, "--no-eval", "--quiet", "--threads", "1"], { env }));
    assert.ok(line.includes(p), line);
    assert.match(line, re);
  }
});

test("an I/O fault while training is one line naming the file, the cause and the last good checkpoint", () => {
  // ENOSPC at the second checkpoint (step 4): the one of step 2 is kept, whole, and resumable.
  let run = fresh();
  let line = oneLineError(faulty("ENOSPC:fsync:last.safetensors:2", [...TRAIN, "--out", run]));
  assert.equal(line, `byol: cannot write ${run}/checkpoints/last.safetensors: no space left on device; the last good checkpoint, step 2, is at ${run}/checkpoints/last.safetensors`);
  noTemp(run);
  const resumed = byol(["train", "--resume", run, "--no-eval", "--quiet", "--threads", "1"], { env });
  assert.equal(resumed.code, 0, resumed.stderr);
  // Permission denied before any checkpoint: nothing was kept.
  run = fresh();
  line = oneLineError(faulty("EACCES:open:last.safetensors:1", [...TRAIN, "--out", run]));
  assert.equal(line, `byol: cannot write ${run}/checkpoints/last.safetensors: permission denied; no checkpoint was written`);
  noTemp(run);
  // A read-only file system at the third metrics append (step 6; checkpoint of step 4 kept).
  run = fresh();
  line = oneLineError(faulty("EROFS:append:metrics.jsonl:3", [...TRAIN, "--out", run]));
  assert.equal(line, `byol: cannot write ${run}/metrics.jsonl: read-only file system; the last good checkpoint, step 4, is at ${run}/checkpoints/last.safetensors`);
  // The encoder after the last step: the final checkpoint is kept.
  run = fresh();
  line = oneLineError(faulty("ENOSPC:fsync:encoder.safetensors:1", [...TRAIN, "--out", run]));
  assert.equal(line, `byol: cannot write ${run}/encoder.safetensors: no space left on device; the last good checkpoint, step 8, is at ${run}/checkpoints/last.safetensors`);
  noTemp(run);
  // config.json, the first write of a run: nothing kept.
  run = fresh();
  line = oneLineError(faulty("EROFS:rename:config.json:1", [...TRAIN, "--out", run]));
  assert.equal(line, `byol: cannot write ${run}/config.json: read-only file system; no checkpoint was written`);
  noTemp(run);
});

test("an I/O fault while writing eval.json or report.html is one line; after training it names the last checkpoint", () => {
  const run = copyOf(finished);
  assert.equal(oneLineError(faulty("EACCES:open:eval.json:1", ["eval", run, "--quiet", "--threads", "1"])), `byol: cannot write ${run}/eval.json: permission denied`);
  assert.equal(oneLineError(faulty("ENOSPC:write:report.html:1", ["eval", run, "--quiet", "--threads", "1"])), `byol: cannot write ${run}/report.html: no space left on device`);
  noTemp(run);
  const fresh1 = fresh();
  const line = oneLineError(faulty("EROFS:rename:report.html:1", [...TRAIN.filter((a) => a !== "--no-eval"), "--out", fresh1]));
  assert.equal(line, `byol: cannot write ${fresh1}/report.html: read-only file system; the last good checkpoint, step 8, is at ${fresh1}/checkpoints/last.safetensors`);
  noTemp(fresh1);
});

test("an I/O fault while writing embeddings is one line, with no temporary file left", () => {
  const data = join(root, "mnist");
  mkdirSync(data);
  const imgs = new Uint8Array(40 * 784).map((_, i) => (i * 7) & 0xff);
  const labels = new Uint8Array(40).map((_, i) => i % 10);
  for (const split of ["train", "t10k"]) {
    writeIdx(join(data, `${split}-images-idx3-ubyte`), 0x803, [40, 28, 28], imgs);
    writeIdx(join(data, `${split}-labels-idx1-ubyte`), 0x801, [40], labels);
  }
  const outDir = join(root, "emb");
  mkdirSync(outDir);
  const args = ["embed", "--encoder", join(finished, "encoder.safetensors"), "--input", `mnist:${data}`, "--out", join(outDir, "e.npy")];
  assert.equal(oneLineError(faulty("ENOSPC:write:e.npy:1", args)), `byol: cannot write ${outDir}/e.npy: no space left on device`);
  assert.deepEqual(tree(outDir), []);
  assert.equal(oneLineError(faulty("EACCES:open:e.npy.ids.txt:1", args)), `byol: cannot write ${outDir}/e.npy.ids.txt: permission denied`);
  assert.deepEqual(tree(outDir), ["e.npy"]);
  const ok = byol(args);
  assert.equal(ok.code, 0, ok.stderr);
});

test("a real full disk (a 3 MiB tmpfs) while training: one line, the last good checkpoint kept", (t) => {
  const mnt = join(root, "tmpfs");
  mkdirSync(mnt);
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt], { encoding: "utf8" });
  if (m.status !== 0) {
    t.skip(`mounting a tmpfs is not permitted here (${(m.stderr || m.error?.message || "").trim()}); the injected faults above cover ENOSPC`);
    return;
  }
  try {
    const run = join(mnt, "run");
    // A checkpoint is about 2.3 MB: the first fits, replacing it needs room for two.
    const line = oneLineError(byol([...TRAIN, "--out", run], { env }));
    assert.equal(line, `byol: cannot write ${run}/checkpoints/last.safetensors: no space left on device; the last good checkpoint, step 2, is at ${run}/checkpoints/last.safetensors`);
    noTemp(run);
  } finally {
    execFileSync("umount", [mnt]);
  }
});

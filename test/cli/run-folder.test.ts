// What counts as a byol-ts run folder, and which output folders a run may write into.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { presetConfig } from "../../src/train/config.js";
import { saveCheckpoint } from "../../src/train/checkpoint.js";
import { checkOutputFile, checkRunFolder, isRunFolder } from "../../src/train/run-folder.js";
import { UserError } from "../../src/util/errors.js";

const root = mkdtempSync(join(tmpdir(), "byol-runfolder-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function folder(files: Record<string, string> = {}): string {
  const d = join(root, `f${n++}`);
  mkdirSync(d);
  for (const [k, v] of Object.entries(files)) writeFileSync(join(d, k), v);
  return d;
}
const refused = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes("\n");

test("a run folder: a byol-ts config.json or a byol-ts checkpoint, in a real directory", () => {
  const cfg = JSON.stringify(presetConfig("smoke"));
  assert.equal(isRunFolder(folder({ "config.json": cfg })), true);
  assert.equal(isRunFolder(folder({ "config.json": JSON.stringify({ preset: "cpu", dataset: "x", epochs: 1, batchSize: 2, encoder: {} }) })), true);
  assert.equal(isRunFolder(folder({ "config.json": "{}" })), false, "no core fields");
  assert.equal(isRunFolder(folder({ "config.json": JSON.stringify({ ...presetConfig("smoke"), editor: "vim" }) })), false, "a foreign field");
  assert.equal(isRunFolder(folder({ "config.json": JSON.stringify({ ...presetConfig("smoke"), preset: "huge" }) })), false, "unknown preset");
  assert.equal(isRunFolder(folder({ "config.json": "not json" })), false);
  assert.equal(isRunFolder(folder()), false);
  const ck = folder();
  saveCheckpoint(ck, { step: 3, epoch: 0, stepInEpoch: 3, config: presetConfig("smoke"), extra: {} }, { w: T.ones([1]) });
  assert.equal(isRunFolder(ck), true);
  const plain = folder();
  mkdirSync(join(plain, "checkpoints"));
  T.saveSafetensors(join(plain, "checkpoints", "last.safetensors"), { w: T.ones([1]) });
  assert.equal(isRunFolder(plain), false, "a safetensors file without byol-ts metadata");
  const link = join(root, "link");
  symlinkSync(ck, link);
  assert.equal(isRunFolder(link), false);
  const fifo = folder();
  execFileSync("mkfifo", [join(fifo, "config.json")]);
  assert.equal(isRunFolder(fifo), false, "a FIFO is not read (and does not block)");
});

test("--out: new or empty folders only; --resume: run folders only", () => {
  checkRunFolder(join(root, "does-not-exist-yet"), false);
  checkRunFolder(folder(), false);
  const run = folder({ "config.json": JSON.stringify(presetConfig("smoke")) });
  assert.throws(() => checkRunFolder(run, false), refused(/already holds a run; continue it with --resume/));
  checkRunFolder(run, true);
  const home = folder({ ".bashrc": "x" });
  assert.throws(() => checkRunFolder(home, false), refused(/is a folder that is neither empty nor a byol-ts run folder/));
  assert.throws(() => checkRunFolder(home, true), refused(/--resume .* is not a byol-ts run folder/));
  assert.throws(() => checkRunFolder(join(home, ".bashrc"), false), refused(/exists and is not a folder/));
  assert.throws(() => checkRunFolder(join(root, "nope"), true), refused(/--resume .* does not exist/));
  symlinkSync(folder(), join(root, "out-link"));
  assert.throws(() => checkRunFolder(join(root, "out-link"), false), refused(/is a symbolic link/));
});

test("output files: a new or regular file only", () => {
  const d = folder({ "old.npy": "x" });
  checkOutputFile(join(d, "new.npy"));
  checkOutputFile(join(d, "old.npy"));
  symlinkSync(join(d, "old.npy"), join(d, "l.npy"));
  assert.throws(() => checkOutputFile(join(d, "l.npy")), refused(/is a symbolic link/));
  assert.throws(() => checkOutputFile(d), refused(/is a folder, not a file/));
  assert.throws(() => checkOutputFile("/dev/null"), refused(/exists and is not a regular file/));
});

// The one writer every file goes through: no symbolic link is followed, temporary files are created
// exclusively under unpredictable names and never left behind, and a failure is one line naming the
// file and the cause.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendToFile, ensureDir, setWriteFaultHook, writeFileAtomic, type WriteStep } from "../../src/util/file-writes.js";
import { IoError } from "../../src/util/io-error.js";
import { UserError } from "../../src/util/errors.js";

const root = mkdtempSync(join(tmpdir(), "byol-writes-"));
after(() => {
  setWriteFaultHook(null);
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
const fresh = () => {
  const d = join(root, `d${n++}`);
  mkdirSync(d);
  return d;
};

/** An error shaped like Node's system errors. */
export function errno(code: string, syscall: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: simulated, ${syscall}`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  return e;
}

test("writes refuse a symbolic link at the target, leaving the link's target untouched", () => {
  const d = fresh();
  const victim = join(d, "victim.txt");
  writeFileSync(victim, "precious\n");
  const link = join(d, "metrics.jsonl");
  symlinkSync(victim, link);
  assert.throws(() => writeFileAtomic(link, "x"), (e: Error) => e instanceof IoError && /metrics\.jsonl: it is a symbolic link/.test(e.message));
  assert.throws(() => appendToFile(link, "x\n"), (e: Error) => e instanceof IoError && /symbolic link/.test(e.message));
  // A dangling link too: appending must not create the file it points to.
  const dangling = join(d, "eval.json");
  symlinkSync(join(d, "nowhere.json"), dangling);
  assert.throws(() => appendToFile(dangling, "x"), /symbolic link/);
  assert.throws(() => writeFileAtomic(dangling, "x"), /symbolic link/);
  assert.equal(readFileSync(victim, "utf8"), "precious\n");
  assert.ok(!existsSync(join(d, "nowhere.json")));
  // A link to a folder is not a folder to write into.
  const real = fresh();
  symlinkSync(real, join(d, "checkpoints"));
  assert.throws(() => ensureDir(join(d, "checkpoints")), /checkpoints: it is a symbolic link/);
  writeFileSync(join(d, "file"), "");
  assert.throws(() => ensureDir(join(d, "file")), (e: Error) => e instanceof IoError && /exists and is not a directory/.test(e.message));
  assert.throws(() => writeFileAtomic(d, "x"), /it is a directory/);
  assert.deepEqual(readdirSync(d).sort(), ["checkpoints", "eval.json", "file", "metrics.jsonl", "victim.txt"]);
});

test("appends go to a regular file and create it when missing", () => {
  const d = fresh();
  const p = join(d, "log.jsonl");
  appendToFile(p, "a\n");
  appendToFile(p, "b\n");
  assert.equal(readFileSync(p, "utf8"), "a\nb\n");
  execFileSync("mkfifo", [join(d, "fifo")]);
  assert.throws(() => appendToFile(join(d, "fifo"), "x"), /not a regular file/);
});

test("temporary files have random names, are created exclusively and hold mode 0644", () => {
  const d = fresh();
  const seen: string[] = [];
  // Observe the temporary name at the write step (the file exists then), twice.
  setWriteFaultHook((step) => {
    if (step === "write") seen.push(...readdirSync(d).filter((f) => f.endsWith(".tmp")));
  });
  try {
    writeFileAtomic(join(d, "a.json"), "1");
    writeFileAtomic(join(d, "a.json"), "2");
  } finally {
    setWriteFaultHook(null);
  }
  assert.equal(seen.length, 2);
  assert.notEqual(seen[0], seen[1]);
  for (const s of seen) assert.match(s, /^\.a\.json\.[0-9a-f]{16}\.tmp$/);
  assert.equal(readFileSync(join(d, "a.json"), "utf8"), "2");
  assert.deepEqual(readdirSync(d), ["a.json"]);
  const st = execFileSync("stat", ["-c", "%a", join(d, "a.json")], { encoding: "utf8" }).trim();
  assert.ok(st === "644" || st === "600", `mode ${st}`);
});

test("a fault at any step of a write is one line naming the file and cause, and leaves no temporary file", () => {
  const causes: [string, RegExp][] = [["ENOSPC", /no space left on device/], ["EACCES", /permission denied/], ["EROFS", /read-only file system/], ["EDQUOT", /disk quota exceeded/]];
  const steps: WriteStep[] = ["open", "write", "fsync", "rename"];
  for (const [code, reason] of causes) {
    for (const step of steps) {
      const d = fresh();
      const p = join(d, "checkpoint.safetensors");
      writeFileSync(p, "old");
      setWriteFaultHook((s) => {
        if (s === step) throw errno(code, s);
      });
      try {
        assert.throws(() => writeFileAtomic(p, [Buffer.from("new"), Buffer.from("er")]), (e: Error) =>
          e instanceof IoError && e instanceof UserError && e.code === code && !e.message.includes("\n") &&
          e.message.startsWith(`cannot write ${p}: `) && reason.test(e.message), `${code} at ${step}`);
      } finally {
        setWriteFaultHook(null);
      }
      assert.deepEqual(readdirSync(d), ["checkpoint.safetensors"], `${code} at ${step} left files behind`);
      assert.equal(readFileSync(p, "utf8"), "old", "the previous file is kept whole");
    }
  }
  const d = fresh();
  setWriteFaultHook((s) => {
    if (s === "append") throw errno("ENOSPC", "open");
  });
  try {
    assert.throws(() => appendToFile(join(d, "m.jsonl"), "x"), /cannot write .*m\.jsonl: no space left on device/);
  } finally {
    setWriteFaultHook(null);
  }
  // A path through a file: ENOTDIR from the real file system.
  writeFileSync(join(d, "f"), "");
  assert.throws(() => writeFileAtomic(join(d, "f", "x.json"), "1"), /cannot write .*f\/x\.json: a part of the path is not a directory/);
});

test("a full file system (a 1 MiB tmpfs) is a one-line error with nothing left behind", (t) => {
  const mnt = join(root, "tmpfs");
  mkdirSync(mnt);
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], { encoding: "utf8" });
  if (r.status !== 0) {
    t.skip(`mounting a tmpfs is not permitted here (${(r.stderr || r.error?.message || "").trim()}); the fault hook tests above cover ENOSPC`);
    return;
  }
  try {
    const p = join(mnt, "big.bin");
    writeFileAtomic(p, Buffer.alloc(600_000, 1));
    // Replacing needs room for the old and the new file at once: 1.2 MB on a 1 MiB file system.
    assert.throws(() => writeFileAtomic(p, Buffer.alloc(600_000, 2)), (e: Error) => e instanceof IoError && e.code === "ENOSPC" && /cannot write .*big\.bin: no space left on device$/.test(e.message));
    assert.deepEqual(readdirSync(mnt), ["big.bin"]);
    assert.equal(readFileSync(p)[0], 1, "the old file is whole");
  } finally {
    execFileSync("umount", [mnt]);
  }
});

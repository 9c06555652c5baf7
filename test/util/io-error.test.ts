// File-system failures become one-line user errors naming the path and the cause.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { describeErrno, fromSystemError, IoError, ioError } from "../../src/util/io-error.js";
import { UserError } from "../../src/util/errors.js";

function errno(code: string, syscall?: string, path?: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: something, ${syscall}`) as NodeJS.ErrnoException;
  e.code = code;
  if (syscall) e.syscall = syscall;
  if (path) e.path = path;
  return e;
}

test("errno codes are named in words", () => {
  assert.equal(describeErrno(errno("ENOSPC")), "no space left on device");
  assert.equal(describeErrno(errno("EACCES")), "permission denied");
  assert.equal(describeErrno(errno("EROFS")), "read-only file system");
  assert.equal(describeErrno(errno("ENOTDIR")), "a part of the path is not a directory");
  assert.equal(describeErrno(errno("EEXIST")), "already exists");
  assert.equal(describeErrno(new Error("first\nsecond")), "first");
});

test("ioError wraps system errors, keeps user errors, and takes a note about what was kept", () => {
  const e = ioError(errno("ENOSPC", "write"), "write", "/r/x.json");
  assert.ok(e instanceof IoError && e instanceof UserError);
  assert.equal(e.message, "cannot write /r/x.json: no space left on device");
  assert.equal((e as IoError).withNote("the last good checkpoint, step 3, is at /r/c").message, "cannot write /r/x.json: no space left on device; the last good checkpoint, step 3, is at /r/c");
  const u = new UserError("mine");
  assert.equal(ioError(u, "write", "/x"), u);
});

test("the CLI's safety net turns a real unwrapped file-system error into one line, and nothing else", () => {
  let real: unknown;
  try {
    mkdirSync("/proc/self/not-allowed-here");
  } catch (e) {
    real = e;
  }
  const u = fromSystemError(real);
  assert.ok(u instanceof IoError, String(real));
  assert.match(u!.message, /^cannot write \/proc\/self\/not-allowed-here: /);
  assert.ok(!u!.message.includes("\n"));
  assert.equal(fromSystemError(new TypeError("x is undefined")), null);
  assert.equal(fromSystemError(errno("ENOSPC")), null, "no syscall: not a system error");
});

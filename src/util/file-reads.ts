// Reading user-supplied files: only regular files are read (a device such as /dev/zero or a FIFO
// would be read without end), and a file is read to the size it had when opened, never more.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { UserError } from "./errors.js";
import { describeErrno } from "./io-error.js";

/** An open regular file: its descriptor and size. Close it with `closeSync(fd)`. */
export interface OpenFile {
  fd: number;
  size: number;
}

/**
 * Opens `path` for reading and checks that it is a regular file; anything else is a UserError that
 * says what could not be read (`what`: "safetensors file", "CIFAR-10 batch", ...).
 */
export function openRegularFile(path: string, what = "file"): OpenFile {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UserError(`${path}: cannot read ${what} (${describeErrno(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new UserError(`${path}: cannot read ${what} (is a directory)`);
    if (!st.isFile()) throw new UserError(`${path}: cannot read ${what} (not a regular file: a device, FIFO or socket is refused)`);
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Reads `length` bytes at `position`; a file that ends early is a UserError. */
export function readExactly(f: OpenFile, position: number, length: number, path: string, what = "file"): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    let r: number;
    try {
      r = readSync(f.fd, buf, got, length - got, position + got);
    } catch (e) {
      throw new UserError(`${path}: cannot read ${what} (${describeErrno(e)})`);
    }
    if (r === 0) throw new UserError(`${path}: ${what} ended early (it shrank while being read)`);
    got += r;
  }
  return buf;
}

/** Reads a whole regular file; `maxBytes` refuses larger files before reading them. */
export function readRegularFile(path: string, what = "file", maxBytes = Infinity): Buffer {
  const f = openRegularFile(path, what);
  try {
    if (f.size > maxBytes) throw new UserError(`${path}: ${what} is ${f.size} bytes, more than the ${maxBytes} allowed`);
    return readExactly(f, 0, f.size, path, what);
  } finally {
    closeSync(f.fd);
  }
}

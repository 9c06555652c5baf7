// File-system failures the user can act on (a full disk, a read-only folder, a path that is a file)
// as one line that names the path and the cause, instead of Node's "ENOSPC: ..., write" and a stack.
import { UserError } from "./errors.js";

const REASONS: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOTDIR: "a part of the path is not a directory",
  EEXIST: "already exists",
  EISDIR: "is a directory",
  ENOENT: "no such file or directory",
  ELOOP: "is a symbolic link",
  EIO: "input/output error",
  EFBIG: "file too large",
  ENAMETOOLONG: "file name too long",
  EMFILE: "too many open files",
  ENFILE: "too many open files",
  ENXIO: "is not a regular file",
  EBUSY: "device or resource busy",
};

/** The errno code of a Node system error, or undefined. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** Whether `e` is a Node system error whose cause `describeErrno` can name. */
export function isKnownIoError(e: unknown): boolean {
  const code = errnoCode(e);
  return code !== undefined && code in REASONS;
}

/** "no space left on device" for ENOSPC, and so on; Node's first message line for other errors. */
export function describeErrno(e: unknown): string {
  const code = errnoCode(e);
  if (code && code in REASONS) return REASONS[code];
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0];
}

/**
 * A failed read or write of one file: a UserError (one line, non-zero exit) that keeps the path and
 * the errno code, so a caller that knows more (training: which checkpoint is still good) can add it.
 */
export class IoError extends UserError {
  constructor(readonly action: string, readonly path: string, readonly reason: string, readonly code?: string, readonly note?: string) {
    super(`cannot ${action} ${path}: ${reason}${note ? `; ${note}` : ""}`);
    this.name = "IoError";
  }

  /** The same failure with a sentence about what was kept (e.g. the last good checkpoint). */
  withNote(note: string): IoError {
    return new IoError(this.action, this.path, this.reason, this.code, note);
  }
}

/** Wraps a Node error from `action` on `path`; an IoError (or other UserError) passes through. */
export function ioError(e: unknown, action: string, path: string): UserError {
  if (e instanceof UserError) return e;
  return new IoError(action, path, describeErrno(e), errnoCode(e));
}

/**
 * A Node system error (errno code, syscall, path) as a one-line UserError, for failures that no
 * caller wrapped; null for any other error, which stays an internal error.
 */
export function fromSystemError(e: unknown): UserError | null {
  if (!(e instanceof Error) || !isKnownIoError(e)) return null;
  const { path, syscall } = e as NodeJS.ErrnoException;
  if (typeof syscall !== "string") return null;
  return new IoError(syscall === "read" || syscall === "open" || syscall === "stat" || syscall === "lstat" ? "access" : "write", path ?? `(${syscall})`, describeErrno(e), errnoCode(e));
}

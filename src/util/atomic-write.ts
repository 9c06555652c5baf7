import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";

// Writes a file so that readers see either the old complete file or the new complete one, never a
// torn one: write a temporary sibling, fsync it, rename it over the target, fsync the directory.
export function writeFileAtomic(path: string, data: Uint8Array | string | Uint8Array[]): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const parts = Array.isArray(data) ? data : [typeof data === "string" ? Buffer.from(data) : data];
  const fd = openSync(tmp, "w");
  try {
    for (const p of parts) {
      let off = 0;
      while (off < p.length) off += writeSync(fd, p, off, p.length - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  try {
    const dfd = openSync(dirname(path), "r");
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* directory fsync is best effort on some filesystems */ }
}

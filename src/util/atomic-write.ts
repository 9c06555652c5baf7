// Kept for the modules that import the atomic writer by this name; the writer itself (no symbolic
// links followed, exclusive temporary files, one-line errors) lives in file-writes.ts.
export { writeFileAtomic } from "./file-writes.js";

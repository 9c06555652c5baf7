// JSON that must be an object (a file's metadata, a description): one reading for every reader, so
// that each refuses non-JSON and non-objects with the same one-line wording.
import { UserError } from "./errors.js";

/** A plain object: not null, not an array. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses `raw` as a JSON object; `what` names it in the error ("PATH: checkpoint metadata"). */
export function parseJsonObject(raw: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new UserError(`${what} is not valid JSON`);
  }
  if (!isPlainObject(v)) throw new UserError(`${what} is not a JSON object`);
  return v;
}

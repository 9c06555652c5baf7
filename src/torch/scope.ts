// Memory scopes: every tensor made inside `tidy(fn)` is freed when fn returns, except the tensors in
// its result and those marked with `keep`. Explicit disposal is the rule; a FinalizationRegistry is
// only a backstop for tensors that escape both.
import { native } from "./native.js";

export interface Disposable {
  dispose(): void;
  readonly kept: boolean;
}

const stack: Disposable[][] = [];

// Called by every new Tensor: it belongs to the innermost open scope, if any.
export function track(t: Disposable): void {
  const top = stack[stack.length - 1];
  if (top) top.push(t);
}

export const finalizer = new FinalizationRegistry<number>((id) => native.release(id));

function collect(value: unknown, into: Set<Disposable>, seen: Set<unknown>): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (isTensorLike(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, seen);
  }
}

function isTensorLike(v: object): v is Disposable {
  return typeof (v as Disposable).dispose === "function" && "kept" in v;
}

/** Runs fn and frees every tensor it made that is not part of its result (arrays and plain objects are searched). */
export function tidy<T>(fn: () => T): T {
  const mine: Disposable[] = [];
  stack.push(mine);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error("tidy() takes a synchronous function; use scopes around each step");
  } finally {
    stack.pop();
  }
  const out = new Set<Disposable>();
  collect(result, out, new Set());
  const parent = stack[stack.length - 1];
  for (const t of mine) {
    if (out.has(t)) parent?.push(t);
    else if (!t.kept) t.dispose();
  }
  return result;
}

/** A scope whose tensors live until `close()`, for code that cannot be written as one function. */
export class Scope {
  private readonly mine: Disposable[] = [];
  private open = true;
  constructor() {
    stack.push(this.mine);
  }
  close(...keepAlive: unknown[]): void {
    if (!this.open) return;
    const i = stack.lastIndexOf(this.mine);
    if (i >= 0) stack.splice(i, 1);
    this.open = false;
    const out = new Set<Disposable>();
    collect(keepAlive, out, new Set());
    const parent = stack[stack.length - 1];
    for (const t of this.mine) {
      if (out.has(t)) parent?.push(t);
      else if (!t.kept) t.dispose();
    }
  }
}

export function liveTensors(): number {
  return native.liveTensors();
}

// Memory scopes: every tensor made inside `tidy(fn)` is freed when fn returns, except the tensors in
// its result and those marked with `keep`. Explicit disposal is the rule; a FinalizationRegistry is
// only a backstop for tensors that escape both.
import { native } from "./native.js";

export interface Disposable {
  dispose(): void;
  readonly kept: boolean;
}

/** What the scopes and the GC backstop need from a tensor (Tensor implements it). */
export interface Tracked extends Disposable {
  /** The addon's handle, negative once disposed. */
  readonly id: number;
  /**
   * Marks the tensor disposed and returns its handle without freeing it, so that a scope can free
   * all its handles in one native call (-1 when already disposed).
   */
  _takeHandle(): number;
  /** Whether the FinalizationRegistry holds it; written by this module only. */
  _registered: boolean;
}

const stack: Tracked[][] = [];

const finalizer = new FinalizationRegistry<number>((id) => native.release(id));

// The backstop is registered lazily. FinalizationRegistry.register + unregister cost about as much as
// a small op itself, and most tensors are disposed soon after they are made (by a scope, or by hand),
// so tensors that belong to no scope wait in `pending` (a strong reference) and are registered at the
// next flush only if they are still alive then. A flush happens every PENDING_MAX waiting tensors and
// at the end of the current job (a microtask), so an escaped tensor is covered almost at once.
// Tensors inside a scope are not registered at all: the scope frees them, unless they are kept or
// returned past the outermost scope, and then they come through escape() too.
const PENDING_MAX = 256;
const pending: (Tracked | undefined)[] = [];
let nPending = 0;
let flushQueued = false;

function flushPending(): void {
  for (let i = 0; i < nPending; i++) {
    const t = pending[i]!;
    pending[i] = undefined;
    if (t.id >= 0 && !t._registered) {
      finalizer.register(t, t.id, t);
      t._registered = true;
    }
  }
  nPending = 0;
}

function flushFromMicrotask(): void {
  flushQueued = false;
  flushPending();
}

/** Hands a tensor that no scope will free to the GC backstop. */
export function escape(t: Tracked): void {
  if (t._registered) return;
  pending[nPending++] = t;
  if (nPending >= PENDING_MAX) flushPending();
  else if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flushFromMicrotask);
  }
}

/** Called by every new Tensor: it belongs to the innermost open scope, or else to the backstop. */
export function track(t: Tracked): void {
  // Never index with -1: V8 looks `stack[-1]` up as a named property, on a slow path.
  if (stack.length > 0) stack[stack.length - 1].push(t);
  else escape(t);
}

/** Called by dispose(): the backstop must not free the handle a second time. */
export function untrack(t: Tracked): void {
  if (t._registered) {
    finalizer.unregister(t);
    t._registered = false;
  }
}

function collect(value: unknown, into: Set<Tracked>, seen: Set<unknown>): void {
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

function isTensorLike(v: object): v is Tracked {
  return typeof (v as Tracked).dispose === "function" && "kept" in v && "_registered" in v;
}

// Ends a scope: frees its tensors except those in `result` (moved to the parent scope, or to the
// backstop when there is none) and the kept ones (already with the backstop). The handles are freed
// by one native call: on a GPU the host's cost of a step is its number of native calls.
function release(mine: Tracked[], result: unknown): void {
  const out = new Set<Tracked>();
  if (result !== undefined) collect(result, out, new Set());
  const parent = stack.length > 0 ? stack[stack.length - 1] : undefined;
  const ids: number[] = [];
  for (const t of mine) {
    if (out.has(t)) {
      if (parent) parent.push(t);
      else escape(t);
    } else if (!t.kept) {
      const id = t._takeHandle();
      if (id >= 0) ids.push(id);
    }
  }
  if (ids.length > 0) native.release(ids);
}

/** Runs fn and frees every tensor it made that is not part of its result (arrays and plain objects are searched). */
export function tidy<T>(fn: () => T): T {
  const mine: Tracked[] = [];
  stack.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    // Tensors made before the throw are freed too (they are in no other scope and not registered).
    leave(mine);
    release(mine, undefined);
    throw e;
  }
  leave(mine);
  if (result instanceof Promise) {
    release(mine, undefined);
    throw new Error("tidy() takes a synchronous function; use scopes around each step");
  }
  release(mine, result);
  return result;
}

// Takes a scope off the stack (normally the top one; a Scope left open inside may sit above it).
function leave(mine: Tracked[]): void {
  if (stack.length > 0 && stack[stack.length - 1] === mine) stack.pop();
  else {
    const i = stack.lastIndexOf(mine);
    if (i >= 0) stack.splice(i, 1);
  }
}

/** A scope whose tensors live until `close()`, for code that cannot be written as one function. */
export class Scope {
  private readonly mine: Tracked[] = [];
  private open = true;
  constructor() {
    stack.push(this.mine);
  }
  close(...keepAlive: unknown[]): void {
    if (!this.open) return;
    leave(this.mine);
    this.open = false;
    release(this.mine, keepAlive);
  }
}

/** Tensors the addon currently holds (for leak checks). */
export function liveTensors(): number {
  return native.liveTensors();
}

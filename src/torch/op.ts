// Operator handles: looked up in libtorch's dispatcher once, on first use, then called by index.
import { native } from "./native.js";

export class Op {
  private id = -1;
  constructor(readonly name: string, readonly overload = "") {}
  get handle(): number {
    if (this.id < 0) this.id = native.opLookup(this.name, this.overload);
    return this.id;
  }
  get schema(): string {
    return native.opSchema(this.handle);
  }
}

const cache = new Map<string, Op>();

/** The handle for `aten::name.overload` (one object per operator, shared by all callers). */
export function op(name: string, overload = ""): Op {
  const key = `${name}.${overload}`;
  let o = cache.get(key);
  if (!o) {
    o = new Op(name.includes("::") ? name : `aten::${name}`, overload);
    cache.set(key, o);
  }
  return o;
}

/** Whether this libtorch has the operator (some fused ops arrived after 1.13). */
export function hasOp(name: string, overload = ""): boolean {
  try {
    return op(name, overload).handle >= 0;
  } catch {
    return false;
  }
}

// Calling any ATen operator by name: arguments are converted by the operator's schema in the addon;
// results are wrapped as Tensors where the schema says a tensor is returned.
import { native } from "./native.js";
import { op } from "./op.js";
import { Tensor } from "./tensor.js";

function toArg(v: unknown): unknown {
  if (v instanceof Tensor) return v.id;
  if (Array.isArray(v)) return v.map(toArg);
  return v;
}

function fromResult(v: unknown, kind: string): unknown {
  if (v === null) return null;
  if (kind === "Tensor" || kind === "Tensor?") return new Tensor(v as number);
  if (kind === "Tensor[]") return (v as number[]).map((h) => new Tensor(h));
  return v;
}

const returnKinds = new Map<number, string[]>();

/**
 * callOp("aten::topk", "", x, 3) — any dispatcher operator. Tensors in, Tensors out; a single result
 * is returned as is, several as an array. Prefer the typed functions; this is for everything else.
 */
export function callOp(name: string, overload: string, ...args: unknown[]): any {
  const h = op(name, overload).handle;
  let kinds = returnKinds.get(h);
  if (!kinds) {
    kinds = native.opReturns(h);
    returnKinds.set(h, kinds);
  }
  const out = native.call(h, ...args.map(toArg));
  if (kinds.length === 0) return undefined;
  if (kinds.length === 1) return fromResult(out, kinds[0]);
  return (out as unknown[]).map((v, i) => fromResult(v, kinds![i]));
}

/** The schema of an ATen operator, e.g. opSchema("add", "Tensor"). */
export function opSchema(name: string, overload = ""): string {
  return op(name, overload).schema;
}

// Making tensors: from JavaScript data, filled, random, ranges.
import { native } from "./native.js";
import { op } from "./op.js";
import { DType, DTYPE_CODE, TypedArray, dtypeOfArray } from "./dtype.js";
import { Tensor } from "./tensor.js";

/** dtype (default float32), device (default cpu) and requires-grad of a new tensor. */
export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

const O = {
  zeros: op("zeros"), ones: op("ones"), full: op("full"), empty: op("empty", "memory_format"), rand: op("rand"),
  randn: op("randn"), randint: op("randint", "low"), arange: op("arange", "start_step"), linspace: op("linspace"),
  eye: op("eye"), zerosLike: op("zeros_like"), onesLike: op("ones_like"), fullLike: op("full_like"),
  randLike: op("rand_like"), randnLike: op("randn_like"), randperm: op("randperm"), bernoulli: op("bernoulli"),
  bernoulliP: op("bernoulli", "p"), scalarTensor: op("scalar_tensor"), emptyLike: op("empty_like"),
};

function finish(t: Tensor, o: TensorOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

function dt(o: TensorOptions, fallback: DType = "float32"): number {
  return DTYPE_CODE[o.dtype ?? fallback];
}

/** A tensor holding a copy of `data` (TypedArray or nested number arrays), with the given shape. */
export function tensor(data: TypedArray | number[] | number[][] | number[][][], shape?: number[], o: TensorOptions = {}): Tensor {
  let arr: TypedArray;
  let inferred: number[];
  if (ArrayBuffer.isView(data)) {
    arr = data as TypedArray;
    inferred = [arr.length];
  } else {
    inferred = [];
    let cur: unknown = data;
    while (Array.isArray(cur)) {
      inferred.push(cur.length);
      cur = cur[0];
    }
    const flat = (data as unknown[]).flat(Infinity) as number[];
    arr = o.dtype === "int64" ? BigInt64Array.from(flat, (v) => BigInt(v)) : o.dtype === "int32" ? Int32Array.from(flat)
      : o.dtype === "uint8" || o.dtype === "bool" ? Uint8Array.from(flat) : o.dtype === "float64" ? Float64Array.from(flat) : Float32Array.from(flat);
  }
  const s = shape ?? inferred;
  const natural = dtypeOfArray(arr);
  const wantBool = o.dtype === "bool";
  let t = new Tensor(native.fromBuffer(arr, s, DTYPE_CODE[wantBool ? "uint8" : natural]));
  const want = o.dtype ?? natural;
  if (want !== natural || wantBool) t = replace(t, () => t.to(want));
  if (o.device && o.device !== "cpu") t = replace(t, () => t.to(o.device!));
  return finish(t, o);
}

// make() from t, then t is freed, also when make throws (a bad device, say), so nothing leaks.
function replace(t: Tensor, make: () => Tensor): Tensor {
  try {
    return make();
  } finally {
    t.dispose();
  }
}

/** A 0-dimensional tensor holding v. */
export function scalarTensor(v: number, o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.scalarTensor.handle, v, dt(o), null, o.device ?? null, null)), o);
}
/** A tensor of zeros. */
export function zeros(shape: number[], o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.zeros.handle, shape, dt(o), null, o.device ?? null, null)), o);
}
/** A tensor of ones. */
export function ones(shape: number[], o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.ones.handle, shape, dt(o), null, o.device ?? null, null)), o);
}
/** A tensor filled with value. */
export function full(shape: number[], value: number, o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.full.handle, shape, value, dt(o), null, o.device ?? null, null)), o);
}
/** An uninitialised tensor. */
export function empty(shape: number[], o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.empty.handle, shape, dt(o), null, o.device ?? null, null, null)), o);
}
/** Uniform on [0, 1) from the default generator (seeded by manualSeed). */
export function rand(shape: number[], o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.rand.handle, shape, dt(o), null, o.device ?? null, null)), o);
}
/** Standard normal samples from the default generator. */
export function randn(shape: number[], o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.randn.handle, shape, dt(o), null, o.device ?? null, null)), o);
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: number[], o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.randint.handle, low, high, shape, dt(o, "int64"), null, o.device ?? null, null)), o);
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, o: TensorOptions = {}): Tensor {
  return new Tensor(native.call(O.randperm.handle, n, dt(o, "int64"), null, o.device ?? null, null));
}
/** Values from start (default 0) up to, not including, end in steps (int64 when all are integers). */
export function arange(start: number, end?: number, step = 1, o: TensorOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const isInt = Number.isInteger(s) && Number.isInteger(e) && Number.isInteger(step);
  return finish(new Tensor(native.call(O.arange.handle, s, e, step, DTYPE_CODE[o.dtype ?? (isInt ? "int64" : "float32")], null, o.device ?? null, null)), o);
}
/** steps values evenly spaced from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.linspace.handle, start, end, steps, dt(o), null, o.device ?? null, null)), o);
}
/** The n x n identity matrix. */
export function eye(n: number, o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.eye.handle, n, dt(o), null, o.device ?? null, null)), o);
}
/** Zeros of t's shape, dtype and device. */
export function zerosLike(t: Tensor): Tensor {
  return new Tensor(native.call(O.zerosLike.handle, t.id));
}
/** Ones of t's shape, dtype and device. */
export function onesLike(t: Tensor): Tensor {
  return new Tensor(native.call(O.onesLike.handle, t.id));
}
/** An uninitialised tensor of t's shape, dtype and device. */
export function emptyLike(t: Tensor): Tensor {
  return new Tensor(native.call(O.emptyLike.handle, t.id));
}
/** v everywhere, in t's shape, dtype and device. */
export function fullLike(t: Tensor, v: number): Tensor {
  return new Tensor(native.call(O.fullLike.handle, t.id, v));
}
/** Uniform [0, 1) samples in t's shape, dtype and device. */
export function randLike(t: Tensor): Tensor {
  return new Tensor(native.call(O.randLike.handle, t.id));
}
/** Standard normal samples in t's shape, dtype and device. */
export function randnLike(t: Tensor): Tensor {
  return new Tensor(native.call(O.randnLike.handle, t.id));
}
/** Samples 0/1 with the per-element probabilities in `p`. */
export function bernoulli(p: Tensor): Tensor {
  return new Tensor(native.call(O.bernoulli.handle, p.id, null));
}

// Data types: names used in TypeScript, codes of libtorch's ScalarType enum, and TypedArray mapping.
/** Tensor element types, by the names PyTorch prints. */
export type DType =
  | "uint8" | "int8" | "int16" | "int32" | "int64" | "float16" | "float32" | "float64" | "bool" | "bfloat16";

/** c10::ScalarType values (stable across libtorch versions). */
export const DTYPE_CODE: Record<DType, number> = {
  uint8: 0, int8: 1, int16: 2, int32: 3, int64: 4, float16: 5, float32: 6, float64: 7, bool: 11, bfloat16: 15,
};

const CODE_DTYPE = new Map<number, DType>(Object.entries(DTYPE_CODE).map(([k, v]) => [v, k as DType]));

/** The dtype name of a c10::ScalarType code. */
export function dtypeFromCode(code: number): DType {
  const d = CODE_DTYPE.get(code);
  if (!d) throw new Error(`unsupported dtype code ${code}`);
  return d;
}

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Record<DType, number> = {
  uint8: 1, int8: 1, int16: 2, int32: 4, int64: 8, float16: 2, float32: 4, float64: 8, bool: 1, bfloat16: 2,
};

/** The JavaScript arrays tensor data is read from and written to. */
export type TypedArray =
  | Uint8Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Float32Array | Float64Array;

/** Whether a dtype is a floating-point type. */
export function isFloating(d: DType): boolean {
  return d === "float16" || d === "float32" || d === "float64" || d === "bfloat16";
}

/** The dtype a TypedArray naturally holds. */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof BigInt64Array) return "int64";
  if (a instanceof Uint8Array) return "uint8";
  if (a instanceof Int8Array) return "int8";
  if (a instanceof Int16Array) return "int16";
  throw new Error("unsupported TypedArray");
}

/** Views raw bytes as the TypedArray for a dtype (half types have none: callers convert first). */
export function viewAs(buf: ArrayBuffer, d: DType): TypedArray {
  switch (d) {
    case "float32": return new Float32Array(buf);
    case "float64": return new Float64Array(buf);
    case "int32": return new Int32Array(buf);
    case "int64": return new BigInt64Array(buf);
    case "uint8": case "bool": return new Uint8Array(buf);
    case "int8": return new Int8Array(buf);
    case "int16": return new Int16Array(buf);
    default: throw new Error(`no TypedArray for ${d}; convert with .to("float32") first`);
  }
}

/** c10::MemoryFormat codes. */
export const MEMORY_FORMAT = { contiguous: 0, preserve: 1, channelsLast: 2 } as const;
/** contiguous, preserve or channelsLast. */
export type MemoryFormat = keyof typeof MEMORY_FORMAT;

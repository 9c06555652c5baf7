// Named tensors to and from .safetensors files (the byte format lives in safetensors-format.ts).
import { native } from "./native.js";
import { DType, DTYPE_CODE } from "./dtype.js";
import { Tensor } from "./tensor.js";
import { decodeSafetensors, encodeSafetensors, readSafetensorsFile, setOwn, writeSafetensorsFile } from "./safetensors-format.js";

type StDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";
const TO_ST: Record<DType, StDtype> = {
  float64: "F64", float32: "F32", float16: "F16", bfloat16: "BF16", int64: "I64", int32: "I32",
  int16: "I16", int8: "I8", uint8: "U8", bool: "BOOL",
};
const FROM_ST = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k])) as Record<StDtype, DType>;

function entriesOf(tensors: Record<string, Tensor>) {
  return Object.entries(tensors).map(([name, t]) => ({
    name,
    dtype: TO_ST[t.dtype],
    shape: t.shape,
    data: new Uint8Array(native.toBuffer(t.id)),
  }));
}

/** Tensors and string metadata as safetensors bytes (header, then data chunks). */
export function serializeTensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array[] {
  return encodeSafetensors(entriesOf(tensors), metadata);
}

/** Tensors and metadata from safetensors bytes, on a device. */
export function deserializeTensors(buf: Uint8Array, device = "cpu"): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  return build(decodeSafetensors(buf), device);
}

function build(decoded: ReturnType<typeof decodeSafetensors>, device: string) {
  const tensors: Record<string, Tensor> = {};
  for (const e of decoded.entries) {
    const dtype = FROM_ST[e.dtype as StDtype];
    // Copy into an aligned buffer: the data section offset need not be aligned for the element size.
    const bytes = new Uint8Array(e.data.length);
    bytes.set(e.data);
    let t = new Tensor(native.fromBuffer(bytes, e.shape, DTYPE_CODE[dtype]));
    if (device !== "cpu") {
      try {
        const m = t.to(device);
        t.dispose();
        t = m;
      } catch (err) {
        // A bad device fails on the first tensor: free it and the ones made before it.
        t.dispose();
        for (const done of Object.values(tensors)) done.dispose();
        throw err;
      }
    }
    // (setOwn: a tensor named "__proto__" is an ordinary entry, not the result's prototype.)
    setOwn(tensors, e.name, t);
  }
  return { tensors, metadata: decoded.metadata ?? {} };
}

/** Writes named tensors to a .safetensors file atomically. */
export function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeSafetensorsFile(path, entriesOf(tensors), metadata);
}

/** Reads a .safetensors file; a malformed file raises a UserError naming the problem. */
export function loadSafetensors(path: string, device = "cpu"): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  return build(readSafetensorsFile(path), device);
}

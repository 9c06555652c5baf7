// An ONNX graph under construction: nodes in topological order (each is added after the values it
// reads exist), float32 weights as initializers, unique value names, and the finished ModelProto
// encoded by protobufjs from ONNX's schema (./schema.ts).
import { endianness } from "node:os";
import { AttributeType, DataType, IR_VERSION, OPSET, modelProto } from "./schema.js";

/** One node attribute, with ONNX's attribute type made explicit (an int and a float differ on the wire). */
export type Attr =
  | { name: string; type: "int"; value: number }
  | { name: string; type: "ints"; value: number[] }
  | { name: string; type: "float"; value: number };

export const intAttr = (name: string, value: number): Attr => ({ name, type: "int", value });
export const intsAttr = (name: string, value: number[]): Attr => ({ name, type: "ints", value });
export const floatAttr = (name: string, value: number): Attr => ({ name, type: "float", value });

/** A graph input or output: its name and dims (a string dim is symbolic, e.g. "N" for the batch). */
export interface ValueSpec {
  name: string;
  dims: (number | string)[];
  doc?: string;
}

interface NodeRecord {
  op_type: string;
  name: string;
  input: string[];
  output: string[];
  attribute: object[];
}

/** Builds one ONNX graph; `encode` turns it into the bytes of a .onnx file. */
export class OnnxGraph {
  private readonly nodes: NodeRecord[] = [];
  private readonly initializers: object[] = [];
  private readonly used = new Set<string>();

  /** A value name not used yet, derived from `base` (module paths make readable names). */
  fresh(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_.\-/]/g, "_") || "v";
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  /** A float32 constant (a weight, a bias, the normalisation's mean); returns its value name. */
  constant(base: string, dims: number[], data: Float32Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`ONNX constant ${base}: ${data.length} values for dims [${dims}]`);
    const name = this.fresh(base);
    this.initializers.push({ name, dims, data_type: DataType.FLOAT, raw_data: littleEndianBytes(data) });
    return name;
  }

  /** Appends a node of the default ONNX domain; returns the name of its (single) output. */
  node(op: string, inputs: string[], attrs: Attr[], outBase: string): string {
    const out = this.fresh(outBase);
    this.nodes.push({ op_type: op, name: `${op}:${out}`, input: inputs, output: [out], attribute: attrs.map(encodeAttr) });
    return out;
  }

  /** Appends a node whose output takes exactly `name` (reserved earlier with fresh). */
  nodeNamed(op: string, inputs: string[], name: string): string {
    this.nodes.push({ op_type: op, name: `${op}:${name}`, input: inputs, output: [name], attribute: [] });
    return name;
  }

  /** Nodes so far, by op type (for tests and summaries). */
  opCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const n of this.nodes) counts[n.op_type] = (counts[n.op_type] ?? 0) + 1;
    return counts;
  }

  /** The ModelProto bytes: one float32 input and output, the opset, and string metadata. */
  encode(opts: { name: string; input: ValueSpec; output: ValueSpec; producerVersion: string; doc?: string; metadata: Record<string, string> }): Uint8Array {
    const Model = modelProto();
    const model = {
      ir_version: IR_VERSION,
      opset_import: [{ domain: "", version: OPSET }],
      producer_name: "byol-ts",
      producer_version: opts.producerVersion,
      doc_string: opts.doc ?? "",
      graph: {
        name: opts.name,
        node: this.nodes,
        initializer: this.initializers,
        input: [valueInfo(opts.input)],
        output: [valueInfo(opts.output)],
      },
      metadata_props: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
    };
    const problem = Model.verify(model);
    if (problem) throw new Error(`ONNX model does not match the schema: ${problem}`);
    return Model.encode(Model.fromObject(model)).finish();
  }
}

function valueInfo(v: ValueSpec): object {
  return {
    name: v.name,
    doc_string: v.doc ?? "",
    type: {
      tensor_type: {
        elem_type: DataType.FLOAT,
        shape: { dim: v.dims.map((d) => (typeof d === "string" ? { dim_param: d } : { dim_value: d })) },
      },
    },
  };
}

function encodeAttr(a: Attr): object {
  switch (a.type) {
    case "int":
      return { name: a.name, type: AttributeType.INT, i: a.value };
    case "ints":
      return { name: a.name, type: AttributeType.INTS, ints: a.value };
    case "float":
      return { name: a.name, type: AttributeType.FLOAT, f: a.value };
  }
}

// ONNX's raw_data is little-endian whatever the machine; copy (and swap on a big-endian host).
function littleEndianBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.byteLength);
  if (endianness() === "LE") {
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else {
    const view = new DataView(bytes.buffer);
    data.forEach((v, i) => view.setFloat32(4 * i, v, true));
  }
  return bytes;
}

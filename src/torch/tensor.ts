// The Tensor: a typed handle to a libtorch tensor, with the methods the project's code uses.
import { native } from "./native.js";
import { op } from "./op.js";
import { DType, DTYPE_CODE, MEMORY_FORMAT, MemoryFormat, TypedArray, dtypeFromCode, viewAs } from "./dtype.js";
import { escape, track, untrack } from "./scope.js";

/** A number or boolean where an operation accepts a scalar. */
export type Scalar = number | boolean;
/** A tensor, or a scalar broadcast like one. */
export type TensorOrScalar = Tensor | Scalar;
type Dims = number | number[];

const O = {
  add: op("add", "Tensor"), addS: op("add", "Scalar"), sub: op("sub", "Tensor"), subS: op("sub", "Scalar"),
  mul: op("mul", "Tensor"), mulS: op("mul", "Scalar"), div: op("div", "Tensor"), divS: op("div", "Scalar"),
  neg: op("neg"), powS: op("pow", "Tensor_Scalar"), powT: op("pow", "Tensor_Tensor"), sqrt: op("sqrt"),
  rsqrt: op("rsqrt"), exp: op("exp"), log: op("log"), abs: op("abs"), clamp: op("clamp"),
  clampT: op("clamp", "Tensor"), minimum: op("minimum"), maximum: op("maximum"), relu: op("relu"),
  sigmoid: op("sigmoid"), tanh: op("tanh"), sign: op("sign"), floor: op("floor"), ceil: op("ceil"),
  round: op("round"), sin: op("sin"), cos: op("cos"), reciprocal: op("reciprocal"), square: op("square"),
  remainderS: op("remainder", "Scalar"), remainderT: op("remainder", "Tensor"),
  sum: op("sum"), sumDim: op("sum", "dim_IntList"), mean: op("mean"), meanDim: op("mean", "dim"),
  max: op("max"), min: op("min"), maxDim: op("max", "dim"), minDim: op("min", "dim"), amax: op("amax"),
  amin: op("amin"), argmax: op("argmax"), argmin: op("argmin"), varDim: op("var", "dim"), stdDim: op("std", "dim"),
  norm: op("linalg_vector_norm"), any: op("any"), all: op("all"),
  eq: op("eq", "Tensor"), eqS: op("eq", "Scalar"), ne: op("ne", "Tensor"), neS: op("ne", "Scalar"),
  lt: op("lt", "Tensor"), ltS: op("lt", "Scalar"), le: op("le", "Tensor"), leS: op("le", "Scalar"),
  gt: op("gt", "Tensor"), gtS: op("gt", "Scalar"), ge: op("ge", "Tensor"), geS: op("ge", "Scalar"),
  logicalNot: op("logical_not"), logicalAnd: op("logical_and"), logicalOr: op("logical_or"),
  matmul: op("matmul"), mm: op("mm"), t: op("t"),
  view: op("view"), reshape: op("reshape"), flatten: op("flatten", "using_ints"), squeeze: op("squeeze"),
  squeezeDim: op("squeeze", "dim"), unsqueeze: op("unsqueeze"), permute: op("permute"),
  transpose: op("transpose", "int"), expand: op("expand"), repeat: op("repeat"), narrow: op("narrow"),
  select: op("select", "int"), slice: op("slice", "Tensor"), index: op("index", "Tensor"),
  indexSelect: op("index_select"), gather: op("gather"), chunk: op("chunk"), split: op("split", "Tensor"),
  flip: op("flip"), maskedFill: op("masked_fill", "Scalar"), maskedFillT: op("masked_fill", "Tensor"),
  toDtype: op("to", "dtype"), toDevice: op("to", "device"), contiguous: op("contiguous"), clone: op("clone"),
  detach: op("detach"), softmax: op("softmax", "int"), logSoftmax: op("log_softmax", "int"),
  topk: op("topk"), sort: op("sort"), argsort: op("argsort"), cumsum: op("cumsum"),
  add_: op("add_", "Tensor"), addS_: op("add_", "Scalar"), sub_: op("sub_", "Tensor"), mul_: op("mul_", "Tensor"),
  mulS_: op("mul_", "Scalar"), div_: op("div_", "Tensor"), divS_: op("div_", "Scalar"), copy_: op("copy_"),
  zero_: op("zero_"), fill_: op("fill_", "Scalar"), clamp_: op("clamp_"), addcmul_: op("addcmul_"),
  addcdiv_: op("addcdiv_"), uniform_: op("uniform_"), normal_: op("normal_"), lerp_: op("lerp_", "Scalar"),
  requiresGrad_: op("requires_grad_"), sqrt_: op("sqrt_"), relu_: op("relu_"), neg_: op("neg_"),
  maskedFill_: op("masked_fill_", "Scalar"), bernoulli_: op("bernoulli_", "float"),
};

function dimsArg(d: Dims): number[] {
  return typeof d === "number" ? [d] : d;
}

/** A libtorch tensor: a handle with typed operations; free it with dispose() or inside tidy(). */
export class Tensor {
  /** The addon's handle; -1 once disposed (any later use fails with a clear error). */
  id: number;
  private _kept = false;
  /** @internal Whether the GC backstop holds this tensor (managed by scope.ts). */
  _registered = false;

  constructor(id: number) {
    this.id = id;
    track(this);
  }

  /** Wraps a handle returned by the addon; null stays null. */
  static wrap(id: number): Tensor;
  static wrap(id: number | null): Tensor | null;
  static wrap(id: number | null): Tensor | null {
    return id === null ? null : new Tensor(id);
  }

  // ---- lifetime ------------------------------------------------------------------------------------
  get kept(): boolean {
    return this._kept;
  }
  get disposed(): boolean {
    return this.id < 0;
  }
  /** Frees the tensor now (its memory goes when no other tensor or graph references it). */
  dispose(): void {
    const id = this._takeHandle();
    if (id >= 0) native.release(id);
  }
  /** @internal Marks the tensor disposed and hands its handle to the caller to free (scope.ts). */
  _takeHandle(): number {
    const id = this.id;
    if (id < 0) return -1;
    this.id = -1;
    untrack(this);
    return id;
  }
  /** Exempts the tensor from every enclosing scope; it lives until dispose(). */
  keep(): this {
    if (!this._kept) {
      this._kept = true;
      escape(this);
    }
    return this;
  }

  // ---- metadata ------------------------------------------------------------------------------------
  get shape(): number[] {
    return native.shape(this.id);
  }
  get ndim(): number {
    return native.shape(this.id).length;
  }
  get dtype(): DType {
    return dtypeFromCode(native.dtype(this.id));
  }
  get device(): string {
    return native.device(this.id);
  }
  get numel(): number {
    return native.numel(this.id);
  }
  get strides(): number[] {
    return native.strides(this.id);
  }
  size(dim: number): number {
    const s = this.shape;
    return s[dim < 0 ? s.length + dim : dim];
  }
  isContiguous(format: MemoryFormat = "contiguous"): boolean {
    return native.isContiguous(this.id, MEMORY_FORMAT[format]);
  }
  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- read-back -----------------------------------------------------------------------------------
  /** The elements as a TypedArray (float16/bfloat16 read back as float32, bool as uint8). */
  toArray(): TypedArray {
    const d = this.dtype;
    if (d === "float16" || d === "bfloat16") {
      const f = this.to("float32");
      try {
        return new Float32Array(native.toBuffer(f.id));
      } finally {
        f.dispose();
      }
    }
    return viewAs(native.toBuffer(this.id), d);
  }
  toFloat32Array(): Float32Array {
    if (this.dtype === "float32") return new Float32Array(native.toBuffer(this.id));
    const f = this.to("float32");
    try {
      return new Float32Array(native.toBuffer(f.id));
    } finally {
      f.dispose();
    }
  }
  /** Numbers as a plain array (int64 converted to number). */
  toList(): number[] {
    const a = this.toArray();
    return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as ArrayLike<number>);
  }
  item(): number {
    const v = native.item(this.id);
    return typeof v === "boolean" ? (v ? 1 : 0) : v;
  }

  // ---- autograd ------------------------------------------------------------------------------------
  get requiresGrad(): boolean {
    return native.requiresGrad(this.id);
  }
  set requiresGrad(v: boolean) {
    native.setRequiresGrad(this.id, v);
  }
  requiresGrad_(v = true): this {
    native.setRequiresGrad(this.id, v);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.id);
  }
  /** The accumulated gradient as a new handle (dispose it, or read it in a scope), or null. */
  get grad(): Tensor | null {
    return Tensor.wrap(native.grad(this.id));
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.id, g ? g.id : null);
  }
  retainGrad(): this {
    native.retainGrad(this.id);
    return this;
  }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native.backward([this.id], gradient ? [gradient.id] : null, opts.retainGraph ?? false, opts.createGraph ?? false);
  }

  // ---- conversion ----------------------------------------------------------------------------------
  to(target: DType | string, opts: { nonBlocking?: boolean; copy?: boolean } = {}): Tensor {
    if (target in DTYPE_CODE) {
      return new Tensor(native.call(O.toDtype.handle, this.id, DTYPE_CODE[target as DType], opts.nonBlocking ?? false, opts.copy ?? false));
    }
    return new Tensor(native.call(O.toDevice.handle, this.id, target, native.dtype(this.id), opts.nonBlocking ?? false, opts.copy ?? false));
  }
  float(): Tensor {
    return this.to("float32");
  }
  long(): Tensor {
    return this.to("int64");
  }
  contiguous(format: MemoryFormat = "contiguous"): Tensor {
    return new Tensor(native.call(O.contiguous.handle, this.id, MEMORY_FORMAT[format]));
  }
  clone(): Tensor {
    return new Tensor(native.call(O.clone.handle, this.id));
  }
  detach(): Tensor {
    return new Tensor(native.call(O.detach.handle, this.id));
  }

  // ---- element-wise arithmetic ---------------------------------------------------------------------
  add(o: TensorOrScalar, alpha: number = 1): Tensor {
    return new Tensor(o instanceof Tensor ? native.call(O.add.handle, this.id, o.id, alpha) : native.call(O.addS.handle, this.id, o, alpha));
  }
  sub(o: TensorOrScalar, alpha: number = 1): Tensor {
    return new Tensor(o instanceof Tensor ? native.call(O.sub.handle, this.id, o.id, alpha) : native.call(O.subS.handle, this.id, o, alpha));
  }
  mul(o: TensorOrScalar): Tensor {
    return new Tensor(o instanceof Tensor ? native.call(O.mul.handle, this.id, o.id) : native.call(O.mulS.handle, this.id, o));
  }
  div(o: TensorOrScalar): Tensor {
    return new Tensor(o instanceof Tensor ? native.call(O.div.handle, this.id, o.id) : native.call(O.divS.handle, this.id, o));
  }
  /** Python's `%` (sign of the divisor). */
  remainder(o: TensorOrScalar): Tensor {
    return new Tensor(o instanceof Tensor ? native.call(O.remainderT.handle, this.id, o.id) : native.call(O.remainderS.handle, this.id, o));
  }
  pow(e: TensorOrScalar): Tensor {
    return new Tensor(e instanceof Tensor ? native.call(O.powT.handle, this.id, e.id) : native.call(O.powS.handle, this.id, e));
  }
  neg(): Tensor { return new Tensor(native.call(O.neg.handle, this.id)); }
  sqrt(): Tensor { return new Tensor(native.call(O.sqrt.handle, this.id)); }
  rsqrt(): Tensor { return new Tensor(native.call(O.rsqrt.handle, this.id)); }
  exp(): Tensor { return new Tensor(native.call(O.exp.handle, this.id)); }
  log(): Tensor { return new Tensor(native.call(O.log.handle, this.id)); }
  abs(): Tensor { return new Tensor(native.call(O.abs.handle, this.id)); }
  relu(): Tensor { return new Tensor(native.call(O.relu.handle, this.id)); }
  sigmoid(): Tensor { return new Tensor(native.call(O.sigmoid.handle, this.id)); }
  tanh(): Tensor { return new Tensor(native.call(O.tanh.handle, this.id)); }
  sign(): Tensor { return new Tensor(native.call(O.sign.handle, this.id)); }
  floor(): Tensor { return new Tensor(native.call(O.floor.handle, this.id)); }
  ceil(): Tensor { return new Tensor(native.call(O.ceil.handle, this.id)); }
  round(): Tensor { return new Tensor(native.call(O.round.handle, this.id)); }
  sin(): Tensor { return new Tensor(native.call(O.sin.handle, this.id)); }
  cos(): Tensor { return new Tensor(native.call(O.cos.handle, this.id)); }
  reciprocal(): Tensor { return new Tensor(native.call(O.reciprocal.handle, this.id)); }
  square(): Tensor { return new Tensor(native.call(O.square.handle, this.id)); }
  clamp(min: number | null, max: number | null = null): Tensor {
    return new Tensor(native.call(O.clamp.handle, this.id, min, max));
  }
  /** Clamp with per-element (broadcast) bounds. */
  clampTensor(min: Tensor | null, max: Tensor | null): Tensor {
    return new Tensor(native.call(O.clampT.handle, this.id, min?.id ?? null, max?.id ?? null));
  }
  minimum(o: Tensor): Tensor { return new Tensor(native.call(O.minimum.handle, this.id, o.id)); }
  maximum(o: Tensor): Tensor { return new Tensor(native.call(O.maximum.handle, this.id, o.id)); }

  // ---- comparison ----------------------------------------------------------------------------------
  eq(o: TensorOrScalar): Tensor { return this.cmp(O.eq, O.eqS, o); }
  ne(o: TensorOrScalar): Tensor { return this.cmp(O.ne, O.neS, o); }
  lt(o: TensorOrScalar): Tensor { return this.cmp(O.lt, O.ltS, o); }
  le(o: TensorOrScalar): Tensor { return this.cmp(O.le, O.leS, o); }
  gt(o: TensorOrScalar): Tensor { return this.cmp(O.gt, O.gtS, o); }
  ge(o: TensorOrScalar): Tensor { return this.cmp(O.ge, O.geS, o); }
  private cmp(t: { handle: number }, s: { handle: number }, o: TensorOrScalar): Tensor {
    return new Tensor(o instanceof Tensor ? native.call(t.handle, this.id, o.id) : native.call(s.handle, this.id, o));
  }
  logicalNot(): Tensor { return new Tensor(native.call(O.logicalNot.handle, this.id)); }
  logicalAnd(o: Tensor): Tensor { return new Tensor(native.call(O.logicalAnd.handle, this.id, o.id)); }
  logicalOr(o: Tensor): Tensor { return new Tensor(native.call(O.logicalOr.handle, this.id, o.id)); }

  // ---- reductions ----------------------------------------------------------------------------------
  sum(dim?: Dims, keepdim = false): Tensor {
    return new Tensor(dim === undefined ? native.call(O.sum.handle, this.id) : native.call(O.sumDim.handle, this.id, dimsArg(dim), keepdim));
  }
  mean(dim?: Dims, keepdim = false): Tensor {
    return new Tensor(dim === undefined ? native.call(O.mean.handle, this.id) : native.call(O.meanDim.handle, this.id, dimsArg(dim), keepdim));
  }
  /** Variance; unbiased (n-1) by default as in PyTorch. */
  var(dim: Dims, opts: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    return new Tensor(native.call(O.varDim.handle, this.id, dimsArg(dim), opts.unbiased ?? true, opts.keepdim ?? false));
  }
  std(dim: Dims, opts: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    return new Tensor(native.call(O.stdDim.handle, this.id, dimsArg(dim), opts.unbiased ?? true, opts.keepdim ?? false));
  }
  max(): Tensor { return new Tensor(native.call(O.max.handle, this.id)); }
  min(): Tensor { return new Tensor(native.call(O.min.handle, this.id)); }
  /** [values, indices] along dim. */
  maxDim(dim: number, keepdim = false): [Tensor, Tensor] {
    const [v, i] = native.call(O.maxDim.handle, this.id, dim, keepdim);
    return [new Tensor(v), new Tensor(i)];
  }
  minDim(dim: number, keepdim = false): [Tensor, Tensor] {
    const [v, i] = native.call(O.minDim.handle, this.id, dim, keepdim);
    return [new Tensor(v), new Tensor(i)];
  }
  amax(dim: Dims, keepdim = false): Tensor { return new Tensor(native.call(O.amax.handle, this.id, dimsArg(dim), keepdim)); }
  amin(dim: Dims, keepdim = false): Tensor { return new Tensor(native.call(O.amin.handle, this.id, dimsArg(dim), keepdim)); }
  argmax(dim?: number, keepdim = false): Tensor { return new Tensor(native.call(O.argmax.handle, this.id, dim ?? null, keepdim)); }
  argmin(dim?: number, keepdim = false): Tensor { return new Tensor(native.call(O.argmin.handle, this.id, dim ?? null, keepdim)); }
  /** Vector p-norm over dims (all elements by default). */
  norm(p = 2, dim?: Dims, keepdim = false): Tensor {
    return new Tensor(native.call(O.norm.handle, this.id, p, dim === undefined ? null : dimsArg(dim), keepdim));
  }
  any(): Tensor { return new Tensor(native.call(O.any.handle, this.id)); }
  all(): Tensor { return new Tensor(native.call(O.all.handle, this.id)); }
  cumsum(dim: number): Tensor { return new Tensor(native.call(O.cumsum.handle, this.id, dim)); }
  softmax(dim: number): Tensor { return new Tensor(native.call(O.softmax.handle, this.id, dim)); }
  logSoftmax(dim: number): Tensor { return new Tensor(native.call(O.logSoftmax.handle, this.id, dim)); }
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    const [v, i] = native.call(O.topk.handle, this.id, k, dim, largest, sorted);
    return [new Tensor(v), new Tensor(i)];
  }
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    const [v, i] = native.call(O.sort.handle, this.id, dim, descending);
    return [new Tensor(v), new Tensor(i)];
  }
  argsort(dim = -1, descending = false): Tensor { return new Tensor(native.call(O.argsort.handle, this.id, dim, descending)); }

  // ---- linear algebra ------------------------------------------------------------------------------
  matmul(o: Tensor): Tensor { return new Tensor(native.call(O.matmul.handle, this.id, o.id)); }
  mm(o: Tensor): Tensor { return new Tensor(native.call(O.mm.handle, this.id, o.id)); }
  t(): Tensor { return new Tensor(native.call(O.t.handle, this.id)); }

  // ---- shape and indexing --------------------------------------------------------------------------
  view(...shape: number[]): Tensor { return new Tensor(native.call(O.view.handle, this.id, shape)); }
  reshape(...shape: number[]): Tensor { return new Tensor(native.call(O.reshape.handle, this.id, shape)); }
  flatten(start = 0, end = -1): Tensor { return new Tensor(native.call(O.flatten.handle, this.id, start, end)); }
  squeeze(dim?: number): Tensor {
    return new Tensor(dim === undefined ? native.call(O.squeeze.handle, this.id) : native.call(O.squeezeDim.handle, this.id, dim));
  }
  unsqueeze(dim: number): Tensor { return new Tensor(native.call(O.unsqueeze.handle, this.id, dim)); }
  permute(...dims: number[]): Tensor { return new Tensor(native.call(O.permute.handle, this.id, dims)); }
  transpose(a: number, b: number): Tensor { return new Tensor(native.call(O.transpose.handle, this.id, a, b)); }
  expand(...shape: number[]): Tensor { return new Tensor(native.call(O.expand.handle, this.id, shape)); }
  repeat(...times: number[]): Tensor { return new Tensor(native.call(O.repeat.handle, this.id, times)); }
  narrow(dim: number, start: number, length: number): Tensor { return new Tensor(native.call(O.narrow.handle, this.id, dim, start, length)); }
  select(dim: number, index: number): Tensor { return new Tensor(native.call(O.select.handle, this.id, dim, index)); }
  slice(dim: number, start: number | null, end: number | null, step = 1): Tensor {
    return new Tensor(native.call(O.slice.handle, this.id, dim, start, end, step));
  }
  /** Advanced indexing `t[i0, i1, ...]` with index tensors (null = the whole dimension). */
  index(indices: (Tensor | null)[]): Tensor {
    return new Tensor(native.call(O.index.handle, this.id, indices.map((t) => (t ? t.id : null))));
  }
  indexSelect(dim: number, index: Tensor): Tensor { return new Tensor(native.call(O.indexSelect.handle, this.id, dim, index.id)); }
  gather(dim: number, index: Tensor): Tensor { return new Tensor(native.call(O.gather.handle, this.id, dim, index.id)); }
  chunk(chunks: number, dim = 0): Tensor[] { return (native.call(O.chunk.handle, this.id, chunks, dim) as number[]).map((i) => new Tensor(i)); }
  split(size: number, dim = 0): Tensor[] { return (native.call(O.split.handle, this.id, size, dim) as number[]).map((i) => new Tensor(i)); }
  flip(dims: number[]): Tensor { return new Tensor(native.call(O.flip.handle, this.id, dims)); }
  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    return new Tensor(value instanceof Tensor ? native.call(O.maskedFillT.handle, this.id, mask.id, value.id) : native.call(O.maskedFill.handle, this.id, mask.id, value));
  }

  // ---- in place (return this) ------------------------------------------------------------------------
  add_(o: TensorOrScalar, alpha: number = 1): this {
    if (o instanceof Tensor) native.callDrop(O.add_.handle, this.id, o.id, alpha);
    else native.callDrop(O.addS_.handle, this.id, o, alpha);
    return this;
  }
  sub_(o: Tensor, alpha: number = 1): this { native.callDrop(O.sub_.handle, this.id, o.id, alpha); return this; }
  mul_(o: TensorOrScalar): this {
    if (o instanceof Tensor) native.callDrop(O.mul_.handle, this.id, o.id);
    else native.callDrop(O.mulS_.handle, this.id, o);
    return this;
  }
  div_(o: TensorOrScalar): this {
    if (o instanceof Tensor) native.callDrop(O.div_.handle, this.id, o.id);
    else native.callDrop(O.divS_.handle, this.id, o);
    return this;
  }
  copy_(src: Tensor, nonBlocking = false): this { native.callDrop(O.copy_.handle, this.id, src.id, nonBlocking); return this; }
  zero_(): this { native.callDrop(O.zero_.handle, this.id); return this; }
  fill_(v: Scalar): this { native.callDrop(O.fill_.handle, this.id, v); return this; }
  clamp_(min: number | null, max: number | null = null): this { native.callDrop(O.clamp_.handle, this.id, min, max); return this; }
  sqrt_(): this { native.callDrop(O.sqrt_.handle, this.id); return this; }
  relu_(): this { native.callDrop(O.relu_.handle, this.id); return this; }
  neg_(): this { native.callDrop(O.neg_.handle, this.id); return this; }
  /** this += value * a * b */
  addcmul_(a: Tensor, b: Tensor, value = 1): this { native.callDrop(O.addcmul_.handle, this.id, a.id, b.id, value); return this; }
  /** this += value * a / b */
  addcdiv_(a: Tensor, b: Tensor, value = 1): this { native.callDrop(O.addcdiv_.handle, this.id, a.id, b.id, value); return this; }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this { native.callDrop(O.lerp_.handle, this.id, end.id, weight); return this; }
  uniform_(from = 0, to = 1): this { native.callDrop(O.uniform_.handle, this.id, from, to, null); return this; }
  normal_(mean = 0, std = 1): this { native.callDrop(O.normal_.handle, this.id, mean, std, null); return this; }
  bernoulli_(p: number): this { native.callDrop(O.bernoulli_.handle, this.id, p, null); return this; }
  maskedFill_(mask: Tensor, value: Scalar): this { native.callDrop(O.maskedFill_.handle, this.id, mask.id, value); return this; }
}

// The Module base: named parameters, buffers and child modules in registration order, train/eval mode,
// state dicts with PyTorch's dotted names, device moves and deep copies.
//
// Ownership: a module's parameters and buffers are kept tensors (no scope frees them); they live until
// the module's dispose(). stateDict() and namedParameters() hand out these very tensors, not copies:
// read or save them, never dispose them. Tensors are held only in the maps below (layers read them with
// getters), so that to()/toChannelsLast() can swap them without leaving stale fields behind.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";

/** State-dict keys that were missing from, or unexpected by, the module. */
export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

// The fields every module has; clone() rebuilds these and remaps the subclass's other fields.
const INTERNAL = new Set(["_params", "_buffers", "_nonPersistent", "_children"]);

function sameDevice(a: string, b: string): boolean {
  return a === b || a.replace(/:0$/, "") === b.replace(/:0$/, "");
}

function listNames(names: string[], max = 8): string {
  const head = names.slice(0, max).join(", ");
  return names.length > max ? `${head} (+${names.length - max} more)` : head;
}

/** The base of every layer and network: named parameters, buffers and children, train/eval mode, state dicts with PyTorch's names, device moves, copies. */
export abstract class Module {
  training = true;
  protected readonly _params = new Map<string, T.Tensor | null>();
  protected readonly _buffers = new Map<string, T.Tensor | null>();
  protected readonly _nonPersistent = new Set<string>();
  protected readonly _children = new Map<string, Module>();

  abstract forward(x: T.Tensor): T.Tensor;

  /** Same as forward (PyTorch's `module(x)`). */
  call(x: T.Tensor): T.Tensor {
    return this.forward(x);
  }

  // ---- registration ------------------------------------------------------------------------------------
  /** Adopts t as a parameter: kept, a leaf that requires grad. null registers an absent one (e.g. bias=False). */
  protected registerParameter(name: string, t: T.Tensor | null): T.Tensor | null {
    if (t) {
      if (!t.isLeaf) throw new Error(`parameter ${name} must be a leaf tensor (create it under noGrad or detach it)`);
      t.requiresGrad = true;
      t.keep();
    }
    this._params.set(name, t);
    return t;
  }

  /** Adopts t as a buffer (state that is saved but not trained, e.g. BatchNorm's running mean). */
  protected registerBuffer(name: string, t: T.Tensor | null, persistent = true): T.Tensor | null {
    t?.keep();
    this._buffers.set(name, t);
    if (!persistent) this._nonPersistent.add(name);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    if (name.includes(".") || name === "") throw new Error(`invalid child module name "${name}"`);
    this._children.set(name, m);
    return m;
  }

  /** The parameter registered under name (throws if there is none). */
  param(name: string): T.Tensor {
    const t = this._params.get(name);
    if (!t) throw new Error(`${this.constructor.name} has no parameter "${name}"`);
    return t;
  }

  /** The parameter registered under name, or null when it was registered as absent. */
  optionalParam(name: string): T.Tensor | null {
    return this._params.get(name) ?? null;
  }

  buffer(name: string): T.Tensor {
    const t = this._buffers.get(name);
    if (!t) throw new Error(`${this.constructor.name} has no buffer "${name}"`);
    return t;
  }

  optionalBuffer(name: string): T.Tensor | null {
    return this._buffers.get(name) ?? null;
  }

  child<M extends Module = Module>(name: string): M {
    const m = this._children.get(name);
    if (!m) throw new Error(`${this.constructor.name} has no child module "${name}"`);
    return m as M;
  }

  // ---- traversal ---------------------------------------------------------------------------------------
  namedChildren(): [string, Module][] {
    return [...this._children];
  }

  children(): Module[] {
    return [...this._children.values()];
  }

  /** This module and every descendant, depth first, with dotted names ("" for this one). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  modules(): Module[] {
    const out: Module[] = [];
    const walk = (m: Module) => {
      out.push(m);
      for (const c of m._children.values()) walk(c);
    };
    walk(this);
    return out;
  }

  /** [name, tensor] for every parameter, own ones first, then each child's (torch's order). */
  namedParameters(prefix = ""): [string, T.Tensor][] {
    const out: [string, T.Tensor][] = [];
    for (const [mp, m] of this.namedModules(prefix)) {
      for (const [n, t] of m._params) if (t) out.push([mp ? `${mp}.${n}` : n, t]);
    }
    return out;
  }

  /** The parameters without names (cheap: no strings are built). */
  parameters(): T.Tensor[] {
    const out: T.Tensor[] = [];
    for (const m of this.modules()) for (const t of m._params.values()) if (t) out.push(t);
    return out;
  }

  /** [name, tensor] for every buffer, persistent or not. */
  namedBuffers(prefix = ""): [string, T.Tensor][] {
    const out: [string, T.Tensor][] = [];
    for (const [mp, m] of this.namedModules(prefix)) {
      for (const [n, t] of m._buffers) if (t) out.push([mp ? `${mp}.${n}` : n, t]);
    }
    return out;
  }

  buffers(): T.Tensor[] {
    const out: T.Tensor[] = [];
    for (const m of this.modules()) for (const t of m._buffers.values()) if (t) out.push(t);
    return out;
  }

  numParameters(): number {
    let n = 0;
    for (const p of this.parameters()) n += p.numel;
    return n;
  }

  /** Calls fn on every module, children first then this one (torch's Module.apply). */
  apply(fn: (m: Module) => void): this {
    for (const c of this._children.values()) c.apply(fn);
    fn(this);
    return this;
  }

  // ---- state -------------------------------------------------------------------------------------------
  /**
   * Parameters and persistent buffers by PyTorch's dotted names (for each module: its parameters, its
   * buffers, then its children). The values are the module's own tensors: do not dispose them.
   */
  stateDict(prefix = ""): Record<string, T.Tensor> {
    const out: Record<string, T.Tensor> = {};
    for (const [mp, m] of this.namedModules(prefix)) {
      const p = mp ? `${mp}.` : "";
      for (const [n, t] of m._params) if (t) out[p + n] = t;
      for (const [n, t] of m._buffers) if (t && !m._nonPersistent.has(n)) out[p + n] = t;
    }
    return out;
  }

  /**
   * Copies values from sd into this module's tensors (dtype and device converted). Shapes are checked
   * for every key before anything is copied. strict (default) throws when keys are missing or unexpected.
   */
  loadStateDict(sd: Record<string, T.Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missing: string[] = [];
    const unexpected = Object.keys(sd).filter((k) => !(k in own));
    const pairs: [T.Tensor, T.Tensor][] = [];
    for (const [k, t] of Object.entries(own)) {
      const src = sd[k];
      if (!src) {
        missing.push(k);
        continue;
      }
      const want = t.shape;
      const got = src.shape;
      if (want.length !== got.length || want.some((d, i) => d !== got[i])) {
        throw new UserError(`state dict key ${k}: shape [${got}] does not match the model's [${want}]`);
      }
      pairs.push([t, src]);
    }
    if (strict && (missing.length || unexpected.length)) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing ${listNames(missing)}`);
      if (unexpected.length) parts.push(`unexpected ${listNames(unexpected)}`);
      throw new UserError(`state dict does not match the model: ${parts.join("; ")}`);
    }
    T.noGrad(() => {
      for (const [t, src] of pairs) t.copy_(src);
    });
    return { missing, unexpected };
  }

  // ---- modes -------------------------------------------------------------------------------------------
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Turns gradient tracking of every parameter on or off (e.g. to freeze an encoder). */
  requiresGrad_(value = true): this {
    for (const p of this.parameters()) p.requiresGrad = value;
    return this;
  }

  /** Drops every parameter's gradient (set to none, as zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  // ---- devices, layout, copies -------------------------------------------------------------------------
  /**
   * Replaces each parameter and buffer by fn(t) where it returns a different tensor; the old one is
   * disposed. Parameters stay leaves with their requiresGrad. Optimizers made earlier still hold the old
   * tensors, so move a module before building its optimizer.
   */
  protected mapTensors(fn: (t: T.Tensor, isParam: boolean) => T.Tensor): this {
    for (const m of this.modules()) {
      for (const [map, isParam] of [[m._params, true], [m._buffers, false]] as const) {
        for (const [n, t] of map) {
          if (!t) continue;
          const next = T.noGrad(() => fn(t, isParam));
          if (next === t) continue;
          if (isParam) next.requiresGrad = t.requiresGrad;
          next.keep();
          t.dispose();
          map.set(n, next);
        }
      }
    }
    return this;
  }

  /** Moves every parameter and buffer to a device ("cpu", "cuda", "cuda:1"). */
  to(device: string): this {
    return this.mapTensors((t) => (sameDevice(t.device, device) ? t : t.to(device)));
  }

  /** Stores 4-D parameters (convolution weights) channels-last, which is faster for convolutions on GPUs. */
  toChannelsLast(): this {
    return this.mapTensors((t) => (t.ndim === 4 && !t.isContiguous("channelsLast") ? t.contiguous("channelsLast") : t));
  }

  /** The device of the first parameter or buffer ("cpu" for a module without tensors). */
  get device(): string {
    for (const m of this.modules()) {
      for (const t of m._params.values()) if (t) return t.device;
      for (const t of m._buffers.values()) if (t) return t.device;
    }
    return "cpu";
  }

  /**
   * A deep copy: same class, configuration and mode, new tensors with the same values (gradients are
   * not copied). Fields of a subclass that point at child modules are pointed at the copies.
   */
  clone(): this {
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    Object.assign(copy, this);
    const remap = new Map<unknown, unknown>();
    const cloneMap = (src: Map<string, T.Tensor | null>, isParam: boolean) => {
      const out = new Map<string, T.Tensor | null>();
      for (const [n, t] of src) {
        if (!t) {
          out.set(n, null);
          continue;
        }
        const c = T.noGrad(() => t.clone());
        if (isParam && t.requiresGrad) c.requiresGrad = true;
        c.keep();
        remap.set(t, c);
        out.set(n, c);
      }
      return out;
    };
    const w = copy as unknown as Record<string, unknown>;
    w._params = cloneMap(this._params, true);
    w._buffers = cloneMap(this._buffers, false);
    w._nonPersistent = new Set(this._nonPersistent);
    const kids = new Map<string, Module>();
    for (const [n, c] of this._children) {
      const cc = c.clone();
      remap.set(c, cc);
      kids.set(n, cc);
    }
    w._children = kids;
    for (const k of Object.keys(w)) {
      if (INTERNAL.has(k)) continue;
      const v = w[k];
      if (remap.has(v)) w[k] = remap.get(v);
      else if (Array.isArray(v) && v.some((x) => remap.has(x))) w[k] = v.map((x) => (remap.has(x) ? remap.get(x) : x));
    }
    return copy;
  }

  /**
   * Re-draws every parameter from the module's initialisation (used for an independently initialised
   * BYOL target). Layers override resetOwnParameters; containers such as ResNet may override this.
   */
  resetParameters(): this {
    for (const c of this._children.values()) c.resetParameters();
    this.resetOwnParameters();
    return this;
  }

  /** Re-initialises this module's own parameters and buffers (not its children's). */
  protected resetOwnParameters(): void {}

  /** Frees every parameter and buffer of this module and its descendants. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const t of m._params.values()) t?.dispose();
      for (const t of m._buffers.values()) t?.dispose();
    }
  }
}

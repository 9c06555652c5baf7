// A chain of modules named "0", "1", ... as torch.nn.Sequential, so state-dict keys match PyTorch's.
import * as T from "../../torch/index.js";
import { Module } from "../module.js";

/** Modules applied in order, named "0", "1", ... as torch.nn.Sequential. */
export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }

  get length(): number {
    return this._children.size;
  }

  at<M extends Module = Module>(i: number): M {
    return this.child<M>(String(i < 0 ? this._children.size + i : i));
  }

  /** Appends a module under the next index. */
  append(m: Module): this {
    this.registerModule(String(this._children.size), m);
    return this;
  }

  forward(x: T.Tensor): T.Tensor {
    // Intermediate results are freed as soon as the next layer has consumed them (the autograd graph
    // keeps what backward needs); the input itself belongs to the caller.
    let h = x;
    for (const m of this._children.values()) {
      const next = m.forward(h);
      if (h !== x && next !== h) h.dispose();
      h = next;
    }
    return h;
  }
}

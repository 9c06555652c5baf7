// The optimizer base: parameter groups with their own weight decay, trust-ratio switch and learning-rate
// multiplier; per-parameter state tensors (momentum buffers, Adam moments) that belong to checkpoints.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";

/** Parameters that share a weight decay, trust-ratio switch and learning-rate multiplier. */
export interface ParamGroup {
  params: T.Tensor[];
  /** Names for messages and bookkeeping (same order as params). */
  names?: string[];
  /** Overrides the optimizer's weight decay for this group (splitDecay sets 0 for biases and BatchNorm). */
  weightDecay?: number;
  /** LARS only: apply the trust ratio to this group (default true). */
  lars?: boolean;
  /** This group's learning rate until the `lr` setter is used (default: the optimizer's lr × lrScale). */
  lr?: number;
  /** Multiplier applied whenever the optimizer's lr is set (default 1). */
  lrScale?: number;
}

export interface ResolvedGroup {
  params: T.Tensor[];
  names: string[];
  weightDecay: number;
  lars: boolean;
  lr: number;
  lrScale: number;
  /** Index of the group's first parameter in the optimizer's flat parameter list (state keys use it). */
  offset: number;
}

export interface OptimizerDefaults {
  lr: number;
  weightDecay: number;
}

/** The parameters of one group that have a gradient this step, with their grads and state lists. */
export interface GroupStep {
  group: ResolvedGroup;
  params: T.Tensor[];
  grads: T.Tensor[];
  /** state[name][i] is the state tensor of params[i]. */
  state: Record<string, T.Tensor[]>;
  /**
   * In device-scalar mode (useDeviceScalars): this group's learning rate and the 1-based step number as
   * 0-d float32 tensors on the parameters' device; the update must read them instead of group.lr / t.
   */
  lrT?: T.Tensor;
  tT?: T.Tensor;
}

function checkNumber(what: string, v: number, min = 0): void {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min) throw new UserError(`${what} must be a finite number ≥ ${min}, got ${v}`);
}

/** The optimizer base: parameter groups and per-parameter state that checkpoints save and restore. */
export abstract class Optimizer {
  readonly groups: ResolvedGroup[];
  /** Steps taken (saved in the state dict). */
  stepCount = 0;
  private baseLr: number;
  private readonly stateTensors = new Map<string, T.Tensor[]>();
  private stepTensor: T.Tensor | null = null;
  // Device-scalar mode: the learning rate and step count live in 0-d tensors (see useDeviceScalars).
  private devLr: T.Tensor | null = null;
  private devStep: T.Tensor | null = null;

  /**
   * groups: parameter groups, or a plain list of parameters (one group). stateNames: per-parameter state
   * tensors the subclass keeps, created here as zeros shaped like each parameter.
   */
  constructor(groups: ParamGroup[] | T.Tensor[], defaults: OptimizerDefaults, stateNames: string[]) {
    checkNumber(`${this.constructor.name}: lr`, defaults.lr);
    checkNumber(`${this.constructor.name}: weight decay`, defaults.weightDecay);
    const list: ParamGroup[] = groups.length && groups[0] instanceof T.Tensor ? [{ params: groups as T.Tensor[] }] : (groups as ParamGroup[]);
    this.baseLr = defaults.lr;
    const seen = new Set<T.Tensor>();
    let offset = 0;
    this.groups = list.map((g, gi) => {
      const scale = g.lrScale ?? 1;
      checkNumber(`${this.constructor.name}: group ${gi} lrScale`, scale);
      const wd = g.weightDecay ?? defaults.weightDecay;
      checkNumber(`${this.constructor.name}: group ${gi} weight decay`, wd);
      if (g.lr !== undefined) checkNumber(`${this.constructor.name}: group ${gi} lr`, g.lr);
      for (const p of g.params) {
        if (seen.has(p)) throw new UserError(`${this.constructor.name}: a parameter appears more than once in its groups`);
        seen.add(p);
      }
      const r: ResolvedGroup = {
        params: [...g.params],
        names: g.names ? [...g.names] : g.params.map((_, i) => `${gi}.${i}`),
        weightDecay: wd,
        lars: g.lars ?? true,
        lr: g.lr ?? defaults.lr * scale,
        lrScale: scale,
        offset,
      };
      offset += r.params.length;
      return r;
    });
    for (const name of stateNames) {
      this.stateTensors.set(name, this.params.map((p) => T.noGrad(() => T.zerosLike(p)).keep()));
    }
  }

  /** Every parameter, in group order (state-dict indices refer to this order). */
  get params(): T.Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /** The learning rate last set (each group runs at lr × its lrScale). */
  get lr(): number {
    return this.baseLr;
  }
  set lr(v: number) {
    checkNumber(`${this.constructor.name}: lr`, v);
    this.baseLr = v;
    for (const g of this.groups) g.lr = v * g.lrScale;
    // A write on the device, queued like a kernel: no host sync.
    this.devLr?.fill_(v);
  }

  /**
   * Makes step() read the learning rate and the step count from 0-d tensors on `device` instead of
   * numbers passed into each call, so that a captured CUDA graph, which replays its calls with the
   * arguments they had at capture, still follows the schedule: the lr setter writes the tensor before a
   * replay, and the step count is advanced on the device by the step itself. Idempotent.
   */
  useDeviceScalars(device: string): void {
    if (this.devLr) return;
    this.devLr = T.full([], this.baseLr, { device }).keep();
    this.devStep = T.full([], this.stepCount, { device }).keep();
  }

  get usesDeviceScalars(): boolean {
    return this.devLr !== null;
  }

  /** Sets every parameter's gradient to none (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.grad = null;
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    T.noGrad(() =>
      T.tidy(() => {
        const names = [...this.stateTensors.keys()];
        const tT = this.devStep?.add_(1);
        for (const group of this.groups) {
          const params: T.Tensor[] = [];
          const grads: T.Tensor[] = [];
          const state: Record<string, T.Tensor[]> = Object.fromEntries(names.map((n) => [n, []]));
          group.params.forEach((p, i) => {
            const g = p.grad; // a new handle, freed by the surrounding tidy
            if (!g) return;
            params.push(p);
            grads.push(g);
            for (const n of names) state[n].push(this.stateTensors.get(n)![group.offset + i]);
          });
          if (!params.length) continue;
          const lrT = this.devLr ? (group.lrScale === 1 ? this.devLr : this.devLr.mul(group.lrScale)) : undefined;
          this.updateGroup({ group, params, grads, state, lrT, tT }, this.stepCount + 1);
        }
      }),
    );
    this.stepCount++;
  }

  /** The update rule for one group; `t` is the 1-based number of the step being taken. */
  protected abstract updateGroup(s: GroupStep, t: number): void;

  /**
   * State for checkpoints: "state.<i>.<name>" per parameter i (flat order) and "step" (int64). The
   * tensors belong to the optimizer: save them, do not dispose them.
   */
  stateDict(): Record<string, T.Tensor> {
    const out: Record<string, T.Tensor> = {};
    for (const [name, list] of this.stateTensors) list.forEach((t, i) => (out[`state.${i}.${name}`] = t));
    if (!this.stepTensor) this.stepTensor = T.zeros([], { dtype: "int64" }).keep();
    this.stepTensor.fill_(this.stepCount);
    out.step = this.stepTensor;
    return out;
  }

  /** Restores a stateDict() of an optimizer over the same parameters; any mismatch is a UserError. */
  loadStateDict(sd: Record<string, T.Tensor>): void {
    const pairs: [T.Tensor, T.Tensor][] = [];
    const known = new Set(["step"]);
    for (const [name, list] of this.stateTensors) {
      list.forEach((t, i) => {
        const key = `state.${i}.${name}`;
        known.add(key);
        const src = sd[key];
        if (!src) throw new UserError(`optimizer state: ${key} is missing (was it saved by another optimizer or model?)`);
        const a = src.shape;
        const b = t.shape;
        if (a.length !== b.length || a.some((d, j) => d !== b[j])) throw new UserError(`optimizer state: ${key} has shape [${a}], the parameter has [${b}]`);
        pairs.push([t, src]);
      });
    }
    const extra = Object.keys(sd).filter((k) => !known.has(k));
    if (extra.length) throw new UserError(`optimizer state: unexpected key ${extra[0]}${extra.length > 1 ? ` (+${extra.length - 1} more)` : ""}`);
    T.noGrad(() => {
      for (const [t, src] of pairs) t.copy_(src);
    });
    if (sd.step) this.stepCount = sd.step.item();
    this.devStep?.fill_(this.stepCount);
  }

  /** Frees the optimizer's state tensors (not the parameters). */
  dispose(): void {
    for (const list of this.stateTensors.values()) for (const t of list) t.dispose();
    this.stateTensors.clear();
    this.stepTensor?.dispose();
    this.stepTensor = null;
    this.devLr?.dispose();
    this.devStep?.dispose();
    this.devLr = this.devStep = null;
  }
}

// ℓ2-regularised multinomial logistic regression fitted by full-batch L-BFGS: the classifier of the
// linear-evaluation protocol BYOL uses for its transfer results (Grill et al. 2020, App. D, after
// Kornblith et al. 2019), on features that fit in memory.
//
//   minimise  f(W, b) = (1/n) Σᵢ CE(W xᵢ + b, yᵢ) + (λ/2)·‖W‖²_F      (the bias is not penalised)
//
// The problem is strictly convex for λ > 0, so the optimum does not depend on the solver, the start or
// a learning rate: any solver run to convergence gives the same classifier, which is what makes it a
// fair probe of a representation, and a warm start (the solution for a nearby λ) only saves iterations.
// The gradient is written out (∇_W = (P − Y)ᵀX/n + λW, ∇_b = Σ(P − Y)/n with P the softmax) rather than
// taken by autograd: one matrix product forward and one backward per evaluation, no graph.
// L-BFGS: the two-loop recursion over the last `history` curvature pairs, a backtracking line search
// with the Armijo condition (the objective is smooth and convex, so the full step is accepted almost
// always once the curvature is learnt), stopped when the largest gradient entry falls below
// `gradTol` or the objective stops moving. Each iteration reads a few scalars back to the host, which
// is fine here: it runs after training, on features, never inside a training step.
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";

export interface LbfgsOptions {
  /** Largest number of iterations (default 200). */
  maxIter?: number;
  /** Stop when max |∇f| ≤ gradTol (default 1e-5). */
  gradTol?: number;
  /** Stop when the objective changes by less than this, relatively, in one iteration (default 1e-9). */
  fTol?: number;
  /** Curvature pairs kept (default 10). */
  history?: number;
  /**
   * A preconditioner: q [C, d + 1] ↦ M⁻¹q for a fixed positive-definite M close to the Hessian (the
   * L-BFGS start H₀ = γ·M⁻¹ instead of γ·I). It changes the path, never the optimum. See
   * covariancePreconditioner.
   */
  precondition?: (q: T.Tensor) => T.Tensor;
}

export const LBFGS_DEFAULTS = { maxIter: 200, gradTol: 1e-5, fTol: 1e-9, history: 10 };

/** A fitted classifier: weight [C, d] and bias [C] (kept tensors: the caller disposes them). */
export interface LogisticFit {
  weight: T.Tensor;
  bias: T.Tensor;
  /** Objective value at the end (mean cross-entropy plus the penalty). */
  loss: number;
  iterations: number;
  /** Objective/gradient evaluations (each one pass over the rows). */
  evaluations: number;
  converged: boolean;
}

/**
 * Fits W, b on x [n, d] (float32, on any device) with integer labels in [0, numClasses). `init`, if
 * given, is the starting point (e.g. the fit for a nearby λ); otherwise the start is zero.
 */
export function fitLogisticLbfgs(
  x: T.Tensor, labels: Int32Array, numClasses: number, weightDecay: number,
  opts: LbfgsOptions = {}, init?: { weight: T.Tensor; bias: T.Tensor },
): LogisticFit {
  const o = { ...LBFGS_DEFAULTS, ...opts };
  if (x.ndim !== 2) throw new UserError(`logistic regression: features must be 2-D, got [${x.shape}]`);
  const [n, d] = x.shape;
  if (n === 0) throw new UserError("logistic regression: no rows");
  if (labels.length !== n) throw new UserError(`logistic regression: ${labels.length} labels for ${n} rows`);
  if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw new UserError(`logistic regression: weight decay must be >= 0, got ${weightDecay}`);
  if (!Number.isInteger(o.maxIter) || o.maxIter < 1) throw new UserError(`logistic regression: maxIter must be a positive integer, got ${o.maxIter}`);
  for (const l of labels) if (!(l >= 0 && l < numClasses)) throw new UserError(`logistic regression: label ${l} outside [0, ${numClasses})`);
  const C = numClasses;
  const device = x.device;
  const y1h = T.tidy(() => T.oneHot(T.tensor(labels, [n]).to("int64").to(device), C).to("float32").keep());
  const history: { s: T.Tensor; y: T.Tensor; rho: number }[] = [];
  let theta: T.Tensor | null = null;
  let grad: T.Tensor | null = null;
  try {
    return T.noGrad(() => {
      // θ = [W | b] as one [C, d + 1] tensor, so the L-BFGS vectors are single tensors.
      theta = init
        ? T.tidy(() => T.cat([init.weight.to(device).to("float32"), init.bias.to(device).to("float32").view(C, 1)], 1).contiguous().keep())
        : T.zeros([C, d + 1], { device }).keep();
      if (theta.size(0) !== C || theta.size(1) !== d + 1) throw new UserError(`logistic regression: the start has shape [${theta.shape}], expected [${C}, ${d + 1}]`);
      let evaluations = 0;
      // f(θ) and ∇f(θ) (a new kept tensor).
      const objective = (th: T.Tensor): { f: number; g: T.Tensor } => {
        evaluations++;
        return T.tidy(() => {
          const w = th.narrow(1, 0, d);
          const b = th.select(1, d);
          const logp = T.linear(x, w, b).logSoftmax(1);
          const ce = -logp.mul(y1h).sum().item() / n;
          const r = logp.exp().sub_(y1h).div_(n); // (P − Y)/n
          const gw = r.t().mm(x).add_(w, weightDecay);
          const gb = r.sum(0).view(C, 1);
          const f = ce + 0.5 * weightDecay * w.square().sum().item();
          return { f, g: T.cat([gw, gb], 1).keep() };
        });
      };
      const dot = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => a.mul(b).sum().item());
      const maxAbs = (a: T.Tensor): number => T.tidy(() => a.abs().max().item());
      let { f, g } = objective(theta);
      grad = g;
      let iterations = 0;
      let converged = maxAbs(grad) <= o.gradTol;
      while (!converged && iterations < o.maxIter) {
        iterations++;
        // Two-loop recursion: dir = −H·g with H the L-BFGS inverse-Hessian estimate.
        const dir = T.tidy(() => {
          const q = grad!.clone();
          const alphas: number[] = [];
          for (let i = history.length - 1; i >= 0; i--) {
            const a = history[i].rho * dot(history[i].s, q);
            alphas[i] = a;
            q.add_(history[i].y, -a);
          }
          const pre = o.precondition;
          let r = pre ? pre(q) : q;
          if (history.length > 0) {
            const last = history[history.length - 1];
            const yHy = pre ? dot(last.y, pre(last.y)) : dot(last.y, last.y);
            r = r.mul(1 / (last.rho * yHy)); // γ = sᵀy / yᵀH₀y
          }
          for (let i = 0; i < history.length; i++) {
            const beta = history[i].rho * dot(history[i].y, r);
            r.add_(history[i].s, alphas[i] - beta);
          }
          return r.neg().keep();
        });
        try {
          let slope = dot(grad!, dir);
          if (!(slope < 0)) {
            // Not a descent direction (rounding): restart from steepest descent.
            for (const h of history.splice(0)) { h.s.dispose(); h.y.dispose(); }
            T.tidy(() => dir.copy_(o.precondition ? o.precondition(grad!) : grad!).neg_());
            slope = dot(grad!, dir);
          }
          // The first step is scaled as PyTorch's LBFGS does (min(1, 1/‖g‖₁)); later ones start at 1.
          let step = history.length === 0 && iterations === 1 && !o.precondition ? Math.min(1, 1 / T.tidy(() => grad!.abs().sum().item())) : 1;
          let next: { f: number; g: T.Tensor } | null = null;
          let candidate: T.Tensor | null = null;
          for (let tries = 0; tries < 40; tries++) {
            candidate = T.tidy(() => theta!.add(dir, step).keep());
            const trial = objective(candidate);
            if (Number.isFinite(trial.f) && trial.f <= f + 1e-4 * step * slope) { next = trial; break; }
            trial.g.dispose();
            candidate.dispose();
            candidate = null;
            step *= 0.5;
          }
          if (!next || !candidate) break; // no decrease along the direction: as good as it gets in float32
          const s = T.tidy(() => candidate!.sub(theta!).keep());
          const yv = T.tidy(() => next!.g.sub(grad!).keep());
          const sy = dot(s, yv);
          if (sy > 1e-10) {
            history.push({ s, y: yv, rho: 1 / sy });
            if (history.length > o.history) { const h = history.shift()!; h.s.dispose(); h.y.dispose(); }
          } else {
            s.dispose();
            yv.dispose();
          }
          theta!.dispose();
          theta = candidate;
          grad!.dispose();
          grad = next.g;
          const fPrev = f;
          f = next.f;
          converged = maxAbs(grad) <= o.gradTol || Math.abs(fPrev - f) <= o.fTol * Math.max(1, Math.abs(f));
        } finally {
          dir.dispose();
        }
      }
      const th = theta!;
      const weight = T.tidy(() => th.narrow(1, 0, d).contiguous().keep());
      const bias = T.tidy(() => th.select(1, d).contiguous().keep());
      return { weight, bias, loss: f, iterations, evaluations, converged };
    });
  } finally {
    y1h.dispose();
    (theta as T.Tensor | null)?.dispose();
    (grad as T.Tensor | null)?.dispose();
    for (const h of history) { h.s.dispose(); h.y.dispose(); }
  }
}

/**
 * M⁻¹ for standardised, centred features x [n, d]: M = (κ·Σ + λ·I) for the weights, with Σ = xᵀx/n
 * the feature covariance and κ = 1/C (the softmax's curvature p(1 − p) at the uniform start), and κ
 * for the bias. The Hessian of the mean cross-entropy is close to Σ ⊗ (diag p − ppᵀ), so M⁻¹ undoes
 * the correlations between features (raw pixels are highly correlated: without it L-BFGS needed
 * hundreds of iterations) at the price of one d×d eigendecomposition per representation and one
 * [C, d]·[d, d] product per iteration. Returns the function and a disposer.
 */
export function covariancePreconditioner(x: T.Tensor, numClasses: number): { apply: (weightDecay: number) => (q: T.Tensor) => T.Tensor; dispose: () => void } {
  const [n, d] = x.shape;
  const kappa = 1 / numClasses;
  const { V, L } = T.tidy(() => {
    // An estimate from at most 8,192 evenly spaced rows is a good enough preconditioner (only the
    // path depends on it) and costs a fraction of the full product (54,000 × 784² on raw pixels).
    const stride = Math.max(1, Math.floor(n / 8192));
    const xs = stride > 1 ? x.slice(0, 0, null, stride) : x;
    const sigma = xs.t().mm(xs).div_(xs.size(0)).to("float64");
    const [l, v] = T.callOp("aten::linalg_eigh", "", sigma, "L") as T.Tensor[];
    return { V: v.to("float32").keep(), L: l.clamp(0, null).to("float32").keep() };
  });
  return {
    apply: (weightDecay: number) => (q: T.Tensor) => T.tidy(() => {
      const inv = L.mul(kappa).add_(Math.max(weightDecay, 1e-8)).reciprocal().view(1, d);
      const w = q.narrow(1, 0, d).mm(V).mul_(inv).mm(V.t());
      return T.cat([w, q.narrow(1, d, 1).div(kappa)], 1);
    }),
    dispose: () => { V.dispose(); L.dispose(); },
  };
}

// A 2-D map of embeddings for the run report, in plain TypeScript so the report never needs the tensor
// engine. PCA: centre the data, form the d x d covariance, and find its top eigenvectors by block
// subspace iteration with a Rayleigh-Ritz step. The block is a little wider than the number of
// components we want, which makes convergence fast even when the top eigenvalues are close, and the
// start vectors come from a fixed-seed generator, so the same input always gives the same map.
//
// Cost is n*d^2/2 for the covariance plus a few d^2 products per iteration; callers should subsample
// to a few thousand points (a scatter plot cannot show more anyway).

export interface PcaOptions {
  /** Number of components (default 2). */
  components?: number;
  /** Iteration cap for the subspace iteration (default 500). */
  maxIter?: number;
  /** Stop when every wanted Ritz pair has residual ||Cv - lambda v|| <= tol * lambda_max (default 1e-9). */
  tol?: number;
}

export interface PcaResult {
  /** n x k projections of the centred data, row-major. */
  points: Float32Array;
  /** k x d unit principal directions, row-major, largest variance first. */
  components: Float64Array;
  /** Per-feature mean that was subtracted. */
  mean: Float64Array;
  /** Variance along each component (eigenvalues of the covariance, divided by n). */
  variances: Float64Array;
  /** Share of the total variance along each component; 0 when the data has no variance. */
  explainedRatio: Float64Array;
  /** Subspace iterations used. */
  iterations: number;
}

/** 2-D PCA map of n embeddings of dimension d (row-major Float32Array n*d); returns n*2 coordinates. */
export function embeddingMap(x: Float32Array, n: number, d: number): Float32Array {
  return pca(x, n, d, { components: 2 }).points;
}

export function pca(x: Float32Array, n: number, d: number, opts: PcaOptions = {}): PcaResult {
  const k = opts.components ?? 2;
  const maxIter = opts.maxIter ?? 500;
  const tol = opts.tol ?? 1e-9;
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 1) throw new RangeError(`pca: bad shape ${n}x${d}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`pca: components must be a positive integer, got ${k}`);
  if (x.length !== n * d) throw new RangeError(`pca: expected ${n * d} values for ${n}x${d}, got ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    // A diverged encoder yields NaN embeddings; say so instead of drawing an empty map.
    if (!Number.isFinite(x[i]!)) throw new RangeError(`pca: non-finite embedding value at row ${Math.floor(i / d)}`);
  }

  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]!;
  if (n > 0) for (let j = 0; j < d; j++) mean[j]! /= n;

  const cov = covariance(x, n, d, mean);
  let trace = 0;
  for (let j = 0; j < d; j++) trace += cov[j * d + j]!;

  const { vectors, values, iterations } = topEigen(cov, d, k, maxIter, tol);

  // Fix each direction's sign (largest-magnitude entry positive) so maps do not flip between runs.
  for (let c = 0; c < k; c++) {
    let best = 0;
    for (let j = 1; j < d; j++) if (Math.abs(vectors[c * d + j]!) > Math.abs(vectors[c * d + best]!)) best = j;
    if (vectors[c * d + best]! < 0) for (let j = 0; j < d; j++) vectors[c * d + j] = -vectors[c * d + j]!;
  }

  const points = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (x[i * d + j]! - mean[j]!) * vectors[c * d + j]!;
      points[i * k + c] = s;
    }
  }
  const explainedRatio = new Float64Array(k);
  for (let c = 0; c < k; c++) explainedRatio[c] = trace > 0 ? values[c]! / trace : 0;
  return { points, components: vectors, mean, variances: values, explainedRatio, iterations };
}

// Population covariance (divided by n) in float64; only the upper triangle is accumulated.
function covariance(x: Float32Array, n: number, d: number, mean: Float64Array): Float64Array {
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j]! - mean[j]!;
    for (let a = 0; a < d; a++) {
      const ra = row[a]!;
      if (ra === 0) continue;
      const base = a * d;
      for (let b = a; b < d; b++) cov[base + b]! += ra * row[b]!;
    }
  }
  const inv = n > 0 ? 1 / n : 0;
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! * inv;
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  return cov;
}

// Deterministic pseudo-random numbers in [-1, 1) (mulberry32) for the start block.
function makeRng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

// Orthonormalises the p rows of q (each of length d) in place with modified Gram-Schmidt, applied twice
// for accuracy. A row that collapses (the covariance is rank-deficient, e.g. n < d) is replaced by a
// fresh random row so the block keeps full rank.
function orthonormalise(q: Float64Array, p: number, d: number, rng: () => number): void {
  for (let i = 0; i < p; i++) {
    const qi = q.subarray(i * d, (i + 1) * d);
    for (let attempt = 0; ; attempt++) {
      const before = norm(qi);
      for (let pass = 0; pass < 2; pass++) {
        for (let j = 0; j < i; j++) {
          const qj = q.subarray(j * d, (j + 1) * d);
          const dot = dotp(qi, qj);
          for (let t = 0; t < d; t++) qi[t]! -= dot * qj[t]!;
        }
      }
      const after = norm(qi);
      if (after > 1e-10 * Math.max(before, 1e-300) && after > 1e-300) {
        for (let t = 0; t < d; t++) qi[t]! /= after;
        break;
      }
      if (attempt > 20) throw new Error("pca: could not build an orthonormal basis");
      for (let t = 0; t < d; t++) qi[t] = rng();
    }
  }
}

function dotp(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function norm(a: Float64Array): number {
  return Math.sqrt(dotp(a, a));
}

// Rows of out = rows of q times the symmetric matrix c.
function mulRows(c: Float64Array, d: number, q: Float64Array, p: number, out: Float64Array): void {
  for (let i = 0; i < p; i++) {
    const qi = q.subarray(i * d, (i + 1) * d);
    for (let a = 0; a < d; a++) {
      let s = 0;
      const base = a * d;
      for (let b = 0; b < d; b++) s += c[base + b]! * qi[b]!;
      out[i * d + a] = s;
    }
  }
}

// Top-k eigenpairs of the symmetric d x d matrix c, eigenvalues descending.
function topEigen(
  c: Float64Array,
  d: number,
  k: number,
  maxIter: number,
  tol: number,
): { vectors: Float64Array; values: Float64Array; iterations: number } {
  const want = Math.min(k, d);
  const p = Math.min(d, Math.max(k + 4, 2 * k));
  const rng = makeRng(0x5eed);
  let q = new Float64Array(p * d);
  for (let i = 0; i < q.length; i++) q[i] = rng();
  orthonormalise(q, p, d, rng);

  const w = new Float64Array(p * d);
  const vectors = new Float64Array(k * d);
  const values = new Float64Array(k);
  let iterations = 0;
  for (let it = 0; it < Math.max(1, maxIter); it++) {
    iterations = it + 1;
    mulRows(c, d, q, p, w);
    // Rayleigh-Ritz: the projected p x p matrix T = Q C Q^T and its eigenpairs.
    const t = new Float64Array(p * p);
    for (let i = 0; i < p; i++) {
      for (let j = i; j < p; j++) {
        const v = dotp(q.subarray(i * d, (i + 1) * d), w.subarray(j * d, (j + 1) * d));
        t[i * p + j] = v;
        t[j * p + i] = v;
      }
    }
    const eig = jacobiEigen(t, p);
    // Ritz vectors v = sum_j U[j][r] q_j, and C v = sum_j U[j][r] w_j without another product.
    let converged = true;
    const scale = Math.max(Math.abs(eig.values[0]!), 1e-300);
    for (let r = 0; r < want; r++) {
      let res2 = 0;
      for (let a = 0; a < d; a++) {
        let v = 0;
        let cv = 0;
        for (let j = 0; j < p; j++) {
          const u = eig.vectors[j * p + r]!;
          v += u * q[j * d + a]!;
          cv += u * w[j * d + a]!;
        }
        vectors[r * d + a] = v;
        res2 += (cv - eig.values[r]! * v) ** 2;
      }
      values[r] = Math.max(0, eig.values[r]!);
      if (Math.sqrt(res2) > tol * scale) converged = false;
    }
    // Zero matrix, or the block already spans the whole space: the Ritz pairs are exact.
    if (converged || p === d || eig.values[0]! <= 0) break;
    const next = w.slice();
    orthonormalise(next, p, d, rng);
    q = next;
  }
  // Components beyond d (only when k > d) stay zero: the data has no further directions.
  return { vectors, values, iterations };
}

// Cyclic Jacobi eigen-decomposition of a small symmetric p x p matrix. Returns eigenvalues descending
// and the matching eigenvectors as the columns of a p x p row-major matrix.
function jacobiEigen(m: Float64Array, p: number): { values: Float64Array; vectors: Float64Array } {
  const a = m.slice();
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < p; i++) {
      diag += a[i * p + i]! ** 2;
      for (let j = i + 1; j < p; j++) off += a[i * p + j]! ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = a[i * p + j]!;
        if (aij === 0) continue;
        const theta = (a[j * p + j]! - a[i * p + i]!) / (2 * aij);
        const tt = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(tt * tt + 1);
        const sn = tt * cs;
        for (let k = 0; k < p; k++) {
          const aki = a[k * p + i]!;
          const akj = a[k * p + j]!;
          a[k * p + i] = cs * aki - sn * akj;
          a[k * p + j] = sn * aki + cs * akj;
        }
        for (let k = 0; k < p; k++) {
          const aik = a[i * p + k]!;
          const ajk = a[j * p + k]!;
          a[i * p + k] = cs * aik - sn * ajk;
          a[j * p + k] = sn * aik + cs * ajk;
        }
        for (let k = 0; k < p; k++) {
          const vki = v[k * p + i]!;
          const vkj = v[k * p + j]!;
          v[k * p + i] = cs * vki - sn * vkj;
          v[k * p + j] = sn * vki + cs * vkj;
        }
      }
    }
  }
  const order = Array.from({ length: p }, (_, i) => i).sort((i, j) => a[j * p + j]! - a[i * p + i]! || i - j);
  const values = new Float64Array(p);
  const vectors = new Float64Array(p * p);
  order.forEach((src, dst) => {
    values[dst] = a[src * p + src]!;
    for (let r = 0; r < p; r++) vectors[r * p + dst] = v[r * p + src]!;
  });
  return { values, vectors };
}

// Top-k cosine nearest neighbours in plain TypeScript, for the report's nearest-neighbour examples
// (a handful of queries against a gallery of a few thousand). The real kNN evaluation runs on the
// tensor engine; this one exists so the report can be built without it. Ties go to the lower gallery
// index so that the picture is the same on every run.

export interface NeighborOptions {
  /**
   * When the queries are the first rows of the gallery itself, skip gallery index i for query i so a
   * point is not listed as its own neighbour.
   */
  excludeSelf?: boolean;
}

export interface NeighborResult {
  /** Neighbours per query actually returned: min(k, gallery size, minus one when excludeSelf). */
  k: number;
  /** nq x k gallery indices, row-major, most similar first. */
  indices: Int32Array;
  /** nq x k cosine similarities matching `indices`. */
  similarities: Float32Array;
}

/** Returns unit-length copies of the n rows of x (d wide); all-zero rows stay zero (similarity 0). */
export function l2NormalizeRows(x: Float32Array, n: number, d: number): Float32Array {
  if (x.length !== n * d) throw new RangeError(`l2NormalizeRows: expected ${n * d} values for ${n}x${d}, got ${x.length}`);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! ** 2;
    if (!Number.isFinite(s)) throw new RangeError(`l2NormalizeRows: non-finite value in row ${i}`);
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) out[i * d + j] = x[i * d + j]! * inv;
  }
  return out;
}

/** Top-k cosine neighbours in `gallery` (ng x d) for each row of `query` (nq x d). */
export function topKNeighbors(
  query: Float32Array,
  nq: number,
  gallery: Float32Array,
  ng: number,
  d: number,
  k: number,
  opts: NeighborOptions = {},
): NeighborResult {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`topKNeighbors: k must be a positive integer, got ${k}`);
  if (opts.excludeSelf && nq > ng) throw new RangeError(`topKNeighbors: excludeSelf needs the queries to be gallery rows (nq=${nq} > ng=${ng})`);
  const q = l2NormalizeRows(query, nq, d);
  const g = l2NormalizeRows(gallery, ng, d);
  const kk = Math.max(0, Math.min(k, ng - (opts.excludeSelf ? 1 : 0)));
  const indices = new Int32Array(nq * kk);
  const similarities = new Float32Array(nq * kk);
  // Per-query sorted insertion into a k-long list: O(ng * k), fine for small k.
  const bestIdx = new Int32Array(kk);
  const bestSim = new Float64Array(kk);
  for (let i = 0; i < nq; i++) {
    let filled = 0;
    for (let j = 0; j < ng; j++) {
      if (opts.excludeSelf && j === i) continue;
      let s = 0;
      for (let t = 0; t < d; t++) s += q[i * d + t]! * g[j * d + t]!;
      // Insert into the sorted top-k: at the end while filling, else over the last entry if strictly
      // better (an equal later candidate never displaces an earlier index).
      let pos: number;
      if (filled < kk) pos = filled++;
      else if (kk > 0 && s > bestSim[kk - 1]!) pos = kk - 1;
      else continue;
      while (pos > 0 && bestSim[pos - 1]! < s) {
        bestSim[pos] = bestSim[pos - 1]!;
        bestIdx[pos] = bestIdx[pos - 1]!;
        pos--;
      }
      bestSim[pos] = s;
      bestIdx[pos] = j;
    }
    for (let r = 0; r < kk; r++) {
      indices[i * kk + r] = bestIdx[r]!;
      similarities[i * kk + r] = bestSim[r]!;
    }
  }
  return { k: kk, indices, similarities };
}

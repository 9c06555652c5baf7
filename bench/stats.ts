// The spread of repeated timings: a benchmark reports the median with its interquartile range and
// extremes, so that a reader can tell a difference from the noise of a shared machine.
export interface Spread {
  n: number;
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
}

/** Linear-interpolated quantile of sorted values (q in [0, 1]), as Python's statistics "inclusive". */
function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function spread(samples: number[]): Spread {
  if (samples.length === 0) throw new Error("spread: no samples");
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), p25: quantile(s, 0.25), p75: quantile(s, 0.75), min: s[0], max: s[s.length - 1] };
}

export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** A spread with every field rounded and prefixed, for a JSON line: {ms_median, ms_p25, …}. */
export function spreadFields(prefix: string, s: Spread, digits = 2): Record<string, number> {
  return {
    [`${prefix}_median`]: round(s.median, digits), [`${prefix}_p25`]: round(s.p25, digits), [`${prefix}_p75`]: round(s.p75, digits),
    [`${prefix}_min`]: round(s.min, digits), [`${prefix}_max`]: round(s.max, digits), [`${prefix}_n`]: s.n,
  };
}

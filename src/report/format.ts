// Text helpers for the HTML report: escaping (everything user- or data-supplied goes through `esc`,
// so a class name or config value can never inject markup) and number formatting for tables and axes.

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for use in HTML element content and in quoted attribute values. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A finite number, or null for anything else (missing fields, NaN, strings in a hand-edited file). */
export function finite(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export const DASH = "\u2014";

/** A fraction in [0, 1] as a percentage with one decimal, e.g. 0.7134 -> "71.3%". */
export function fmtPct(v: unknown): string {
  const x = finite(v);
  return x === null ? DASH : `${(x * 100).toFixed(1)}%`;
}

/** A general number with about `digits` significant digits, compact for very large or small values. */
export function fmtNum(v: unknown, digits = 4): string {
  const x = finite(v);
  if (x === null) return DASH;
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(Math.max(0, digits - 2)).replace("e+", "e");
  return String(Number(x.toPrecision(digits)));
}

/** Seconds as "1h 02m", "3m 20s" or "12.3s". */
export function fmtDuration(v: unknown): string {
  const s = finite(v);
  if (s === null || s < 0) return DASH;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.round(s - m * 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m - h * 60).padStart(2, "0")}m`;
}

/**
 * "Nice" axis ticks (steps of 1, 2 or 5 times a power of ten) covering [lo, hi] with about `target`
 * intervals. Returns the step and ticks; the ticks lie within [lo, hi].
 */
export function niceTicks(lo: number, hi: number, target = 5): { step: number; ticks: number[] } {
  if (!(hi > lo)) return { step: 0, ticks: [lo] };
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { step, ticks };
}

/** Widens [lo, hi] outward to whole multiples of the nice step, so axes start and end on a tick. */
export function niceDomain(lo: number, hi: number, target = 5): [number, number] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo > hi) [lo, hi] = [hi, lo];
  if (!(hi > lo)) {
    // A flat series still needs a visible range around its value.
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return niceDomain(lo - pad, hi + pad, target);
  }
  const { step } = niceTicks(lo, hi, target);
  return [Number((Math.floor(lo / step + 1e-9) * step).toPrecision(12)), Number((Math.ceil(hi / step - 1e-9) * step).toPrecision(12))];
}

/** Formats a tick value with just enough decimals for the tick step. */
export function fmtTick(v: number, step: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || (step > 0 && step < 1e-5)) {
    // Exponent form only for tiny steps; down to 1e-5 plain decimals (0.00025) compare more easily.
    const digits = step > 0 ? Math.max(0, Math.floor(Math.log10(a)) - Math.floor(Math.log10(step))) : 2;
    return v.toExponential(Math.min(digits, 6)).replace("e+", "e");
  }
  if (a >= 1e4 && step >= 1000) return `${Number((v / 1000).toPrecision(12))}k`;
  const decimals = step > 0 ? Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) : 2;
  return v.toFixed(Math.min(decimals, 10));
}

/**
 * A self-contained HTML page: no scripts, no outside requests (the CSP allows only inline styles and
 * data: images), so a report opens the same from any folder or mail attachment.
 */
export function htmlPage(title: string, css: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${css}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

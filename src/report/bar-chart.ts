// A horizontal grouped bar chart as inline SVG (for ablation.html): one row per category, one bar per
// series in it, dashed vertical reference lines (e.g. a baseline). Values are percentages by default;
// a missing value draws no bar and a dash as its label.
import { esc, fmtTick, niceTicks } from "./format.js";

export interface BarChartSpec {
  id: string;
  title: string;
  categories: string[];
  series: { name: string; color: string; values: (number | null)[] }[];
  refs?: { value: number; label: string; color: string }[];
  xLabel: string;
  /** Axis maximum (default: 100, or the data's maximum rounded up when above it). */
  max?: number;
  width?: number;
}

const r1 = (v: number) => String(Math.round(v * 10) / 10);

export function barChart(spec: BarChartSpec): string {
  const w = spec.width ?? 760;
  const left = 150;
  const right = 56;
  const top = 34 + 18 * Math.ceil(((spec.refs?.length ?? 0) + spec.series.length) / 3);
  const bar = 11;
  const rowH = spec.series.length * bar + 10;
  const ph = spec.categories.length * rowH;
  const h = top + ph + 42;
  const all = spec.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const max = spec.max ?? Math.max(100, ...all, ...(spec.refs ?? []).map((r) => r.value));
  const pw = w - left - right;
  const sx = (v: number) => left + (Math.max(0, Math.min(v, max)) / max) * pw;
  const p: string[] = [`<svg id="${esc(spec.id)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${esc(spec.title)}" font-size="11" fill="#333">`];
  p.push(`<text x="${left}" y="16" font-size="13" font-weight="600">${esc(spec.title)}</text>`);
  // Legend under the title: series swatches, then dashed reference lines.
  const items = [...spec.series.map((s) => ({ name: s.name, color: s.color, dashed: false })), ...(spec.refs ?? []).map((r) => ({ name: r.label, color: r.color, dashed: true }))];
  items.forEach((it, i) => {
    const x = left + (i % 3) * Math.floor(pw / 3);
    const y = 32 + 18 * Math.floor(i / 3);
    p.push(it.dashed
      ? `<line x1="${x}" x2="${x + 16}" y1="${y - 4}" y2="${y - 4}" stroke="${esc(it.color)}" stroke-width="2" stroke-dasharray="4 3"/>`
      : `<rect x="${x}" y="${y - 9}" width="16" height="10" fill="${esc(it.color)}"/>`);
    p.push(`<text x="${x + 21}" y="${y}">${esc(it.name)}</text>`);
  });
  const { step, ticks } = niceTicks(0, max, 5);
  for (const t of ticks) {
    if (t > max + 1e-9) continue;
    p.push(`<line x1="${r1(sx(t))}" x2="${r1(sx(t))}" y1="${top}" y2="${top + ph}" stroke="#e6e6e6"/>`);
    p.push(`<text x="${r1(sx(t))}" y="${top + ph + 14}" text-anchor="middle">${esc(fmtTick(t, step))}</text>`);
  }
  p.push(`<text x="${left + pw / 2}" y="${top + ph + 32}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  spec.categories.forEach((c, ci) => {
    const y0 = top + ci * rowH + 5;
    p.push(`<text x="${left - 8}" y="${r1(y0 + (spec.series.length * bar) / 2 + 4)}" text-anchor="end">${esc(c)}</text>`);
    spec.series.forEach((s, si) => {
      const v = s.values[ci];
      const y = y0 + si * bar;
      const ok = v !== null && v !== undefined && Number.isFinite(v);
      if (ok) p.push(`<rect x="${left}" y="${y}" width="${r1(sx(v) - left)}" height="${bar - 2}" fill="${esc(s.color)}"><title>${esc(`${c}, ${s.name}: ${v.toFixed(1)}`)}</title></rect>`);
      p.push(`<text x="${r1((ok ? sx(v) : left) + 4)}" y="${y + bar - 3}" font-size="10">${ok ? esc(v.toFixed(1)) : "\u2014"}</text>`);
    });
  });
  for (const r of spec.refs ?? []) {
    if (!Number.isFinite(r.value)) continue;
    p.push(`<line x1="${r1(sx(r.value))}" x2="${r1(sx(r.value))}" y1="${top - 4}" y2="${top + ph}" stroke="${esc(r.color)}" stroke-width="1.5" stroke-dasharray="5 4"/>`);
  }
  p.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}" stroke="#666"/>`);
  return p.join("") + `</svg>`;
}

// Inline SVG charts for the report, drawn by hand so the page needs no scripts or libraries: a line
// chart (training curves, accuracy over epochs) and a scatter plot (the 2-D embedding map). Both take
// raw numbers, skip non-finite values, and draw a labelled empty frame when nothing is left to plot.

import { esc, fmtTick, niceDomain, niceTicks } from "./format.js";

export interface Series {
  name: string;
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  color: string;
  strokeWidth?: number;
  opacity?: number;
  /** Draw a dot at every point (for short series such as per-epoch accuracies). */
  markers?: boolean;
  /** Leave out of the legend (e.g. the faint raw curve under a smoothed one). */
  hideInLegend?: boolean;
}

export interface HLine {
  y: number;
  label: string;
  color: string;
}

export interface LineChartSpec {
  /** Unique within the page; used for the clip-path id. */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Dashed horizontal reference lines (e.g. a baseline accuracy). */
  hlines?: HLine[];
  /** Hard limits for the y axis (e.g. 0..100 for percentages); the data range is clipped to them. */
  yClamp?: [number, number];
  width?: number;
  height?: number;
  emptyText?: string;
}

const M = { left: 62, right: 14, top: 30, bottom: 44 };
const AXIS = "#666";
const GRID = "#e6e6e6";
const TEXT = "#333";

const r1 = (v: number): string => (Math.round(v * 10) / 10).toString();

interface Frame {
  left: number;
  w: number;
  h: number;
  pw: number;
  ph: number;
  sx: (x: number) => number;
  sy: (y: number) => number;
}

function open(id: string, w: number, h: number, title: string, left = M.left): string {
  return (
    `<svg class="chart" id="${esc(id)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">` +
    `<text x="${left}" y="18" class="ct">${esc(title)}</text>`
  );
}

// Grid, ticks, tick labels and axis titles for the given domains.
function axes(f: Frame, xd: [number, number], yd: [number, number], xLabel: string, yLabel: string): string {
  const parts: string[] = [];
  const xt = niceTicks(xd[0], xd[1], Math.max(2, Math.round(f.pw / 90)));
  const yt = niceTicks(yd[0], yd[1], Math.max(2, Math.round(f.ph / 45)));
  const x0 = f.left;
  const y0 = M.top + f.ph;
  for (const t of yt.ticks) {
    const y = r1(f.sy(t));
    parts.push(`<line x1="${x0}" x2="${x0 + f.pw}" y1="${y}" y2="${y}" stroke="${GRID}"/>`);
    parts.push(`<line x1="${x0 - 4}" x2="${x0}" y1="${y}" y2="${y}" stroke="${AXIS}"/>`);
    parts.push(`<text x="${x0 - 7}" y="${y}" text-anchor="end" dominant-baseline="middle" class="tk">${esc(fmtTick(t, yt.step))}</text>`);
  }
  for (const t of xt.ticks) {
    const x = r1(f.sx(t));
    parts.push(`<line x1="${x}" x2="${x}" y1="${y0}" y2="${y0 + 4}" stroke="${AXIS}"/>`);
    parts.push(`<text x="${x}" y="${y0 + 16}" text-anchor="middle" class="tk">${esc(fmtTick(t, xt.step))}</text>`);
  }
  parts.push(`<path d="M${x0} ${M.top}V${y0}H${x0 + f.pw}" fill="none" stroke="${AXIS}"/>`);
  parts.push(`<text x="${x0 + f.pw / 2}" y="${f.h - 6}" text-anchor="middle" class="al">${esc(xLabel)}</text>`);
  const ym = M.top + f.ph / 2;
  parts.push(`<text x="14" y="${ym}" text-anchor="middle" transform="rotate(-90 14 ${ym})" class="al">${esc(yLabel)}</text>`);
  return parts.join("");
}

// Legend rows are this far apart; rows after the first push the plot down by as much.
const LEGEND_ROW = 15;

/**
 * The legend, right-aligned from `right` in the title row, wrapping onto further rows where an entry
 * would run into the title (first row, which ends at `titleEnd`) or past the left margin. Widths are
 * estimated from character counts (SVG has no text metrics). Returns the markup and the row count.
 */
function legend(items: { name: string; color: string; dashed?: boolean }[], right: number, titleEnd: number): { svg: string; rows: number } {
  let x = right;
  let row = 0;
  const parts: string[] = [];
  for (let i = items.length - 1; i >= 0; i--) {
    const it = items[i]!;
    const tw = it.name.length * 6.2;
    const need = tw + 32;
    const leftLimit = row === 0 ? titleEnd : M.left;
    if (x - need < leftLimit && x < right) {
      row++;
      x = right;
    }
    const y = 18 + row * LEGEND_ROW;
    x -= tw;
    parts.push(`<text x="${r1(x)}" y="${y}" class="lg">${esc(it.name)}</text>`);
    x -= 20;
    parts.push(`<line x1="${r1(x)}" x2="${r1(x + 15)}" y1="${y - 4}" y2="${y - 4}" stroke="${esc(it.color)}" stroke-width="2.5"${it.dashed ? ' stroke-dasharray="4 3"' : ""}/>`);
    x -= 12;
  }
  return { svg: parts.join(""), rows: row + 1 };
}

// Splits a series into runs of consecutive finite points; NaN rows become gaps in the line.
function finiteRuns(xs: ArrayLike<number>, ys: ArrayLike<number>): Array<Array<[number, number]>> {
  const runs: Array<Array<[number, number]>> = [];
  let cur: Array<[number, number]> = [];
  const n = Math.min(xs.length, ys.length);
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (Number.isFinite(x) && Number.isFinite(y)) cur.push([x, y]);
    else if (cur.length) {
      runs.push(cur);
      cur = [];
    }
  }
  if (cur.length) runs.push(cur);
  return runs;
}

// Keeps the SVG small for long runs: per pixel column keep the first, lowest, highest and last point,
// which preserves spikes (a min/max decimation) while dropping points no screen could show.
function decimate(pts: Array<[number, number]>, px: (x: number) => number, columns: number): Array<[number, number]> {
  if (pts.length <= 2 * columns) return pts;
  const out: Array<[number, number]> = [];
  let i = 0;
  while (i < pts.length) {
    const col = Math.floor(px(pts[i]![0]));
    let j = i;
    let lo = i;
    let hi = i;
    while (j < pts.length && Math.floor(px(pts[j]![0])) === col) {
      if (pts[j]![1] < pts[lo]![1]) lo = j;
      if (pts[j]![1] > pts[hi]![1]) hi = j;
      j++;
    }
    const keep = [...new Set([i, Math.min(lo, hi), Math.max(lo, hi), j - 1])];
    for (const k of keep) out.push(pts[k]!);
    i = j;
  }
  return out;
}

// Room left of the plot for the y tick labels plus the rotated axis title; long labels such as
// "0.00025" would otherwise run into the title.
function leftMargin(h: number, yd: [number, number]): number {
  const ph = h - M.top - M.bottom;
  const yt = niceTicks(yd[0], yd[1], Math.max(2, Math.round(ph / 45)));
  const chars = Math.max(...yt.ticks.map((t) => fmtTick(t, yt.step).length));
  return Math.max(M.left, Math.ceil(26 + chars * 6.4 + 8));
}

function frame(w: number, h: number, xd: [number, number], yd: [number, number], left = M.left): Frame {
  const pw = w - left - M.right;
  const ph = h - M.top - M.bottom;
  return {
    left,
    w,
    h,
    pw,
    ph,
    sx: (x) => left + ((x - xd[0]) / (xd[1] - xd[0])) * pw,
    sy: (y) => M.top + ph - ((y - yd[0]) / (yd[1] - yd[0])) * ph,
  };
}

function emptyFrame(id: string, w: number, h: number, title: string, xLabel: string, yLabel: string, text: string): string {
  const f = frame(w, h, [0, 1], [0, 1]);
  return (
    open(id, w, h, title) +
    axes(f, [0, 1], [0, 1], xLabel, yLabel) +
    `<text x="${f.left + f.pw / 2}" y="${M.top + f.ph / 2}" text-anchor="middle" class="empty">${esc(text)}</text></svg>`
  );
}

export function lineChart(spec: LineChartSpec): string {
  const w = spec.width ?? 560;
  const h = spec.height ?? 290;
  const runsPer = spec.series.map((s) => finiteRuns(s.xs, s.ys));
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const runs of runsPer) {
    for (const run of runs) {
      for (const [x, y] of run) {
        if (x < xmin) xmin = x;
        if (x > xmax) xmax = x;
        if (y < ymin) ymin = y;
        if (y > ymax) ymax = y;
      }
    }
  }
  if (xmin > xmax) return emptyFrame(spec.id, w, h, spec.title, spec.xLabel, spec.yLabel, spec.emptyText ?? "no data");
  const hlines = (spec.hlines ?? []).filter((l) => Number.isFinite(l.y));
  for (const l of hlines) {
    ymin = Math.min(ymin, l.y);
    ymax = Math.max(ymax, l.y);
  }
  let yd = niceDomain(ymin, ymax);
  if (spec.yClamp) yd = [Math.max(yd[0], spec.yClamp[0]), Math.min(yd[1], spec.yClamp[1])];
  if (!(yd[1] > yd[0])) yd = niceDomain(yd[0], yd[0]);
  const xd: [number, number] = xmax > xmin ? [xmin, xmax] : [xmin - 0.5, xmax + 0.5];
  // Logging usually starts a few steps in; start the axis at 0 then so it gets a 0 tick.
  if (xmin > 0 && xmin < 0.05 * xmax) xd[0] = 0;
  const f = frame(w, h, xd, yd, leftMargin(h, yd));
  const clip = `${spec.id}-clip`;
  const parts: string[] = [open(spec.id, w, h, spec.title, f.left)];
  // The clip keeps lines inside the plot (e.g. beyond yClamp) but leaves room for markers on the edges.
  parts.push(`<defs><clipPath id="${esc(clip)}"><rect x="${f.left - 4}" y="${M.top - 4}" width="${f.pw + 8}" height="${f.ph + 8}"/></clipPath></defs>`);
  parts.push(axes(f, xd, yd, spec.xLabel, spec.yLabel));
  parts.push(`<g clip-path="url(#${esc(clip)})" fill="none" stroke-linejoin="round" stroke-linecap="round">`);
  for (const l of hlines) {
    const y = r1(f.sy(l.y));
    parts.push(`<line x1="${f.left}" x2="${f.left + f.pw}" y1="${y}" y2="${y}" stroke="${esc(l.color)}" stroke-width="1.5" stroke-dasharray="5 4"/>`);
  }
  spec.series.forEach((s, si) => {
    const stroke = `stroke="${esc(s.color)}" stroke-width="${s.strokeWidth ?? 1.8}"${s.opacity !== undefined ? ` opacity="${s.opacity}"` : ""}`;
    for (const run of runsPer[si]!) {
      const pts = decimate(run, f.sx, f.pw);
      if (pts.length === 1) {
        // A lone point between gaps would be invisible as a path.
        parts.push(`<circle cx="${r1(f.sx(pts[0]![0]))}" cy="${r1(f.sy(pts[0]![1]))}" r="3" fill="${esc(s.color)}" stroke="none"/>`);
        continue;
      }
      const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${r1(f.sx(x))} ${r1(f.sy(y))}`).join("");
      parts.push(`<path d="${d}" ${stroke}/>`);
      if (s.markers) {
        for (const [x, y] of pts) parts.push(`<circle cx="${r1(f.sx(x))}" cy="${r1(f.sy(y))}" r="3" fill="${esc(s.color)}" stroke="#fff" stroke-width="1"/>`);
      }
    }
  });
  parts.push(`</g>`);
  const items = [
    ...spec.series.filter((s) => !s.hideInLegend).map((s) => ({ name: s.name, color: s.color })),
    ...hlines.map((l) => ({ name: l.label, color: l.color, dashed: true })),
  ];
  if (!(items.length > 1 || hlines.length)) return parts.join("") + `</svg>`;
  // A legend that needs more than the title row pushes the plot down instead of running over it.
  const lg = legend(items, w - M.right, f.left + spec.title.length * 7.5 + 16);
  if (lg.rows === 1) return parts.join("") + lg.svg + `</svg>`;
  const extra = (lg.rows - 1) * LEGEND_ROW;
  const body = `<g transform="translate(0 ${extra})">${parts.slice(1).join("")}</g>`;
  return open(spec.id, w, h + extra, spec.title, f.left) + body + lg.svg + `</svg>`;
}

export interface ScatterSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** n x 2 coordinates, row-major. */
  points: ArrayLike<number>;
  /** Colour per point. */
  colorOf: (i: number) => string;
  width?: number;
  height?: number;
  radius?: number;
}

/** Scatter plot with equal scales on both axes, so distances in the map look like distances. */
export function scatterPlot(spec: ScatterSpec): string {
  const w = spec.width ?? 560;
  const h = spec.height ?? 520;
  const n = Math.floor(spec.points.length / 2);
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = spec.points[2 * i]!;
    const y = spec.points[2 * i + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    xmin = Math.min(xmin, x);
    xmax = Math.max(xmax, x);
    ymin = Math.min(ymin, y);
    ymax = Math.max(ymax, y);
  }
  if (xmin > xmax) return emptyFrame(spec.id, w, h, spec.title, spec.xLabel, spec.yLabel, "no points");
  const pw = w - M.left - M.right;
  const ph = h - M.top - M.bottom;
  // One scale for both axes: the larger relative extent decides, the other axis is centred.
  const span = Math.max((xmax - xmin) / pw, (ymax - ymin) / ph, 1e-12) * 1.06;
  const cx = (xmin + xmax) / 2;
  const cy = (ymin + ymax) / 2;
  const xd: [number, number] = [cx - (span * pw) / 2, cx + (span * pw) / 2];
  const yd: [number, number] = [cy - (span * ph) / 2, cy + (span * ph) / 2];
  const f = frame(w, h, xd, yd);
  const r = spec.radius ?? 2.4;
  const parts: string[] = [open(spec.id, w, h, spec.title), axes(f, xd, yd, spec.xLabel, spec.yLabel), `<g fill-opacity="0.75">`];
  for (let i = 0; i < n; i++) {
    const x = spec.points[2 * i]!;
    const y = spec.points[2 * i + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    parts.push(`<circle cx="${r1(f.sx(x))}" cy="${r1(f.sy(y))}" r="${r}" fill="${esc(spec.colorOf(i))}"/>`);
  }
  parts.push(`</g></svg>`);
  return parts.join("");
}

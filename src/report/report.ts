// The run report (`report.html`, SPEC section 4): one self-contained page with the plots a user looks
// at after training. Self-contained means no scripts, fonts, stylesheets or images from anywhere else:
// charts are inline SVG drawn by svg.ts, images are PNG data URIs, and a Content-Security-Policy
// meta tag makes the browser refuse anything external even if some value slipped through. Every piece
// of text from the run (config, class names, notes) is escaped. Missing inputs (no eval yet, no images)
// render a short note instead of failing, because the report is also written mid-run.

import { dirname } from "node:path";
import { ensureDir, writeFileAtomic } from "../util/file-writes.js";
import { pngDataUri } from "../util/png.js";
import { DASH, esc, finite, fmtDuration, fmtNum, fmtPct, htmlPage } from "./format.js";
import { lineChart, scatterPlot, type Series } from "./svg.js";

/** One line of metrics.jsonl. Fields may be null/absent in files written by other versions. */
export interface MetricRow {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  tau: number;
  img_per_s: number;
  /** Online kNN accuracy (fraction), only on rows where it was measured. */
  knn_top1?: number | null;
  /** Online linear-probe accuracy (fraction), only on rows where it was measured. */
  online_linear_top1?: number | null;
  /** The online probe's classifier on the kNN monitor's clean test images, at epoch ends. */
  online_linear_clean_top1?: number | null;
  /** The collapse metric of the online projections (≈ 1 healthy, 0 collapsed), on logged steps. */
  collapse?: number | null;
}

/** eval.json as specified in SPEC section 4; accuracies are fractions in [0, 1]. */
export interface EvalResult {
  dataset: string;
  epochs: number;
  wall_s: number;
  knn_top1: number;
  linear_top1: number;
  baselines: {
    random_init: { knn_top1: number; linear_top1: number };
    /** Another, independent initialisation of the same architecture (an extra row). */
    other_init?: { knn_top1: number; linear_top1: number };
    raw_pixels: { linear_top1: number };
  } & Record<string, { knn_top1?: number; linear_top1: number }>;
  /** random_init's weights: "step0", the run's own online encoder at step 0; "independent", another initialisation (older run folders). */
  random_init_weights?: string;
  /** The linear protocol per representation (eval/linear-protocol.ts): the weight decay chosen on a validation split. */
  linear_protocol?: Record<string, { chosen?: { weight_decay?: number; val_top1?: number }; train_top1?: number; validation_images?: number }>;
  /** Where the test split comes from, when the dataset has no published one (e.g. a folder's held-out part). */
  test_split?: string;
  /** Linear top-1 from class-balanced subsets of the train labels, keyed by fraction ("0.01", "0.1"). */
  label_fractions?: Record<string, Record<string, unknown>>;
}

export interface EmbeddingMapInput {
  /** n x 2 coordinates, row-major (e.g. from eval/embedding-map.ts). */
  points: Float32Array;
  /** Class index per point, or null for unlabeled data; negative means unknown. */
  labels: Int32Array | null;
  classNames: string[] | null;
  /** Axis titles; default "PC 1" / "PC 2". */
  axisLabels?: [string, string];
  /** Sentence under the plot, e.g. how the points were chosen. */
  caption?: string;
}

export interface ReportInput {
  title: string;
  /** The full resolved configuration (config.json). */
  config: object;
  metrics: MetricRow[];
  evalResult: EvalResult | null;
  augmentPreviewPng?: Buffer;
  augmentPreviewCaption?: string;
  /** Says how the accuracies logged during training were measured (e.g. on which subset). */
  accuracyCaption?: string;
  embeddingMap?: EmbeddingMapInput;
  neighborExamplesPng?: Buffer;
  neighborExamplesCaption?: string;
  notes?: string[];
  /** Shown in the header when given; left out by default so the same input renders the same bytes. */
  generatedAt?: string | Date;
}

// Tableau-10: distinct, colour-blind-friendlier categorical colours for up to ten classes.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const UNKNOWN_COLOR = "#555555";
// Beyond ten classes the scatter would be hard to read as a page anyway; cap its size.
const MAX_SCATTER_POINTS = 20000;

export function classColor(k: number): string {
  if (k < 0) return UNKNOWN_COLOR;
  if (k < PALETTE.length) return PALETTE[k]!;
  // Golden-angle hues keep further classes apart from each other.
  return `hsl(${Math.round((k * 137.508) % 360)} 60% 45%)`;
}

/** Renders the whole report as one HTML string. */
export function renderReport(input: ReportInput): string {
  const title = String(input.title ?? "BYOL run");
  const metrics = Array.isArray(input.metrics) ? input.metrics : [];
  const ev = input.evalResult ?? null;
  const body = [
    header(title, metrics, ev, input.generatedAt),
    section("Training curves", trainingCurves(metrics)),
    section("Accuracy during training", accuracyCurves(metrics, ev, input.accuracyCaption)),
    section("Evaluation", evalTable(ev)),
    section("Augmentation preview", imageBlock(input.augmentPreviewPng, "Augmentation preview", input.augmentPreviewCaption ?? "Views produced by the training augmentation pipeline.", "No augmentation preview was saved for this run.")),
    section("Embedding map", embeddingSection(input.embeddingMap)),
    section("Nearest neighbours", imageBlock(input.neighborExamplesPng, "Nearest-neighbour examples", input.neighborExamplesCaption ?? "Query images and their nearest neighbours by cosine similarity of the encoder's embeddings.", "No nearest-neighbour examples were saved for this run.")),
    input.notes && input.notes.length ? section("Notes", `<ul class="notes">${input.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`) : "",
    section("Configuration", configBlock(input.config)),
  ].join("\n");
  return htmlPage(title, CSS, body);
}

/** Renders the report and writes it atomically (a reader never sees half a page), creating the folder. */
export function writeReport(path: string, input: ReportInput): void {
  ensureDir(dirname(path));
  writeFileAtomic(path, renderReport(input));
}

function section(name: string, content: string): string {
  return `<section><h2>${esc(name)}</h2>${content}</section>`;
}

function note(text: string): string {
  return `<p class="note">${esc(text)}</p>`;
}

function column(metrics: MetricRow[], key: keyof MetricRow, scale = 1): Float64Array {
  const out = new Float64Array(metrics.length);
  for (let i = 0; i < metrics.length; i++) {
    const v = finite(metrics[i]?.[key]);
    out[i] = v === null ? NaN : v * scale;
  }
  return out;
}

function lastFinite(xs: ArrayLike<number>): number | null {
  for (let i = xs.length - 1; i >= 0; i--) if (Number.isFinite(xs[i]!)) return xs[i]!;
  return null;
}

function median(xs: ArrayLike<number>): number | null {
  const v = Array.from(xs).filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

// Centred moving average over the finite values in each window; the raw loss is too noisy to read
// trends from, but it stays on the chart (faint) so spikes are not hidden.
function smooth(ys: Float64Array, window: number): Float64Array {
  const n = ys.length;
  const sum = new Float64Array(n + 1);
  const cnt = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const ok = Number.isFinite(ys[i]!);
    sum[i + 1] = sum[i]! + (ok ? ys[i]! : 0);
    cnt[i + 1] = cnt[i]! + (ok ? 1 : 0);
  }
  const half = Math.floor(window / 2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(ys[i]!)) {
      out[i] = NaN;
      continue;
    }
    const a = Math.max(0, i - half);
    const b = Math.min(n, i + half + 1);
    const c = cnt[b]! - cnt[a]!;
    out[i] = c > 0 ? (sum[b]! - sum[a]!) / c : NaN;
  }
  return out;
}

function card(label: string, value: string, hint = ""): string {
  return `<div class="card"><div class="cv">${esc(value)}</div><div class="cl">${esc(label)}</div>${hint ? `<div class="ch">${esc(hint)}</div>` : ""}</div>`;
}

function header(title: string, metrics: MetricRow[], ev: EvalResult | null, generatedAt: string | Date | undefined): string {
  const steps = column(metrics, "step");
  const epochs = column(metrics, "epoch");
  const loss = column(metrics, "loss");
  const knn = column(metrics, "knn_top1");
  const tail = Array.from(loss).filter(Number.isFinite).slice(-20);
  const finalLoss = tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : null;
  const cards: string[] = [];
  if (ev) {
    cards.push(card("kNN top-1 (test)", fmtPct(ev.knn_top1), `random init ${fmtPct(ev.baselines?.random_init?.knn_top1)}`));
    cards.push(card("linear top-1 (test)", fmtPct(ev.linear_top1), `raw pixels ${fmtPct(ev.baselines?.raw_pixels?.linear_top1)}`));
  } else if (lastFinite(knn) !== null) {
    cards.push(card("online kNN top-1", fmtPct(lastFinite(knn)), "latest during training"));
  }
  cards.push(card("final loss", fmtNum(finalLoss), tail.length ? `mean of last ${tail.length} logged steps` : "no loss logged"));
  cards.push(card("steps", fmtNum(lastFinite(steps), 6), `epoch ${fmtNum(lastFinite(epochs), 3)}`));
  cards.push(card("throughput", `${fmtNum(median(column(metrics, "img_per_s")), 3)} img/s`, "median over logged steps"));
  if (ev) cards.push(card("wall time", fmtDuration(ev.wall_s), `${fmtNum(ev.epochs, 4)} epochs`));
  const sub: string[] = [];
  if (ev) sub.push(`dataset ${ev.dataset}`);
  sub.push(`${metrics.length} logged steps`);
  if (generatedAt !== undefined) sub.push(`generated ${generatedAt instanceof Date ? generatedAt.toISOString() : generatedAt}`);
  return `<header><h1>${esc(title)}</h1><p class="sub">${esc(sub.join(" \u00b7 "))}</p><div class="cards">${cards.join("")}</div></header>`;
}

function trainingCurves(metrics: MetricRow[]): string {
  if (!metrics.length) return note("No metrics have been logged yet.");
  const xs = column(metrics, "step");
  const window = Math.max(3, Math.round(metrics.length / 40));
  const noisy = (id: string, title: string, yLabel: string, ys: Float64Array, color: string): string => {
    const series: Series[] =
      metrics.length >= 30
        ? [
            { name: "raw", xs, ys, color, strokeWidth: 1, opacity: 0.3, hideInLegend: true },
            { name: `${title} (smoothed, ${window} logs)`, xs, ys: smooth(ys, window), color, strokeWidth: 2, hideInLegend: true },
          ]
        : [{ name: title, xs, ys, color, markers: metrics.length <= 60 }];
    return lineChart({ id, title, xLabel: "step", yLabel, series, emptyText: "no finite values" });
  };
  const plain = (id: string, title: string, yLabel: string, ys: Float64Array, color: string): string =>
    lineChart({ id, title, xLabel: "step", yLabel, series: [{ name: title, xs, ys, color }], emptyText: "no finite values" });
  return (
    `<div class="grid">` +
    noisy("chart-loss", "Loss", "loss", column(metrics, "loss"), "#4e79a7") +
    // Beside the loss: a loss near its floor means little if the projections have collapsed (≈ 0 here).
    (metrics.some((r) => finite(r.collapse) !== null) ? plain("chart-collapse", "Collapse metric (\u2248 1 healthy, 0 collapsed)", "std \u00d7 \u221ad", column(metrics, "collapse"), "#e15759") : "") +
    plain("chart-lr", "Learning rate", "lr", column(metrics, "lr"), "#f28e2b") +
    plain("chart-tau", "Target EMA \u03c4", "\u03c4", column(metrics, "tau"), "#59a14f") +
    noisy("chart-speed", "Throughput", "images / s", column(metrics, "img_per_s"), "#b07aa1") +
    `</div>` +
    (metrics.length >= 30 ? `<p class="cap">Faint lines are the logged values; solid lines a centred moving average over ${window} logged steps.</p>` : "")
  );
}

function accuracyCurves(metrics: MetricRow[], ev: EvalResult | null, caption?: string): string {
  const epochs = column(metrics, "epoch");
  const knn = column(metrics, "knn_top1", 100);
  const lin = column(metrics, "online_linear_top1", 100);
  const linClean = column(metrics, "online_linear_clean_top1", 100);
  const has = (ys: Float64Array): boolean => ys.some((v) => Number.isFinite(v));
  // Rows without a measurement are dropped rather than kept as NaN, so the points join into a line.
  const pick = (ys: Float64Array): { xs: number[]; ys: number[] } => {
    const px: number[] = [];
    const py: number[] = [];
    ys.forEach((y, i) => {
      if (Number.isFinite(y) && Number.isFinite(epochs[i]!)) {
        px.push(epochs[i]!);
        py.push(y);
      }
    });
    return { xs: px, ys: py };
  };
  if (!has(knn) && !has(lin)) return note("No kNN or linear-probe accuracy was logged during training.");
  const series: Series[] = [];
  if (has(knn)) series.push({ name: "kNN top-1", ...pick(knn), color: "#4e79a7", markers: true });
  if (has(lin)) series.push({ name: "online linear top-1", ...pick(lin), color: "#e15759", markers: true });
  if (has(linClean)) series.push({ name: "online linear top-1, clean test images", ...pick(linClean), color: "#f28e2b", markers: true });
  const hlines = [];
  const bk = finite(ev?.knn_top1);
  if (bk !== null) hlines.push({ y: bk * 100, label: "BYOL kNN (final evaluation, full splits)", color: "#4e79a7" });
  const rk = finite(ev?.baselines?.random_init?.knn_top1);
  if (rk !== null) hlines.push({ y: rk * 100, label: "random-init kNN (final evaluation)", color: "#888888" });
  return (
    `<div class="grid1">` +
    lineChart({ id: "chart-acc", title: "Accuracy over epochs", xLabel: "epoch", yLabel: "top-1 accuracy (%)", series, hlines, yClamp: [0, 100], width: 760, height: 300 }) +
    `</div>` +
    (caption ? `<p class="cap">${esc(caption)}</p>` : "")
  );
}

function evalTable(ev: EvalResult | null): string {
  if (!ev) return note("No evaluation yet: eval.json is written after training (or by `byol eval RUN_DIR`).");
  // The semi-supervised columns (linear probes from a fraction of the labels), largest fraction first.
  const fr = ev.label_fractions && typeof ev.label_fractions === "object" ? ev.label_fractions : {};
  const fractions = Object.keys(fr).filter((k) => Number(k) > 0).sort((a, b) => Number(b) - Number(a));
  const frac = (key: "byol" | "random_init" | "raw_pixels") => fractions.map((f) => fr[f]?.[key]);
  const rows: Array<[string, ...unknown[]]> = [
    [`BYOL (${fmtNum(ev.epochs, 4)} epochs)`, ev.knn_top1, ev.linear_top1, ...frac("byol")],
    [ev.random_init_weights === "step0" ? "Random init: this run's step-0 weights" : "Random-init encoder (an independent initialisation)", ev.baselines?.random_init?.knn_top1, ev.baselines?.random_init?.linear_top1, ...frac("random_init")],
    ...(ev.baselines?.other_init ? [["Other init (independent, not BYOL's start)", ev.baselines.other_init.knn_top1, ev.baselines.other_init.linear_top1, ...fractions.map(() => undefined)] as [string, ...unknown[]]] : []),
    ["Raw pixels", undefined, ev.baselines?.raw_pixels?.linear_top1, ...frac("raw_pixels")],
  ];
  // Bold the best value in each column so the comparison reads at a glance.
  const best = (col: number): number => Math.max(...rows.map((r) => finite(r[col]) ?? -Infinity));
  const cell = (v: unknown, b: number): string => {
    const x = finite(v);
    return `<td class="num${x !== null && x === b ? " best" : ""}">${x === null ? DASH : esc(fmtPct(x))}</td>`;
  };
  const columns = ["kNN top-1", "Linear top-1", ...fractions.map((f) => `Linear top-1, ${fmtNum(Number(f) * 100, 3)}% of labels`)];
  const bests = columns.map((_, i) => best(i + 1));
  const fractionNote = fractions.length
    ? ` The ${fractions.map((f) => `${fmtNum(Number(f) * 100, 3)}%`).join(" and ")} columns: the same linear protocol trained on class-balanced, seeded subsets of the train labels (the paper's semi-supervised setting, Table 2), scored on the whole test split.`
    : "";
  return (
    `<table class="acc"><thead><tr><th>Encoder</th>${columns.map((c) => `<th class="num">${esc(c)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => `<tr><td>${esc(r[0])}</td>${columns.map((_, i) => cell(r[i + 1], bests[i]!)).join("")}</tr>`).join("") +
    `</tbody></table>` +
    `<p class="cap">${ev.test_split ? `Test split: ${esc(ev.test_split)}` : `Test split of ${esc(ev.dataset ?? DASH)}`}; all measured in the same run. Wall time ${esc(fmtDuration(ev.wall_s))}.${esc(fractionNote)}</p>` +
    linearProtocolTable(ev)
  );
}

// The linear protocol's choice per representation: the weight decay picked on the validation split
// and the final probe's train accuracy beside its test accuracy (a large gap reads as over-fitting).
function linearProtocolTable(ev: EvalResult): string {
  const lp = ev.linear_protocol && typeof ev.linear_protocol === "object" ? Object.entries(ev.linear_protocol) : [];
  if (lp.length === 0) return "";
  const name: Record<string, string> = { byol: "BYOL", random_init: "Random-init encoder", raw_pixels: "Raw pixels" };
  const rows = lp.map(([k, r]) =>
    `<tr><td>${esc(name[k] ?? k.replace(/_/g, " "))}</td><td class="num">${esc(fmtNum(r?.chosen?.weight_decay, 2))}</td>` +
    `<td class="num">${esc(fmtPct(r?.chosen?.val_top1))}</td><td class="num">${esc(fmtPct(r?.train_top1))}</td></tr>`).join("");
  const nVal = lp[0][1]?.validation_images;
  return (
    `<table class="acc"><thead><tr><th>Linear protocol</th><th class="num">Weight decay chosen</th><th class="num">Validation top-1</th><th class="num">Final probe, train top-1</th></tr></thead><tbody>${rows}</tbody></table>` +
    `<p class="cap">${esc(`The weight decay of each linear probe is chosen on a seeded, class-stratified validation split of the train split${typeof nVal === "number" ? ` (${nVal} images)` : ""}; the probe is then retrained on the whole train split with it and scored once on the test split (the table above). Full-batch L-BFGS on standardised features; eval.json's linear_protocol holds every grid point.`)}</p>`
  );
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

// Width and height from the PNG header (IHDR is always the first chunk), or null if this is not a PNG.
export function pngSize(buf: Uint8Array): { width: number; height: number } | null {
  if (buf.length < 24 || PNG_SIGNATURE.some((b, i) => buf[i] !== b)) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const width = dv.getUint32(16);
  const height = dv.getUint32(20);
  return width > 0 && height > 0 ? { width, height } : null;
}

function imageBlock(png: Uint8Array | undefined, alt: string, caption: string, missing: string): string {
  if (!png || png.length === 0) return note(missing);
  const size = pngSize(png);
  if (!size) return note(`${alt}: the saved image is not a valid PNG.`);
  // Small grids (28x28 digits) would be postage stamps: show them at an integer zoom, kept crisp by
  // image-rendering: pixelated, up to about 640 px wide.
  const zoom = Math.max(1, Math.min(4, Math.floor(640 / size.width)));
  return (
    `<figure><img class="px" src="${pngDataUri(png)}" width="${size.width * zoom}" height="${size.height * zoom}" alt="${esc(alt)}">` +
    `<figcaption>${esc(caption)}</figcaption></figure>`
  );
}

function embeddingSection(map: EmbeddingMapInput | undefined): string {
  if (!map || !map.points) return note("No embedding map was computed for this run.");
  const total = Math.floor(map.points.length / 2);
  if (total === 0) return note("The embedding map has no points.");
  let labels = map.labels;
  const extra: string[] = [];
  if (labels && labels.length !== total) {
    extra.push(`Labels ignored: ${labels.length} labels for ${total} points.`);
    labels = null;
  }
  // Deterministic stride subsampling keeps the page a sensible size for very large maps.
  const stride = Math.ceil(total / MAX_SCATTER_POINTS);
  const idx: number[] = [];
  for (let i = 0; i < total; i += stride) idx.push(i);
  const pts = new Float64Array(idx.length * 2);
  idx.forEach((src, k) => {
    pts[2 * k] = map.points[2 * src]!;
    pts[2 * k + 1] = map.points[2 * src + 1]!;
  });
  if (stride > 1) extra.push(`Showing ${idx.length} of ${total} points.`);
  const names = map.classNames ?? [];
  const nameOf = (k: number): string => (k < 0 ? "unknown" : names[k] ?? `class ${k}`);
  const colorOf = (i: number): string => (labels ? classColor(labels[idx[i]!]!) : PALETTE[0]!);
  const [xl, yl] = map.axisLabels ?? ["PC 1", "PC 2"];
  const svg = scatterPlot({ id: "chart-map", title: "Embeddings in 2-D", xLabel: xl, yLabel: yl, points: pts, colorOf });
  let legend = "";
  if (labels) {
    const counts = new Map<number, number>();
    for (const i of idx) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
    const keys = [...counts.keys()].sort((a, b) => a - b);
    legend = `<ul class="legend">${keys
      .map((k) => `<li><span class="sw" style="background:${esc(classColor(k))}"></span>${esc(nameOf(k))} <span class="cnt">(${counts.get(k)})</span></li>`)
      .join("")}</ul>`;
  } else {
    legend = note("No labels: all points share one colour.");
  }
  const caps = [map.caption ?? "", ...extra].filter(Boolean);
  return `<div class="map">${svg}${legend}</div>${caps.length ? `<p class="cap">${esc(caps.join(" "))}</p>` : ""}`;
}

// JSON that never throws: BigInt becomes a string and repeated objects are marked, so a strange config
// object cannot break the report.
function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  try {
    return (
      JSON.stringify(
        value,
        (_k, v: unknown) => {
          if (typeof v === "bigint") return v.toString();
          if (typeof v === "object" && v !== null) {
            if (seen.has(v)) return "[circular]";
            seen.add(v);
          }
          return v;
        },
        2,
      ) ?? String(value)
    );
  } catch (e) {
    return `unprintable configuration: ${(e as Error).message}`;
  }
}

function configBlock(config: object | null | undefined): string {
  if (config === null || config === undefined) return note("No configuration recorded.");
  return `<details><summary>Resolved configuration (config.json)</summary><pre>${esc(safeJson(config))}</pre></details>`;
}

const CSS = `
:root{color-scheme:light;--fg:#222;--muted:#666;--line:#ddd;--bg:#fafafa;--accent:#4e79a7}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:24px;margin:0 0 2px;overflow-wrap:anywhere}
h2{font-size:17px;margin:0 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:16px 0}
.sub{color:var(--muted);margin:0 0 12px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:150px}
.cv{font-size:22px;font-weight:600;color:var(--accent);font-variant-numeric:tabular-nums}
.cl{font-size:12.5px;font-weight:600;color:var(--fg)}
.ch{font-size:12px;color:var(--muted)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:14px}
.grid1{max-width:760px}
svg.chart{display:block;width:100%;height:auto;max-width:100%}
svg .ct{font-size:13px;font-weight:600;fill:#222}
svg .tk{font-size:11px;fill:#555;font-variant-numeric:tabular-nums}
svg .al{font-size:12px;fill:#333}
svg .lg{font-size:11px;fill:#333}
svg .empty{font-size:13px;fill:#999}
.note{color:var(--muted);font-style:italic;margin:4px 0}
.cap,figcaption{color:var(--muted);font-size:12.5px;margin:8px 0 0}
figure{margin:0}
img.px{display:block;max-width:100%;height:auto;image-rendering:pixelated;border:1px solid var(--line)}
table.acc{border-collapse:collapse;min-width:420px}
table.acc th,table.acc td{padding:6px 14px;border-bottom:1px solid var(--line);text-align:left}
table.acc th{font-weight:600;background:#f3f5f8}
table.acc .num{text-align:right;font-variant-numeric:tabular-nums}
table.acc .best{font-weight:700;color:var(--accent)}
.map{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.map svg.chart{max-width:560px;flex:1 1 420px}
ul.legend{list-style:none;margin:30px 0 0;padding:0;columns:1}
ul.legend li{margin:3px 0;white-space:nowrap}
.sw{display:inline-block;width:12px;height:12px;border-radius:50%;margin-right:7px;vertical-align:-1px}
.cnt{color:var(--muted)}
details summary{cursor:pointer;color:var(--accent)}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:10px;overflow:auto;max-height:480px;font:12px/1.4 ui-monospace,"DejaVu Sans Mono",monospace}
ul.notes{margin:0;padding-left:20px}
`;

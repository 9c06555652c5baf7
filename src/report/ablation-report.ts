// ablation.html (`byol ablate`): one self-contained page (inline SVG, no scripts, a Content-Security-
// Policy that refuses anything external) with the measured table beside published figures for the same
// ablations, a bar chart of linear and kNN top-1 per variant against full BYOL and random init, and the
// collapse metric over steps for every variant.
import { dirname } from "node:path";
import { ensureDir, writeFileAtomic } from "../util/file-writes.js";
import { DASH, esc, fmtDuration, fmtNum, fmtPct, htmlPage } from "./format.js";
import { lineChart, type Series } from "./svg.js";
import { barChart } from "./bar-chart.js";

/** One row of ablation.json. */
export interface AblationVariantResult {
  name: string;
  /** What the variant changes, in words. */
  what: string;
  /** The run's `ablation` switches. */
  switches: Record<string, unknown>;
  knn_top1: number | null;
  linear_top1: number | null;
  /** The last logged collapse metric. */
  collapse: number | null;
  epochs: number | null;
  wall_s: number | null;
  /** The variant's own encoder at its initial weights. */
  random_init?: { knn_top1: number | null; linear_top1: number | null };
  /** Why the variant has no evaluation (it stopped with this error). */
  error?: string;
}

export interface AblationReportInput {
  summary: { dataset: string; time_budget_s: number; preset: string; seed: number; variants: AblationVariantResult[] };
  curves: { name: string; steps: number[]; collapse: number[] }[];
}

/**
 * Published figures for the same ablations: ImageNet, ResNet-50, linear top-1 unless said otherwise.
 * `sure: false` marks a figure recalled with less certainty than the others (the page says so).
 */
export const PUBLISHED: Record<string, { figure: string; source: string; setting: string; sure: boolean }[]> = {
  full: [
    { figure: "72.5%", source: "BYOL (Grill et al. 2020), Table 5a, τ_base = 0.996", setting: "ImageNet, ResNet-50, 300 epochs, linear", sure: true },
    { figure: "74.3%", source: "BYOL (Grill et al. 2020), Table 1", setting: "ImageNet, ResNet-50, 1000 epochs, linear", sure: true },
  ],
  "no-predictor": [
    { figure: "0.2%", source: "BYOL, Table 5b (target network, no predictor, no negatives)", setting: "ImageNet, 300 epochs", sure: false },
    { figure: "0.1%", source: "SimSiam (Chen & He 2021), Table 1 (no predictor)", setting: "ImageNet, ResNet-50, 100 epochs, τ = 0", sure: true },
  ],
  "no-stop-gradient": [
    { figure: "0.1%", source: "SimSiam, Figure 2 (w/o stop-gradient: collapses)", setting: "ImageNet, ResNet-50, 100 epochs, τ = 0", sure: true },
  ],
  "tau-0": [
    { figure: "0.3%", source: "BYOL, Table 5a (τ = 0)", setting: "ImageNet, 300 epochs, BYOL's predictor", sure: true },
    { figure: "67.7%", source: "SimSiam (τ = 0 is its default; predictor with a constant learning rate)", setting: "ImageNet, ResNet-50, 100 epochs", sure: true },
  ],
  "tau-1": [{ figure: "18.8%", source: "BYOL, Table 5a (τ = 1: a fixed random target)", setting: "ImageNet, 300 epochs", sure: true }],
  "no-bn-heads": [
    { figure: "34.6%", source: "SimSiam, Table 3a (no BatchNorm in any MLP layer)", setting: "ImageNet, ResNet-50, 100 epochs, τ = 0", sure: false },
  ],
  "no-norm": [
    { figure: "collapse", source: "Richemond et al. 2020 (\"BYOL works even without batch statistics\"), BatchNorm ablation table", setting: "ImageNet, 300 epochs; figure not quoted here", sure: false },
  ],
  "gn-ws": [{ figure: "73.9%", source: "Richemond et al. 2020 (GroupNorm + weight standardisation, no batch statistics)", setting: "ImageNet, ResNet-50, 1000 epochs (BatchNorm: 74.3%)", sure: true }],
};

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const pct = (v: number | null | undefined) => (v === null || v === undefined ? null : v * 100);

export function renderAblationReport(input: AblationReportInput): string {
  const s = input.summary;
  const full = s.variants.find((v) => v.name === "full");
  const rand = full?.random_init ?? s.variants.find((v) => v.random_init)?.random_init;
  const cell = (v: unknown) => `<td class="num">${v === null || v === undefined ? DASH : esc(v)}</td>`;
  const rows = s.variants.map((v) => {
    const pub = PUBLISHED[v.name] ?? [];
    const pubCell = pub.length
      ? pub.map((p) => `<div><b>${esc(p.figure)}</b>${p.sure ? "" : "<sup>?</sup>"} <span class="src">${esc(p.source)}; ${esc(p.setting)}</span></div>`).join("")
      : `<span class="src">no published figure for exactly this variant</span>`;
    return `<tr><td><b>${esc(v.name)}</b><div class="src">${esc(v.what)}</div></td>` +
      (v.error ? `<td colspan="5" class="err">failed: ${esc(v.error)}</td>` :
        cell(v.knn_top1 === null ? null : fmtPct(v.knn_top1)) + cell(v.linear_top1 === null ? null : fmtPct(v.linear_top1)) +
        cell(v.collapse === null ? null : fmtNum(v.collapse, 3)) + cell(v.epochs === null ? null : fmtNum(v.epochs, 4)) + cell(v.wall_s === null ? null : fmtDuration(v.wall_s))) +
      `<td class="pub">${pubCell}</td></tr>`;
  });
  const table = `<table><thead><tr><th>Variant</th><th class="num">kNN top-1</th><th class="num">Linear top-1</th><th class="num">Collapse (last)</th><th class="num">Epochs</th><th class="num">Wall time</th><th>Published (linear top-1)</th></tr></thead><tbody>${rows.join("")}</tbody></table>` +
    `<p class="cap">Measured on ${esc(s.dataset)} (test split), preset ${esc(s.preset)}, seed ${esc(s.seed)}, ${esc(fmtDuration(s.time_budget_s))} of training per variant; the collapse metric is the std over the batch of the L2-normalised online projection × √d (≈ 1 healthy, 0 collapsed), last logged value; wall time is training and evaluation. ` +
    `Published figures are ImageNet results from much longer training, for comparison of direction, not size; <sup>?</sup> marks figures recalled with less certainty: check them against the paper before quoting.</p>`;
  const cats = s.variants.map((v) => v.name);
  const refs = [];
  if (full?.linear_top1 != null) refs.push({ value: full.linear_top1 * 100, label: "full BYOL, linear", color: "#4e79a7" });
  if (rand?.linear_top1 != null) refs.push({ value: rand.linear_top1 * 100, label: "random init, linear", color: "#888888" });
  if (rand?.knn_top1 != null) refs.push({ value: rand.knn_top1 * 100, label: "random init, kNN", color: "#bbbbbb" });
  const bars = barChart({
    id: "chart-ablation-acc", title: "Top-1 accuracy per variant (test split)", categories: cats, xLabel: "top-1 accuracy (%)",
    series: [
      { name: "linear", color: "#4e79a7", values: s.variants.map((v) => pct(v.linear_top1)) },
      { name: "kNN", color: "#f28e2b", values: s.variants.map((v) => pct(v.knn_top1)) },
    ],
    refs,
  });
  // Ten names do not fit the chart's own legend row: the legend is an HTML list under the chart.
  const series: Series[] = input.curves.map((c, i) => ({ name: c.name, xs: c.steps, ys: c.collapse, color: PALETTE[i % PALETTE.length]!, strokeWidth: c.name === "full" ? 2.6 : 1.6, hideInLegend: true }));
  const legend = `<ul class="legend">${series.map((x) => `<li><span style="background:${esc(x.color)}"></span>${esc(x.name)}</li>`).join("")}</ul>`;
  const curves = lineChart({ id: "chart-ablation-collapse", title: "Collapse metric over training", xLabel: "step", yLabel: "std \u00d7 \u221ad", series, width: 760, height: 340, emptyText: "no collapse metric logged" });
  return htmlPage(`BYOL ablations: ${s.dataset}`, CSS, `<h1>BYOL ablations on ${esc(s.dataset)}</h1>
<p class="sub">${esc(s.variants.length)} variants · ${esc(fmtDuration(s.time_budget_s))} of training each · preset ${esc(s.preset)} · seed ${esc(s.seed)}</p>
<section><h2>Results beside published figures</h2>${table}</section>
<section><h2>Accuracy per variant</h2>${bars}</section>
<section><h2>Collapse over steps</h2>${curves}${legend}<p class="cap">Near 1 the projections spread over the sphere; near 0 every image maps to about the same vector (collapse).</p></section>
`);
}

export function writeAblationReport(path: string, input: AblationReportInput): void {
  ensureDir(dirname(path));
  writeFileAtomic(path, renderAblationReport(input));
}

const CSS = `body{margin:0;background:#fafafa;color:#222;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1020px;margin:0 auto;padding:20px}h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 10px}
.sub,.cap,.src{color:#666}.cap{font-size:12.5px}.src{font-size:11.5px}section{background:#fff;border:1px solid #ddd;border-radius:8px;padding:14px 16px;margin:14px 0;overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #eee;padding:5px 8px;text-align:left;vertical-align:top}.num{text-align:right;white-space:nowrap}
td.pub div{margin-bottom:3px}.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12.5px}.legend span{display:inline-block;width:16px;height:3px;margin-right:6px;vertical-align:middle}td.err{color:#b00}svg{max-width:100%;height:auto}`;

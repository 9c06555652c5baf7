// ablation.html: the measured table beside the published figures, the accuracy bars and the collapse
// curves, self-contained, and looked at in headless Chromium (as report.test.ts does for report.html);
// and the run report's collapse chart beside the loss.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PNG } from "pngjs";
import { PUBLISHED, renderAblationReport, type AblationReportInput } from "../../src/report/ablation-report.js";
import { renderReport } from "../../src/report/report.js";
import { ABLATION_VARIANTS } from "../../src/train/ablation.js";

const CHROMIUM = "/usr/bin/chromium";

function input(): AblationReportInput {
  const variants = ABLATION_VARIANTS.map((v, i) => ({
    name: v.name, what: v.what, switches: { ...v.switches }, knn_top1: 0.5 + i * 0.03, linear_top1: 0.6 + i * 0.02,
    collapse: v.name.startsWith("no-stop") ? 0.04 : 0.8, epochs: 3, wall_s: 100, random_init: { knn_top1: 0.41, linear_top1: 0.52 },
  }));
  // One variant failed: no accuracies, its error shown instead.
  Object.assign(variants[8], { knn_top1: null, linear_top1: null, epochs: null, wall_s: null, error: "loss became NaN at step 7 <b>" });
  const curves = variants.map((v, i) => ({ name: v.name, steps: [10, 20, 30, 40], collapse: [0.8, 0.7, i === 2 ? 0.1 : 0.75, i === 2 ? 0.04 : 0.8] }));
  return { summary: { dataset: "fashion-mnist", time_budget_s: 100, preset: "cpu", seed: 0, variants }, curves };
}

test("ablation.html: the table with every variant beside its published figures, a failure's error escaped, the bars and the collapse curves, nothing external", () => {
  const html = renderAblationReport(input());
  for (const v of ABLATION_VARIANTS) assert.ok(html.includes(`<b>${v.name}</b>`), v.name);
  assert.ok(html.includes("50.0%") && html.includes("60.0%"), "accuracies as percentages");
  assert.ok(html.includes("failed: loss became NaN at step 7 &lt;b&gt;"), "the failure, escaped");
  for (const figs of Object.values(PUBLISHED)) for (const f of figs) assert.ok(html.includes(f.figure), f.figure);
  assert.match(html, /BYOL, Table 5a \(τ = 1: a fixed random target\)/);
  assert.match(html, /<svg id="chart-ablation-acc"/);
  assert.match(html, /<svg class="chart" id="chart-ablation-collapse"/);
  assert.doesNotMatch(html, /<script|https?:\/\//i);
  assert.match(html, /Content-Security-Policy/);
});

test("report.html draws the collapse metric beside the loss when metrics.jsonl has it", () => {
  const metrics = Array.from({ length: 12 }, (_, i) => ({ step: (i + 1) * 10, epoch: i / 4, loss: 4 - i * 0.1, lr: 0.1, tau: 0.99, img_per_s: 500, collapse: 0.9 - i * 0.05 }));
  const html = renderReport({ title: "r", config: {}, metrics, evalResult: null });
  const at = (id: string) => html.indexOf(`id="${id}"`);
  assert.ok(at("chart-collapse") > at("chart-loss") && at("chart-collapse") < at("chart-lr"), "right after the loss");
  assert.equal(renderReport({ title: "r", config: {}, metrics: metrics.map(({ collapse, ...r }) => r), evalResult: null }).includes("chart-collapse"), false, "no chart without the metric");
});

test("ablation.html renders cleanly in headless Chromium, with a collapse curve per variant", { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's chromium package (apt-get install chromium) to run the browser check`);
  const { chromium } = await import("playwright-core");
  const dir = mkdtempSync(join(tmpdir(), "byol-ablation-report-"));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const file = join(dir, "ablation.html");
    writeFileSync(file, renderAblationReport(input()));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    assert.deepEqual(problems, []);
    assert.deepEqual(requests.filter((u) => !u.startsWith("file:") && !u.startsWith("data:")), []);
    const sizes = await page.$$eval("svg", (els) => els.map((e) => ({ id: e.id, w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height })));
    assert.deepEqual(sizes.map((s) => s.id), ["chart-ablation-acc", "chart-ablation-collapse"]);
    for (const s of sizes) assert.ok(s.w > 300 && s.h > 200, `${s.id}: ${s.w}x${s.h}`);
    // 10 variants with 2 bars each, less the failed one's 2; one drawn curve per variant.
    assert.equal(await page.$$eval("#chart-ablation-acc rect[fill='#4e79a7'] title, #chart-ablation-acc rect[fill='#f28e2b'] title", (els) => els.length), 18);
    assert.ok(await page.$$eval("#chart-ablation-collapse path", (els) => els.length) >= ABLATION_VARIANTS.length);
    const shot = process.env.BYOL_ABLATION_SCREENSHOT ?? join(dir, "ablation.png");
    await page.screenshot({ path: shot, fullPage: true });
    const png = PNG.sync.read(readFileSync(shot));
    assert.ok(png.width >= 1000 && png.height > 900 && statSync(shot).size > 1000, `screenshot ${png.width}x${png.height}`);
    t.diagnostic(`screenshot: ${shot}`);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PNG } from "pngjs";
import { embeddingMap } from "../../src/eval/embedding-map.js";
import { renderReport, writeReport, type MetricRow, type ReportInput } from "../../src/report/report.js";
import { encodeGrid, imageGrid } from "../../src/util/png.js";

const CHROMIUM = "/usr/bin/chromium";
const EVIL = `<script>alert("x")</script>`;

// Deterministic uniform numbers so the synthetic run is the same every time.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function syntheticMetrics(rows: number): MetricRow[] {
  const r = rng(1);
  const stepsPerEpoch = 200;
  const total = rows * 5;
  const out: MetricRow[] = [];
  for (let i = 0; i < rows; i++) {
    const step = 5 * (i + 1);
    const epoch = step / stepsPerEpoch;
    const warm = Math.min(1, step / 300);
    const row: MetricRow = {
      step,
      epoch: Math.floor(epoch),
      loss: 3.2 * Math.exp(-step / 500) + 0.35 + 0.15 * (r() - 0.5),
      lr: 3e-4 * warm * 0.5 * (1 + Math.cos((Math.PI * step) / total)),
      tau: 1 - 0.004 * 0.5 * (1 + Math.cos((Math.PI * step) / total)),
      img_per_s: (i === 0 ? 120 : 850) + 60 * (r() - 0.5),
    };
    if (step % stepsPerEpoch === 0) {
      row.knn_top1 = 0.3 + 0.5 * (1 - Math.exp(-epoch / 3));
      row.online_linear_top1 = 0.35 + 0.48 * (1 - Math.exp(-epoch / 2.5));
    }
    out.push(row);
  }
  // A diverged step and a row from a writer that put null for NaN: both must just leave gaps.
  out[150]!.loss = NaN;
  (out[151] as unknown as Record<string, unknown>).img_per_s = null;
  return out;
}

function tinyPngs(): { augment: Buffer; neighbors: Buffer } {
  // Eight 16x16 RGB gradient "images", shown 3x larger, as the augmentation preview.
  const n = 8;
  const h = 16;
  const w = 16;
  const imgs = new Uint8Array(n * 3 * h * w);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = i * 3 * h * w + y * w + x;
        imgs[o] = (x * 16 + i * 30) & 255;
        imgs[o + h * w] = y * 16;
        imgs[o + 2 * h * w] = 255 - i * 30;
      }
    }
  }
  const augment = encodeGrid(imageGrid(imgs, n, 3, h, w, 4, { scale: 3, pad: 3 }));
  // 3 queries x (1 + 5 neighbours) grey 12x12 squares as the nearest-neighbour examples.
  const m = 18;
  const grey = new Uint8Array(m * 12 * 12);
  for (let i = 0; i < m; i++) grey.fill(40 + (i % 6) * 35, i * 144, (i + 1) * 144);
  const neighbors = encodeGrid(imageGrid(grey, m, 1, 12, 12, 6, { scale: 4, pad: 4, background: 255 }));
  return { augment, neighbors };
}

// Three Gaussian clusters in 16 dimensions, mapped to 2-D by the real PCA code.
function syntheticMap(): NonNullable<ReportInput["embeddingMap"]> {
  const r = rng(2);
  const perClass = 150;
  const d = 16;
  const n = 3 * perClass;
  const x = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = (j % 3 === c ? 4 : 0) + (j === 5 ? c * 2 : 0) + 1.5 * (r() - 0.5) * 2;
  }
  return { points: embeddingMap(x, n, d), labels, classNames: ["T-shirt/top", "Trouser", EVIL], caption: "450 test images, PCA of the encoder's embeddings." };
}

function fullInput(): ReportInput {
  const { augment, neighbors } = tinyPngs();
  return {
    title: `BYOL on fashion-mnist ${EVIL}`,
    config: { preset: "cpu", dataset: "fashion-mnist", optimizer: { name: "lars", lr: 0.3 }, note: `</pre>${EVIL}`, batch_size: 256 },
    metrics: syntheticMetrics(400),
    evalResult: {
      dataset: "fashion-mnist",
      epochs: 10,
      wall_s: 1234.5,
      knn_top1: 0.7834,
      linear_top1: 0.8127,
      baselines: { random_init: { knn_top1: 0.4521, linear_top1: 0.6012 }, raw_pixels: { linear_top1: 0.8413 } },
    },
    augmentPreviewPng: augment,
    embeddingMap: syntheticMap(),
    neighborExamplesPng: neighbors,
    notes: ["Trained on the CPU preset.", `A note with markup ${EVIL}`],
  };
}

function emptyInput(): ReportInput {
  return { title: "fresh run", config: {}, metrics: [], evalResult: null };
}

function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /<script/i, "no scripts at all");
  assert.doesNotMatch(html, /https?:\/\//i, "no absolute http(s) URLs");
  assert.doesNotMatch(html, /\/\/[a-z0-9.-]+\.[a-z]{2,}\//i, "no protocol-relative URLs");
  assert.doesNotMatch(html, /@import|@font-face/i, "no external CSS");
  for (const m of html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/gi)) {
    assert.match(m[1]!, /^(data:image\/png;base64,|#)/, `only data: or fragment references, got ${m[1]!.slice(0, 40)}`);
  }
}

test("renderReport shows the accuracy table as percentages and one SVG per chart", () => {
  const html = renderReport(fullInput());
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  for (const pct of ["78.3%", "81.3%", "45.2%", "60.1%", "84.1%"]) assert.ok(html.includes(pct), `table shows ${pct}`);
  const table = html.slice(html.indexOf('<table class="acc"'), html.indexOf("</table>"));
  assert.equal((table.match(/<tr>/g) ?? []).length, 4, "header + BYOL + random init + raw pixels");
  assert.match(table, /Raw pixels<\/td><td class="num">\u2014<\/td>/, "raw pixels has no kNN value");
  for (const id of ["chart-loss", "chart-lr", "chart-tau", "chart-speed", "chart-acc", "chart-map"]) {
    assert.match(html, new RegExp(`<svg class="chart" id="${id}"`), `chart ${id}`);
  }
  assert.equal((html.match(/<svg /g) ?? []).length, 6);
  assert.equal((html.match(/<img /g) ?? []).length, 2);
  // The 8-image preview grid is 4*(48+3)+3 = 207 px wide: shown at 3x (integer zoom, crisp pixels).
  assert.match(html, /<img class="px" src="data:image\/png;base64,[A-Za-z0-9+/=]+" width="621" height="/);
  assert.ok((html.match(/<circle /g) ?? []).length >= 450, "every map point drawn");
  assert.match(html, /<details><summary>Resolved configuration/);
  assert.match(html, /&quot;optimizer&quot;/, "config JSON shown (escaped)");
  // Legend lists all three classes with counts, the hostile name escaped.
  assert.match(html, /T-shirt\/top <span class="cnt">\(150\)<\/span>/);
  assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  assertSelfContained(html);
  // Same input, same bytes: the page carries no timestamp unless asked to.
  assert.equal(renderReport(fullInput()), html);
});

test("renderReport degrades to notes when data is missing", () => {
  const html = renderReport(emptyInput());
  assertSelfContained(html);
  assert.match(html, /No metrics have been logged yet/);
  assert.match(html, /No evaluation yet/);
  assert.match(html, /No augmentation preview/);
  assert.match(html, /No embedding map/);
  assert.match(html, /No nearest-neighbour examples/);
  assert.match(html, /No kNN or linear-probe accuracy/);
  assert.doesNotMatch(html, /NaN|undefined|Infinity/);

  // All-NaN series, a single row, labels that do not match the points, unlabeled data: no throw.
  const odd = renderReport({
    title: "odd",
    config: { big: 10n } as object,
    metrics: [{ step: 1, epoch: 0, loss: NaN, lr: NaN, tau: NaN, img_per_s: NaN, knn_top1: 0.5 }],
    evalResult: null,
    embeddingMap: { points: Float32Array.from([0, 0, 1, 1, NaN, 2]), labels: Int32Array.from([0]), classNames: null },
  });
  assert.match(odd, /no finite values/);
  assert.match(odd, /Labels ignored/);
  assert.match(odd, /&quot;big&quot;: &quot;10&quot;/);
  assert.doesNotMatch(odd, /NaN|Infinity/);
  const eval0 = renderReport({ ...emptyInput(), evalResult: { dataset: "x", epochs: 1, wall_s: 5, knn_top1: NaN, linear_top1: 0.5, baselines: {} } as never });
  assert.match(eval0, /50\.0%/);
  const badPng = renderReport({ ...emptyInput(), augmentPreviewPng: Buffer.from("not a png at all, just text") });
  assert.match(badPng, /not a valid PNG/);
  assert.doesNotMatch(badPng, /<img /);
});

test("writeReport writes the rendered page", () => {
  const dir = mkdtempSync(join(tmpdir(), "byol-report-"));
  try {
    const path = join(dir, "run", "report.html");
    writeReport(path, emptyInput());
    assert.equal(readFileSync(path, "utf8"), renderReport(emptyInput()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("report renders cleanly in headless Chromium", { timeout: 120_000 }, async (t) => {
  // CI installs Debian's chromium; a missing browser is a failure, never a silent skip.
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's chromium package (apt-get install chromium) to run the report browser check`);
  const { chromium } = await import("playwright-core");
  const dir = mkdtempSync(join(tmpdir(), "byol-report-"));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    for (const [name, input] of [["full", fullInput()], ["empty", emptyInput()]] as const) {
      const file = join(dir, `${name}.html`);
      writeFileSync(file, renderReport(input));
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        // CSP violations (anything external) and resource failures surface as console errors.
        if (m.type() === "error") problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
      assert.deepEqual(problems, [], `${name}: no console or page errors`);
      assert.deepEqual(requests.filter((u) => !u.startsWith("file:") && !u.startsWith("data:")), [], `${name}: no network requests`);

      const imgs = await page.$$eval("img", (els) => els.map((e) => ({ ok: e.complete && e.naturalWidth > 0 && e.naturalHeight > 0, w: e.naturalWidth })));
      assert.equal(imgs.length, name === "full" ? 2 : 0);
      assert.ok(imgs.every((i) => i.ok), `${name}: all images decoded ${JSON.stringify(imgs)}`);
      const svgs = await page.$$eval("svg.chart", (els) => els.map((e) => ({ id: e.id, w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height })));
      assert.equal(svgs.length, name === "full" ? 6 : 0);
      for (const s of svgs) assert.ok(s.w > 100 && s.h > 100, `${name}: chart ${s.id} has size ${s.w}x${s.h}`);

      const shot = process.env.BYOL_REPORT_SCREENSHOT && name === "full" ? process.env.BYOL_REPORT_SCREENSHOT : join(dir, `${name}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      const png = PNG.sync.read(readFileSync(shot));
      assert.ok(png.width >= 1000 && png.height > 500 && statSync(shot).size > 1000, `${name}: screenshot ${png.width}x${png.height}`);
      t.diagnostic(`${name} screenshot: ${shot}`);
      await page.close();
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

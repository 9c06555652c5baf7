// The two ONNX examples, run as a user runs them: examples/onnx/search.mjs (onnxruntime-node and
// sharp, no libtorch) indexes a folder of real test images and answers a query; examples/onnx/web
// (onnxruntime-web's WebAssembly build in headless Chromium) embeds a dropped image. Both must give
// libtorch's embeddings of the same images.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PNG } from "pngjs";
import * as T from "../../src/torch/index.js";
import { resnet18 } from "../../src/nn/resnet.js";
import { presetConfig } from "../../src/train/config.js";
import { resolveRecipe } from "../../src/train/recipe.js";
import { exportOnnx } from "../../src/train/export-onnx.js";
import { fashionTest, greyPixels, libtorchEmbed, maxAbsDiff, REL_TOL, seasonBatchNorms, tempDir, writeRun } from "./helpers.js";

const EXAMPLES = fileURLToPath(new URL("../../../examples/onnx/", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const STATS = { mean: [0.286], std: [0.353] };
const N = 40;
const D = 256;

interface Fixture {
  dir: string;
  model: string;
  images: string;
  index: string;
  /** libtorch's embeddings of the N images, [N * D]. */
  want: Float32Array;
}

let fixture: Fixture | null = null;

// A cpu-preset encoder exported to ONNX, N real test images as grey PNGs, and libtorch's embeddings of them.
function setup(): Fixture {
  if (fixture) return fixture;
  const cpu = presetConfig("cpu");
  // The cpu preset on Fashion-MNIST (grey, 28 px) resolves to the small stem.
  resolveRecipe(cpu, { channels: 1, side: 28 });
  const enc = cpu.encoder;
  assert.equal(enc.stem, "small");
  T.manualSeed(4);
  const encoder = resnet18({ inChannels: 1, stem: enc.stem, stemStride: enc.stemStride, widthMultiplier: enc.widthMultiplier, stageWidths: enc.stageWidths });
  seasonBatchNorms(encoder, greyPixels(64, 6000).sub(0.286).div(0.353));
  const dir = writeRun(encoder, enc, { channels: 1, size: 28 }, STATS);
  const model = exportOnnx(dir).path;
  const images = join(dir, "images");
  mkdirSync(images);
  const set = fashionTest();
  for (let i = 0; i < N; i++) {
    const png = new PNG({ width: 28, height: 28 });
    for (let p = 0; p < 784; p++) png.data.fill(set.images[i * 784 + p], 4 * p, 4 * p + 3).fill(255, 4 * p + 3, 4 * p + 4);
    writeFileSync(join(images, `img-${String(i).padStart(3, "0")}.png`), PNG.sync.write(png, { colorType: 0 }));
  }
  const want = libtorchEmbed(encoder, greyPixels(N), STATS.mean, STATS.std);
  encoder.dispose();
  fixture = { dir, model, images, index: join(dir, "embeddings.json"), want };
  return fixture;
}

test.after(() => {
  if (fixture) rmSync(fixture.dir, { recursive: true, force: true });
});

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/** The ids of the k images whose libtorch embeddings are most similar to image q's. */
function libtorchNearest(want: Float32Array, q: number, k: number): string[] {
  const row = (i: number) => want.subarray(i * D, (i + 1) * D);
  return Array.from({ length: N }, (_, i) => ({ i, s: cosine(row(q), row(i)) }))
    .sort((a, b) => b.s - a.s)
    .slice(0, k)
    .map(({ i }) => `img-${String(i).padStart(3, "0")}.png`);
}

function runExample(args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(EXAMPLES, "search.mjs"), ...args], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

test("search.mjs (onnxruntime-node alone) embeds a folder as libtorch does and finds an image's nearest neighbours", () => {
  const f = setup();
  runExample(["index", f.images, f.model, f.index]);
  const index = JSON.parse(readFileSync(f.index, "utf8")) as { dim: number; ids: string[]; embeddings: number[][] };
  assert.equal(index.dim, D);
  assert.deepEqual(index.ids, Array.from({ length: N }, (_, i) => `img-${String(i).padStart(3, "0")}.png`));
  const { diff, scale } = maxAbsDiff(f.want, Float32Array.from(index.embeddings.flat()));
  console.log(`search.mjs: max |ort − libtorch| = ${diff.toExponential(2)} over ${N} images (max |y| = ${scale.toFixed(3)})`);
  assert.ok(diff <= REL_TOL * scale, `max difference ${diff} above ${REL_TOL} × ${scale}`);

  const q = 7;
  const hits = JSON.parse(runExample(["query", f.index, join(f.images, `img-00${q}.png`), f.model, "5"]).stdout) as { id: string; similarity: number }[];
  assert.equal(hits.length, 5);
  assert.equal(hits[0].id, "img-007.png");
  assert.ok(Math.abs(hits[0].similarity - 1) < 1e-5);
  assert.deepEqual(hits.map((h) => h.id), libtorchNearest(f.want, q, 5));
});

test("web page (onnxruntime-web in headless Chromium) embeds a dropped image as libtorch does", async () => {
  const f = setup();
  if (!existsSync(f.index)) runExample(["index", f.images, f.model, f.index]);
  // CI installs Debian's chromium; a missing browser is a failure, never a silent skip.
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's chromium package (apt-get install chromium) to run the browser check`);
  const { serve } = (await import(pathToFileURL(join(EXAMPLES, "web", "serve.mjs")).href)) as {
    serve: (o: { model: string; index: string; images: string; port: number }) => Promise<{ url: string; close: () => Promise<void> }>;
  };
  const server = await serve({ model: f.model, index: f.index, images: f.images, port: 0 });
  const { chromium } = await import("playwright-core");
  const profile = tempDir("onnx-chromium");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const requested: string[] = [];
    const problems: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(server.url);
    await page.waitForSelector("body[data-state=ready]", { timeout: 20_000 });
    const q = 12;
    await page.setInputFiles("#file", join(f.images, `img-0${q}.png`));
    await page.waitForFunction(() => (window as unknown as { lastResult?: unknown }).lastResult !== undefined, null, { timeout: 20_000 });
    const result = (await page.evaluate(() => (window as unknown as { lastResult: unknown }).lastResult)) as { embedding: number[]; neighbours: { id: string; similarity: number }[] };
    assert.deepEqual(problems, []);
    const { diff, scale } = maxAbsDiff(f.want.subarray(q * D, (q + 1) * D), Float32Array.from(result.embedding));
    console.log(`web page: max |ort-web − libtorch| = ${diff.toExponential(2)} (max |y| = ${scale.toFixed(3)})`);
    assert.ok(diff <= REL_TOL * scale, `max difference ${diff} above ${REL_TOL} × ${scale}`);
    assert.deepEqual(result.neighbours.slice(0, 5).map((n) => n.id), libtorchNearest(f.want, q, 5));
    // Everything came from the local server: the page, onnxruntime-web's script and wasm, the model.
    assert.ok(requested.some((u) => u.endsWith(".wasm")), "the WebAssembly runtime was loaded");
    for (const u of requested) assert.ok(u.startsWith(server.url) || u.startsWith("blob:") || u.startsWith("data:"), `request outside the local server: ${u}`);
  } finally {
    await context.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { esc, fmtDuration, fmtNum, fmtPct, fmtTick, niceDomain, niceTicks } from "../../src/report/format.js";
import { pngSize } from "../../src/report/report.js";
import { encodePng } from "../../src/util/png.js";

test("esc neutralises markup in text and attributes", () => {
  assert.equal(esc(`<a href="x" onclick='y'>&</a>`), "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  assert.equal(esc(42), "42");
});

test("percentages, numbers and durations", () => {
  assert.equal(fmtPct(0.7834), "78.3%");
  assert.equal(fmtPct(1), "100.0%");
  assert.equal(fmtPct(NaN), "\u2014");
  assert.equal(fmtPct(null), "\u2014");
  assert.equal(fmtNum(0.386234), "0.3862");
  assert.equal(fmtNum(2000, 6), "2000");
  assert.equal(fmtNum(3e-4), "3.00e-4");
  assert.equal(fmtNum(Infinity), "\u2014");
  assert.equal(fmtDuration(12.34), "12.3s");
  assert.equal(fmtDuration(1234.5), "20m 35s");
  assert.equal(fmtDuration(7322), "2h 02m");
});

test("nice ticks and domains", () => {
  assert.deepEqual(niceTicks(0, 10, 5).ticks, [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0.996, 1, 4).ticks, [0.996, 0.997, 0.998, 0.999, 1]);
  assert.deepEqual(niceTicks(5, 2000, 5).ticks, [500, 1000, 1500, 2000]);
  assert.deepEqual(niceDomain(0.31, 3.47), [0, 3.5]);
  assert.deepEqual(niceDomain(2, 2), [1.8, 2.2], "flat series gets a visible range");
  assert.deepEqual(niceDomain(0, 0), [-1, 1]);
  assert.deepEqual(niceDomain(NaN, 1), [0, 1]);
});

test("tick labels carry just enough digits", () => {
  assert.equal(fmtTick(0.0003, 0.00005), "0.00030");
  assert.equal(fmtTick(0.997, 0.001), "0.997");
  assert.equal(fmtTick(1500, 500), "1500");
  assert.equal(fmtTick(20000, 5000), "20k");
  assert.equal(fmtTick(3e-6, 1e-6), "3e-6");
  assert.equal(fmtTick(0, 0.1), "0");
});

test("pngSize reads the PNG header and rejects other bytes", () => {
  assert.deepEqual(pngSize(encodePng(new Uint8Array(15), 5, 3, 1)), { width: 5, height: 3 });
  assert.equal(pngSize(Buffer.from("GIF89a and more bytes to pass 24")), null);
  assert.equal(pngSize(new Uint8Array(4)), null);
});

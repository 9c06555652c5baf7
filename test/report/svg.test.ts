// Line-chart legends: one that does not fit beside the title wraps onto more rows and moves the plot
// down, so no entry is drawn over the title or off the chart's left edge.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lineChart } from "../../src/report/svg.js";

const series = (name: string, color: string) => ({ name, xs: [1, 2, 3], ys: [10, 20, 30], color });

function legendTexts(svg: string): { x: number; y: number; text: string }[] {
  return [...svg.matchAll(/<text x="([\d.-]+)" y="([\d.-]+)" class="lg">([^<]*)<\/text>/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]), text: m[3]! }));
}

test("a short legend stays in the title row and leaves the chart's size alone", () => {
  const svg = lineChart({ id: "a", title: "Accuracy", xLabel: "epoch", yLabel: "%", series: [series("kNN", "#111"), series("linear", "#222")], width: 560, height: 290 });
  assert.match(svg, /height="290"/);
  const items = legendTexts(svg);
  assert.equal(items.length, 2);
  assert.ok(items.every((i) => i.y === 18));
  assert.doesNotMatch(svg, /translate\(0 /);
});

test("a long legend wraps below the title row and the plot moves down by the extra rows", () => {
  const names = ["kNN top-1 (monitor)", "online linear top-1", "online linear top-1, clean test images"];
  const svg = lineChart({
    id: "b", title: "Accuracy over epochs", xLabel: "epoch", yLabel: "%", width: 560, height: 290,
    series: names.map((n, i) => series(n, `#${i}${i}${i}`)),
    hlines: [{ y: 25, label: "BYOL kNN (final evaluation, full splits)", color: "#444" }, { y: 15, label: "random-init kNN (final evaluation)", color: "#555" }],
  });
  const items = legendTexts(svg);
  assert.equal(items.length, 5);
  const rows = new Set(items.map((i) => i.y));
  assert.ok(rows.size >= 2, `expected the legend to wrap, got rows ${[...rows]}`);
  const extra = (rows.size - 1) * 15;
  assert.match(svg, new RegExp(`height="${290 + extra}"`));
  assert.match(svg, new RegExp(`<g transform="translate\\(0 ${extra}\\)">`));
  // Estimated title end: the title's x plus its characters at the title font's width.
  for (const it of items) {
    assert.ok(it.x >= 0, `${it.text} starts left of the chart (${it.x})`);
    if (it.y === 18) assert.ok(it.x > 62 + "Accuracy over epochs".length * 7.5, `${it.text} overlaps the title`);
  }
});

// metrics.jsonl: one JSON object per logged step, appended and flushed as training goes, so a
// crashed or interrupted run keeps its history. On resume, rows past the checkpoint are dropped.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import type { MetricRow as ReportRow } from "../report/report.js";

/** One line of metrics.jsonl (the report's row type, open to further per-run fields). */
export type MetricRow = ReportRow & { [extra: string]: number | string | null | undefined };

export class MetricsLog {
  constructor(readonly path: string, private readonly enabled = true) {}

  append(row: MetricRow): void {
    if (this.enabled) appendFileSync(this.path, JSON.stringify(row) + "\n");
  }

  /** Keeps only rows up to `step` (the resumed checkpoint's), so the log reads as one run. */
  truncateAfter(step: number): void {
    if (!this.enabled || !existsSync(this.path)) return;
    const kept = readMetrics(this.path).filter((r) => r.step <= step);
    writeFileSync(this.path, kept.map((r) => JSON.stringify(r) + "\n").join(""));
  }
}

export function readMetrics(path: string): MetricRow[] {
  if (!existsSync(path)) return [];
  const rows: MetricRow[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as MetricRow);
    } catch {
      // A line cut short by a crash is skipped; the rest of the history stays readable.
    }
  }
  return rows;
}

// metrics.jsonl: one JSON object per logged step, appended and flushed as training goes, so a
// crashed or interrupted run keeps its history. On resume, rows past the checkpoint are dropped.
// Writes go through the shared writer: never through a symbolic link, failures as one line.
import { existsSync } from "node:fs";
import type { MetricRow as ReportRow } from "../report/report.js";
import { appendToFile, writeFileAtomic } from "../util/file-writes.js";
import { readRegularFile } from "../util/file-reads.js";

/** One line of metrics.jsonl (the report's row type, open to further per-run fields). */
export type MetricRow = ReportRow & { [extra: string]: number | string | null | undefined };

export class MetricsLog {
  constructor(readonly path: string, private readonly enabled = true) {}

  append(row: MetricRow): void {
    if (this.enabled) appendToFile(this.path, JSON.stringify(row) + "\n");
  }

  /** Keeps only rows up to `step` (the resumed checkpoint's), so the log reads as one run. */
  truncateAfter(step: number): void {
    if (!this.enabled || !existsSync(this.path)) return;
    const kept = readMetrics(this.path).filter((r) => r.step <= step);
    writeFileAtomic(this.path, kept.map((r) => JSON.stringify(r) + "\n").join(""));
  }
}

export function readMetrics(path: string): MetricRow[] {
  if (!existsSync(path)) return [];
  const rows: MetricRow[] = [];
  for (const line of readRegularFile(path, "metrics log").toString("utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      const row = JSON.parse(line) as unknown;
      // Only rows shaped like ours: a hand-edited or foreign line must not reach the report.
      if (typeof row === "object" && row !== null && !Array.isArray(row) && typeof (row as MetricRow).step === "number") rows.push(row as MetricRow);
    } catch {
      // A line cut short by a crash is skipped; the rest of the history stays readable.
    }
  }
  return rows;
}

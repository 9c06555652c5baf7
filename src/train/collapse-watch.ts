// Says, in one log line, when a run has collapsed: the collapse metric (src/byol/collapse.ts, ≈ 1
// healthy, 0 when every image maps to one vector) read on logging steps has stayed below
// COLLAPSE_THRESHOLD for at least COLLAPSE_SPAN_STEPS steps. Training goes on: the user decides.

/** Below this the online projections have (nearly) one direction; see the thresholds measured in test/train/collapse.test.ts. */
export const COLLAPSE_THRESHOLD = 0.1;
/** For at least this many steps in a row (logged readings only), so that one low reading is not a collapse. */
export const COLLAPSE_SPAN_STEPS = 50;

export class CollapseWatch {
  private belowSince: number | null = null;
  private reported = false;

  constructor(readonly threshold = COLLAPSE_THRESHOLD, readonly spanSteps = COLLAPSE_SPAN_STEPS) {}

  /** Takes a logged reading; returns the one line to log when the run has just been found collapsed, else null. */
  observe(step: number, collapse: number): string | null {
    // NaN (not measured) neither starts nor ends a span.
    if (Number.isNaN(collapse)) return null;
    if (collapse >= this.threshold) {
      // A recovered run is watched afresh.
      this.belowSince = null;
      this.reported = false;
      return null;
    }
    this.belowSince ??= step;
    if (this.reported || step - this.belowSince < this.spanSteps) return null;
    this.reported = true;
    return `collapse: the online projections' spread (collapse metric, ~1 healthy, 0 collapsed) has stayed below ${this.threshold} since step ${this.belowSince} (now ${collapse.toFixed(4)} at step ${step}); the representation has collapsed, training goes on`;
  }
}

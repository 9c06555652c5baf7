// A wall-clock budget for training: how many epochs fit on THIS machine. A fixed epoch count cannot
// promise a duration (the same cpu preset took 338 s on one 2-core machine and 555 s on another), so a
// run with a budget times its first steps and then fixes its total step count, so that the
// learning-rate and τ schedules run to their end within the budget. The first steps are timed by their
// median, so that one slow step (a neighbour's burst, a page fault) does not shorten the run; at each
// epoch's end the plan is checked against the epochs actually measured and re-made when another epoch
// count fits (replanEpochs), so that load during the first steps, or a machine that slows down later,
// still ends within the budget.
//
// The decision is a pure function of measured times (planEpochs) fed by a step timer with an
// injectable clock (StepTimer), so that both are tested with a fake clock; the trainer only reports
// finished steps and asks for the total.
//
// Before the decision the schedules use a provisional total (the configured epochs). That is harmless
// because the decision comes within the first steps: during the learning-rate warm-up the rate does not
// depend on the total (peak·k/W), and τ_k = 1 − (1 − τ_base)(cos(πk/K) + 1)/2 differs between two totals
// K by less than (1 − τ_base)·(πk)²/(4·min K²) (6.5e-5 for τ_base 0.99, k = 12 and one epoch of 234
// steps; 1e-6 at 1,872 steps). Steps already taken keep the values they had; from the decision on,
// both schedules use the fixed total. (The warm-up is clamped to the fixed total should it be shorter.)
import { UserError } from "../util/errors.js";

/** What the budget decided, recorded in config.json (`resolved`) so that a resumed run keeps it. */
export interface BudgetPlan {
  /** The training budget in seconds that was planned for. */
  budgetS: number;
  epochs: number;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Measured seconds per training step (the steps after the warm-up ones). */
  secondsPerStep: number;
  /** Estimated seconds spent at each epoch's end (the kNN monitor). */
  perEpochS: number;
  /** The step after which the plan was made, and the training seconds elapsed by then. */
  decidedAtStep: number;
  elapsedS: number;
  /** The last re-plan at an epoch's end, if any: the epochs behind it and the measured seconds per epoch. */
  replanned?: { atEpoch: number; epochS: number; elapsedS: number };
}

export interface PlanInput {
  budgetS: number;
  /** Training seconds already spent (including the steps already taken). */
  elapsedS: number;
  /** Steps already taken (all in the first epoch). */
  stepsDone: number;
  secondsPerStep: number;
  stepsPerEpoch: number;
  perEpochS: number;
  /**
   * Fraction of the budget kept free for what the timing cannot foresee (checkpoint writes, the
   * final save, a noisy neighbour); default 0.03.
   */
  margin?: number;
}

/** Default share of the budget left unplanned. */
export const BUDGET_MARGIN = 0.03;

/**
 * The largest whole number of epochs whose remaining steps and epoch-end work fit in what is left of
 * the budget (epochs, not steps, so that every epoch ends with its monitor and the data order stays
 * per epoch). A UserError when not even one epoch fits.
 */
export function planEpochs(p: PlanInput): { epochs: number; totalSteps: number } {
  const margin = p.margin ?? BUDGET_MARGIN;
  for (const [name, v] of [["budgetS", p.budgetS], ["elapsedS", p.elapsedS], ["secondsPerStep", p.secondsPerStep], ["perEpochS", p.perEpochS]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`time budget: ${name} must be a finite number >= 0, got ${v}`);
  }
  if (!Number.isInteger(p.stepsPerEpoch) || p.stepsPerEpoch < 1) throw new RangeError(`time budget: stepsPerEpoch must be a positive integer, got ${p.stepsPerEpoch}`);
  if (!Number.isInteger(p.stepsDone) || p.stepsDone < 0 || p.stepsDone > p.stepsPerEpoch) throw new RangeError(`time budget: stepsDone must be in [0, stepsPerEpoch], got ${p.stepsDone}`);
  // Seconds left, counted as if the steps already taken were still to do (they cost what was measured).
  const available = p.budgetS * (1 - margin) - p.elapsedS + p.stepsDone * p.secondsPerStep;
  const perEpoch = p.stepsPerEpoch * p.secondsPerStep + p.perEpochS;
  const epochs = perEpoch > 0 ? Math.floor(available / perEpoch) : Number.POSITIVE_INFINITY;
  if (!Number.isFinite(epochs)) throw new RangeError("time budget: a step that takes no time cannot be planned");
  if (epochs < 1) {
    const oneEpoch = p.elapsedS + (p.stepsPerEpoch - p.stepsDone) * p.secondsPerStep + p.perEpochS;
    throw new UserError(
      `time budget: one epoch takes about ${Math.ceil(oneEpoch / (1 - margin))} s here (${p.stepsPerEpoch} steps of ${p.secondsPerStep.toFixed(2)} s), ` +
        `more than the budget of ${p.budgetS} s; give a larger --time-budget, fewer images (--limit) or --epochs`,
    );
  }
  return { epochs, totalSteps: epochs * p.stepsPerEpoch };
}

export interface ReplanInput {
  budgetS: number;
  /** Training seconds spent so far (this epoch's end included). */
  elapsedS: number;
  /** Epochs finished. */
  epochsDone: number;
  /** Measured seconds per epoch, its epoch-end work included. */
  epochS: number;
  /** The epochs the current plan runs. */
  epochs: number;
  margin?: number;
}

/**
 * The epoch count that fits the budget, given the epochs finished and their measured cost: the
 * finished epochs plus as many more as fit in what is left, but at least one more while the plan
 * has epochs to go (a run never stops with its schedules half-way). `epochs` itself when that is
 * what fits, or when the plan has ended.
 */
export function replanEpochs(p: ReplanInput): number {
  const margin = p.margin ?? BUDGET_MARGIN;
  for (const [name, v] of [["budgetS", p.budgetS], ["elapsedS", p.elapsedS], ["epochS", p.epochS]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`time budget: ${name} must be a finite number >= 0, got ${v}`);
  }
  if (!Number.isInteger(p.epochsDone) || p.epochsDone < 0 || !Number.isInteger(p.epochs) || p.epochs < 1) {
    throw new RangeError(`time budget: epochsDone and epochs must be integers, got ${p.epochsDone} and ${p.epochs}`);
  }
  if (p.epochsDone >= p.epochs || !(p.epochS > 0)) return p.epochs;
  const more = Math.floor((p.budgetS * (1 - margin) - p.elapsedS) / p.epochS);
  return p.epochsDone + Math.max(1, more);
}

/**
 * The plan re-made at an epoch's end from the epochs measured so far (replanEpochs), or null when
 * the current plan is what fits. `budgetS` and `stepsPerEpoch` are this run's (its configured budget;
 * its total steps follow from its steps per epoch).
 */
export function replanAtEpochEnd(plan: BudgetPlan, m: { budgetS: number; epochsDone: number; epochS: number; elapsedS: number; stepsPerEpoch: number }): BudgetPlan | null {
  const epochs = replanEpochs({ budgetS: m.budgetS, elapsedS: m.elapsedS, epochsDone: m.epochsDone, epochS: m.epochS, epochs: plan.epochs });
  if (epochs === plan.epochs) return null;
  return {
    ...plan, epochs, totalSteps: epochs * m.stepsPerEpoch,
    replanned: { atEpoch: m.epochsDone, epochS: round(m.epochS, 2), elapsedS: round(m.elapsedS, 2) },
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

export interface StepTimerOptions {
  stepsPerEpoch: number;
  /** Steps not timed at the start (allocator, thread-pool and cache warm-up); default 2. */
  skipSteps?: number;
  /** Steps timed after those; default 10. The decision never waits past the first epoch's end. */
  timedSteps?: number;
  /** Seconds, monotonic; default performance.now()/1000. */
  clock?: () => number;
}

/**
 * Collects the end times of the first steps and says when enough are timed. Steps are counted from
 * the run's first step (a timer is never made for a resumed run that already has a plan).
 */
export class StepTimer {
  readonly skip: number;
  /** The step count after which the decision is made. */
  readonly decideAt: number;
  private readonly clock: () => number;
  private readonly startS: number;
  private lastEndS: number;
  private readonly durations: number[] = [];
  private steps = 0;

  constructor(o: StepTimerOptions) {
    if (!Number.isInteger(o.stepsPerEpoch) || o.stepsPerEpoch < 1) throw new RangeError(`step timer: stepsPerEpoch must be a positive integer, got ${o.stepsPerEpoch}`);
    const skip = o.skipSteps ?? 2;
    const timed = o.timedSteps ?? 10;
    if (!Number.isInteger(timed) || timed < 1) throw new RangeError(`step timer: timedSteps must be a positive integer, got ${timed}`);
    // An epoch too short to skip steps and still time one: time them all.
    this.skip = o.stepsPerEpoch > skip ? skip : 0;
    this.decideAt = Math.min(this.skip + timed, o.stepsPerEpoch);
    this.clock = o.clock ?? (() => performance.now() / 1000);
    this.startS = this.clock();
    this.lastEndS = this.startS;
  }

  /** Records the end of one more step; true once the decision is due (exactly once). */
  stepDone(): boolean {
    this.steps++;
    const now = this.clock();
    if (this.steps > this.skip) this.durations.push(now - this.lastEndS);
    this.lastEndS = now;
    return this.steps === this.decideAt;
  }

  get stepsDone(): number {
    return this.steps;
  }

  /**
   * Median seconds per timed step (after the skipped ones): robust to a few slow steps, where the mean
   * would let one burst of load shorten the whole run.
   */
  secondsPerStep(): number {
    const n = this.durations.length;
    if (n < 1) throw new RangeError("step timer: no step timed yet");
    const d = [...this.durations].sort((a, b) => a - b);
    return n % 2 === 1 ? d[(n - 1) / 2] : (d[n / 2 - 1] + d[n / 2]) / 2;
  }

  /** Seconds since the timer was made. */
  elapsedS(): number {
    return this.clock() - this.startS;
  }
}

/**
 * A duration for --time-budget: "90s", "8m", "1.5h", "1h30m" or plain seconds ("480"); "off" or "0"
 * turns the budget off (null).
 */
export function parseDuration(raw: string, flag = "time-budget"): number | null {
  const s = raw.trim().toLowerCase();
  if (s === "off" || s === "none" || s === "0") return null;
  if (/^\d+(\.\d+)?$/.test(s)) return checkPositive(Number(s), raw, flag);
  const m = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(s);
  if (!m || s === "" || (m[1] === undefined && m[2] === undefined && m[3] === undefined)) {
    throw new UserError(`--${flag} expects a duration such as 480, 90s, 8m or 1h (or off), got "${raw}"`);
  }
  const seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return checkPositive(seconds, raw, flag);
}

function checkPositive(v: number, raw: string, flag: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new UserError(`--${flag} must be a positive duration, got "${raw}"`);
  return v;
}

export interface BudgetedTotalOptions {
  budgetS: number;
  stepsPerEpoch: number;
  /** The total the schedules use until the decision (the configured epochs × stepsPerEpoch). */
  provisionalTotal: number;
  /** Steps and training seconds already behind a resumed run that had not decided yet. */
  stepsBefore?: number;
  elapsedBeforeS?: number;
  skipSteps?: number;
  timedSteps?: number;
  margin?: number;
  clock?: () => number;
  /** Data-parallel runs: makes every rank use the same measurements (e.g. their mean). */
  agree?: (m: { secondsPerStep: number; perEpochS: number; elapsedS: number }) => { secondsPerStep: number; perEpochS: number; elapsedS: number };
}

/**
 * The run's total step count under a time budget: provisional until the first steps are timed, then
 * fixed for good. The trainer reports each finished step and reads `totalSteps` for its schedules.
 */
export class BudgetedTotal {
  private readonly timer: StepTimer;
  private readonly o: BudgetedTotalOptions;
  private total: number;
  private planMade: BudgetPlan | null = null;

  constructor(o: BudgetedTotalOptions) {
    const before = o.stepsBefore ?? 0;
    if (before >= o.stepsPerEpoch) throw new RangeError(`time budget: the plan is made in the first epoch, but ${before} steps are already behind`);
    this.o = o;
    this.total = o.provisionalTotal;
    // A resumed run times what is left of its first epoch.
    this.timer = new StepTimer({ stepsPerEpoch: o.stepsPerEpoch - before, skipSteps: o.skipSteps, timedSteps: o.timedSteps, clock: o.clock });
  }

  get totalSteps(): number {
    return this.total;
  }

  get plan(): BudgetPlan | null {
    return this.planMade;
  }

  /**
   * One more step is done. When the decision is due, `perEpochS` is asked for the epoch-end cost and
   * the plan is returned (once); null otherwise. Throws a UserError when not one epoch fits.
   */
  stepDone(perEpochS: () => number): BudgetPlan | null {
    if (this.planMade || !this.timer.stepDone()) return null;
    const before = this.o.stepsBefore ?? 0;
    let m = { secondsPerStep: this.timer.secondsPerStep(), perEpochS: perEpochS(), elapsedS: (this.o.elapsedBeforeS ?? 0) + this.timer.elapsedS() };
    if (this.o.agree) m = this.o.agree(m);
    const stepsDone = before + this.timer.stepsDone;
    const { epochs, totalSteps } = planEpochs({ budgetS: this.o.budgetS, stepsPerEpoch: this.o.stepsPerEpoch, stepsDone, margin: this.o.margin, ...m });
    this.total = totalSteps;
    this.planMade = {
      budgetS: this.o.budgetS, epochs, stepsPerEpoch: this.o.stepsPerEpoch, totalSteps,
      secondsPerStep: round(m.secondsPerStep, 4), perEpochS: round(m.perEpochS, 2), decidedAtStep: stepsDone, elapsedS: round(m.elapsedS, 2),
    };
    return this.planMade;
  }
}

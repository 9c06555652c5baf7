// A wall-clock budget for training: how many steps fit on THIS machine. A fixed epoch count cannot
// promise a duration (the same cpu preset took 338 s on one 2-core machine and 555 s on another), so a
// run with a budget times its first steps and then fixes its total step count, so that the
// learning-rate and τ schedules run to their end within the budget. The total is a step count, not a
// whole number of epochs: flooring to epochs left up to one epoch of the budget unused (a run of the
// cpu preset trained 407–427 s of its 480 s), so the last epoch may be cut short; `epochs` in the
// configuration is then the ceiling ⌈totalSteps / stepsPerEpoch⌉ and `resolved.totalSteps` the truth.
//
// The first steps are timed by their median, so that one slow step (a neighbour's burst, a page fault)
// does not shorten the run. The plan is then checked every `replanEverySteps` steps and at each epoch's
// end against the steps actually run since (their mean cost, checkpoint writes and logging included,
// and the kNN monitor's readings timed apart; at least 5 steps measured), and re-made when another
// total fits, so that load during the first steps, or a machine that slows down later, still ends
// within the budget.
//
// The kNN monitor runs at the ends of monitored epochs, inside the budget, and is charged as such:
// one reading's estimated (later: measured) seconds for each monitored epoch end strictly before the
// run's last step. At the last step no reading is taken: the final evaluation replaces it.
//
// The decisions are pure functions of measured times (planSteps, replanSteps) fed by a step timer with
// an injectable clock (StepTimer), so that all are tested with a fake clock; the trainer only reports
// finished steps and asks for the total.
//
// Before the decision the schedules use a provisional total (the configured epochs). That is harmless
// because the decision comes within the first steps: during the learning-rate warm-up the rate does not
// depend on the total (peak·k/W), and τ_k = 1 − (1 − τ_base)(cos(πk/K) + 1)/2 differs between two totals
// K by less than (1 − τ_base)·(πk)²/(4·min K²) (6.5e-5 for τ_base 0.99, k = 12 and one epoch of 234
// steps; 1e-6 at 1,872 steps). Steps already taken keep the values they had; from the decision on,
// both schedules use the planned total. (The warm-up is clamped to the planned total should it be shorter.)
import { UserError } from "../util/errors.js";

/** What the budget decided, recorded in config.json (`resolved`) so that a resumed run keeps it. */
export interface BudgetPlan {
  /** The training budget in seconds that was planned for. */
  budgetS: number;
  /** Epochs begun: ⌈totalSteps / stepsPerEpoch⌉ (the last may end inside, after totalSteps). */
  epochs: number;
  stepsPerEpoch: number;
  /** The steps the run trains: the schedules run to this total. */
  totalSteps: number;
  /** Measured seconds per training step (the first plan: median of the timed steps; a re-plan: mean since the plan). */
  secondsPerStep: number;
  /** Seconds of one kNN monitor reading (estimated at first, measured once readings were taken). */
  monitorS?: number;
  /** Monitor readings the plan charges (monitored epoch ends strictly before the last step). */
  monitorReadings?: number;
  /** Plans of before step totals (whole epochs): estimated monitor seconds per epoch. Read, never written. */
  perEpochS?: number;
  /** The step after which the first plan was made, and the training seconds elapsed by then. */
  decidedAtStep: number;
  elapsedS: number;
  /** The training seconds the current plan expects the whole run to take (≤ budgetS minus the margin). */
  plannedS?: number;
  /** The last re-plan, if any: the step it was made at, the seconds elapsed then and the step cost measured. */
  replanned?: { atStep?: number; atEpoch?: number; secondsPerStep?: number; epochS?: number; elapsedS: number };
  /** Re-plans that changed the total. */
  replans?: number;
  /** Filled when training ends: training seconds spent, and what was left of the budget (negative: over). */
  trainedS?: number;
  leftS?: number;
  /** Filled when training ends: the seconds the monitor readings took (the last process's, on a resume). */
  monitorSpentS?: number;
}

export interface PlanInput {
  budgetS: number;
  /** Training seconds already spent (including the steps already taken and monitor readings already taken). */
  elapsedS: number;
  /** Steps already taken. */
  stepsDone: number;
  secondsPerStep: number;
  stepsPerEpoch: number;
  /** Seconds of one kNN monitor reading (0: no monitor). */
  monitorS: number;
  /** A reading at the end of every this many epochs (0: none); default 1. */
  monitorEveryEpochs?: number;
  /**
   * Fraction of the budget kept free for what the timing cannot foresee (checkpoint writes, the
   * final save, a noisy neighbour); default 0.03.
   */
  margin?: number;
}

/** Default share of the budget left unplanned. */
export const BUDGET_MARGIN = 0.03;

/**
 * Monitor readings taken after step `from` and before step `to` (exclusive both): the ends of
 * monitored epochs e·stepsPerEpoch in (from, to). The reading at the run's last step is not taken.
 */
export function monitorReadingsBetween(from: number, to: number, stepsPerEpoch: number, everyEpochs: number): number {
  if (everyEpochs <= 0 || to <= from + 1) return 0;
  const period = stepsPerEpoch * everyEpochs;
  return Math.max(0, Math.floor((to - 1) / period) - Math.floor(from / period));
}

function checkInput(p: PlanInput): void {
  for (const [name, v] of [["budgetS", p.budgetS], ["elapsedS", p.elapsedS], ["secondsPerStep", p.secondsPerStep], ["monitorS", p.monitorS]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`time budget: ${name} must be a finite number >= 0, got ${v}`);
  }
  if (!Number.isInteger(p.stepsPerEpoch) || p.stepsPerEpoch < 1) throw new RangeError(`time budget: stepsPerEpoch must be a positive integer, got ${p.stepsPerEpoch}`);
  if (!Number.isInteger(p.stepsDone) || p.stepsDone < 0) throw new RangeError(`time budget: stepsDone must be a non-negative integer, got ${p.stepsDone}`);
  const every = p.monitorEveryEpochs ?? 1;
  if (!Number.isInteger(every) || every < 0) throw new RangeError(`time budget: monitorEveryEpochs must be a non-negative integer, got ${every}`);
  if (!(p.secondsPerStep > 0)) throw new RangeError("time budget: a step that takes no time cannot be planned");
}

/** The seconds a run of `totalSteps` is expected to take, from the measurements in `p`. */
export function plannedSeconds(p: PlanInput, totalSteps: number): number {
  const ahead = Math.max(0, totalSteps - p.stepsDone);
  return p.elapsedS + ahead * p.secondsPerStep + monitorReadingsBetween(p.stepsDone, totalSteps, p.stepsPerEpoch, p.monitorEveryEpochs ?? 1) * p.monitorS;
}

/**
 * The largest total step count (at least the steps done) whose remaining steps and monitor readings
 * fit in what is left of the budget; may end inside an epoch.
 */
function fittingTotal(p: PlanInput): number {
  const limit = p.budgetS * (1 - (p.margin ?? BUDGET_MARGIN));
  // The steps alone bound the total; the monitor readings only lower it. Cost is monotone in the
  // total, so a binary search finds the largest that fits.
  let lo = p.stepsDone;
  let hi = p.stepsDone + Math.max(0, Math.floor((limit - p.elapsedS) / p.secondsPerStep + 1e-9));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (plannedSeconds(p, mid) <= limit + 1e-9) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The first plan: the largest total step count whose remaining steps and monitor readings fit in
 * what is left of the budget (it may end inside an epoch). A UserError when not even one epoch fits
 * (a run shorter than one pass over its data is refused, as a too-small budget rather than a plan).
 */
export function planSteps(p: PlanInput): { epochs: number; totalSteps: number; plannedS: number; monitorReadings: number } {
  checkInput(p);
  if (p.stepsDone > p.stepsPerEpoch) throw new RangeError(`time budget: the first plan is made in the first epoch, got stepsDone ${p.stepsDone}`);
  const totalSteps = fittingTotal(p);
  if (totalSteps < p.stepsPerEpoch) {
    const margin = p.margin ?? BUDGET_MARGIN;
    const oneEpoch = plannedSeconds(p, p.stepsPerEpoch);
    throw new UserError(
      `time budget: one epoch takes about ${Math.ceil(oneEpoch / (1 - margin))} s here (${p.stepsPerEpoch} steps of ${p.secondsPerStep.toFixed(2)} s), ` +
        `more than the budget of ${p.budgetS} s; give a larger --time-budget, fewer images (--limit) or --epochs`,
    );
  }
  return describe(p, totalSteps);
}

function describe(p: PlanInput, totalSteps: number) {
  return {
    epochs: Math.ceil(totalSteps / p.stepsPerEpoch), totalSteps,
    plannedS: plannedSeconds(p, totalSteps),
    monitorReadings: monitorReadingsBetween(0, totalSteps, p.stepsPerEpoch, p.monitorEveryEpochs ?? 1),
  };
}

/**
 * A re-plan from the steps measured so far: the steps done plus as many more as fit in what is left,
 * but at least one more while the plan has steps to go (the schedules then end at once rather than
 * half-way). `currentTotal` itself when the plan has ended.
 */
export function replanSteps(p: PlanInput & { currentTotal: number }): { epochs: number; totalSteps: number; plannedS: number; monitorReadings: number } {
  checkInput(p);
  if (!Number.isInteger(p.currentTotal) || p.currentTotal < 1) throw new RangeError(`time budget: currentTotal must be a positive integer, got ${p.currentTotal}`);
  const total = p.stepsDone >= p.currentTotal ? p.currentTotal : Math.max(p.stepsDone + 1, fittingTotal(p));
  return describe(p, total);
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** The measurements a re-plan is made from. */
export interface ReplanMeasurement {
  budgetS: number;
  stepsDone: number;
  elapsedS: number;
  stepsPerEpoch: number;
  /** Mean seconds per step since the plan (monitor readings excluded). */
  secondsPerStep: number;
  /** Seconds of one monitor reading (measured, or the plan's estimate). */
  monitorS: number;
  monitorEveryEpochs: number;
  margin?: number;
}

/** The plan re-made from measurements (replanSteps), or null when the current total is what fits. */
export function replanBudget(plan: BudgetPlan, m: ReplanMeasurement): BudgetPlan | null {
  const r = replanSteps({ ...m, currentTotal: plan.totalSteps });
  if (r.totalSteps === plan.totalSteps) return null;
  return {
    ...plan, epochs: r.epochs, totalSteps: r.totalSteps, stepsPerEpoch: m.stepsPerEpoch,
    monitorS: round(m.monitorS, 2), monitorReadings: r.monitorReadings, plannedS: round(r.plannedS, 1),
    replanned: { atStep: m.stepsDone, secondsPerStep: round(m.secondsPerStep, 4), elapsedS: round(m.elapsedS, 2) },
    replans: (plan.replans ?? 0) + 1,
  };
}

/** The plan's seconds of one monitor reading (a plan of before step totals kept seconds per epoch). */
export function planMonitorS(plan: BudgetPlan, monitorEveryEpochs: number): number {
  return plan.monitorS ?? (plan.perEpochS ?? 0) * Math.max(1, monitorEveryEpochs);
}

/**
 * The plan with the seconds actually trained and left of the budget, filled when training ends
 * (`monitorSpentS`: the seconds of monitor readings this process took, when it ran the monitor).
 */
export function finishPlan(plan: BudgetPlan, trainedS: number, monitorSpentS?: number): BudgetPlan {
  return { ...plan, trainedS: round(trainedS, 1), leftS: round(plan.budgetS - trainedS, 1), ...(monitorSpentS ? { monitorSpentS: round(monitorSpentS, 1) } : {}) };
}

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
  /** A monitor reading at the end of every this many epochs (0: none); default 1. */
  monitorEveryEpochs?: number;
  skipSteps?: number;
  timedSteps?: number;
  margin?: number;
  clock?: () => number;
  /** Data-parallel runs: makes every rank use the same measurements (e.g. their mean). */
  agree?: (m: { secondsPerStep: number; monitorS: number; elapsedS: number }) => { secondsPerStep: number; monitorS: number; elapsedS: number };
}

/**
 * The run's total step count under a time budget: provisional until the first steps are timed, then
 * planned (re-plans are the trainer's, with replanBudget). The trainer reports each finished step and
 * reads `totalSteps` for its schedules.
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
   * One more step is done. When the decision is due, `monitorS` is asked for the seconds of one
   * monitor reading and the plan is returned (once); null otherwise. Throws a UserError when not one
   * epoch fits.
   */
  stepDone(monitorS: () => number): BudgetPlan | null {
    if (this.planMade || !this.timer.stepDone()) return null;
    const before = this.o.stepsBefore ?? 0;
    let m = { secondsPerStep: this.timer.secondsPerStep(), monitorS: monitorS(), elapsedS: (this.o.elapsedBeforeS ?? 0) + this.timer.elapsedS() };
    if (this.o.agree) m = this.o.agree(m);
    const stepsDone = before + this.timer.stepsDone;
    const monitorEveryEpochs = this.o.monitorEveryEpochs ?? 1;
    const p = planSteps({ budgetS: this.o.budgetS, stepsPerEpoch: this.o.stepsPerEpoch, stepsDone, margin: this.o.margin, monitorEveryEpochs, ...m });
    this.total = p.totalSteps;
    this.planMade = {
      budgetS: this.o.budgetS, epochs: p.epochs, stepsPerEpoch: this.o.stepsPerEpoch, totalSteps: p.totalSteps,
      secondsPerStep: round(m.secondsPerStep, 4), monitorS: round(m.monitorS, 2), monitorReadings: p.monitorReadings,
      decidedAtStep: stepsDone, elapsedS: round(m.elapsedS, 2), plannedS: round(p.plannedS, 1),
    };
    return this.planMade;
  }
}

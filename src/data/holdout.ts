// A held-out test split for a labelled folder that has no test split of its own: a fixed fraction of
// every class, picked by a seeded shuffle, so that the same folder and seed always give the same split
// and every class is scored in proportion to its size.
import { prng, shuffleInPlace } from "./loader.js";

/** Default fraction of each class held out for evaluation (`evalHoldout` in the configuration). */
export const DEFAULT_HOLDOUT = 0.2;

/** The indices (into the labelled set) kept for training and held out for testing, each sorted. */
export interface HoldoutSplit {
  train: Int32Array;
  test: Int32Array;
}

/**
 * Class-stratified split of images with these labels (images labelled -1 stay in train). A class
 * of n images gives round(n × fraction) to the test split, but at least one when n ≥ 2 and never
 * all n: each class keeps a training image for the probes, and a class of two or more is tested.
 * Which images go is a seeded shuffle per class (mulberry32 on (seed, class + 1)), independent of
 * the other classes, so adding images to one class does not move another class's split.
 */
export function stratifiedHoldout(labels: Int32Array, fraction: number, seed: number): HoldoutSplit {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`stratifiedHoldout: fraction must be in (0, 1), got ${fraction}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (c < 0) continue;
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(i);
  }
  const isTest = new Uint8Array(labels.length);
  for (const [c, list] of byClass) {
    const n = list.length;
    const count = Math.min(n - 1, Math.max(n >= 2 ? 1 : 0, Math.round(n * fraction)));
    const order = Int32Array.from(list);
    shuffleInPlace(order, prng(seed, c + 1));
    for (let j = 0; j < count; j++) isTest[order[j]] = 1;
  }
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < labels.length; i++) (isTest[i] ? test : train).push(i);
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}

import assert from "node:assert/strict";
import { test } from "node:test";
import { byolTau, scaleLr, warmupCosineLr } from "../../src/optim/index.js";
import { UserError } from "../../src/util/errors.js";

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} != ${b}`);

test("warm-up + cosine learning rate at end points and midpoints", () => {
  const [K, W, peak, final] = [1000, 100, 2.4, 0.1];
  close(warmupCosineLr(0, K, W, peak, final), 0, "start");
  close(warmupCosineLr(50, K, W, peak, final), 1.2, "warm-up midpoint");
  close(warmupCosineLr(100, K, W, peak, final), peak, "end of warm-up");
  close(warmupCosineLr(550, K, W, peak, final), (peak + final) / 2, "cosine midpoint");
  close(warmupCosineLr(1000, K, W, peak, final), final, "end");
  close(warmupCosineLr(5000, K, W, peak), 0, "past the end clamps, final 0 by default");
  close(warmupCosineLr(325, K, W, peak, 0), peak * (1 + Math.cos(Math.PI / 4)) / 2, "quarter of the decay");
  close(warmupCosineLr(0, K, 0, peak), peak, "no warm-up starts at the peak");
  assert.throws(() => warmupCosineLr(0, 0, 0, 1), UserError);
});

test("lr scaled by batch/256", () => {
  close(scaleLr(0.2, 4096), 3.2, "BYOL's ImageNet setting");
  close(scaleLr(0.3, 256), 0.3, "unchanged at 256");
  close(scaleLr(0.2, 128), 0.1, "halved at 128");
});

test("τ schedule: τ_base at the start, 1 at the end, halfway at the midpoint", () => {
  close(byolTau(0, 500, 0.996), 0.996, "start");
  close(byolTau(500, 500, 0.996), 1, "end");
  close(byolTau(250, 500, 0.99), 1 - 0.01 / 2, "midpoint");
  close(byolTau(125, 500, 0.99), 1 - 0.01 * (Math.cos(Math.PI / 4) + 1) / 2, "quarter");
  assert.ok(byolTau(10, 500, 0.99) < byolTau(11, 500, 0.99));
  assert.throws(() => byolTau(0, 10, 1.5), UserError);
});

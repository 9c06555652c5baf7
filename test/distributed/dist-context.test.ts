// torchrun's environment variables → DistContext, with one clear UserError for bad values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { distContextFromEnv } from "../../src/train/dist-context.js";
import { UserError } from "../../src/util/errors.js";

const base = { RANK: "1", WORLD_SIZE: "4", MASTER_ADDR: "10.0.0.5", MASTER_PORT: "29500", LOCAL_RANK: "1", LOCAL_WORLD_SIZE: "2" };

test("single process without the variables, or with WORLD_SIZE=1", () => {
  assert.equal(distContextFromEnv({}), null);
  assert.equal(distContextFromEnv({ WORLD_SIZE: "1", RANK: "0" }), null);
});

test("reads torchrun's variables", () => {
  assert.deepEqual(distContextFromEnv(base), {
    rank: 1, worldSize: 4, localRank: 1, localWorldSize: 2, masterAddr: "10.0.0.5", masterPort: 29500, timeoutMs: 30 * 60 * 1000,
  });
  // LOCAL_RANK defaults from RANK and LOCAL_WORLD_SIZE; the timeout comes from BYOL_DIST_TIMEOUT_S.
  const c = distContextFromEnv({ RANK: "3", WORLD_SIZE: "4", MASTER_ADDR: "h", MASTER_PORT: "1", LOCAL_WORLD_SIZE: "2", BYOL_DIST_TIMEOUT_S: "60" })!;
  assert.equal(c.localRank, 1);
  assert.equal(c.timeoutMs, 60_000);
});

test("bad or missing values are one clear UserError", () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ ...base, RANK: "4" }, /RANK=4 must be smaller than WORLD_SIZE=4/],
    [{ ...base, RANK: "-1" }, /RANK must be an integer/],
    [{ ...base, WORLD_SIZE: "two" }, /WORLD_SIZE must be an integer/],
    [{ ...base, MASTER_PORT: "70000" }, /MASTER_PORT must be an integer in \[1, 65535\]/],
    [{ ...base, MASTER_ADDR: "" }, /needs MASTER_ADDR/],
    [{ RANK: "0", WORLD_SIZE: "2", MASTER_ADDR: "h" }, /needs MASTER_PORT/],
    [{ WORLD_SIZE: "2", MASTER_ADDR: "h", MASTER_PORT: "1" }, /RANK is not/],
    [{ RANK: "2" }, /WORLD_SIZE is not/],
    [{ ...base, LOCAL_RANK: "2" }, /LOCAL_RANK=2 must be smaller than LOCAL_WORLD_SIZE=2/],
  ];
  for (const [env, msg] of bad) {
    assert.throws(() => distContextFromEnv(env), (e: unknown) => e instanceof UserError && msg.test(e.message), JSON.stringify(env));
  }
});

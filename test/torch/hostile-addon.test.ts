// The addon cannot be crashed from JavaScript. Each attack runs in a child process (hostile-child.ts),
// so that a crash kills the child, not this runner: the child must end with a JavaScript error (exit
// code 1, the message on stderr) or report what its probes got (exit code 0), never with a signal.
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const CHILD = fileURLToPath(new URL("./hostile-child.js", import.meta.url));
const HUGE = 2 ** 27;

function run(attack: string): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, ["--expose-gc", CHILD, attack], {
    encoding: "utf8",
    timeout: 180_000,
    env: { ...process.env, OMP_NUM_THREADS: "1" },
  });
  assert.equal(r.signal, null, `${attack}: the child was killed by ${r.signal}; stderr: ${r.stderr.slice(-2000)}`);
  assert.notEqual(r.status, null);
  return r;
}

/** The attack ends its process with a JavaScript error whose message matches. */
function refused(attack: string, message: RegExp): void {
  const r = run(attack);
  assert.equal(r.status, 1, `${attack}: expected exit code 1, got ${r.status}; stdout: ${r.stdout}; stderr: ${r.stderr.slice(-2000)}`);
  assert.match(r.stderr, message);
}

/** The attack completes and prints a JSON report as its last line. */
function report<T>(attack: string): T {
  const r = run(attack);
  assert.equal(r.status, 0, `${attack}: expected exit code 0, got ${r.status}; stderr: ${r.stderr.slice(-2000)}`);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as T;
}

test("fromBuffer: a shape getter that shrinks or frees the buffer gets an error, not a read of freed memory", () => {
  refused("frombuffer-shrink", /fromBuffer: data has 0 bytes but shape and dtype need 67108864/);
  refused("frombuffer-detach", /fromBuffer: data has 0 bytes but shape and dtype need 67108864/);
});

test("fromBuffer: a bad dtype code and a shape that overflows 64 bits are refused before any allocation", () => {
  refused("frombuffer-bad-dtype", /fromBuffer: unknown dtype code 9999/);
  refused("frombuffer-overflow", /fromBuffer: shape \[1099511627776, 1099511627776, 1099511627776\] has more elements than a tensor can hold/);
});

test("backward: arguments that are not arrays are named in the error (no garbage lengths)", () => {
  refused("backward-not-array", /backward: tensors: expected an array/);
  refused("backward-grads-not-array", /backward: grads: expected an array/);
});

test("a getter that throws inside any list argument: its own error reaches the caller", () => {
  const got = report<Record<string, string>>("throwing-getters");
  const readers = ["fromBufferShape", "callIntList", "callTensorList", "callOptionalTensorList", "backwardTensors", "backwardGrads", "release", "distAllReduce", "distInitOptions"];
  assert.deepEqual(Object.keys(got).sort(), [...readers].sort());
  for (const k of readers) assert.equal(got[k], "boom from a getter", `${k}: ${got[k]}`);
});

test("arrays of 2^27 elements are refused by their length, before the addon allocates for them", () => {
  const got = report<{ results: Record<string, string>; peakRssGrowth: number }>("huge-arrays");
  assert.match(got.results.fromBufferShape, new RegExp(`^fromBuffer: shape: expected at most 64 elements, got ${HUGE}$`));
  for (const [k, msg] of Object.entries(got.results)) {
    assert.match(msg, new RegExp(`: expected at most (64|1048576) elements, got ${HUGE}$`), `${k}: ${msg}`);
  }
  assert.equal(Object.keys(got.results).length, 7);
  // Reading one of them into a vector of int64 would take 1 GiB.
  assert.ok(got.peakRssGrowth < 200 * 2 ** 20, `peak RSS grew by ${(got.peakRssGrowth / 2 ** 20).toFixed(0)} MiB`);
});

test("setGrad: a gradient of another shape or dtype is refused", () => {
  const got = report<Record<string, string>>("set-grad-mismatch");
  assert.deepEqual(got, {
    shape: "setGrad: gradient shape does not match the tensor's",
    dtype: "setGrad: gradient dtype does not match the tensor's",
    matching: "no error",
  });
});

test("a getter that destroys the process group under a collective: an error, not a use of freed memory", (t) => {
  const got = report<{ message?: string; skipped?: string }>("dist-destroy-in-getter");
  if (got.skipped) {
    t.skip(got.skipped);
    return;
  }
  assert.match(got.message ?? "", /^distAllReduce: process group \d+ does not exist/);
});

test("a worker thread that loads the addon gets a JavaScript error; the main thread keeps computing", () => {
  const got = report<{ reply: { ok: boolean; error?: string; isError?: boolean }; workerExit: number; after: number }>("worker");
  assert.equal(got.reply.ok, false, "the worker must not share the addon's tables with the main thread");
  assert.equal(got.reply.isError, true);
  assert.match(got.reply.error ?? "", /already in use by another JavaScript environment of this process/);
  assert.equal(got.workerExit, 0);
  assert.equal(got.after, 3, "sum(ones(3)) on the main thread after the worker's attempt");
});

test("the addon is free again once the worker that held it has exited, without that worker's tensors", () => {
  const addon = process.env.BYOL_NATIVE ?? fileURLToPath(new URL("../../../native/build/Release/byol_native.node", import.meta.url));
  const script = `
    const { Worker } = require("node:worker_threads");
    const path = ${JSON.stringify(addon)};
    const code = "const n = require(" + JSON.stringify(path) + "); const t = n.call(n.opLookup('aten::ones', ''), [4]);" +
      "require('node:worker_threads').parentPort.postMessage({ numel: n.numel(t), live: n.liveTensors() });";
    const w = new Worker(code, { eval: true });
    let fromWorker;
    w.on("message", (m) => (fromWorker = m));
    w.on("exit", () => {
      const n = require(path);
      const t = n.call(n.opLookup("aten::ones", ""), [5]);
      console.log(JSON.stringify({ fromWorker, main: n.numel(t), live: n.liveTensors() }));
    });`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: "1" } });
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout.trim().split("\n").pop() ?? "");
  assert.deepEqual(got, { fromWorker: { numel: 4, live: 1 }, main: 5, live: 1 });
});

test("setRngState: corrupted generator states are refused; a saved state restores the same numbers", () => {
  const got = report<{
    stateBytes: number;
    refused: Record<string, string>;
    expected: number[];
    restored: number[];
    freshExpected: number[];
    freshRestored: number[];
  }>("rng");
  assert.equal(got.stateBytes, 5056);
  const why: Record<string, RegExp> = {
    positionPastEnd: /left = 624, next = 624 reads past the 624-word state/,
    positionSumTooLarge: /left = 300, next = 400 reads past/,
    leftZero: /'left' is 0, outside 1\.\.624/,
    leftNegative: /'left' is -5/,
    nextWrapsTo32Bits: /'next' is 4294967296, outside 0\.\.624/,
    unseeded: /not marked as seeded/,
    floatSampleFlagNotBool: /float normal sample flag is 7/,
    tooShort: /4956 bytes, but this libtorch's cpu generator state has 5056/,
    legacySize: /5048 bytes/,
    tooLong: /5057 bytes/,
    wrongDtype: /expected a CPU uint8 tensor, got Float/,
    notContiguous: /not contiguous/,
  };
  assert.deepEqual(Object.keys(got.refused).sort(), Object.keys(why).sort());
  for (const [k, msg] of Object.entries(got.refused)) {
    assert.match(msg, /^setRngState: invalid RNG state: /, `${k}: ${msg}`);
    assert.match(msg, why[k], `${k}: ${msg}`);
  }
  assert.equal(got.expected.length, 64);
  assert.deepEqual(got.restored, got.expected);
  assert.deepEqual(got.freshRestored, got.freshExpected);
  assert.notDeepEqual(got.expected, got.freshExpected);
});

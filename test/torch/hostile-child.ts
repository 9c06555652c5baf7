// Child process of the hostile-input tests (hostile-*.test.ts): runs one attack on the addon, named by
// the first argument. An attack the addon refuses ends this process with a JavaScript error (exit code
// 1, the message on stderr); an attack with several probes prints one JSON line with what each got.
// A crash of the addon shows as a signal (SIGSEGV, SIGABRT) instead, which the tests reject.
// Run separately so that a crash takes down this process, not the test runner.
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { native } from "../../src/torch/native.js";

const FLOAT32 = 6; // at::ScalarType::Float
const UINT8 = 0; // at::ScalarType::Byte

/** Peak resident memory of this process so far, in bytes (Linux). */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  if (!m) throw new Error("no VmHWM in /proc/self/status");
  return Number(m[1]) * 1024;
}

/** The error message fn throws (first line), or "no error". */
function messageOf(fn: () => unknown): string {
  try {
    fn();
    return "no error";
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).split("\n")[0];
  }
}

/** An array of one element whose getter runs `effect` and then yields `value`. */
function arrayWithGetter(effect: () => void, value: unknown): unknown[] {
  const a: unknown[] = [];
  Object.defineProperty(a, 0, { get: () => (effect(), value), enumerable: true, configurable: true });
  return a;
}

const op = (name: string, overload = ""): number => native.opLookup(name, overload);

const attacks: Record<string, () => void | Promise<void>> = {
  // The shape's getter shrinks the resizable buffer whose memory the addon is about to copy.
  "frombuffer-shrink"() {
    const bytes = 64 << 20;
    const buffer = new (ArrayBuffer as any)(bytes, { maxByteLength: bytes }) as ArrayBuffer & { resize(n: number): void };
    native.fromBuffer(buffer, arrayWithGetter(() => buffer.resize(0), bytes / 4) as number[], FLOAT32);
  },
  // The shape's getter transfers the buffer away and lets the collector free its memory.
  "frombuffer-detach"() {
    const data = new Float32Array(16 << 20);
    const shape = arrayWithGetter(() => {
      structuredClone(data.buffer, { transfer: [data.buffer] });
      (globalThis as any).gc();
    }, data.length);
    native.fromBuffer(data, shape as number[], FLOAT32);
  },
  // The dtype is read after the buffer too: a bad code must not leave a half-made tensor behind.
  "frombuffer-bad-dtype"() {
    native.fromBuffer(new Float32Array(4), [4], 9999);
  },
  // A shape whose element count overflows 64 bits, for a small buffer.
  "frombuffer-overflow"() {
    native.fromBuffer(new Float32Array(4), [2 ** 40, 2 ** 40, 2 ** 40], FLOAT32);
  },
  // Not an array where the addon wants one: an error that says so, not garbage lengths.
  "backward-not-array"() {
    const x = native.call(op("aten::ones"), [1]);
    native.setRequiresGrad(x, true);
    native.backward(7 as any, null, false, false);
  },
  "backward-grads-not-array"() {
    const x = native.call(op("aten::ones"), [1]);
    native.setRequiresGrad(x, true);
    native.backward([x], 7 as any, false, false);
  },
  // A getter in a list that throws: every list reader must pass the getter's own error on.
  "throwing-getters"() {
    const boom = (): never => {
      throw new Error("boom from a getter");
    };
    const t = native.call(op("aten::ones"), [2]);
    const results = {
      fromBufferShape: messageOf(() => native.fromBuffer(new Float32Array(2), arrayWithGetter(boom, 2) as number[], FLOAT32)),
      callIntList: messageOf(() => native.call(op("aten::zeros"), arrayWithGetter(boom, 2))),
      callTensorList: messageOf(() => native.call(op("aten::cat"), arrayWithGetter(boom, t))),
      callOptionalTensorList: messageOf(() => native.call(op("aten::index", "Tensor"), t, arrayWithGetter(boom, t))),
      backwardTensors: messageOf(() => native.backward(arrayWithGetter(boom, t) as number[], null, false, false)),
      backwardGrads: messageOf(() => native.backward([t], arrayWithGetter(boom, t) as number[], false, false)),
      release: messageOf(() => native.release(arrayWithGetter(boom, t) as number[])),
      distAllReduce: messageOf(() => native.distAllReduce(0, arrayWithGetter(boom, t), "sum")),
      distInitOptions: messageOf(() =>
        native.distInit({ get rank(): number { return boom(); }, worldSize: 1, masterAddr: "127.0.0.1", masterPort: 1, backend: "gloo", timeoutMs: 1 }),
      ),
    };
    console.log(JSON.stringify(results));
  },
  // Arrays of 2^27 (empty) elements: refused by their length before anything is allocated.
  "huge-arrays"() {
    const t = native.call(op("aten::ones"), [2]);
    const huge = (): any[] => new Array(2 ** 27);
    const before = peakRss();
    const t0 = Date.now();
    const results = {
      fromBufferShape: messageOf(() => native.fromBuffer(new Float32Array(2), huge(), FLOAT32)),
      callIntList: messageOf(() => native.call(op("aten::zeros"), huge())),
      callFloatList: messageOf(() => native.call(op("aten::upsample_nearest2d", "vec"), t, null, huge())),
      callTensorList: messageOf(() => native.call(op("aten::cat"), huge())),
      backward: messageOf(() => native.backward(huge(), null, false, false)),
      release: messageOf(() => native.release(huge())),
      distAllReduce: messageOf(() => native.distAllReduce(0, huge(), "sum")),
    };
    console.log(JSON.stringify({ results, peakRssGrowth: peakRss() - before, ms: Date.now() - t0 }));
  },
  // A gradient that does not fit its tensor: refused as Python's `.grad` setter does, not left for
  // autograd or an optimiser to trip over.
  "set-grad-mismatch"() {
    const x = native.call(op("aten::ones"), [2]);
    native.setRequiresGrad(x, true);
    const results = {
      shape: messageOf(() => native.setGrad(x, native.call(op("aten::ones"), [3]))),
      dtype: messageOf(() => native.setGrad(x, native.call(op("aten::ones"), [2], 4 /* int64 */))),
      matching: messageOf(() => native.setGrad(x, native.call(op("aten::ones"), [2]))),
    };
    console.log(JSON.stringify(results));
  },
  // A getter in the tensor list destroys the process group that the collective is about to use.
  "dist-destroy-in-getter"() {
    if (!native.distBackends().includes("gloo")) {
      console.log(JSON.stringify({ skipped: "no gloo backend in this build" }));
      return;
    }
    const port = 20000 + (process.pid % 20000);
    const g = native.distInit({ rank: 0, worldSize: 1, masterAddr: "127.0.0.1", masterPort: port, backend: "gloo", timeoutMs: 10000 });
    const t = native.call(op("aten::ones"), [4]);
    const message = messageOf(() => native.distAllReduce(g, arrayWithGetter(() => native.distDestroy(g), t), "sum"));
    console.log(JSON.stringify({ message }));
  },
  // Corrupted CPU generator states, as a damaged checkpoint would carry them. The layout (libtorch's
  // CPUGeneratorImplState): u64 seed @0, i32 left @8, i32 seeded @12, u64 next @16, u64[624] @24,
  // three doubles and an i32 @5016..5044, f32 @5048, bool @5052; 5056 bytes.
  rng() {
    const rand = op("aten::rand");
    const draw = (): number[] => Array.from(new Float32Array(native.toBuffer(native.call(rand, [64]))));
    native.manualSeed(5);
    draw();
    const saved = new Uint8Array(native.toBuffer(native.rngState("cpu")));
    const expected = draw();
    const corrupt = (edit: (v: DataView) => void, length = saved.length): number => {
      const b = new Uint8Array(length);
      b.set(saved.subarray(0, Math.min(length, saved.length)));
      edit(new DataView(b.buffer));
      return native.fromBuffer(b, [length], UINT8);
    };
    const set = (state: number): string => messageOf(() => native.setRngState("cpu", state));
    const refused = {
      positionPastEnd: set(corrupt((v) => (v.setInt32(8, 624, true), v.setBigUint64(16, 624n, true)))),
      positionSumTooLarge: set(corrupt((v) => (v.setInt32(8, 300, true), v.setBigUint64(16, 400n, true)))),
      leftZero: set(corrupt((v) => v.setInt32(8, 0, true))),
      leftNegative: set(corrupt((v) => v.setInt32(8, -5, true))),
      nextWrapsTo32Bits: set(corrupt((v) => (v.setInt32(8, 1, true), v.setBigUint64(16, 2n ** 32n, true)))),
      unseeded: set(corrupt((v) => v.setInt32(12, 0, true))),
      floatSampleFlagNotBool: set(corrupt((v) => v.setUint8(5052, 7))),
      tooShort: set(corrupt(() => {}, saved.length - 100)),
      legacySize: set(corrupt(() => {}, saved.length - 8)),
      tooLong: set(corrupt(() => {}, saved.length + 1)),
      wrongDtype: set(native.fromBuffer(new Float32Array(saved.buffer.slice(0)), [saved.length / 4], FLOAT32)),
      notContiguous: set(native.call(op("aten::expand"), native.fromBuffer(new Uint8Array([1]), [1], UINT8), [saved.length])),
    };
    // Nothing above may have changed the generator: the saved state still restores the same numbers.
    native.setRngState("cpu", native.fromBuffer(saved, [saved.length], UINT8));
    const restored = draw();
    // A freshly seeded generator (left = 1, next = 0) round-trips as well.
    native.manualSeed(11);
    const fresh = new Uint8Array(native.toBuffer(native.rngState("cpu")));
    const freshExpected = draw();
    native.setRngState("cpu", native.fromBuffer(fresh, [fresh.length], UINT8));
    const freshRestored = draw();
    console.log(JSON.stringify({ stateBytes: saved.length, refused, expected, restored, freshExpected, freshRestored }));
  },
  // A worker thread loads the addon and uses it while this thread does too, both keeping many handles
  // alive so that the handle table grows under the other's feet; afterwards this thread still works.
  async worker() {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const workerCode = `
      const { parentPort, workerData } = require("node:worker_threads");
      const flag = new Int32Array(workerData.flag);
      try {
        const native = require(workerData.path);
        const ones = native.opLookup("aten::ones", "");
        const sum = native.opLookup("aten::sum", "");
        let total = 0;
        for (let round = 0; round < 200; round++) {
          const live = [];
          for (let i = 0; i < 500; i++) live.push(native.call(ones, [8]));
          for (const t of live) { const s = native.call(sum, t); total += native.item(s); native.release(s); }
          native.release(live);
        }
        parentPort.postMessage({ ok: true, total });
      } catch (e) {
        parentPort.postMessage({ ok: false, error: String(e && e.message), isError: e instanceof Error });
      }
      Atomics.store(flag, 0, 1);`;
    const path = process.env.BYOL_NATIVE ?? new URL("../../../native/build/Release/byol_native.node", import.meta.url).pathname;
    const worker = new Worker(workerCode, { eval: true, workerData: { path, flag: flag.buffer } });
    const reply = new Promise((resolve) => worker.on("message", resolve));
    const exited = new Promise<number>((resolve) => worker.on("exit", resolve));
    const ones = op("aten::ones");
    const sum = op("aten::sum");
    // Compete with the worker for the addon, without yielding, until it has finished.
    let mainRounds = 0;
    while (Atomics.load(flag, 0) === 0) {
      const live: number[] = [];
      for (let i = 0; i < 500; i++) live.push(native.call(ones, [8]));
      for (const t of live) native.release(native.call(sum, t));
      native.release(live);
      mainRounds++;
    }
    const workerExit = await exited;
    const x = native.call(ones, [3]);
    const after = native.item(native.call(sum, x));
    console.log(JSON.stringify({ reply: await reply, workerExit, mainRounds, after }));
  },
};

const name = process.argv[2];
const attack = attacks[name];
if (!attack) throw new Error(`unknown attack ${name}; known: ${Object.keys(attacks).join(", ")}`);
await attack();

// A small pool of worker threads that decode image files (folder-worker.ts). Decoding JPEGs is the
// slow part of loading an image folder; doing it off the main thread keeps training and the event
// loop responsive, and several workers keep several cores busy.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { DecodeSize } from "./image-decode.js";

export interface DecodeRequest {
  id: number;
  path: string;
  size: DecodeSize;
}

export type DecodeReply =
  | { id: number; ok: true; data: Uint8Array }
  | { id: number; ok: false; error: string };

/** What `decode` resolves to. `fatal` means the pool itself broke (a worker died), not the file. */
export type DecodeResult =
  | { ok: true; data: Uint8Array }
  | { ok: false; error: string; fatal: boolean };

// Tasks queued at each worker, so a worker never waits for the next message after finishing one.
const PER_WORKER = 2;

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

interface Slot {
  worker: Worker;
  inflight: number;
}

export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly queue: DecodeRequest[] = [];
  private readonly waiting = new Map<number, (r: DecodeResult) => void>();
  private nextId = 0;
  private broken: string | null = null;
  private closing = false;

  constructor(workers: number = defaultWorkerCount()) {
    const url = new URL("./folder-worker.js", import.meta.url);
    for (let i = 0; i < Math.max(1, workers); i++) {
      const worker = new Worker(url);
      const slot: Slot = { worker, inflight: 0 };
      worker.on("message", (reply: DecodeReply) => this.onReply(slot, reply));
      worker.on("error", (err) => this.breakPool(`image decoding worker failed: ${err.message}`));
      worker.on("exit", (code) => {
        if (!this.closing) this.breakPool(`image decoding worker exited unexpectedly (code ${code})`);
      });
      // Idle workers must not keep the process alive (e.g. a stream abandoned half-way);
      // a worker is ref'd only while it has tasks in flight.
      worker.unref();
      this.slots.push(slot);
    }
  }

  /** Decodes one file. Never rejects: failures come back as { ok: false } so callers see them in order. */
  decode(path: string, size: DecodeSize): Promise<DecodeResult> {
    if (this.broken) return Promise.resolve({ ok: false, error: this.broken, fatal: true });
    const id = this.nextId++;
    const done = new Promise<DecodeResult>((resolve) => this.waiting.set(id, resolve));
    this.queue.push({ id, path, size });
    this.dispatch();
    return done;
  }

  /** Stops the workers; decodes still waiting are abandoned (their promises never settle). */
  async close(): Promise<void> {
    this.closing = true;
    this.queue.length = 0;
    this.waiting.clear();
    // An idle worker is unref'd, and then nothing would keep the process alive until its exit is
    // reported: the returned promise could be left pending while the event loop runs dry.
    for (const s of this.slots) s.worker.ref();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let best: Slot | null = null;
      for (const s of this.slots) if (s.inflight < PER_WORKER && (!best || s.inflight < best.inflight)) best = s;
      if (!best) return;
      const task = this.queue.shift()!;
      if (best.inflight === 0) best.worker.ref();
      best.inflight++;
      best.worker.postMessage(task);
    }
  }

  private onReply(slot: Slot, reply: DecodeReply): void {
    slot.inflight--;
    if (this.closing) return; // the decode was abandoned; the worker stays ref'd until it has exited
    if (slot.inflight === 0) slot.worker.unref();
    const resolve = this.waiting.get(reply.id);
    this.waiting.delete(reply.id);
    if (resolve) resolve(reply.ok ? { ok: true, data: reply.data } : { ok: false, error: reply.error, fatal: false });
    this.dispatch();
  }

  private breakPool(message: string): void {
    if (this.broken || this.closing) return;
    this.broken = message;
    for (const resolve of this.waiting.values()) resolve({ ok: false, error: message, fatal: true });
    this.waiting.clear();
    this.queue.length = 0;
    for (const s of this.slots) s.worker.unref();
  }
}

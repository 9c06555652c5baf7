// Worker thread of the image-folder decoding pool (see decode-pool.ts): receives decode tasks,
// answers each with the image's CHW bytes (transferred, not copied) or the decoder's error text.
import { parentPort } from "node:worker_threads";
import sharp from "sharp";
import { decodeImageFile } from "./image-decode.js";
import type { DecodeRequest, DecodeReply } from "./decode-pool.js";

// Parallelism comes from the pool's several workers, each with a few tasks in flight; libvips
// spawning its own threads per image on top would oversubscribe the cores. The operation cache is
// off because every file is decoded once.
sharp.concurrency(1);
sharp.cache(false);

const port = parentPort;
if (!port) throw new Error("folder-worker.js must run as a worker thread");

port.on("message", (task: DecodeRequest) => {
  decodeImageFile(task.path, task.size).then(
    (data) => {
      const reply: DecodeReply = { id: task.id, ok: true, data };
      port.postMessage(reply, [data.buffer as ArrayBuffer]);
    },
    (err: unknown) => {
      const reply: DecodeReply = { id: task.id, ok: false, error: err instanceof Error ? err.message : String(err) };
      port.postMessage(reply);
    },
  );
});

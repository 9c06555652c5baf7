// Deterministic test data for the evaluation tests: seeded normals and Gaussian blobs.
import * as T from "../../src/torch/index.js";
import type { ImageSet } from "../../src/data/dataset.js";

/** Standard normals from a fixed seed (mulberry32 + Box-Muller). */
export function gaussians(seed: number): () => number {
  let s = seed >>> 0;
  const uni = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uni())) * Math.cos(2 * Math.PI * uni());
}

/** n points in d dims around `classes` random centres (spread `sep`) with unit noise; labels i % classes. */
export function blobs(n: number, d: number, classes: number, sep: number, seed: number, centreSeed = 1234): { x: Float32Array; labels: Int32Array } {
  const gc = gaussians(centreSeed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: d }, () => gc() * sep));
  const g = gaussians(seed);
  const x = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[c][j] + g();
  }
  return { x, labels };
}

export function kept(x: Float32Array, rows: number, cols: number): T.Tensor {
  return T.tensor(x, [rows, cols]).keep();
}

/** A tiny labelled image set: class c images are brighter in channel c % C, plus seeded noise. */
export function tinyImages(n: number, channels: number, size: number, classes: number, seed: number, labelled = true): ImageSet {
  const g = gaussians(seed);
  const per = channels * size * size;
  const images = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let ch = 0; ch < channels; ch++) {
      for (let p = 0; p < size * size; p++) {
        // Each class has its own brightness pattern over the image; noise keeps it from being trivial.
        const base = 60 + 100 * (((c + ch) * 7 + p * (c + 1)) % 5 === 0 ? 1 : 0);
        images[i * per + ch * size * size + p] = Math.max(0, Math.min(255, Math.round(base + 25 * g())));
      }
    }
  }
  return { images, n, channels, height: size, width: size, labels: labelled ? labels : null, classes: null, ids: null };
}

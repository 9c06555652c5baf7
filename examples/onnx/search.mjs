// Image search with an exported byol-ts encoder and nothing else: onnxruntime-node runs encoder.onnx,
// sharp decodes the images. No libtorch and no byol-ts are needed here (npm install onnxruntime-node sharp).
//
//   node search.mjs index IMAGES_DIR encoder.onnx embeddings.json   embed every image of a folder (and its subfolders)
//   node search.mjs query embeddings.json IMAGE encoder.onnx [K]     the K (default 5) most similar indexed images
//
// embeddings.json is {"dim", "ids", "embeddings"} (ids: paths relative to IMAGES_DIR); the web page
// beside this file (web/index.html) reads the same file.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { extname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import ort from "onnxruntime-node";
import sharp from "sharp";

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff", ".avif"]);

/** The model and the image size it takes (its input is "pixels" [N, C, H, W] in [0, 1]). */
export async function openModel(modelPath) {
  const session = await ort.InferenceSession.create(modelPath);
  const [, channels, height, width] = session.inputMetadata[0].shape;
  return { session, channels, height, width };
}

/**
 * One image file as the encoder's input: resized to cover H x W and centre-cropped (the framing byol
 * train and byol embed use), alpha dropped, planar C x H x W floats in [0, 1]; one channel is grey by
 * ITU-R 601 weights (299 R + 587 G + 114 B), as byol-ts reads grey images.
 */
export async function imagePixels(path, { channels, height, width }) {
  const { data } = await sharp(path)
    .autoOrient()
    .resize(width, height, { fit: "cover", position: "centre" })
    .removeAlpha()
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  const plane = height * width;
  const out = new Float32Array(channels * plane);
  for (let p = 0; p < plane; p++) {
    const [r, g, b] = [data[3 * p], data[3 * p + 1], data[3 * p + 2]];
    if (channels === 1) out[p] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16) / 255;
    else for (let c = 0; c < 3; c++) out[c * plane + p] = data[3 * p + c] / 255;
  }
  return out;
}

/** Embeddings of image files, `batch` at a time: an array of Float32Array. */
export async function embedFiles(model, files, batch = 32) {
  const size = model.channels * model.height * model.width;
  const out = [];
  for (let i = 0; i < files.length; i += batch) {
    const chunk = files.slice(i, i + batch);
    const x = new Float32Array(chunk.length * size);
    for (let j = 0; j < chunk.length; j++) {
      try {
        x.set(await imagePixels(chunk[j], model), j * size);
      } catch (e) {
        throw new Error(`${chunk[j]}: ${e.message.split("\n")[0]}`);
      }
    }
    const input = new ort.Tensor("float32", x, [chunk.length, model.channels, model.height, model.width]);
    const y = (await model.session.run({ pixels: input })).embedding;
    const d = y.dims[1];
    for (let j = 0; j < chunk.length; j++) out.push(y.data.slice(j * d, (j + 1) * d));
  }
  return out;
}

/** Image files under dir, sorted, as full paths. */
export function listImages(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (IMAGE_EXTENSIONS.has(extname(name).toLowerCase())) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Cosine similarity of two vectors. */
export function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / (Math.sqrt(na * nb) || 1);
}

/** The k indexed images most similar to `query`: [{id, similarity}], best first. */
export function nearest(index, query, k = 5) {
  return index.ids
    .map((id, i) => ({ id, similarity: cosine(query, index.embeddings[i]) }))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
}

async function main([cmd, ...args]) {
  if (cmd === "index" && args.length === 3) {
    const [dir, modelPath, outPath] = args;
    const model = await openModel(modelPath);
    const files = listImages(dir);
    if (files.length === 0) throw new Error(`no images under ${dir}`);
    const embeddings = await embedFiles(model, files);
    const index = { dim: embeddings[0].length, ids: files.map((f) => relative(dir, f)), embeddings: embeddings.map((e) => Array.from(e)) };
    writeFileSync(outPath, JSON.stringify(index));
    console.error(`embedded ${files.length} images (${index.dim}-d) into ${outPath}`);
  } else if (cmd === "query" && (args.length === 3 || args.length === 4)) {
    const [indexPath, image, modelPath, k] = args;
    const index = JSON.parse(readFileSync(indexPath, "utf8"));
    const model = await openModel(modelPath);
    const [query] = await embedFiles(model, [image]);
    console.log(JSON.stringify(nearest(index, query, Number(k ?? 5)), null, 1));
  } else {
    console.error("usage: node search.mjs index IMAGES_DIR encoder.onnx embeddings.json\n       node search.mjs query embeddings.json IMAGE encoder.onnx [K]");
    process.exitCode = 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`search: ${e.message.split("\n")[0]}`);
    process.exitCode = 1;
  });
}

// Serves the search page on this machine only (127.0.0.1): the page, onnxruntime-web's own files from
// its npm package (no CDN), the model, the embeddings and the indexed images for thumbnails.
//
//   node serve.mjs encoder.onnx embeddings.json IMAGES_DIR [PORT]    then open http://127.0.0.1:PORT/
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8", ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
  ".json": "application/json", ".onnx": "application/octet-stream", ".png": "image/png", ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif", ".map": "application/json",
};

/** onnxruntime-web's dist folder, wherever npm put the package. */
function ortDist() {
  return dirname(createRequire(import.meta.url).resolve("onnxruntime-web"));
}

// The file under `root` that `rest` names, or null when it would leave root.
function inside(root, rest) {
  const p = resolve(root, "." + sep + decodeURIComponent(rest));
  return p === root || p.startsWith(root + sep) ? p : null;
}

/** Starts the server; resolves to its address and a close function. */
export function serve({ model, index, images, port = 8080, host = "127.0.0.1" }) {
  const page = join(dirname(fileURLToPath(import.meta.url)), "index.html");
  const ort = ortDist();
  const imagesRoot = resolve(images);
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    let file = null;
    if (path === "/" || path === "/index.html") file = page;
    else if (path === "/model/encoder.onnx") file = resolve(model);
    else if (path === "/model/embeddings.json") file = resolve(index);
    else if (path.startsWith("/ort/")) file = inside(ort, path.slice(5));
    else if (path.startsWith("/images/")) file = inside(imagesRoot, path.slice(8));
    let ok = false;
    try {
      ok = file !== null && statSync(file).isFile();
    } catch { /* missing */ }
    if (!ok) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolveServe, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      resolveServe({ url: `http://${host}:${actual}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [model, index, images, port] = process.argv.slice(2);
  if (!model || !index || !images) {
    console.error("usage: node serve.mjs encoder.onnx embeddings.json IMAGES_DIR [PORT]");
    process.exit(2);
  }
  const { url } = await serve({ model, index, images, port: Number(port ?? 8080) });
  console.error(`open ${url} (Ctrl-C stops)`);
}

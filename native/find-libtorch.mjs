#!/usr/bin/env node
// Locates libtorch for the addon build and prints one field for binding.gyp:
//   --include  include directories (space separated)
//   --libdir   the directory holding libtorch.so
//   --libs     linker flags (libtorch_cuda is linked with --no-as-needed so CUDA really loads)
// Search order (SPEC §3): $LIBTORCH, the torch of `python3 -c "import torch"`, Debian's libtorch-dev.
import { existsSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";

function fromPython() {
  for (const py of ["python3", "/usr/bin/python3"]) {
    try {
      const dir = execFileSync(py, ["-c", "import torch,os;print(os.path.dirname(torch.__file__))"], {
        stdio: ["ignore", "pipe", "ignore"],
      }).toString().trim();
      if (dir && existsSync(join(dir, "lib", "libtorch.so"))) return dir;
    } catch { /* try the next one */ }
  }
  return null;
}

function locate() {
  const env = process.env.LIBTORCH;
  if (env) {
    if (!existsSync(join(env, "lib", "libtorch.so"))) {
      throw new Error(`LIBTORCH=${env} has no lib/libtorch.so`);
    }
    return { include: [join(env, "include"), join(env, "include/torch/csrc/api/include")], libdir: join(env, "lib") };
  }
  const debLib = "/usr/lib/x86_64-linux-gnu";
  if (existsSync("/usr/include/torch/csrc/api/include") && existsSync(join(debLib, "libtorch.so"))) {
    return { include: ["/usr/include", "/usr/include/torch/csrc/api/include"], libdir: debLib };
  }
  const py = fromPython();
  if (py) return { include: [join(py, "include"), join(py, "include/torch/csrc/api/include")], libdir: join(py, "lib") };
  throw new Error("libtorch not found. Install it with: apt-get install -y libtorch-dev libgloo-dev libopenblas0-pthread (or set LIBTORCH=/path/to/libtorch)");
}

// With a CUDA libtorch, c10d's NCCL backend header needs nccl.h and the CUDA runtime's headers. A pip
// wheel's torch leaves them in the sibling nvidia/<package>/include folders (nvidia-nccl-cu*, nvidia-
// cuda-runtime-cu* ...); a CUDA toolkit in $CUDA_HOME or /usr/local/cuda also has them. Without them the
// addon builds without NCCL (distributed.cc checks with __has_include).
function cudaIncludes(t) {
  if (!existsSync(join(t.libdir, "libtorch_cuda.so"))) return [];
  const out = [];
  const nvidia = join(dirname(dirname(t.libdir)), "nvidia");
  if (existsSync(nvidia)) {
    for (const pkg of readdirSync(nvidia).sort()) {
      const inc = join(nvidia, pkg, "include");
      if (existsSync(inc)) out.push(inc);
    }
  }
  for (const home of [process.env.CUDA_HOME, "/usr/local/cuda"]) {
    if (home && existsSync(join(home, "include", "cuda_runtime_api.h"))) {
      out.push(join(home, "include"));
      break;
    }
  }
  return out;
}

try {
  const t = locate();
  const what = process.argv[2];
  if (what === "--include") console.log([...t.include, ...cudaIncludes(t)].join(" "));
  else if (what === "--libdir") console.log(t.libdir);
  else if (what === "--libs") {
    const libs = [`-L${t.libdir}`, `-Wl,-rpath,${t.libdir}`, "-ltorch", "-ltorch_cpu", "-lc10"];
    if (existsSync(join(t.libdir, "libtorch_cuda.so"))) {
      libs.push("-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed");
    }
    console.log(libs.join(" "));
  } else if (what === "--cuda") console.log(existsSync(join(t.libdir, "libtorch_cuda.so")) ? 1 : 0);
  else console.log(JSON.stringify(t));
} catch (e) {
  console.error(`byol-ts: ${e.message}`);
  process.exit(1);
}

{
  "targets": [{
    "target_name": "byol_native",
    "sources": [
      "src/addon.cc", "src/tensor_table.cc", "src/ops.cc", "src/tensors.cc",
      "src/autograd.cc", "src/device.cc", "src/distributed.cc", "src/rng_state.cc",
      "src/cuda_graph.cc"
    ],
    "include_dirs": ["<!@(node find-libtorch.mjs --include)"],
    "libraries": ["<!@(node find-libtorch.mjs --libs)"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations", "-Wno-cast-function-type"],
    "defines": ["BYOL_CUDA=<!(node find-libtorch.mjs --cuda)"]
  }]
}

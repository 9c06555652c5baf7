// Module entry point: gathers the functions of every source file into the addon's exports.
#include <malloc.h>

#include "common.h"

namespace byol {
void init_cuda_graph(napi_env env, napi_value exports);  // cuda_graph.cc

namespace {
napi_value Init(napi_env env, napi_value exports) {
  // Loaded in a second thread's environment (a worker), the require itself throws: the process-wide
  // tables are not shared between threads.
  if (!claim_environment(env)) return nullptr;
  // Training allocates and frees the same large activation buffers every step. glibc's defaults hand
  // them back to the OS and fault them in again (tens of thousands of page faults per step); keeping
  // them in the heap makes a CPU step 5-10% faster. Memory stays bounded by the working set.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 256 << 20);
  return guarded(env, "loading the native addon", [&] {
    init_tensor_table(env, exports);
    init_ops(env, exports);
    init_tensors(env, exports);
    init_autograd(env, exports);
    init_device(env, exports);
    // After init_device: its setRngState is replaced by the one that validates the state first.
    init_rng_state(env, exports);
    init_distributed(env, exports);
    init_cuda_graph(env, exports);
    return exports;
  });
}
}  // namespace
}  // namespace byol

NAPI_MODULE(NODE_GYP_MODULE_NAME, byol::Init)

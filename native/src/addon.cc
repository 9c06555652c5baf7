// Module entry point: gathers the functions of every source file into the addon's exports.
#include "common.h"

namespace byol {
namespace {
napi_value Init(napi_env env, napi_value exports) {
  init_tensor_table(env, exports);
  init_ops(env, exports);
  init_tensors(env, exports);
  init_autograd(env, exports);
  init_device(env, exports);
  init_distributed(env, exports);
  return exports;
}
}  // namespace
}  // namespace byol

NAPI_MODULE(NODE_GYP_MODULE_NAME, byol::Init)

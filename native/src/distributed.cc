// torch.distributed (c10d) bindings: filled in by the data-parallel work; registers nothing yet.
#include "common.h"

namespace byol {
void init_distributed(napi_env env, napi_value exports) {}
}  // namespace byol

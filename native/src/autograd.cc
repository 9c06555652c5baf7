// Autograd: requires-grad, backward, .grad, and the grad-mode switch behind no-grad scopes.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>
// at::GradMode: torch 2.x no longer brings it in through the autograd headers.
#include <ATen/core/grad_mode.h>

#include "common.h"

namespace byol {
namespace {

BYOL_FN(SetRequiresGrad) {
  return guarded(env, "setRequiresGrad", [&] {
    auto a = args_of(env, info, 2, "setRequiresGrad");
    at::Tensor t = to_tensor(env, a[0], "tensor");
    t.set_requires_grad(to_bool(env, a[1], "requiresGrad"));
    return undefined(env);
  });
}

BYOL_FN(RequiresGrad) {
  return guarded(env, "requiresGrad", [&] {
    auto a = args_of(env, info, 1, "requiresGrad");
    return from_bool(env, to_tensor(env, a[0], "tensor").requires_grad());
  });
}

BYOL_FN(IsLeaf) {
  return guarded(env, "isLeaf", [&] {
    auto a = args_of(env, info, 1, "isLeaf");
    return from_bool(env, to_tensor(env, a[0], "tensor").is_leaf());
  });
}

// backward(tensors[], grads[] | null, retainGraph, createGraph)
BYOL_FN(Backward) {
  return guarded(env, "backward", [&] {
    auto a = args_of(env, info, 4, "backward");
    // Copies of the tensors, read (getters may run) before any of them is used.
    std::vector<at::Tensor> roots = to_tensor_vector(env, a[0], "tensors"), grads;
    if (!is_nullish(env, a[1])) {
      uint32_t m = array_length(env, a[1], "grads", kMaxListLength);
      if (m != roots.size()) throw JsError("got " + std::to_string(m) + " gradients for " + std::to_string(roots.size()) + " tensors");
      grads.reserve(m);
      for (uint32_t i = 0; i < m; ++i) {
        napi_value e = element(env, a[1], i);
        grads.push_back(is_nullish(env, e) ? at::Tensor() : to_tensor(env, e, "grads"));
      }
    }
    for (size_t i = 0; i < roots.size(); ++i) {
      if (!roots[i].requires_grad()) throw JsError("backward: tensor does not require grad and has no grad_fn");
      bool has_grad = i < grads.size() && grads[i].defined();
      if (!has_grad && roots[i].numel() != 1) throw JsError("backward: grad can be implicitly created only for scalar outputs");
    }
    bool retain = to_bool(env, a[2], "retainGraph");
    bool create = to_bool(env, a[3], "createGraph");
    torch::autograd::backward(roots, grads, retain, create);
    return undefined(env);
  });
}

BYOL_FN(Grad) {
  return guarded(env, "grad", [&] {
    auto a = args_of(env, info, 1, "grad");
    return from_tensor(env, to_tensor(env, a[0], "tensor").grad());
  });
}

// setGrad(t, g | null): replaces (or clears, as zero_grad(set_to_none=True) does) the gradient.
BYOL_FN(SetGrad) {
  return guarded(env, "setGrad", [&] {
    auto a = args_of(env, info, 2, "setGrad");
    at::Tensor t = to_tensor(env, a[0], "tensor");
    if (is_nullish(env, a[1])) {
      t.mutable_grad() = at::Tensor();
    } else {
      const at::Tensor& g = to_tensor(env, a[1], "grad");
      // The checks Python's `.grad` setter makes: autograd and the optimisers assume them without asking.
      if (!g.sizes().equals(t.sizes())) throw JsError("gradient shape does not match the tensor's");
      if (g.scalar_type() != t.scalar_type()) throw JsError("gradient dtype does not match the tensor's");
      if (g.device() != t.device()) throw JsError("gradient device does not match the tensor's");
      t.mutable_grad() = g;
    }
    return undefined(env);
  });
}

BYOL_FN(RetainGrad) {
  return guarded(env, "retainGrad", [&] {
    auto a = args_of(env, info, 1, "retainGrad");
    to_tensor(env, a[0], "tensor").retain_grad();
    return undefined(env);
  });
}

// setGradEnabled(bool) -> previous value. Grad mode is thread-local; JavaScript runs on one thread.
BYOL_FN(SetGradEnabled) {
  return guarded(env, "setGradEnabled", [&] {
    auto a = args_of(env, info, 1, "setGradEnabled");
    bool prev = at::GradMode::is_enabled();
    at::GradMode::set_enabled(to_bool(env, a[0], "enabled"));
    return from_bool(env, prev);
  });
}

BYOL_FN(GradEnabled) {
  return guarded(env, "gradEnabled", [&] { return from_bool(env, at::GradMode::is_enabled()); });
}

}  // namespace

void init_autograd(napi_env env, napi_value exports) {
  register_exports(env, exports,
                   {{"setRequiresGrad", SetRequiresGrad}, {"requiresGrad", RequiresGrad}, {"isLeaf", IsLeaf},
                    {"backward", Backward}, {"grad", Grad}, {"setGrad", SetGrad}, {"retainGrad", RetainGrad},
                    {"setGradEnabled", SetGradEnabled}, {"gradEnabled", GradEnabled}});
}

}  // namespace byol

// The one place where differences between libtorch versions are handled.
// Debian 12 ships libtorch 1.13 (CPU); the GPU machine has a 2.x wheel with CUDA.
#pragma once
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define BYOL_TORCH_AT_LEAST(maj, min) \
  (TORCH_VERSION_MAJOR > (maj) || (TORCH_VERSION_MAJOR == (maj) && TORCH_VERSION_MINOR >= (min)))

namespace byol {

// Autocast moved from per-device setters (1.x) to device-type-parameterised ones (2.4+).
inline void set_autocast(c10::DeviceType device, bool enabled, at::ScalarType dtype) {
#if BYOL_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device, enabled);
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
  if (!enabled) at::autocast::clear_cache();
}

inline bool autocast_enabled(c10::DeviceType device) {
#if BYOL_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

// The dispatcher schema spells some integer-like argument kinds differently across versions
// (SymInt appeared in 1.13's schemas; ScalarType/Layout/MemoryFormat may be typed as int).
inline bool is_int_like(c10::TypeKind k) {
  return k == c10::TypeKind::IntType || k == c10::TypeKind::SymIntType || k == c10::TypeKind::ScalarTypeType ||
         k == c10::TypeKind::LayoutType || k == c10::TypeKind::MemoryFormatType;
}

}  // namespace byol

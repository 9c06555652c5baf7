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

// ---- torch.distributed (c10d) -------------------------------------------------------------------------
// Only distributed.cc asks for this section (it defines BYOL_WANT_C10D first), so the other files do not
// pay for c10d's headers. Differences handled here:
//  - 1.x: a process group (ProcessGroupGloo, ProcessGroupNCCL) derives from c10d::ProcessGroup.
//    2.x: ProcessGroup became a dispatching front and the backends derive from c10d::Backend; the
//    collective methods (allreduce, allgather, broadcast, barrier) keep their signatures.
//  - c10d's backend headers are compiled only under USE_C10D_GLOO / USE_C10D_NCCL, which libtorch's own
//    build defines; an extension defines them itself, and only where the headers they pull in exist
//    (Gloo's in /usr/include/gloo from libgloo-dev, or in the wheel's include/; NCCL's nccl.h and the
//    CUDA toolkit headers that ProcessGroupNCCL.hpp includes through ATen/cuda/CUDAContext.h).
//  - Gloo's device factories gained a `lazyInit` parameter (defaulted) in 2.x: called with one argument.
#if defined(BYOL_WANT_C10D)
#if __has_include(<gloo/algorithm.h>) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>)
#define BYOL_HAS_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#else
#define BYOL_HAS_GLOO 0
#endif

#if BYOL_CUDA && __has_include(<nccl.h>) && __has_include(<cuda_runtime_api.h>) && __has_include(<cublas_v2.h>) && \
    __has_include(<cusparse.h>) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#define BYOL_HAS_NCCL 1
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#else
#define BYOL_HAS_NCCL 0
#endif

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#if BYOL_HAS_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if BYOL_HAS_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#if BYOL_TORCH_AT_LEAST(2, 0)
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

namespace byol {
#if BYOL_TORCH_AT_LEAST(2, 0)
using C10dGroup = c10d::Backend;
#else
using C10dGroup = c10d::ProcessGroup;
#endif

// The TCP rendezvous store. TCPStoreOptions exists in 1.13 and 2.x with these fields (2.x adds more,
// e.g. useLibUV, whose defaults we keep).
inline c10::intrusive_ptr<c10d::Store> make_tcp_store(const std::string& host, uint16_t port, bool is_server,
                                                      size_t world_size, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = port;
  o.isServer = is_server;
  o.numWorkers = world_size;
  o.waitWorkers = true;
  o.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(host, o);
}

#if BYOL_HAS_GLOO
// hostname: the local address Gloo binds to; empty for "this machine's hostname, else loopback".
inline c10::intrusive_ptr<C10dGroup> make_gloo_group(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                    std::chrono::milliseconds timeout, const std::string& interface,
                                                    const std::string& hostname) {
  auto o = c10d::ProcessGroupGloo::Options::create(timeout);
  if (!interface.empty()) o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  else if (!hostname.empty()) o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
  else o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, o);
}
#endif

#if BYOL_HAS_NCCL
inline c10::intrusive_ptr<C10dGroup> make_nccl_group(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                    std::chrono::milliseconds timeout) {
  auto o = c10d::ProcessGroupNCCL::Options::create();
  o->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, o);
}
#endif

}  // namespace byol
#endif  // BYOL_WANT_C10D

// ---- CUDA graphs ------------------------------------------------------------------------------------
// at::cuda::CUDAGraph needs a CUDA build of libtorch and the CUDA runtime's headers. Debian's CPU-only
// libtorch 1.13 ships ATen/cuda/CUDAGraph.h but not cuda_runtime_api.h, so both are checked; without
// them cuda_graph.cc compiles functions that throw a clear error. In the 2.x API the constructor and
// capture_begin's later parameters (capture mode; keep_graph in newer releases) have defaults, so
// `CUDAGraph()` and `capture_begin(pool)` compile across 2.x.
#if BYOL_CUDA && __has_include(<ATen/cuda/CUDAGraph.h>) && __has_include(<cuda_runtime_api.h>) && \
    __has_include(<c10/cuda/CUDAGuard.h>)
#define BYOL_HAS_CUDA_GRAPHS 1
#else
#define BYOL_HAS_CUDA_GRAPHS 0
#endif

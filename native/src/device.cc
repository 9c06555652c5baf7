// Devices, seeds, threads, autocast and random-generator state.
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include "common.h"
#include "compat.h"

#if BYOL_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace byol {
namespace {

BYOL_FN(Version) {
  return guarded(env, "version", [&] { return from_string(env, TORCH_VERSION); });
}

BYOL_FN(CudaAvailable) {
  return guarded(env, "cudaAvailable", [&] { return from_bool(env, torch::cuda::is_available()); });
}

BYOL_FN(CudaDeviceCount) {
  return guarded(env, "cudaDeviceCount", [&] {
    return from_int64(env, torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0);
  });
}

BYOL_FN(CudaSynchronize) {
  return guarded(env, "cudaSynchronize", [&] {
    auto a = args_of(env, info, 0, "cudaSynchronize");
    if (!torch::cuda::is_available()) throw JsError("CUDA is not available");
    // No device (or undefined/null from an optional JavaScript argument): the current device, as
    // torch.cuda.synchronize() does; libtorch reads -1 that way.
    int64_t device = a.empty() || is_nullish(env, a[0]) ? -1 : to_int64(env, a[0], "device");
    if (device < -1) throw JsError("cudaSynchronize: device must be a non-negative index");
    torch::cuda::synchronize(device);
    return undefined(env);
  });
}

// cudaMemory(device) -> [allocatedCurrent, allocatedPeak, reservedCurrent, reservedPeak] in bytes.
// A CUDA device index from JavaScript, refused unless it names a visible device.
#if BYOL_CUDA
c10::DeviceIndex cuda_index(napi_env env, napi_value v) {
  int64_t idx = to_int64(env, v, "device");
  int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (idx < 0 || idx >= count) throw JsError("CUDA device " + std::to_string(idx) + " does not exist (" + std::to_string(count) + " visible)");
  return static_cast<c10::DeviceIndex>(idx);
}
#endif

BYOL_FN(CudaMemory) {
  return guarded(env, "cudaMemory", [&] {
    auto a = args_of(env, info, 1, "cudaMemory");
    if (!torch::cuda::is_available()) throw JsError("CUDA is not available");
#if BYOL_CUDA
    auto idx = cuda_index(env, a[0]);
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(idx);
    int64_t vals[4] = {stats.allocated_bytes[0].current, stats.allocated_bytes[0].peak,
                       stats.reserved_bytes[0].current, stats.reserved_bytes[0].peak};
    napi_value arr;
    NAPI_CHECK(napi_create_array_with_length(env, 4, &arr));
    for (uint32_t i = 0; i < 4; ++i) NAPI_CHECK(napi_set_element(env, arr, i, from_int64(env, vals[i])));
    return arr;
#else
    throw JsError("this build of the addon has no CUDA memory statistics (libtorch without CUDA)");
#endif
  });
}

BYOL_FN(CudaResetPeak) {
  return guarded(env, "cudaResetPeak", [&] {
    auto a = args_of(env, info, 1, "cudaResetPeak");
#if BYOL_CUDA
    if (!torch::cuda::is_available()) throw JsError("CUDA is not available");
    c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_index(env, a[0]));
    return undefined(env);
#else
    throw JsError("this build of the addon has no CUDA memory statistics (libtorch without CUDA)");
#endif
  });
}

BYOL_FN(CudaEmptyCache) {
  return guarded(env, "cudaEmptyCache", [&] {
#if BYOL_CUDA
    c10::cuda::CUDACachingAllocator::emptyCache();
#endif
    return undefined(env);
  });
}

// manualSeed(seed): seeds the CPU generator and, where present, every CUDA generator.
BYOL_FN(ManualSeed) {
  return guarded(env, "manualSeed", [&] {
    auto a = args_of(env, info, 1, "manualSeed");
    torch::manual_seed(static_cast<uint64_t>(to_int64(env, a[0], "seed")));
    return undefined(env);
  });
}

at::Generator default_generator(napi_env env, napi_value device) {
  std::string d = to_string(env, device, "device");
  return at::globalContext().defaultGenerator(c10::Device(d));
}

// rngState(device) -> uint8 tensor handle with the generator's full state (for checkpoints).
BYOL_FN(RngState) {
  return guarded(env, "rngState", [&] {
    auto a = args_of(env, info, 1, "rngState");
    at::Generator gen = default_generator(env, a[0]);
    std::lock_guard<std::mutex> lock(gen.mutex());
    return from_tensor(env, at::Tensor(gen.get_state()));
  });
}

BYOL_FN(SetNumThreads) {
  return guarded(env, "setNumThreads", [&] {
    auto a = args_of(env, info, 1, "setNumThreads");
    int64_t n = to_int64(env, a[0], "threads");
    if (n < 1) throw JsError("thread count must be at least 1");
    at::set_num_threads(static_cast<int>(n));
    return undefined(env);
  });
}

BYOL_FN(GetNumThreads) {
  return guarded(env, "getNumThreads", [&] { return from_int64(env, at::get_num_threads()); });
}

// setAutocast(deviceType "cpu"|"cuda", enabled, dtypeCode) -> previous enabled state.
BYOL_FN(SetAutocast) {
  return guarded(env, "setAutocast", [&] {
    auto a = args_of(env, info, 3, "setAutocast");
    std::string dev = to_string(env, a[0], "deviceType");
    c10::DeviceType type = dev == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
    if (dev != "cuda" && dev != "cpu") throw JsError("autocast device must be cpu or cuda, got " + dev);
    // Only the reduced-precision types autocast knows; any other code would be cast to an arbitrary
    // ScalarType unchecked.
    int64_t code = to_int64(env, a[2], "dtype");
    auto dtype = static_cast<at::ScalarType>(code);
    if (code < 0 || (dtype != at::kBFloat16 && dtype != at::kHalf)) {
      throw JsError("autocast dtype must be bfloat16 or float16 (dtype code " + std::to_string(code) + ")");
    }
    bool prev = autocast_enabled(type);
    set_autocast(type, to_bool(env, a[1], "enabled"), dtype);
    return from_bool(env, prev);
  });
}

}  // namespace

void init_device(napi_env env, napi_value exports) {
  register_exports(env, exports,
                   {{"version", Version}, {"cudaAvailable", CudaAvailable}, {"cudaDeviceCount", CudaDeviceCount},
                    {"cudaSynchronize", CudaSynchronize}, {"cudaMemory", CudaMemory}, {"cudaResetPeak", CudaResetPeak},
                    {"cudaEmptyCache", CudaEmptyCache}, {"manualSeed", ManualSeed}, {"rngState", RngState},
                    {"setNumThreads", SetNumThreads}, {"getNumThreads", GetNumThreads},
                    {"setAutocast", SetAutocast}});
}

}  // namespace byol

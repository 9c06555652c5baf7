// CUDA graphs (at::cuda::CUDAGraph): a sequence of kernels captured once and replayed with one launch,
// which removes the host's per-kernel launch cost from a training step. JavaScript holds a graph as a
// small integer handle into this file's table.
//
// Capture runs on a side stream (CUDA cannot capture the legacy default stream), begun and ended by two
// separate calls from JavaScript with the ops of the captured step in between; the stream that was
// current before is restored at the end, or on abort. Work queued before the capture is finished first
// (the capture stream would not wait for it). Replay launches on the current stream, so it is ordered
// after the copies into the graph's static inputs. Random numbers drawn during capture come from the
// default CUDA generator, which libtorch makes graph-safe itself (each replay advances its offset).
//
// Memory: a graph allocates from a private pool of the caching allocator; graphs that are replayed in
// the order they were captured may share one (poolHandle, or another graph's pool).
#include <memory>
#include <optional>
#include <unordered_map>

#include "common.h"
#include "compat.h"

#if BYOL_HAS_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace byol {
namespace {

#if BYOL_HAS_CUDA_GRAPHS
// The pool id's type is whatever this libtorch's CUDAGraph::pool() returns (a pair of 64-bit ids).
using PoolId = decltype(std::declval<at::cuda::CUDAGraph&>().pool());

struct GraphSlot {
  at::cuda::CUDAGraph graph;
  bool capturing = false;
  bool captured = false;
  c10::DeviceIndex device = 0;
  c10::DeviceIndex previous_device = 0;
  std::optional<c10::cuda::CUDAStream> previous_stream;
};

// Never destroyed: at process exit the CUDA driver may already be gone when static destructors run.
std::unordered_map<int64_t, std::unique_ptr<GraphSlot>>& table() {
  static auto* t = new std::unordered_map<int64_t, std::unique_ptr<GraphSlot>>();
  return *t;
}
int64_t next_id = 1;

GraphSlot& slot_of(napi_env env, napi_value v) {
  int64_t id = to_int64(env, v, "graph");
  auto it = table().find(id);
  if (it == table().end()) throw JsError("no CUDA graph with handle " + std::to_string(id) + " (destroyed?)");
  return *it->second;
}

// Pool ids cross to JavaScript as two numbers; they are small counters, exact below 2^53.
napi_value from_pool(napi_env env, PoolId p) {
  napi_value arr;
  check(env, napi_create_array_with_length(env, 2, &arr), "array");
  check(env, napi_set_element(env, arr, 0, from_double(env, static_cast<double>(p.first))), "array");
  check(env, napi_set_element(env, arr, 1, from_double(env, static_cast<double>(p.second))), "array");
  return arr;
}

PoolId to_pool(napi_env env, napi_value v) {
  if (is_nullish(env, v)) return PoolId{0, 0};
  std::vector<int64_t> ids = to_int_vector(env, v, "pool");
  if (ids.size() != 2 || ids[0] < 0 || ids[1] < 0) throw JsError("a graph memory pool is a pair of two non-negative ids");
  return PoolId{static_cast<decltype(PoolId{}.first)>(ids[0]), static_cast<decltype(PoolId{}.second)>(ids[1])};
}

// A capture that fails part-way leaves the default CUDA generator in capture mode: the generator leaves
// it in the epilogue of a capture that ends well, and a failed one never gets there, after which every
// eager random op would fail (or draw from a frozen offset). A tiny capture that ends well puts the
// generator back, through CUDAGraph's own begin and end; it is never replayed. Random numbers drawn in
// the failed capture did not advance the generator's eager offset, so the eager stream continues
// where it was before the capture began.
void heal_generator(c10::DeviceIndex device) {
  at::Tensor scratch = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA, device));
  c10::cuda::CUDAStreamGuard guard(c10::cuda::getStreamFromPool(false, device));
  at::cuda::CUDAGraph g;
  g.capture_begin();
  scratch.fill_(1);
  g.capture_end();
}

// Puts back the stream and device that were current before the capture.
void restore(GraphSlot& s) {
  if (s.previous_stream) c10::cuda::setCurrentCUDAStream(*s.previous_stream);
  s.previous_stream.reset();
  c10::cuda::set_device(s.previous_device);
  s.capturing = false;
}
#else
[[noreturn]] void no_graphs() {
  throw JsError(std::string("CUDA graphs need a CUDA build of libtorch (this addon was built against libtorch ") +
                TORCH_VERSION + " without CUDA)");
}
#endif

BYOL_FN(CudaGraphsAvailable) {
  return guarded(env, "cudaGraphsAvailable", [&] {
#if BYOL_HAS_CUDA_GRAPHS
    return from_bool(env, c10::cuda::device_count() > 0);
#else
    return from_bool(env, false);
#endif
  });
}

// cudaGraphCreate() -> handle
BYOL_FN(CudaGraphCreate) {
  return guarded(env, "cudaGraphCreate", [&] {
#if BYOL_HAS_CUDA_GRAPHS
    int64_t id = next_id++;
    table().emplace(id, std::make_unique<GraphSlot>());
    return from_int64(env, id);
#else
    no_graphs();
#endif
  });
}

// cudaGraphPoolHandle() -> [a, b]: a fresh memory pool id that several captures may share.
BYOL_FN(CudaGraphPoolHandle) {
  return guarded(env, "cudaGraphPoolHandle", [&] {
#if BYOL_HAS_CUDA_GRAPHS
    return from_pool(env, at::cuda::graph_pool_handle());
#else
    no_graphs();
#endif
  });
}

// cudaGraphCaptureBegin(handle, deviceIndex, pool [a, b] | null)
BYOL_FN(CudaGraphCaptureBegin) {
  return guarded(env, "cudaGraphCaptureBegin", [&] {
    auto a = args_of(env, info, 3, "cudaGraphCaptureBegin");
#if BYOL_HAS_CUDA_GRAPHS
    GraphSlot& s = slot_of(env, a[0]);
    if (s.capturing) throw JsError("this CUDA graph is already capturing");
    if (s.captured) throw JsError("this CUDA graph already holds a capture (reset it first)");
    int64_t device = to_int64(env, a[1], "device");
    if (device < 0 || device >= c10::cuda::device_count()) throw JsError("no CUDA device " + std::to_string(device));
    PoolId pool = to_pool(env, a[2]);
    s.device = static_cast<c10::DeviceIndex>(device);
    s.previous_device = c10::cuda::current_device();
    c10::cuda::set_device(s.device);
    c10::cuda::device_synchronize();
    s.previous_stream = c10::cuda::getCurrentCUDAStream(s.device);
    c10::cuda::setCurrentCUDAStream(c10::cuda::getStreamFromPool(false, s.device));
    s.capturing = true;
    try {
      s.graph.capture_begin(pool);
    } catch (...) {
      restore(s);
      throw;
    }
    return undefined(env);
#else
    no_graphs();
#endif
  });
}

// cudaGraphCaptureEnd(handle): ends the capture and instantiates the graph.
BYOL_FN(CudaGraphCaptureEnd) {
  return guarded(env, "cudaGraphCaptureEnd", [&] {
    auto a = args_of(env, info, 1, "cudaGraphCaptureEnd");
#if BYOL_HAS_CUDA_GRAPHS
    GraphSlot& s = slot_of(env, a[0]);
    if (!s.capturing) throw JsError("this CUDA graph is not capturing");
    try {
      s.graph.capture_end();
    } catch (...) {
      restore(s);
      throw;
    }
    restore(s);
    s.captured = true;
    return undefined(env);
#else
    no_graphs();
#endif
  });
}

// cudaGraphAbort(handle): ends a capture that failed part-way (an op raised during capture), ignoring
// the capture's own error, restores the previous stream and leaves the graph empty. Safe to call when
// not capturing.
BYOL_FN(CudaGraphAbort) {
  return guarded(env, "cudaGraphAbort", [&] {
    auto a = args_of(env, info, 1, "cudaGraphAbort");
#if BYOL_HAS_CUDA_GRAPHS
    GraphSlot& s = slot_of(env, a[0]);
    bool began = s.capturing;
    if (s.capturing) {
      try {
        s.graph.capture_end();
      } catch (...) {
        // The capture was invalidated by the failing op: that error is the one already reported.
      }
      restore(s);
    }
    try {
      s.graph.reset();
    } catch (...) {
    }
    (void)cudaGetLastError();  // clears a non-sticky capture error so later checks do not see it
    s.captured = false;
    if (began) heal_generator(s.device);
    return undefined(env);
#else
    no_graphs();
#endif
  });
}

BYOL_FN(CudaGraphReplay) {
  return guarded(env, "cudaGraphReplay", [&] {
    auto a = args_of(env, info, 1, "cudaGraphReplay");
#if BYOL_HAS_CUDA_GRAPHS
    GraphSlot& s = slot_of(env, a[0]);
    if (!s.captured) throw JsError("this CUDA graph holds no capture to replay");
    s.graph.replay();
    return undefined(env);
#else
    no_graphs();
#endif
  });
}

// cudaGraphPool(handle) -> [a, b]: the pool this graph allocated from (to share with a later capture).
BYOL_FN(CudaGraphPool) {
  return guarded(env, "cudaGraphPool", [&] {
    auto a = args_of(env, info, 1, "cudaGraphPool");
#if BYOL_HAS_CUDA_GRAPHS
    GraphSlot& s = slot_of(env, a[0]);
    if (!s.captured) throw JsError("this CUDA graph holds no capture (no pool yet)");
    return from_pool(env, s.graph.pool());
#else
    no_graphs();
#endif
  });
}

// cudaGraphReset(handle): frees the captured graph (the handle stays, for a new capture).
BYOL_FN(CudaGraphReset) {
  return guarded(env, "cudaGraphReset", [&] {
    auto a = args_of(env, info, 1, "cudaGraphReset");
#if BYOL_HAS_CUDA_GRAPHS
    GraphSlot& s = slot_of(env, a[0]);
    if (s.capturing) throw JsError("this CUDA graph is capturing: end or abort the capture first");
    s.graph.reset();
    s.captured = false;
    return undefined(env);
#else
    no_graphs();
#endif
  });
}

// cudaGraphDestroy(handle): frees the graph and its handle.
BYOL_FN(CudaGraphDestroy) {
  return guarded(env, "cudaGraphDestroy", [&] {
    auto a = args_of(env, info, 1, "cudaGraphDestroy");
#if BYOL_HAS_CUDA_GRAPHS
    GraphSlot& s = slot_of(env, a[0]);
    if (s.capturing) throw JsError("this CUDA graph is capturing: end or abort the capture first");
    table().erase(to_int64(env, a[0], "graph"));
    return undefined(env);
#else
    no_graphs();
#endif
  });
}

#if BYOL_HAS_CUDA_GRAPHS
// The stream current before cudaSideStreamBegin, while a side stream is current.
std::optional<c10::cuda::CUDAStream> side_previous;
#endif

// cudaSideStreamBegin(deviceIndex): finishes the work queued so far and makes a side stream of the
// device current, for eager warm-up steps before a capture (as PyTorch recommends: lazily initialised
// state is then set up on a stream other than the default one, like the capture's).
BYOL_FN(CudaSideStreamBegin) {
  return guarded(env, "cudaSideStreamBegin", [&] {
    auto a = args_of(env, info, 1, "cudaSideStreamBegin");
#if BYOL_HAS_CUDA_GRAPHS
    if (side_previous) throw JsError("a side stream is already current");
    int64_t device = to_int64(env, a[0], "device");
    if (device < 0 || device >= c10::cuda::device_count()) throw JsError("no CUDA device " + std::to_string(device));
    auto idx = static_cast<c10::DeviceIndex>(device);
    c10::cuda::set_device(idx);
    c10::cuda::device_synchronize();
    side_previous = c10::cuda::getCurrentCUDAStream(idx);
    c10::cuda::setCurrentCUDAStream(c10::cuda::getStreamFromPool(false, idx));
    return undefined(env);
#else
    no_graphs();
#endif
  });
}

// cudaSideStreamEnd(): finishes the side stream's work and makes the previous stream current again.
BYOL_FN(CudaSideStreamEnd) {
  return guarded(env, "cudaSideStreamEnd", [&] {
#if BYOL_HAS_CUDA_GRAPHS
    if (!side_previous) return undefined(env);
    c10::cuda::device_synchronize();
    c10::cuda::setCurrentCUDAStream(*side_previous);
    side_previous.reset();
    return undefined(env);
#else
    no_graphs();
#endif
  });
}

}  // namespace

void init_cuda_graph(napi_env env, napi_value exports) {
  register_exports(env, exports,
                   {{"cudaGraphsAvailable", CudaGraphsAvailable}, {"cudaGraphCreate", CudaGraphCreate},
                    {"cudaGraphPoolHandle", CudaGraphPoolHandle}, {"cudaGraphCaptureBegin", CudaGraphCaptureBegin},
                    {"cudaGraphCaptureEnd", CudaGraphCaptureEnd}, {"cudaGraphAbort", CudaGraphAbort},
                    {"cudaGraphReplay", CudaGraphReplay}, {"cudaGraphPool", CudaGraphPool},
                    {"cudaGraphReset", CudaGraphReset}, {"cudaGraphDestroy", CudaGraphDestroy},
                    {"cudaSideStreamBegin", CudaSideStreamBegin}, {"cudaSideStreamEnd", CudaSideStreamEnd}});
}

}  // namespace byol

// The handle table and the N-API conversion helpers shared by every source file.
#include <cmath>
#include <mutex>
#include <thread>

#include "common.h"

namespace byol {
namespace {
std::vector<at::Tensor> slots;
std::vector<int32_t> free_ids;
size_t live = 0;
}  // namespace

int32_t put_tensor(at::Tensor t) {
  int32_t id;
  if (free_ids.empty() && slots.size() >= static_cast<size_t>(INT32_MAX)) throw JsError("too many live tensors");
  if (!free_ids.empty()) {
    id = free_ids.back();
    free_ids.pop_back();
    slots[id] = std::move(t);
  } else {
    id = static_cast<int32_t>(slots.size());
    slots.push_back(std::move(t));
  }
  ++live;
  return id;
}

const at::Tensor& get_tensor(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= slots.size() || !slots[id].defined()) {
    throw JsError("tensor handle " + std::to_string(id) + " is not live (was it disposed?)");
  }
  return slots[id];
}

void release_tensor(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= slots.size() || !slots[id].defined()) return;  // double free is harmless
  slots[id] = at::Tensor();
  free_ids.push_back(id);
  --live;
}

size_t live_tensors() { return live; }

void napi_failure(napi_env env, napi_status status, const char* what) {
  // A JavaScript exception already pending (a getter threw, or the engine ran out of memory) is the
  // error the caller sees; `guarded` leaves it in place. Otherwise N-API's own description.
  const napi_extended_error_info* info = nullptr;
  std::string text = napi_get_last_error_info(env, &info) == napi_ok && info && info->error_message ? info->error_message : "";
  throw JsError(std::string("N-API call failed (") + (text.empty() ? "status " + std::to_string(status) : text) + "): " + what);
}

napi_value undefined(napi_env env) {
  napi_value v;
  NAPI_CHECK(napi_get_undefined(env, &v));
  return v;
}

napi_value null_value(napi_env env) {
  napi_value v;
  NAPI_CHECK(napi_get_null(env, &v));
  return v;
}

napi_valuetype type_of(napi_env env, napi_value v) {
  napi_valuetype t;
  check(env, napi_typeof(env, v, &t), "typeof");
  return t;
}

bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t = type_of(env, v);
  return t == napi_undefined || t == napi_null;
}

// The converters try the expected JavaScript type first and ask for the value's type only when that
// fails: one N-API call instead of two on the hot path of every op call.
int64_t to_int64(napi_env env, napi_value v, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) == napi_ok) {
    // Range check first: casting a double outside int64's range is undefined behaviour.
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != std::floor(d)) {
      throw JsError(std::string(what) + ": expected an integer, got " + std::to_string(d));
    }
    return static_cast<int64_t>(d);
  }
  napi_valuetype t = type_of(env, v);
  if (t == napi_bigint) {
    int64_t r;
    bool lossless;
    NAPI_CHECK(napi_get_value_bigint_int64(env, v, &r, &lossless));
    if (!lossless) throw JsError(std::string(what) + ": bigint out of int64 range");
    return r;
  }
  if (t == napi_boolean) return to_bool(env, v, what) ? 1 : 0;
  throw JsError(std::string(what) + ": expected an integer");
}

double to_double(napi_env env, napi_value v, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) == napi_ok) return d;
  napi_valuetype t = type_of(env, v);
  if (t == napi_bigint) return static_cast<double>(to_int64(env, v, what));
  if (t == napi_boolean) return to_bool(env, v, what) ? 1.0 : 0.0;
  throw JsError(std::string(what) + ": expected a number");
}

bool to_bool(napi_env env, napi_value v, const char* what) {
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) throw JsError(std::string(what) + ": expected a boolean");
  return b;
}

std::string to_string(napi_env env, napi_value v, const char* what) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) throw JsError(std::string(what) + ": expected a string");
  std::string s(len, '\0');
  NAPI_CHECK(napi_get_value_string_utf8(env, v, s.data(), len + 1, &len));
  return s;
}

uint32_t array_length(napi_env env, napi_value v, const char* what, uint32_t max) {
  bool is_array = false;
  NAPI_CHECK(napi_is_array(env, v, &is_array));
  if (!is_array) throw JsError(std::string(what) + ": expected an array");
  uint32_t n = 0;
  NAPI_CHECK(napi_get_array_length(env, v, &n));
  if (n > max) throw JsError(std::string(what) + ": expected at most " + std::to_string(max) + " elements, got " + std::to_string(n));
  return n;
}

napi_value element(napi_env env, napi_value array, uint32_t i) {
  napi_value e;
  NAPI_CHECK(napi_get_element(env, array, i, &e));
  return e;
}

std::vector<int64_t> to_int_vector(napi_env env, napi_value v, const char* what, uint32_t max) {
  uint32_t n = array_length(env, v, what, max);
  std::vector<int64_t> out(n);
  for (uint32_t i = 0; i < n; ++i) out[i] = to_int64(env, element(env, v, i), what);
  return out;
}

std::vector<at::Tensor> to_tensor_vector(napi_env env, napi_value v, const char* what, uint32_t max) {
  uint32_t n = array_length(env, v, what, max);
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) out.push_back(to_tensor(env, element(env, v, i), what));
  return out;
}

bool handle_of(napi_env env, napi_value v, int32_t* id) {
  // Read as a double: napi_get_value_int32 would truncate 1.5 to 1 and wrap 2^32 + 1 to 1, NaN to 0,
  // turning a wrong number into another live handle.
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= -2147483648.0 && d < 2147483648.0) || d != std::floor(d)) return false;
  *id = static_cast<int32_t>(d);
  return true;
}

const at::Tensor& to_tensor(napi_env env, napi_value v, const char* what) {
  int32_t id;
  if (!handle_of(env, v, &id)) throw JsError(std::string(what) + ": expected a tensor handle");
  return get_tensor(id);
}

napi_value from_int64(napi_env env, int64_t v) {
  napi_value r;
  NAPI_CHECK(napi_create_int64(env, v, &r));
  return r;
}

napi_value from_double(napi_env env, double v) {
  napi_value r;
  NAPI_CHECK(napi_create_double(env, v, &r));
  return r;
}

napi_value from_bool(napi_env env, bool v) {
  napi_value r;
  NAPI_CHECK(napi_get_boolean(env, v, &r));
  return r;
}

napi_value from_string(napi_env env, const std::string& s) {
  napi_value r;
  NAPI_CHECK(napi_create_string_utf8(env, s.data(), s.size(), &r));
  return r;
}

// The handle is created only after the number that carries it: a failure leaves no unreachable slot.
napi_value from_tensor(napi_env env, const at::Tensor& t) {
  if (!t.defined()) return null_value(env);
  return from_tensor(env, at::Tensor(t));
}

napi_value from_tensor(napi_env env, at::Tensor&& t) {
  if (!t.defined()) return null_value(env);
  int32_t id = put_tensor(std::move(t));
  napi_value r;
  napi_status s = napi_create_int32(env, id, &r);
  if (s != napi_ok) {
    release_tensor(id);
    check(env, s, "napi_create_int32 (tensor handle)");
  }
  return r;
}

napi_value new_array(napi_env env, size_t length) {
  napi_value arr;
  NAPI_CHECK(napi_create_array_with_length(env, length, &arr));
  return arr;
}

void set_element(napi_env env, napi_value array, uint32_t i, napi_value v) { NAPI_CHECK(napi_set_element(env, array, i, v)); }

napi_value from_int_vector(napi_env env, c10::IntArrayRef v) {
  napi_value arr = new_array(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) set_element(env, arr, static_cast<uint32_t>(i), from_int64(env, v[i]));
  return arr;
}

std::vector<napi_value> args_of(napi_env env, napi_callback_info info, size_t min_count, const char* fn) {
  size_t argc = 8;
  std::vector<napi_value> argv(argc);
  NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr));
  if (argc > argv.size()) {
    argv.resize(argc);
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr));
  }
  argv.resize(argc);
  if (argc < min_count) throw JsError(std::string(fn) + ": expected at least " + std::to_string(min_count) + " arguments");
  return argv;
}

void register_exports(napi_env env, napi_value exports, const std::vector<Export>& list) {
  for (const auto& e : list) {
    napi_value fn;
    NAPI_CHECK(napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.fn, nullptr, &fn));
    NAPI_CHECK(napi_set_named_property(env, exports, e.name, fn));
  }
}

// ---- one JavaScript environment per process ---------------------------------------------------------
// Keyed by thread rather than by napi_env: loading the addon twice on one thread (two paths to the same
// file) is safe, and each load gets an env of its own.
namespace {
std::mutex owner_mutex;
std::thread::id owner_thread;
int owner_envs = 0;

void release_environment(void*) {
  std::lock_guard<std::mutex> lock(owner_mutex);
  if (--owner_envs > 0) return;
  // The owning thread is going away (a worker that exits): its tensors go with it, and the addon is free
  // for another environment.
  slots.clear();
  free_ids.clear();
  live = 0;
}
}  // namespace

bool claim_environment(napi_env env) {
  std::lock_guard<std::mutex> lock(owner_mutex);
  if (owner_envs > 0 && owner_thread != std::this_thread::get_id()) {
    napi_throw_error(env, "ERR_TORCH_ENVIRONMENT",
                     "the byol-ts native addon is already in use by another JavaScript environment of this process "
                     "(the main thread or another worker); it serves one thread only, so load it in one thread "
                     "(worker_threads Workers cannot share it)");
    return false;
  }
  // The env as the hook's argument: node refuses the same (function, argument) pair twice in one thread.
  if (napi_add_env_cleanup_hook(env, release_environment, env) != napi_ok) {
    napi_throw_error(env, "ERR_TORCH_ENVIRONMENT", "could not register the addon's environment cleanup");
    return false;
  }
  owner_thread = std::this_thread::get_id();
  ++owner_envs;
  return true;
}

namespace {
// release(id, ...) or release([id, ...]): frees handles; anything that is not a live handle is ignored.
void release_value(napi_env env, napi_value v) {
  int32_t id;
  if (handle_of(env, v, &id)) {
    release_tensor(id);
    return;
  }
  bool is_array = false;
  NAPI_CHECK(napi_is_array(env, v, &is_array));
  if (!is_array) return;
  uint32_t n = array_length(env, v, "handles", kMaxListLength);
  for (uint32_t i = 0; i < n; ++i) {
    if (handle_of(env, element(env, v, i), &id)) release_tensor(id);
  }
}

BYOL_FN(Release) {
  return guarded(env, "release", [&] {
    // Called once per disposed tensor: read the usual single argument without a heap allocation.
    size_t argc = 4;
    napi_value argv[4];
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (argc <= 4) {
      for (size_t i = 0; i < argc; ++i) release_value(env, argv[i]);
    } else {
      for (auto v : args_of(env, info, 0, "release")) release_value(env, v);
    }
    return undefined(env);
  });
}
BYOL_FN(LiveTensors) {
  return guarded(env, "liveTensors", [&] { return from_int64(env, static_cast<int64_t>(live_tensors())); });
}
// A second handle to the same tensor (shares storage and autograd identity).
BYOL_FN(Share) {
  return guarded(env, "share", [&] {
    auto a = args_of(env, info, 1, "share");
    return from_tensor(env, to_tensor(env, a[0], "share"));
  });
}
}  // namespace

void init_tensor_table(napi_env env, napi_value exports) {
  register_exports(env, exports, {{"release", Release}, {"liveTensors", LiveTensors}, {"share", Share}});
}

}  // namespace byol

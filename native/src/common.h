// Shared helpers of the addon: N-API argument access, error translation and the tensor handle table.
// The addon is a thin layer over libtorch: it knows tensors, operators, autograd and devices, nothing of BYOL.
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace byol {

// An error raised on the JavaScript side; thrown by helpers, caught at the function boundary.
struct JsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- tensor handle table --------------------------------------------------------------------------
// JavaScript holds tensors as small integer handles into this table: a number crosses N-API much
// faster than an object with a finalizer. A handle stays valid until released; stale handles are
// rejected with an error, never dereferenced.
int32_t put_tensor(at::Tensor t);
const at::Tensor& get_tensor(int32_t id);
void release_tensor(int32_t id);
size_t live_tensors();

// ---- N-API helpers ----------------------------------------------------------------------------------
// Every napi_status is checked: a failed call leaves its out-parameter unset, and reading that (an array
// length, an element) turned a wrong argument into garbage lengths or a crash. A failure throws, so the
// function ends with a JavaScript error: the pending exception itself where a getter threw one.
[[noreturn]] void napi_failure(napi_env env, napi_status status, const char* what);
inline void check(napi_env env, napi_status status, const char* what) {
  if (__builtin_expect(status != napi_ok, 0)) napi_failure(env, status, what);
}
// NAPI_CHECK(napi_xxx(env, ...)): the call's own text names it in the error message.
#define NAPI_CHECK(call) ::byol::check(env, (call), #call)

// Bounds on array arguments, checked before anything is allocated for them: an array's length costs
// JavaScript nothing (`new Array(2 ** 27)` is a few bytes), while reading it into a vector costs 8 bytes
// per element. A shape has at most kMaxDims dimensions; any other list at most kMaxListLength elements.
constexpr uint32_t kMaxDims = 64;
constexpr uint32_t kMaxListLength = 1u << 20;

napi_value undefined(napi_env env);
napi_value null_value(napi_env env);
napi_valuetype type_of(napi_env env, napi_value v);
bool is_nullish(napi_env env, napi_value v);
int64_t to_int64(napi_env env, napi_value v, const char* what);
double to_double(napi_env env, napi_value v, const char* what);
bool to_bool(napi_env env, napi_value v, const char* what);
std::string to_string(napi_env env, napi_value v, const char* what);
// The length of an array argument; throws when v is not an array or is longer than max.
uint32_t array_length(napi_env env, napi_value v, const char* what, uint32_t max);
// One element of an array. May run JavaScript (a getter): no pointer into JavaScript memory or into
// the handle table may be held across it.
napi_value element(napi_env env, napi_value array, uint32_t i);
std::vector<int64_t> to_int_vector(napi_env env, napi_value v, const char* what, uint32_t max = kMaxListLength);
// An array of tensor handles (copies of the tensors, so that a getter releasing a handle cannot pull a
// tensor away from under the caller).
std::vector<at::Tensor> to_tensor_vector(napi_env env, napi_value v, const char* what, uint32_t max = kMaxListLength);
// A tensor handle from a JavaScript number; false for anything that is not an integral number in range.
bool handle_of(napi_env env, napi_value v, int32_t* id);
// A reference into the handle table: valid until the table next changes, so callers copy the tensor
// before anything that may run JavaScript or create a handle.
const at::Tensor& to_tensor(napi_env env, napi_value v, const char* what);
napi_value from_int64(napi_env env, int64_t v);
napi_value from_double(napi_env env, double v);
napi_value from_bool(napi_env env, bool v);
napi_value from_string(napi_env env, const std::string& s);
napi_value from_tensor(napi_env env, const at::Tensor& t);  // null for an undefined tensor
napi_value from_tensor(napi_env env, at::Tensor&& t);       // the same, taking over the reference
napi_value from_int_vector(napi_env env, c10::IntArrayRef v);
napi_value new_array(napi_env env, size_t length);
void set_element(napi_env env, napi_value array, uint32_t i, napi_value v);

// Reads the call's arguments into a vector.
std::vector<napi_value> args_of(napi_env env, napi_callback_info info, size_t min_count, const char* fn);

// `where` names the operation in error messages: a string, or a function giving one, evaluated only
// when there is an error (the op dispatcher's name lookup would otherwise cost every call).
template <typename W>
std::string where_name(const W& where) {
  if constexpr (std::is_invocable_v<const W&>) return std::string(where());
  else return std::string(where);
}

// Runs body and turns any C++ exception (libtorch's c10::Error included) into a JavaScript Error
// whose message starts with `where`. The process never aborts on a libtorch error.
template <typename W, typename F>
napi_value guarded(napi_env env, const W& where, F&& body) {
  std::string msg;
  try {
    if constexpr (std::is_void_v<decltype(body())>) {
      body();
      return nullptr;
    } else {
      return body();
    }
  } catch (const c10::Error& e) {
    msg = e.what_without_backtrace();
  } catch (const std::exception& e) {
    msg = e.what();
  } catch (...) {
    msg = "unknown native error";
  }
  // libtorch messages can run over several lines; keep them whole but prefix the operation.
  std::string full = where_name(where) + ": " + msg;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_TORCH", full.c_str());
  return nullptr;
}

#define BYOL_FN(name) napi_value name(napi_env env, napi_callback_info info)

// Registration: each source file adds its functions to the module's exports.
struct Export {
  const char* name;
  napi_callback fn;
};
void register_exports(napi_env env, napi_value exports, const std::vector<Export>& list);
void init_tensor_table(napi_env env, napi_value exports);
void init_ops(napi_env env, napi_value exports);
void init_tensors(napi_env env, napi_value exports);
void init_autograd(napi_env env, napi_value exports);
void init_device(napi_env env, napi_value exports);
void init_distributed(napi_env env, napi_value exports);
void init_rng_state(napi_env env, napi_value exports);

// ---- one JavaScript environment per process ---------------------------------------------------------
// The handle table, the operator table and the argument stack are process-wide and unlocked: the addon
// serves one thread. A second environment (a worker_threads Worker) that loads it gets a JavaScript
// error instead of racing the first one. Returns false (with the error thrown) when refused.
bool claim_environment(napi_env env);

}  // namespace byol

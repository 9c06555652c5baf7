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
void check(napi_env env, napi_status status, const char* what);
napi_value undefined(napi_env env);
napi_value null_value(napi_env env);
napi_valuetype type_of(napi_env env, napi_value v);
bool is_nullish(napi_env env, napi_value v);
int64_t to_int64(napi_env env, napi_value v, const char* what);
double to_double(napi_env env, napi_value v, const char* what);
bool to_bool(napi_env env, napi_value v, const char* what);
std::string to_string(napi_env env, napi_value v, const char* what);
std::vector<int64_t> to_int_vector(napi_env env, napi_value v, const char* what);
// A tensor handle from a JavaScript number; false for anything that is not an integral number in range.
bool handle_of(napi_env env, napi_value v, int32_t* id);
const at::Tensor& to_tensor(napi_env env, napi_value v, const char* what);
napi_value from_int64(napi_env env, int64_t v);
napi_value from_double(napi_env env, double v);
napi_value from_bool(napi_env env, bool v);
napi_value from_string(napi_env env, const std::string& s);
napi_value from_tensor(napi_env env, const at::Tensor& t);  // null for an undefined tensor
napi_value from_tensor(napi_env env, at::Tensor&& t);       // the same, taking over the reference
napi_value from_int_vector(napi_env env, c10::IntArrayRef v);

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

}  // namespace byol

// Any ATen operator by name and overload, called through the dispatcher's boxed interface.
// Arguments are converted from JavaScript according to the operator's schema, so one entry point
// serves every operator; handles are looked up once (opLookup) and called by index (call).
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <torch/cuda.h>

#include <deque>

#include "common.h"
#include "compat.h"

namespace byol {
namespace {

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;  // "aten::add.Tensor", for error messages
};
std::deque<OpEntry> op_table;  // a deque: entries stay where they are while the table grows

c10::IValue to_ivalue(napi_env env, napi_value v, const c10::TypePtr& type, c10::optional<int32_t> n, const char* what);

c10::IValue to_scalar(napi_env env, napi_value v, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {  // not a number: bool or bigint
    napi_valuetype t = type_of(env, v);
    if (t == napi_boolean) return c10::IValue(to_bool(env, v, what));
    if (t == napi_bigint) return c10::IValue(to_int64(env, v, what));
    throw JsError(std::string(what) + ": expected a number");
  }
  // Integral JavaScript numbers become integer scalars, as Python's ints do, so that integer
  // tensors keep their dtype under type promotion.
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0) return c10::IValue(static_cast<int64_t>(d));
  return c10::IValue(d);
}

// A device argument. Asking for CUDA where there is none is a plain error here, before libtorch
// would fail deep inside with a long message about missing backends.
c10::Device to_device(napi_env env, napi_value v, const char* what) {
  std::string s = to_string(env, v, what);
  c10::Device d(s);  // a malformed string is a c10::Error, turned into a JavaScript Error
  if (d.is_cuda()) {
    static const int64_t count = torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
    if (count == 0) throw JsError("device " + s + " requested but CUDA is not available");
    if (d.has_index() && d.index() >= count) {
      throw JsError("device " + s + " requested but only " + std::to_string(count) + " CUDA device(s) are present");
    }
  }
  return d;
}

c10::IValue to_list(napi_env env, napi_value v, const c10::TypePtr& elem, c10::optional<int32_t> n, const char* what) {
  c10::TypeKind k = elem->kind();
  bool is_array;
  NAPI_CHECK(napi_is_array(env, v, &is_array));
  if (!is_array) {
    // A single number for a fixed-size int list (e.g. `int[2] stride=1`) repeats, as in Python.
    if (is_int_like(k) && n && type_of(env, v) == napi_number) return c10::IValue(std::vector<int64_t>(*n, to_int64(env, v, what)));
    throw JsError(std::string(what) + ": expected an array");
  }
  // Bounded before anything is allocated; elements are read one by one (a getter may run for each).
  uint32_t len = 0;
  NAPI_CHECK(napi_get_array_length(env, v, &len));
  if (len > kMaxListLength) {
    throw JsError(std::string(what) + ": expected at most " + std::to_string(kMaxListLength) + " elements, got " + std::to_string(len));
  }
  auto element = [&](uint32_t i) { return byol::element(env, v, i); };
  if (is_int_like(k)) {
    std::vector<int64_t> out(len);
    for (uint32_t i = 0; i < len; ++i) out[i] = to_int64(env, element(i), what);
    return c10::IValue(out);
  }
  if (k == c10::TypeKind::FloatType) {
    std::vector<double> out(len);
    for (uint32_t i = 0; i < len; ++i) out[i] = to_double(env, element(i), what);
    return c10::IValue(out);
  }
  if (k == c10::TypeKind::BoolType) {
    c10::List<bool> out;
    for (uint32_t i = 0; i < len; ++i) out.push_back(to_bool(env, element(i), what));
    return c10::IValue(out);
  }
  if (k == c10::TypeKind::TensorType) {
    std::vector<at::Tensor> out;
    out.reserve(len);
    for (uint32_t i = 0; i < len; ++i) out.push_back(to_tensor(env, element(i), what));
    return c10::IValue(out);
  }
  if (k == c10::TypeKind::OptionalType) {  // Tensor?[] (indexing)
    c10::List<c10::optional<at::Tensor>> out;
    for (uint32_t i = 0; i < len; ++i) {
      napi_value e = element(i);
      if (is_nullish(env, e)) out.push_back(c10::nullopt);
      else out.push_back(to_tensor(env, e, what));
    }
    return c10::IValue(out);
  }
  if (k == c10::TypeKind::NumberType) {
    c10::List<c10::Scalar> out;
    for (uint32_t i = 0; i < len; ++i) out.push_back(to_scalar(env, element(i), what).toScalar());
    return c10::IValue(out);
  }
  throw JsError(std::string(what) + ": unsupported list element type " + elem->str());
}

c10::IValue to_ivalue(napi_env env, napi_value v, const c10::TypePtr& type, c10::optional<int32_t> n, const char* what) {
  c10::TypeKind k = type->kind();
  if (k == c10::TypeKind::OptionalType) {
    if (is_nullish(env, v)) return c10::IValue();
    return to_ivalue(env, v, type->castRaw<c10::OptionalType>()->getElementType(), n, what);
  }
  switch (k) {
    case c10::TypeKind::TensorType:
      return c10::IValue(to_tensor(env, v, what));
    case c10::TypeKind::FloatType:
      return c10::IValue(to_double(env, v, what));
    case c10::TypeKind::BoolType:
      return c10::IValue(to_bool(env, v, what));
    case c10::TypeKind::NumberType:
      return to_scalar(env, v, what);
    case c10::TypeKind::StringType:
      return c10::IValue(to_string(env, v, what));
    case c10::TypeKind::DeviceObjType:
      return c10::IValue(to_device(env, v, what));
    case c10::TypeKind::ListType:
      return to_list(env, v, type->castRaw<c10::ListType>()->getElementType(), n, what);
    case c10::TypeKind::GeneratorType:
      if (is_nullish(env, v)) return c10::IValue();
      throw JsError(std::string(what) + ": explicit generators are not supported; seed the default one");
    default:
      if (is_int_like(k)) return c10::IValue(to_int64(env, v, what));
      throw JsError(std::string(what) + ": unsupported argument type " + type->str());
  }
}

napi_value to_js(napi_env env, const c10::IValue& v) {
  if (v.isTensor()) return from_tensor(env, v.toTensor());
  if (v.isNone()) return null_value(env);
  if (v.isInt()) return from_int64(env, v.toInt());
  if (v.isDouble()) return from_double(env, v.toDouble());
  if (v.isBool()) return from_bool(env, v.toBool());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    napi_value arr = new_array(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) set_element(env, arr, static_cast<uint32_t>(i), from_tensor(env, list.get(i)));
    return arr;
  }
  if (v.isIntList()) return from_int_vector(env, v.toIntVector());
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    napi_value arr = new_array(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) set_element(env, arr, static_cast<uint32_t>(i), to_js(env, elems[i]));
    return arr;
  }
  if (v.isString()) return from_string(env, v.toStringRef());
  if (v.isScalar()) return from_double(env, v.toScalar().toDouble());
  throw JsError("unsupported return type " + v.tagKind());
}

// The common argument kinds (a tensor handle, a number for a Scalar, an int or a float, a boolean),
// converted with one N-API call. Returns false to leave anything else (undefined for a default
// included) to the general path, which reports errors.
bool push_fast(napi_env env, napi_value v, const c10::TypePtr& type, torch::jit::Stack& stack) {
  c10::TypeKind k = type->kind();
  switch (k) {
    case c10::TypeKind::OptionalType:  // a given value for `Tensor?`, `Scalar?`, ... (null takes the general path)
      return push_fast(env, v, type->castRaw<c10::OptionalType>()->getElementType(), stack);
    case c10::TypeKind::TensorType: {
      int32_t id;
      if (!handle_of(env, v, &id)) return false;
      stack.emplace_back(get_tensor(id));
      return true;
    }
    case c10::TypeKind::NumberType:
    case c10::TypeKind::FloatType: {
      double d;
      if (napi_get_value_double(env, v, &d) != napi_ok) return false;
      if (k == c10::TypeKind::NumberType && std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0) {
        stack.emplace_back(static_cast<int64_t>(d));  // integral: an int Scalar, as to_scalar does
      } else {
        stack.emplace_back(d);
      }
      return true;
    }
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      double d;
      if (napi_get_value_double(env, v, &d) != napi_ok || !(std::fabs(d) < 9007199254740992.0) || d != std::floor(d)) return false;
      stack.emplace_back(static_cast<int64_t>(d));
      return true;
    }
    case c10::TypeKind::BoolType: {
      bool b;
      if (napi_get_value_bool(env, v, &b) != napi_ok) return false;
      stack.emplace_back(b);
      return true;
    }
    default:
      return false;
  }
}

// One argument stack for all calls: the boxed calling convention needs a vector, and reusing it
// spares a heap allocation per call. It is emptied on every exit, so it never keeps a tensor alive.
// A nested call (JavaScript run by a getter while arguments are read) gets a stack of its own.
torch::jit::Stack shared_stack;
bool shared_stack_busy = false;

struct StackLease {
  torch::jit::Stack own;
  torch::jit::Stack* stack;
  bool shared;
  StackLease() : shared(!shared_stack_busy) {
    stack = shared ? &shared_stack : &own;
    if (shared) shared_stack_busy = true;
  }
  ~StackLease() {
    stack->clear();
    if (shared) shared_stack_busy = false;
  }
};

// Shared by call (returns results) and callDrop (discards them: in-place ops whose result is `self`).
// `op` is set as soon as the operator is known, for the error message.
napi_value call_impl(napi_env env, napi_callback_info info, bool keep_results, const OpEntry*& op_out) {
  size_t argc = 16;
  napi_value argv[16];
  NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  std::vector<napi_value> big;
  napi_value* args = argv;
  if (argc > 16) {
    big.resize(argc);
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, big.data(), nullptr, nullptr));
    args = big.data();
  }
  if (argc < 1) throw JsError("expected an operator id");
  int32_t id = -1;
  if (!handle_of(env, args[0], &id)) throw JsError("expected an operator id as the first argument");
  if (id < 0 || static_cast<size_t>(id) >= op_table.size()) throw JsError("unknown operator id " + std::to_string(id));
  const OpEntry& op = op_table[id];
  op_out = &op;
  const auto& schema = op.handle.schema();
  const auto& formal = schema.arguments();
  size_t given = argc - 1;
  if (given > formal.size()) {
    throw JsError("takes " + std::to_string(formal.size()) + " arguments, got " + std::to_string(given));
  }
  StackLease lease;
  torch::jit::Stack& stack = *lease.stack;
  stack.reserve(formal.size());
  for (size_t i = 0; i < formal.size(); ++i) {
    const auto& a = formal[i];
    if (i < given && push_fast(env, args[i + 1], a.type(), stack)) continue;
    if (i < given && type_of(env, args[i + 1]) != napi_undefined) {
      stack.push_back(to_ivalue(env, args[i + 1], a.type(), a.N(), a.name().c_str()));
    } else if (a.default_value()) {
      stack.push_back(*a.default_value());
    } else {
      throw JsError("missing argument '" + a.name() + "'");
    }
  }
  op.handle.callBoxed(stack);
  if (!keep_results || stack.empty()) return undefined(env);
  // The common case, one tensor: move it into the handle table instead of copying it.
  if (stack.size() == 1 && stack[0].isTensor()) return from_tensor(env, std::move(stack[0]).toTensor());
  if (stack.size() == 1) return to_js(env, stack[0]);
  napi_value arr = new_array(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) set_element(env, arr, static_cast<uint32_t>(i), to_js(env, stack[i]));
  return arr;
}

BYOL_FN(Call) {
  const OpEntry* op = nullptr;
  return guarded(env, [&] { return op ? op->name.c_str() : "call"; }, [&] { return call_impl(env, info, true, op); });
}
BYOL_FN(CallDrop) {
  const OpEntry* op = nullptr;
  return guarded(env, [&] { return op ? op->name.c_str() : "callDrop"; }, [&] { return call_impl(env, info, false, op); });
}

BYOL_FN(OpLookup) {
  return guarded(env, "opLookup", [&] {
    auto a = args_of(env, info, 2, "opLookup");
    std::string name = to_string(env, a[0], "name");
    std::string overload = to_string(env, a[1], "overload");
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
    std::string full = overload.empty() ? name : name + "." + overload;
    if (!handle) throw JsError("unknown operator " + full);
    op_table.push_back({*handle, full});
    return from_int64(env, static_cast<int64_t>(op_table.size() - 1));
  });
}

BYOL_FN(OpSchema) {
  return guarded(env, "opSchema", [&] {
    auto a = args_of(env, info, 1, "opSchema");
    int64_t id = to_int64(env, a[0], "id");
    if (id < 0 || static_cast<size_t>(id) >= op_table.size()) throw JsError("unknown operator id");
    std::ostringstream s;
    s << op_table[id].handle.schema();
    return from_string(env, s.str());
  });
}
// opReturns(id) -> the return types as strings ("Tensor", "Tensor[]", "int", ...), so that a generic
// caller knows which returned numbers are tensor handles.
BYOL_FN(OpReturns) {
  return guarded(env, "opReturns", [&] {
    auto a = args_of(env, info, 1, "opReturns");
    int64_t id = to_int64(env, a[0], "id");
    if (id < 0 || static_cast<size_t>(id) >= op_table.size()) throw JsError("unknown operator id");
    const auto& rets = op_table[id].handle.schema().returns();
    napi_value arr = new_array(env, rets.size());
    for (size_t i = 0; i < rets.size(); ++i) set_element(env, arr, static_cast<uint32_t>(i), from_string(env, rets[i].type()->str()));
    return arr;
  });
}
}  // namespace

void init_ops(napi_env env, napi_value exports) {
  register_exports(env, exports, {{"opLookup", OpLookup}, {"opSchema", OpSchema}, {"opReturns", OpReturns}, {"call", Call}, {"callDrop", CallDrop}});
}

}  // namespace byol

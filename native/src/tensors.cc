// Tensor creation from and read-back to JavaScript memory, and tensor metadata.
#include <cstring>

#include "common.h"

namespace byol {
namespace {

at::ScalarType to_dtype(napi_env env, napi_value v) {
  int64_t code = to_int64(env, v, "dtype");
  if (code < 0 || code > static_cast<int64_t>(at::ScalarType::BFloat16)) throw JsError("unknown dtype code " + std::to_string(code));
  return static_cast<at::ScalarType>(code);
}

// Bytes per element of a TypedArray kind; an error for kinds this addon does not know (a newer Node's).
size_t typed_element_size(napi_typedarray_type tt) {
  switch (tt) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      throw JsError("unsupported TypedArray kind " + std::to_string(static_cast<int>(tt)));
  }
}

// The memory behind a TypedArray, DataView, Buffer or ArrayBuffer. Calls no JavaScript; the pointer is
// valid only until JavaScript next runs (which may resize, detach or free the buffer).
void buffer_memory(napi_env env, napi_value v, void** data, size_t* byte_length) {
  bool yes = false;
  NAPI_CHECK(napi_is_typedarray(env, v, &yes));
  if (yes) {
    napi_typedarray_type tt;
    size_t len, offset;
    NAPI_CHECK(napi_get_typedarray_info(env, v, &tt, &len, data, nullptr, &offset));
    *byte_length = len * typed_element_size(tt);
    return;
  }
  NAPI_CHECK(napi_is_dataview(env, v, &yes));
  if (yes) {
    size_t offset;
    NAPI_CHECK(napi_get_dataview_info(env, v, byte_length, data, nullptr, &offset));
    return;
  }
  NAPI_CHECK(napi_is_arraybuffer(env, v, &yes));
  if (yes) {
    NAPI_CHECK(napi_get_arraybuffer_info(env, v, data, byte_length));
    return;
  }
  NAPI_CHECK(napi_is_buffer(env, v, &yes));
  if (!yes) throw JsError("expected a TypedArray, DataView, ArrayBuffer or Buffer");
  NAPI_CHECK(napi_get_buffer_info(env, v, data, byte_length));
}

// fromBuffer(typedArrayOrArrayBuffer, shape, dtypeCode): copies the bytes into a new CPU tensor.
BYOL_FN(FromBuffer) {
  return guarded(env, "fromBuffer", [&] {
    auto a = args_of(env, info, 3, "fromBuffer");
    // Every argument that can run JavaScript (a getter in the shape array) is read before the buffer's
    // address is taken: a getter can shrink, detach or free the buffer.
    auto shape = to_int_vector(env, a[1], "shape", kMaxDims);
    at::ScalarType dtype = to_dtype(env, a[2]);
    // The byte count the shape needs, checked for overflow, before any allocation: a shape is not
    // allocated on the strength of a buffer that is too small for it.
    uint64_t numel = 1;
    bool overflow = false, empty = false;
    for (auto d : shape) {
      if (d < 0) throw JsError("negative dimension in shape");
      empty = empty || d == 0;
      overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel);
    }
    uint64_t need = 0;
    if (!empty && (overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(c10::elementSize(dtype)), &need) ||
                   need > static_cast<uint64_t>(INT64_MAX))) {
      throw JsError("shape " + c10::str(c10::IntArrayRef(shape)) + " has more elements than a tensor can hold");
    }
    void* data = nullptr;
    size_t byte_length = 0;
    buffer_memory(env, a[0], &data, &byte_length);
    if (need != byte_length) {
      throw JsError("data has " + std::to_string(byte_length) + " bytes but shape and dtype need " + std::to_string(need));
    }
    // From here to the copy nothing calls into JavaScript.
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (need) std::memcpy(t.data_ptr(), data, need);
    return from_tensor(env, std::move(t));
  });
}

// toBuffer(t): a new ArrayBuffer with the tensor's elements, row-major, copied from any device.
BYOL_FN(ToBuffer) {
  return guarded(env, "toBuffer", [&] {
    auto a = args_of(env, info, 1, "toBuffer");
    at::Tensor t = to_tensor(env, a[0], "tensor").detach().to(at::kCPU).contiguous();
    size_t n = t.numel() * t.element_size();
    void* out;
    napi_value ab;
    NAPI_CHECK(napi_create_arraybuffer(env, n, &out, &ab));
    if (n) std::memcpy(out, t.data_ptr(), n);
    return ab;
  });
}

// copyInto(t, typedArray): writes the tensor's elements into existing JavaScript memory (no allocation).
BYOL_FN(CopyInto) {
  return guarded(env, "copyInto", [&] {
    auto a = args_of(env, info, 2, "copyInto");
    // The tensor first (a device copy may take a while, but runs no JavaScript), then the target's memory,
    // then the copy, with no JavaScript in between.
    at::Tensor t = to_tensor(env, a[0], "tensor").detach().to(at::kCPU).contiguous();
    bool is_typed = false;
    NAPI_CHECK(napi_is_typedarray(env, a[1], &is_typed));
    if (!is_typed) throw JsError("target: expected a TypedArray");
    void* data = nullptr;
    size_t byte_length = 0;
    buffer_memory(env, a[1], &data, &byte_length);
    size_t n = t.numel() * t.element_size();
    if (byte_length != n) throw JsError("target holds " + std::to_string(byte_length) + " bytes, tensor has " + std::to_string(n));
    if (n) std::memcpy(data, t.data_ptr(), n);
    return undefined(env);
  });
}

// info(t) -> [shape, dtypeCode, deviceString, requiresGrad]
BYOL_FN(Info) {
  return guarded(env, "info", [&] {
    auto a = args_of(env, info, 1, "info");
    const at::Tensor& t = to_tensor(env, a[0], "tensor");
    napi_value arr = new_array(env, 4);
    set_element(env, arr, 0, from_int_vector(env, t.sizes()));
    set_element(env, arr, 1, from_int64(env, static_cast<int64_t>(t.scalar_type())));
    set_element(env, arr, 2, from_string(env, t.device().str()));
    set_element(env, arr, 3, from_bool(env, t.requires_grad()));
    return arr;
  });
}

BYOL_FN(Shape) {
  return guarded(env, "shape", [&] {
    auto a = args_of(env, info, 1, "shape");
    return from_int_vector(env, to_tensor(env, a[0], "tensor").sizes());
  });
}

BYOL_FN(Strides) {
  return guarded(env, "strides", [&] {
    auto a = args_of(env, info, 1, "strides");
    return from_int_vector(env, to_tensor(env, a[0], "tensor").strides());
  });
}

BYOL_FN(Dtype) {
  return guarded(env, "dtype", [&] {
    auto a = args_of(env, info, 1, "dtype");
    return from_int64(env, static_cast<int64_t>(to_tensor(env, a[0], "tensor").scalar_type()));
  });
}

BYOL_FN(Device) {
  return guarded(env, "device", [&] {
    auto a = args_of(env, info, 1, "device");
    return from_string(env, to_tensor(env, a[0], "tensor").device().str());
  });
}

// isContiguous(t, memoryFormatCode)
BYOL_FN(IsContiguous) {
  return guarded(env, "isContiguous", [&] {
    auto a = args_of(env, info, 2, "isContiguous");
    int64_t code = to_int64(env, a[1], "memoryFormat");
    // Contiguous, Preserve, ChannelsLast, ChannelsLast3d: an enum value outside them is undefined behaviour.
    if (code < 0 || code > static_cast<int64_t>(at::MemoryFormat::ChannelsLast3d)) throw JsError("unknown memory format code " + std::to_string(code));
    return from_bool(env, to_tensor(env, a[0], "tensor").is_contiguous(static_cast<at::MemoryFormat>(code)));
  });
}

// item(t): the single element as a number (bool as 0/1 is the caller's business).
BYOL_FN(Item) {
  return guarded(env, "item", [&] {
    auto a = args_of(env, info, 1, "item");
    const at::Tensor& t = to_tensor(env, a[0], "tensor");
    if (t.numel() != 1) throw JsError("item() needs a tensor with one element, this one has " + std::to_string(t.numel()));
    at::Scalar s = t.item();
    if (s.isBoolean()) return from_bool(env, s.toBool());
    return from_double(env, s.toDouble());
  });
}

BYOL_FN(Numel) {
  return guarded(env, "numel", [&] {
    auto a = args_of(env, info, 1, "numel");
    return from_int64(env, to_tensor(env, a[0], "tensor").numel());
  });
}

// sameStorage(a, b): whether two handles view the same memory (for tests of views and in-place ops).
BYOL_FN(DataPtr) {
  return guarded(env, "dataPtr", [&] {
    auto a = args_of(env, info, 1, "dataPtr");
    const at::Tensor& t = to_tensor(env, a[0], "tensor");
    return from_double(env, static_cast<double>(reinterpret_cast<uintptr_t>(t.data_ptr())));
  });
}

}  // namespace

void init_tensors(napi_env env, napi_value exports) {
  register_exports(env, exports,
                   {{"fromBuffer", FromBuffer}, {"toBuffer", ToBuffer}, {"copyInto", CopyInto}, {"info", Info},
                    {"shape", Shape}, {"strides", Strides}, {"dtype", Dtype}, {"device", Device},
                    {"isContiguous", IsContiguous}, {"item", Item}, {"numel", Numel}, {"dataPtr", DataPtr}});
}

}  // namespace byol

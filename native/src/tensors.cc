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

// fromBuffer(typedArrayOrArrayBuffer, shape, dtypeCode): copies the bytes into a new CPU tensor.
BYOL_FN(FromBuffer) {
  return guarded(env, "fromBuffer", [&] {
    auto a = args_of(env, info, 3, "fromBuffer");
    void* data = nullptr;
    size_t byte_length = 0;
    bool is_typed, is_ab;
    napi_is_typedarray(env, a[0], &is_typed);
    napi_is_arraybuffer(env, a[0], &is_ab);
    if (is_typed) {
      napi_typedarray_type tt;
      size_t len, offset;
      napi_value ab;
      napi_get_typedarray_info(env, a[0], &tt, &len, &data, &ab, &offset);
      static const size_t sizes[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8};
      byte_length = len * sizes[tt];
    } else if (is_ab) {
      napi_get_arraybuffer_info(env, a[0], &data, &byte_length);
    } else {
      bool is_buf;
      napi_is_buffer(env, a[0], &is_buf);
      if (!is_buf) throw JsError("expected a TypedArray, ArrayBuffer or Buffer");
      napi_get_buffer_info(env, a[0], &data, &byte_length);
    }
    auto shape = to_int_vector(env, a[1], "shape");
    at::ScalarType dtype = to_dtype(env, a[2]);
    for (auto d : shape) if (d < 0) throw JsError("negative dimension in shape");
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t need = t.numel() * t.element_size();
    if (need != byte_length) {
      throw JsError("data has " + std::to_string(byte_length) + " bytes but shape and dtype need " + std::to_string(need));
    }
    if (need) std::memcpy(t.data_ptr(), data, need);
    return from_tensor(env, t);
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
    check(env, napi_create_arraybuffer(env, n, &out, &ab), "create_arraybuffer");
    if (n) std::memcpy(out, t.data_ptr(), n);
    return ab;
  });
}

// copyInto(t, typedArray): writes the tensor's elements into existing JavaScript memory (no allocation).
BYOL_FN(CopyInto) {
  return guarded(env, "copyInto", [&] {
    auto a = args_of(env, info, 2, "copyInto");
    at::Tensor t = to_tensor(env, a[0], "tensor").detach().to(at::kCPU).contiguous();
    napi_typedarray_type tt;
    size_t len, offset;
    napi_value ab;
    void* data;
    check(env, napi_get_typedarray_info(env, a[1], &tt, &len, &data, &ab, &offset), "typedarray");
    static const size_t sizes[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8};
    size_t n = t.numel() * t.element_size();
    if (len * sizes[tt] != n) throw JsError("target holds " + std::to_string(len * sizes[tt]) + " bytes, tensor has " + std::to_string(n));
    if (n) std::memcpy(data, t.data_ptr(), n);
    return undefined(env);
  });
}

// info(t) -> [shape, dtypeCode, deviceString, requiresGrad]
BYOL_FN(Info) {
  return guarded(env, "info", [&] {
    auto a = args_of(env, info, 1, "info");
    const at::Tensor& t = to_tensor(env, a[0], "tensor");
    napi_value arr;
    napi_create_array_with_length(env, 4, &arr);
    napi_set_element(env, arr, 0, from_int_vector(env, t.sizes()));
    napi_set_element(env, arr, 1, from_int64(env, static_cast<int64_t>(t.scalar_type())));
    napi_set_element(env, arr, 2, from_string(env, t.device().str()));
    napi_set_element(env, arr, 3, from_bool(env, t.requires_grad()));
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
    const at::Tensor& t = to_tensor(env, a[0], "tensor");
    auto fmt = static_cast<at::MemoryFormat>(to_int64(env, a[1], "memoryFormat"));
    return from_bool(env, t.is_contiguous(fmt));
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

// Tensor handle: creation from typed arrays, copies out, device moves, dispose, autograd.
#include "napi/tensor.h"

#include <torch/cuda.h>

#include <atomic>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "napi/addon_data.h"
#include "napi/errors.h"
#include "ops/noise.h"

namespace noisynn {
namespace napi {

namespace {

// The tensor handles of the process (all environments) that hold a tensor, and their bytes:
// what memoryStats() reports.
std::atomic<int64_t> g_live_handles{0};
std::atomic<int64_t> g_live_bytes{0};

int64_t StorageBytes(const at::Tensor& t) {
  return t.defined() ? static_cast<int64_t>(t.numel() * t.element_size()) : 0;
}

napi_typedarray_type TypedArrayTypeFor(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return napi_float32_array;
    case at::kDouble: return napi_float64_array;
    case at::kLong: return napi_bigint64_array;
    case at::kInt: return napi_int32_array;
    case at::kByte: return napi_uint8_array;
    default:
      throw noisynn::TypeError("Tensors of dtype " + DtypeName(t) +
                               " cannot be copied to a TypedArray; convert to float32 first");
  }
}

const char* TypedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "a TypedArray of another type";
  }
}

// The element type of each TypedArray the package accepts (lib/tensor.ts documents the same map).
constexpr const char* kAcceptedArrays =
    "Float32Array, Float64Array, BigInt64Array, Int32Array, Uint8Array or Uint8ClampedArray";

at::ScalarType DtypeForTypedArray(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return at::kFloat;
    case napi_float64_array: return at::kDouble;
    case napi_bigint64_array: return at::kLong;
    case napi_int32_array: return at::kInt;
    case napi_uint8_array:
    case napi_uint8_clamped_array: return at::kByte;
    default:
      throw noisynn::TypeError(std::string("Expected ") + kAcceptedArrays + " for data but received " +
                               TypedArrayName(t));
  }
}

// libtorch converts to integer dtypes as C casts do: out-of-range values wrap (-1.2 -> 255 and
// 300 -> 44 in uint8) and NaN is undefined. Refuse such a conversion instead; fractions are
// truncated toward zero, as documented in lib/tensor.ts.
void CheckFitsDtype(const at::Tensor& t, at::ScalarType dst, const char* what) {
  if (!at::isIntegralType(dst, /*includeBool=*/false) || t.numel() == 0 || t.scalar_type() == dst) return;
  // The bounds as doubles (int64's upper one is the largest double below 2^63) and as printed.
  double lo = 0, hi = 0;
  const char* range = nullptr;
  switch (dst) {
    case at::kByte: lo = 0, hi = 255, range = "[0, 255]"; break;
    case at::kInt: lo = -2147483648.0, hi = 2147483647.0, range = "[-2147483648, 2147483647]"; break;
    case at::kLong:
      lo = -9223372036854775808.0, hi = 9223372036854774784.0;
      range = "[-9223372036854775808, 9223372036854775807]";
      break;
    default: return;
  }
  const at::Tensor v = t.detach();
  const double mn = v.min().item<double>(), mx = v.max().item<double>();
  if (mn >= lo && mx <= hi) return;
  std::ostringstream msg;
  msg << "Cannot convert " << what << " to " << DtypeName(dst) << ": its values span [" << mn << ", " << mx << "] but "
      << DtypeName(dst) << " holds " << range << " (they would wrap around); clamp or rescale them first";
  throw noisynn::RangeError(msg.str());
}

}  // namespace

std::string DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(t);
  }
}

at::ScalarType ParseDtype(const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "float16") return at::kHalf;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "int64") return at::kLong;
  if (s == "int32") return at::kInt;
  if (s == "uint8") return at::kByte;
  throw noisynn::RangeError(
      "Expected one of float32, float64, float16, bfloat16, int64, int32, uint8 for dtype but received '" + s + "'");
}

std::string CudaUnavailableReason() {
  return built_with_cuda() ? "no CUDA device is visible (this build has the CUDA kernels: check the NVIDIA driver and "
                             "CUDA_VISIBLE_DEVICES; see noisynn info)"
                           : "this build is CPU-only (its libtorch has no CUDA; see noisynn info)";
}

at::Device ParseDevice(const std::string& s) {
  if (s == "cpu") return at::Device(at::kCPU);
  if (s.rfind("cuda", 0) == 0) {
    at::Device d(at::kCPU);
    try {
      d = at::Device(s);
    } catch (const std::exception&) {
      throw noisynn::RangeError("Expected 'cpu', 'cuda' or 'cuda:N' for device but received '" + s + "'");
    }
    if (!at::hasCUDA()) throw noisynn::RangeError("device '" + s + "' requested but " + CudaUnavailableReason());
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (d.has_index() && d.index() >= count) {
      throw noisynn::RangeError("device '" + s + "' requested but " + std::to_string(count) + " CUDA device" +
                                (count == 1 ? " is" : "s are") + " visible");
    }
    return d;
  }
  throw noisynn::RangeError("Expected 'cpu', 'cuda' or 'cuda:N' for device but received '" + s + "'");
}

std::string DeviceString(const at::Device& d) {
  if (d.is_cpu()) return "cpu";
  return d.str();
}

void TensorWrap::Init(Napi::Env env, Napi::Object exports) {
  const std::vector<PropertyDescriptor> methods = {
      StaticMethod<&TensorWrap::FromTypedArray>("fromTypedArray"),
      StaticMethod<&TensorWrap::MemoryStats>("memoryStats"),
      InstanceMethod<&TensorWrap::Shape>("shape"),
      InstanceMethod<&TensorWrap::Dtype>("dtype"),
      InstanceMethod<&TensorWrap::Device>("device"),
      InstanceMethod<&TensorWrap::ToTypedArray>("toTypedArray"),
      InstanceMethod<&TensorWrap::To>("to"),
      InstanceMethod<&TensorWrap::Dispose>("dispose"),
      InstanceMethod<&TensorWrap::IsDisposed>("isDisposed"),
      InstanceMethod<&TensorWrap::Nbytes>("nbytes"),
      InstanceMethod<&TensorWrap::RequiresGrad>("requiresGrad"),
      InstanceMethod<&TensorWrap::SetRequiresGrad>("setRequiresGrad"),
      InstanceMethod<&TensorWrap::Backward>("backward"),
      InstanceMethod<&TensorWrap::Grad>("grad"),
      InstanceMethod<&TensorWrap::ZeroGrad>("zeroGrad"),
      InstanceMethod<&TensorWrap::Detach>("detach"),
  };
  Napi::Function ctor = DefineClass(env, "NativeTensor", methods);
  GetAddonData(env)->tensorCtor = Napi::Persistent(ctor);
  exports.Set("NativeTensor", ctor);
}

Napi::Object TensorWrap::New(Napi::Env env, at::Tensor t) {
  Napi::Object obj = GetAddonData(env)->tensorCtor.New({});
  TensorWrap* w = TensorWrap::Unwrap(obj);
  w->Reset(std::move(t));
  return obj;
}

bool TensorWrap::IsTensor(Napi::Value v) {
  if (!v.IsObject()) return false;
  Napi::Env env = v.Env();
  return v.As<Napi::Object>().InstanceOf(GetAddonData(env)->tensorCtor.Value());
}

at::Tensor UnwrapTensor(Napi::Value v, const char* what) {
  if (!TensorWrap::IsTensor(v)) {
    throw Napi::TypeError::New(v.Env(), std::string("Expected Tensor for ") + what);
  }
  return TensorWrap::Unwrap(v.As<Napi::Object>())->Get(v.Env());
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {}

TensorWrap::~TensorWrap() {
  // Runs inside the garbage collection that found the handle unreachable (the addon is built
  // with NAPI_EXPERIMENTAL, whose finalizers Node runs from the GC), or in a later tick on Node
  // releases without that: so only what a GC-time finalizer may do (free native memory, adjust
  // the external-memory count), nothing that touches JS.
  if (tensor_.defined()) --g_live_handles;
  g_live_bytes -= reported_;
  if (reported_ != 0) {
    Napi::MemoryManagement::AdjustExternalMemory(Env(), -reported_);
  }
}

void TensorWrap::Reset(at::Tensor t) {
  int64_t bytes = StorageBytes(t);
  // Live handles: those holding a tensor (a disposed one waits for the GC with none).
  g_live_handles += int64_t(t.defined()) - int64_t(tensor_.defined());
  tensor_ = std::move(t);
  int64_t delta = bytes - reported_;
  // The report is what makes V8 collect: native bytes count towards its heap-growth decisions.
  if (delta != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), delta);
  g_live_bytes += delta;
  reported_ = bytes;
}

// memoryStats() -> {handles, bytes, external}: live tensor handles and the bytes they report, and
// V8's running total of external memory (napi_adjust_external_memory's, which Node's
// process.memoryUsage().external does not show: that field counts ArrayBuffer memory only).
Napi::Value TensorWrap::MemoryStats(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("handles", static_cast<double>(g_live_handles.load()));
    out.Set("bytes", static_cast<double>(g_live_bytes.load()));
    out.Set("external", static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(env, 0)));
    return out;
  });
}

const at::Tensor& TensorWrap::Get(Napi::Env env) const {
  if (disposed_) throw Napi::Error::New(env, "Tensor has been disposed");
  return tensor_;
}

Napi::Value TensorWrap::FromTypedArray(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    // (data: TypedArray, shape: number[], dtype: string, device: string); validated in lib/.
    Napi::TypedArray arr = info[0].As<Napi::TypedArray>();
    Napi::Array shapeArr = info[1].As<Napi::Array>();
    std::string dtype = info[2].As<Napi::String>();
    std::string device = info[3].As<Napi::String>();
    std::vector<int64_t> shape(shapeArr.Length());
    for (uint32_t i = 0; i < shapeArr.Length(); ++i) {
      shape[i] = shapeArr.Get(i).As<Napi::Number>().Int64Value();
    }
    at::ScalarType src = DtypeForTypedArray(arr.TypedArrayType());
    at::ScalarType dst = ParseDtype(dtype);
    at::Device dev = ParseDevice(device);
    auto* base = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
    at::Tensor view = at::from_blob(base, shape, at::TensorOptions().dtype(src));
    CheckFitsDtype(view, dst, "data");
    // Always copy: the JS buffer may be mutated or collected after this call returns.
    at::Tensor t = view.to(dev, dst, /*non_blocking=*/false, /*copy=*/true);
    return New(env, std::move(t));
  });
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = Get(info.Env());
    Napi::Array out = Napi::Array::New(info.Env(), t.dim());
    for (int64_t i = 0; i < t.dim(); ++i)
      out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.size(i))));
    return out;
  });
}

Napi::Value TensorWrap::Dtype(const Napi::CallbackInfo& info) {
  return Guard(
      info, [&]() -> Napi::Value { return Napi::String::New(info.Env(), DtypeName(Get(info.Env()).scalar_type())); });
}

Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  return Guard(info,
               [&]() -> Napi::Value { return Napi::String::New(info.Env(), DeviceString(Get(info.Env()).device())); });
}

Napi::Value TensorWrap::ToTypedArray(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    at::Tensor t = Get(env).detach().to(at::kCPU).contiguous();
    napi_typedarray_type type = TypedArrayTypeFor(t.scalar_type());
    size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes);
    if (bytes > 0) std::memcpy(buf.Data(), t.data_ptr(), bytes);
    napi_value out;
    NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, static_cast<size_t>(t.numel()), buf, 0, &out),
                         Napi::Value());
    return Napi::Value(env, out);
  });
}

Napi::Value TensorWrap::To(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    at::Device dev = ParseDevice(info[0].As<Napi::String>());
    at::Tensor t = Get(env);
    if (info.Length() > 1 && info[1].IsString()) {
      const at::ScalarType dst = ParseDtype(info[1].As<Napi::String>());
      CheckFitsDtype(t, dst, "the tensor");
      return New(env, t.to(dev, dst, false, /*copy=*/true));
    }
    return New(env, t.to(dev, /*non_blocking=*/false, /*copy=*/true));
  });
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  if (!disposed_) {
    Reset(at::Tensor());
    disposed_ = true;
  }
  return info.Env().Undefined();
}

Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value TensorWrap::Nbytes(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), static_cast<double>(StorageBytes(Get(info.Env()))));
  });
}

// ---- autograd (lib/tensor.ts validates the arguments and the flag's preconditions) ----

Napi::Value TensorWrap::RequiresGrad(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), Get(info.Env()).requires_grad()); });
}

// setRequiresGrad(on): makes this (leaf) tensor record the ops applied to it, or stop.
Napi::Value TensorWrap::SetRequiresGrad(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Get(info.Env()).requires_grad_(info[0].ToBoolean().Value());
    return info.Env().Undefined();
  });
}

// backward(gradient?): runs the autograd graph that produced this tensor, on the JS thread, and
// accumulates into the .grad of every leaf that requires it. No gradient: a one-element tensor.
Napi::Value TensorWrap::Backward(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = Get(info.Env());
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      t.backward(UnwrapTensor(info[0], "gradient"));
    } else {
      t.backward();
    }
    return info.Env().Undefined();
  });
}

// grad(): the gradient accumulated into this leaf (sharing its memory), or null. Only leaves
// keep one (libtorch would warn on a non-leaf's).
Napi::Value TensorWrap::Grad(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = Get(info.Env());
    if (!t.is_leaf() || !t.grad().defined()) return info.Env().Null();
    return New(info.Env(), t.grad());
  });
}

// zeroGrad(): drops the accumulated gradient (as `x.grad = None` does in PyTorch).
Napi::Value TensorWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = Get(info.Env());
    if (t.is_leaf() && t.grad().defined()) t.mutable_grad().reset();
    return info.Env().Undefined();
  });
}

// detach(): the same memory, cut from the autograd graph.
Napi::Value TensorWrap::Detach(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value { return New(info.Env(), Get(info.Env()).detach()); });
}

}  // namespace napi
}  // namespace noisynn

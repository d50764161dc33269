// The Tensor handle: an at::Tensor owned by a JS object, with its memory reported to the GC.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <string>

namespace noisynn {
namespace napi {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Wraps `t` in a new JS handle; the handle shares t's storage (no copy).
  static Napi::Object New(Napi::Env env, at::Tensor t);
  static bool IsTensor(Napi::Value v);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  const at::Tensor& Get(Napi::Env env) const;

 private:
  static Napi::Value FromTypedArray(const Napi::CallbackInfo& info);
  static Napi::Value MemoryStats(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value ToTypedArray(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value Nbytes(const Napi::CallbackInfo& info);
  // Autograd: the flag, backward from this tensor, the accumulated gradient, a detached view.
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);

  void Reset(at::Tensor t);

  at::Tensor tensor_;
  int64_t reported_ = 0;  // bytes reported to V8 via AdjustExternalMemory
  bool disposed_ = false;
};

// The tensor behind a JS handle; throws a JS TypeError naming `what` for anything else, and an
// Error when the handle was disposed. (A free function: ObjectWrap reserves the name Unwrap.)
at::Tensor UnwrapTensor(Napi::Value v, const char* what = "tensor");

// Why 'cuda' cannot be used here: a CPU-only build, or no visible device (one sentence, no period).
std::string CudaUnavailableReason();
// Device strings: 'cpu', 'cuda', 'cuda:N'. Throws RangeError for anything else, and when CUDA
// (or device N) is not available, saying why.
at::Device ParseDevice(const std::string& s);
std::string DeviceString(const at::Device& d);
std::string DtypeName(at::ScalarType t);
// 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'uint8'
at::ScalarType ParseDtype(const std::string& s);

}  // namespace napi
}  // namespace noisynn

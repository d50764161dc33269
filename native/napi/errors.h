// One catch point per N-API entry: C++ exceptions (c10::Error included) become JS errors.
#pragma once

#include <napi.h>

#include <functional>
#include <stdexcept>
#include <string>

namespace noisynn {

// Native code throws these when the caller's input is at fault, so JS sees the right class.
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace napi {

enum class ErrorClass { Error, TypeError, RangeError };

// The message of an exception without libtorch's C++ backtrace, and the JS class it maps to.
std::string DescribeException(const std::exception& e, ErrorClass* cls);

Napi::Error MakeError(Napi::Env env, const std::string& message, ErrorClass cls);

// Runs `body` and turns any C++ exception into a thrown JS error. Every exported function
// goes through this, so a bad input never takes the process down.
template <typename F>
Napi::Value Guard(const Napi::CallbackInfo& info, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    ErrorClass cls;
    std::string msg = DescribeException(e, &cls);
    throw MakeError(info.Env(), msg, cls);
  }
}

// Runs `work` on a libuv worker thread and settles a Promise: `done` builds the resolved
// value on the JS thread; an exception in either rejects it with the mapped JS error.
class TaskWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise Run(Napi::Env env, const char* name, Work work, Done done);

 private:
  TaskWorker(Napi::Env env, const char* name, Work work, Done done);
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  ErrorClass errorClass_ = ErrorClass::Error;
  std::string message_;
};

}  // namespace napi
}  // namespace noisynn

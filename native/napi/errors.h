// One catch point per N-API entry: C++ exceptions (c10::Error included) become JS errors.
#pragma once

#include <napi.h>

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

}  // namespace napi
}  // namespace noisynn

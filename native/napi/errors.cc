// Exception translation: C++ exception classes to JS error classes, libtorch backtraces dropped.
#include "napi/errors.h"

#include <c10/util/Exception.h>

namespace noisynn {
namespace napi {

std::string DescribeException(const std::exception& e, ErrorClass* cls) {
  *cls = ErrorClass::Error;
  if (dynamic_cast<const noisynn::TypeError*>(&e)) *cls = ErrorClass::TypeError;
  if (dynamic_cast<const noisynn::RangeError*>(&e)) *cls = ErrorClass::RangeError;
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) {
    if (dynamic_cast<const c10::IndexError*>(&e) || dynamic_cast<const c10::ValueError*>(&e)) {
      *cls = ErrorClass::RangeError;
    } else if (dynamic_cast<const c10::TypeError*>(&e)) {
      *cls = ErrorClass::TypeError;
    }
    return ce->what_without_backtrace();
  }
  return e.what();
}

Napi::Error MakeError(Napi::Env env, const std::string& message, ErrorClass cls) {
  switch (cls) {
    case ErrorClass::TypeError: return Napi::TypeError::New(env, message);
    case ErrorClass::RangeError: return Napi::RangeError::New(env, message);
    default: return Napi::Error::New(env, message);
  }
}

}  // namespace napi
}  // namespace noisynn

// Exception translation and the generic Promise-returning worker.
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
    case ErrorClass::TypeError:
      return Napi::TypeError::New(env, message);
    case ErrorClass::RangeError:
      return Napi::RangeError::New(env, message);
    default:
      return Napi::Error::New(env, message);
  }
}

Napi::Promise TaskWorker::Run(Napi::Env env, const char* name, Work work, Done done) {
  auto* worker = new TaskWorker(env, name, std::move(work), std::move(done));
  Napi::Promise promise = worker->deferred_.Promise();
  worker->Queue();
  return promise;
}

TaskWorker::TaskWorker(Napi::Env env, const char* name, Work work, Done done)
    : Napi::AsyncWorker(env, name),
      deferred_(Napi::Promise::Deferred::New(env)),
      work_(std::move(work)),
      done_(std::move(done)) {}

void TaskWorker::Execute() {
  try {
    work_();
  } catch (const std::exception& e) {
    message_ = DescribeException(e, &errorClass_);
    SetError(message_);
  } catch (...) {
    message_ = "unknown native error";
    SetError(message_);
  }
}

void TaskWorker::OnOK() {
  Napi::Env env = Env();
  try {
    deferred_.Resolve(done_ ? done_(env) : env.Undefined());
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (const std::exception& e) {
    ErrorClass cls;
    std::string msg = DescribeException(e, &cls);
    deferred_.Reject(MakeError(env, msg, cls).Value());
  }
}

void TaskWorker::OnError(const Napi::Error&) {
  deferred_.Reject(MakeError(Env(), message_, errorClass_).Value());
}

}  // namespace napi
}  // namespace noisynn

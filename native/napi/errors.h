// One catch point per N-API entry: C++ exceptions (c10::Error included) become JS errors.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
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

// Runs jobs one after another on one dedicated native thread and settles a Promise per job.
// For long sequences of heavy jobs on one object (training steps): libtorch's OpenMP team and
// the thread's malloc arena stay warm, where the libuv pool would hand successive steps to
// different threads, each with its own team and arena (measured: ~10% slower training).
class SerialExecutor {
 public:
  using Work = TaskWorker::Work;
  using Done = TaskWorker::Done;

  SerialExecutor();
  // Lets queued jobs finish, then the thread exits on its own (it is detached, so a GC of the
  // owner never waits for a step in flight).
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  Napi::Promise Run(Napi::Env env, const char* name, Work work, Done done);

 private:
  struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> jobs;
    bool stopping = false;
  };
  std::shared_ptr<Queue> queue_;
};

}  // namespace napi
}  // namespace noisynn

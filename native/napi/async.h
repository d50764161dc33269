// Promise-returning native work: one job on the libuv pool (TaskWorker), or a queue of jobs on one
// dedicated thread (SerialExecutor). Exceptions reject the Promise with the mapped JS error.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "napi/errors.h"

namespace noisynn {
namespace napi {

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
// different threads, each with its own team and arena (measured: ~10% slower training). Each job's
// Promise is settled through a TaskWorker that waits for it, because Node waits for libuv work at
// exit and at a worker's teardown (and would not wait for a thread of ours).
class SerialExecutor {
 public:
  using Work = TaskWorker::Work;
  using Done = TaskWorker::Done;

  // threads > 0: the thread's own OpenMP team size for libtorch's CPU ops and ours
  // (set_this_thread_intra_op_threads), set before its first job; 0: libtorch's default.
  explicit SerialExecutor(int threads = 0);
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

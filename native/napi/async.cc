// The libuv-pool worker and the single-thread executor of napi/async.h.
#include "napi/async.h"

#include <future>
#include <thread>

#include "common/shutdown.h"
#include "common/threads.h"

namespace noisynn {
namespace napi {

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
  // Admitted unless the process is exiting (then nothing would receive the result anyway).
  shutdown::Work unit;
  if (!unit) {
    message_ = "the process is exiting";
    SetError(message_);
    return;
  }
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

namespace {

// Settles a Promise; when the environment is being torn down (worker.terminate(), the end of a
// worker), Resolve and Reject throw because no JavaScript can run any more: nothing can receive
// the result then, and an exception escaping here would abort the whole process.
template <typename F>
void SettleQuietly(F&& settle) noexcept {
  try {
    settle();
  } catch (...) {
  }
}

}  // namespace

void TaskWorker::OnOK() {
  Napi::Env env = Env();
  SettleQuietly([&] {
    try {
      deferred_.Resolve(done_ ? done_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      ErrorClass cls;
      std::string msg = DescribeException(e, &cls);
      deferred_.Reject(MakeError(env, msg, cls).Value());
    }
  });
}

void TaskWorker::OnError(const Napi::Error&) {
  SettleQuietly([&] { deferred_.Reject(MakeError(Env(), message_, errorClass_).Value()); });
}

SerialExecutor::SerialExecutor(int threads) : queue_(std::make_shared<Queue>()) {
  std::thread([q = queue_, threads] {
    if (threads > 0) set_this_thread_intra_op_threads(threads);
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(q->mu);
        q->cv.wait(lock, [&] { return q->stopping || !q->jobs.empty(); });
        if (q->jobs.empty()) return;  // stopping, and drained
        job = std::move(q->jobs.front());
        q->jobs.pop_front();
      }
      shutdown::Work unit;
      if (!unit) {
        // The process is exiting: run nothing more. Dropping the jobs breaks their promises, so
        // anything waiting on one wakes with an error instead of waiting for ever.
        job = nullptr;
        std::lock_guard<std::mutex> lock(q->mu);
        q->jobs.clear();
        return;
      }
      job();
    }
  }).detach();
}

SerialExecutor::~SerialExecutor() {
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->stopping = true;
  }
  queue_->cv.notify_all();
}

Napi::Promise SerialExecutor::Run(Napi::Env env, const char* name, Work work, Done done) {
  // Queued here, on the JS thread, so jobs run in the order they were asked for. The Promise is
  // settled by a TaskWorker that waits for the job on a libuv thread: Node waits for that at
  // process exit and at a worker's teardown, so neither can tear libtorch down under a job.
  auto task = std::make_shared<std::packaged_task<void()>>(std::move(work));
  std::shared_future<void> result = task->get_future().share();
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->jobs.emplace_back([task] { (*task)(); });
  }
  queue_->cv.notify_one();
  return TaskWorker::Run(
      env, name, [result] { result.get(); }, std::move(done));
}

}  // namespace napi
}  // namespace noisynn

// The libuv-pool worker and the single-thread executor of napi/async.h.
#include "napi/async.h"

#include <thread>

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

void TaskWorker::OnError(const Napi::Error&) { deferred_.Reject(MakeError(Env(), message_, errorClass_).Value()); }

SerialExecutor::SerialExecutor() : queue_(std::make_shared<Queue>()) {
  std::thread([q = queue_] {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(q->mu);
        q->cv.wait(lock, [&] { return q->stopping || !q->jobs.empty(); });
        if (q->jobs.empty()) return;  // stopping, and drained
        job = std::move(q->jobs.front());
        q->jobs.pop_front();
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

namespace {

// One job's outcome, carried from the executor thread back to the JS thread.
struct JobState {
  explicit JobState(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  SerialExecutor::Done done;
  bool failed = false;
  ErrorClass errorClass = ErrorClass::Error;
  std::string message;
};

void Settle(Napi::Env env, JobState& job) {
  if (job.failed) {
    job.deferred.Reject(MakeError(env, job.message, job.errorClass).Value());
    return;
  }
  try {
    job.deferred.Resolve(job.done ? job.done(env) : env.Undefined());
  } catch (const Napi::Error& e) {
    job.deferred.Reject(e.Value());
  } catch (const std::exception& e) {
    ErrorClass cls;
    std::string msg = DescribeException(e, &cls);
    job.deferred.Reject(MakeError(env, msg, cls).Value());
  }
}

}  // namespace

Napi::Promise SerialExecutor::Run(Napi::Env env, const char* name, Work work, Done done) {
  auto job = std::make_shared<JobState>(env);
  job->done = std::move(done);
  // The thread-safe function keeps the event loop alive until the job has been settled.
  auto tsfn =
      std::make_shared<Napi::ThreadSafeFunction>(Napi::ThreadSafeFunction::New(env, Napi::Function(), name, 0, 1));
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->jobs.emplace_back([job, tsfn, work = std::move(work)] {
      try {
        work();
      } catch (const std::exception& e) {
        job->failed = true;
        job->message = DescribeException(e, &job->errorClass);
      } catch (...) {
        job->failed = true;
        job->message = "unknown native error";
      }
      tsfn->BlockingCall([job](Napi::Env env, Napi::Function) { Settle(env, *job); });
      tsfn->Release();
    });
  }
  queue_->cv.notify_one();
  return job->deferred.Promise();
}

}  // namespace napi
}  // namespace noisynn

// Process exit and native threads: exit() runs libtorch's static destructors, so no native thread
// of ours may be inside libtorch then. Each unit of native work (a training step, a batch a loader
// worker builds) runs inside a shutdown::Work; at exit the handler waits for the units in flight to
// end and admits no new ones.
#pragma once

namespace noisynn {
namespace shutdown {

// A unit of native work, admitted unless the process is exiting. While one is alive, exit waits.
class Work {
 public:
  Work();
  ~Work();
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;
  // False when the process is exiting: the caller must not start its work.
  explicit operator bool() const { return admitted_; }

 private:
  bool admitted_;
};

// Registers the exit handler (std::atexit), once per process. Called when the addon loads, after
// libtorch's static objects exist, so the handler runs before their destructors.
void install_exit_handler();

// True once exit has begun.
bool exiting();

}  // namespace shutdown
}  // namespace noisynn

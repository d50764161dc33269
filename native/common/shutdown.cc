// The exit gate of common/shutdown.h.
#include "common/shutdown.h"

#include <condition_variable>
#include <cstdlib>
#include <mutex>

namespace noisynn {
namespace shutdown {

namespace {

struct Gate {
  std::mutex mu;
  std::condition_variable idle;
  int active = 0;
  bool exiting = false;
};

// Never destroyed: exit's own static destructors must not take the gate away from threads that
// are still being turned back by it.
Gate& gate() {
  static Gate* g = new Gate();
  return *g;
}

void on_exit() {
  Gate& g = gate();
  std::unique_lock<std::mutex> lock(g.mu);
  g.exiting = true;
  g.idle.wait(lock, [&] { return g.active == 0; });
}

}  // namespace

Work::Work() {
  Gate& g = gate();
  std::lock_guard<std::mutex> lock(g.mu);
  admitted_ = !g.exiting;
  if (admitted_) ++g.active;
}

Work::~Work() {
  if (!admitted_) return;
  Gate& g = gate();
  std::lock_guard<std::mutex> lock(g.mu);
  if (--g.active == 0) g.idle.notify_all();
}

void install_exit_handler() {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(on_exit); });
}

bool exiting() {
  Gate& g = gate();
  std::lock_guard<std::mutex> lock(g.mu);
  return g.exiting;
}

}  // namespace shutdown
}  // namespace noisynn

// A process group of data-parallel ranks: c10d's TCPStore rendezvous and its Gloo (CPU) or NCCL
// (CUDA) backend, behind an ATen-only interface, so that no other file includes c10d's headers.
//
// The launch contract is torchrun's: every rank runs the same program with its rank, the world
// size and the master's address and port; rank 0 hosts the TCPStore there.
//
//   dist::GroupOptions o;
//   o.rank = 1; o.world_size = 2; o.master_addr = "10.0.0.1"; o.master_port = 29500;
//   auto group = dist::Group::create(o);          // blocks until every rank has joined
//   group->all_reduce(t, dist::ReduceOp::Sum).wait();
//
// Faults never hang silently: every wait is bounded by the timeout, and a failed operation throws
// a c10::Error naming the rank at fault (a heartbeat through the store tells a dead or stuck rank
// from a live one).
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace noisynn {
namespace dist {

enum class Backend { Gloo, Nccl };
enum class ReduceOp { Sum, Max };

// 'gloo' | 'nccl'; throws c10::ValueError otherwise (or for 'nccl' in a build without NCCL).
Backend parse_backend(const std::string& name);
const char* backend_name(Backend backend);
// Whether this build carries c10d's NCCL backend (CUDA builds against a libtorch that has it).
bool built_with_nccl();

struct GroupOptions {
  Backend backend = Backend::Gloo;
  int64_t rank = 0;
  int64_t world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  // Bounds the rendezvous and every collective: a peer that does not answer within it is an error.
  std::chrono::milliseconds timeout{300000};
};

class Group;

// A collective in flight. wait() blocks until it is done (CPU backends) or queued on the current
// stream (NCCL), and throws naming the rank at fault when it failed or timed out.
class Work {
 public:
  Work() = default;
  void wait();
  bool defined() const { return impl_ != nullptr; }
  struct Impl;

 private:
  friend class Group;
  Work(Group* group, const char* what, std::shared_ptr<Impl> impl)
      : impl_(std::move(impl)), group_(group), what_(what) {}
  std::shared_ptr<Impl> impl_;
  Group* group_ = nullptr;
  const char* what_ = "";
};

class Group {
 public:
  // Joins the group: rank 0 hosts the rendezvous at master_addr:master_port, the others connect
  // (retrying until the timeout). Checks that every rank agrees on the world size and backend,
  // then connects the backend. Throws c10::Error with a clear message for a port in use, a master
  // that cannot be reached, a rank missing or started twice, or a mismatch.
  static std::shared_ptr<Group> create(const GroupOptions& options);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int64_t rank() const { return options_.rank; }
  int64_t world_size() const { return options_.world_size; }
  const GroupOptions& options() const { return options_; }

  // Asynchronous collectives on one contiguous tensor, in place. Every rank must issue the same
  // collectives in the same order (as with c10d itself).
  Work all_reduce(at::Tensor& t, ReduceOp op, const char* what);
  Work broadcast(at::Tensor& t, int64_t root, const char* what);
  Work send(at::Tensor& t, int64_t dst, int64_t tag, const char* what);
  Work recv(at::Tensor& t, int64_t src, int64_t tag, const char* what);
  void barrier(const char* what);

  // Every rank states `value` for `what` (e.g. a digest of the model's parameter names and
  // shapes); throws on every rank when any differs from rank 0's, naming both.
  void agree(const std::string& what, const std::string& value);

  // The training step this rank is at, published with its heartbeat (to name a stuck rank).
  void set_progress(int64_t step);

  // Throws the error that `op` failed with, with the diagnosis of which rank is at fault. Marks
  // the group failed: later operations throw at once.
  [[noreturn]] void fail(const char* what, const std::string& error);

  struct Impl;

 private:
  explicit Group(const GroupOptions& options);
  // Runs `launch` (which fills in the c10d work), turning any error into fail(what, ...).
  Work start(const char* what, const std::function<void(Work::Impl&)>& launch);
  GroupOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dist
}  // namespace noisynn

// The c10d side of dist::Group: the TCPStore rendezvous and its join checks, the Gloo or NCCL
// backend, the heartbeats, and the diagnosis that names the rank at fault when a collective fails.
#include "distributed/group.h"

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef NOISYNN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/shutdown.h"

namespace noisynn {
namespace dist {

// c10d's collectives live on Backend from PyTorch 2.0 on, on ProcessGroup before.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

Backend parse_backend(const std::string& name) {
  if (name == "gloo") return Backend::Gloo;
  if (name == "nccl") {
    TORCH_CHECK_VALUE(built_with_nccl(),
                      "distributed.backend 'nccl' needs a CUDA build of noisynn-native against a libtorch with NCCL "
                      "(this build has Gloo only)");
    return Backend::Nccl;
  }
  TORCH_CHECK_VALUE(false, "Expected one of 'gloo', 'nccl' for distributed.backend but received '", name, "'");
}

const char* backend_name(Backend backend) { return backend == Backend::Gloo ? "gloo" : "nccl"; }

bool built_with_nccl() {
#ifdef NOISYNN_WITH_NCCL
  return true;
#else
  return false;
#endif
}

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
std::string text_of(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

bool contains_nocase(const std::string& s, const char* needle) {
  std::string a = s, b = needle;
  for (char& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return a.find(b) != std::string::npos;
}

// c10::Error's what() carries a C++ backtrace after the message: keep the first line.
std::string first_line(const std::string& s) {
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

std::string rank_list(const std::vector<int64_t>& ranks) {
  std::ostringstream os;
  os << (ranks.size() == 1 ? "rank " : "ranks ");
  for (size_t i = 0; i < ranks.size(); ++i) os << (i ? ", " : "") << ranks[i];
  return os.str();
}

// The local address this host uses to reach `host` (a connected UDP socket sends nothing): what
// Gloo binds to, so that ranks on several hosts reach each other over the network that reaches the
// master, not over whatever the host name resolves to. Empty when it cannot be told.
std::string local_address_toward(const std::string& host, int64_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return "";
  std::string out;
  for (addrinfo* a = found; a != nullptr && out.empty(); a = a->ai_next) {
    const int fd = socket(a->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      char buf[INET6_ADDRSTRLEN] = {};
      const void* src = local.ss_family == AF_INET
                            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
      if (inet_ntop(local.ss_family, src, buf, sizeof buf) != nullptr) out = buf;
    }
    close(fd);
  }
  freeaddrinfo(found);
  return out;
}

}  // namespace

struct Work::Impl {
  c10::intrusive_ptr<c10d::Work> work;
};

struct Group::Impl {
  c10::intrusive_ptr<c10d::Store> store;          // the rendezvous (TCPStore; rank 0 hosts it)
  c10::intrusive_ptr<c10d::TCPStore> beat_store;  // a second client, for heartbeats and diagnosis only
  c10::intrusive_ptr<BackendBase> backend;        // Gloo or NCCL
  std::string gloo_address;                       // what Gloo bound to (for error messages)
  std::chrono::milliseconds interval{1000};       // between heartbeats
  std::thread beat;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::atomic<bool> store_lost{false};
  std::atomic<int64_t> progress{0};
  std::mutex fail_mu;
  bool failed = false;
  std::string failure;
  int64_t agree_seq = 0;
};

namespace {

const std::string kPrefix = "noisynn/";

// Rank 0 keeps the store (which it hosts) up until the ranks have read a failing verdict, within
// the timeout (at most 10 s): otherwise its exit can reset a slower rank's connection before that
// rank reads why, and the rank reports a lost connection instead of the reason. A rank that died
// cannot answer; the verdict stands either way.
void await_acks(c10d::Store& store, const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  if (keys.empty()) return;
  try {
    store.wait(keys, std::min(timeout, std::chrono::milliseconds(10000)));
  } catch (const std::exception&) {
  }
}

std::string beat_key(int64_t r) { return kPrefix + "beat/" + std::to_string(r); }
std::string progress_key(int64_t r) { return kPrefix + "at/" + std::to_string(r); }

}  // namespace

Group::Group(const GroupOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {}

std::shared_ptr<Group> Group::create(const GroupOptions& o) {
  TORCH_CHECK_VALUE(o.world_size >= 1, "Expected positive integer for distributed.worldSize but received ",
                    o.world_size);
  TORCH_CHECK_VALUE(o.rank >= 0 && o.rank < o.world_size, "Expected integer in [0, ", o.world_size - 1,
                    "] for distributed.rank but received ", o.rank);
  TORCH_CHECK_VALUE(o.master_port >= 1 && o.master_port <= 65535,
                    "Expected integer in [1, 65535] for distributed.masterPort but received ", o.master_port);
  TORCH_CHECK_VALUE(o.timeout.count() >= 1, "Expected positive integer for distributed.timeoutMs but received ",
                    o.timeout.count());
  std::shared_ptr<Group> group(new Group(o));
  Impl& im = *group->impl_;
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  const std::string me = "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size);

  // 1. The rendezvous store: rank 0 hosts it, the others connect (retrying until the timeout).
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(o.master_port);
  so.isServer = o.rank == 0;
  so.waitWorkers = false;
  so.timeout = o.timeout;
  try {
    im.store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
  } catch (const std::exception& e) {
    const std::string msg = first_line(e.what());
    if (o.rank == 0 && (contains_nocase(msg, "address already in use") || contains_nocase(msg, "EADDRINUSE"))) {
      TORCH_CHECK(false, "distributed: rank 0 cannot host the rendezvous: port ", o.master_port,
                  " is already in use on this host; choose a free port (distributed.masterPort, MASTER_PORT or "
                  "--master-port)");
    }
    if (contains_nocase(msg, "timed out") || contains_nocase(msg, "timeout")) {
      TORCH_CHECK(false, "distributed: ", me, " could not reach the master at ", where, " within ", seconds(o.timeout),
                  ": is rank 0 running there, and is ", o.master_addr, " reachable from this host? (", msg, ")");
    }
    TORCH_CHECK(false, "distributed: ", me, " could not ", o.rank == 0 ? "host" : "join", " the rendezvous at ", where,
                ": ", msg);
  }

  // 2. Who is here: each rank claims its rank and states its world size and backend; every rank
  //    compares its own with rank 0's, rank 0 with everyone's, so a mismatch fails on both sides.
  const std::string record = std::string("worldSize ") + std::to_string(o.world_size) + ", backend " +
                             backend_name(o.backend) + ", libtorch " + std::to_string(TORCH_VERSION_MAJOR) + "." +
                             std::to_string(TORCH_VERSION_MINOR);
  const std::string join = kPrefix + "join/";
  const std::string verdict_key = kPrefix + "join-verdict";
  // A rank that has read a failing verdict (or found its own mismatch) says so (see await_acks).
  const std::string ack_prefix = kPrefix + "join-ack/";
  const std::string ack_key = ack_prefix + std::to_string(o.rank);
  if (im.store->add(kPrefix + "claim/" + std::to_string(o.rank), 1) > 1) {
    TORCH_CHECK(false, "distributed: rank ", o.rank, " was started twice: another process already joined the group at ",
                where, " as rank ", o.rank, " (give every process its own RANK)");
  }
  im.store->set(join + std::to_string(o.rank), bytes_of(record));
  if (o.rank != 0) {
    std::string verdict;
    try {
      im.store->wait({join + "0"}, o.timeout);
      const std::string first = text_of(im.store->get(join + "0"));
      if (first != record) {
        im.store->set(ack_key, bytes_of("mismatch"));
        TORCH_CHECK(false, "distributed: ", me, " was started with ", record, ", but rank 0 with ", first,
                    ": start every rank with the same worldSize (WORLD_SIZE, --nnodes x --nproc-per-node)");
      }
      im.store->wait({verdict_key}, o.timeout);
      verdict = text_of(im.store->get(verdict_key));
      if (!verdict.empty()) im.store->set(ack_key, bytes_of("read"));
    } catch (const c10::Error& e) {
      const std::string msg = first_line(e.what_without_backtrace());
      if (msg.rfind("distributed: ", 0) == 0) throw;
      TORCH_CHECK(false, "distributed: ", me, ": the other ranks did not all join within ", seconds(o.timeout), " (",
                  msg, ")");
    }
    TORCH_CHECK(verdict.empty(), verdict);
  } else {
    std::vector<std::string> keys;
    for (int64_t r = 1; r < o.world_size; ++r) keys.push_back(join + std::to_string(r));
    std::string verdict;
    try {
      if (!keys.empty()) im.store->wait(keys, o.timeout);
    } catch (const std::exception&) {
      std::vector<int64_t> missing;
      for (int64_t r = 1; r < o.world_size; ++r)
        if (!im.store->check({join + std::to_string(r)})) missing.push_back(r);
      verdict = "distributed: " + rank_list(missing) + " of worldSize " + std::to_string(o.world_size) +
                " did not join the rendezvous at " + where + " within " + seconds(o.timeout) +
                " (start every rank with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE)";
    }
    for (int64_t r = 1; verdict.empty() && r < o.world_size; ++r) {
      const std::string theirs = text_of(im.store->get(join + std::to_string(r)));
      if (theirs != record) {
        verdict = "distributed: rank " + std::to_string(r) + " was started with " + theirs + ", but rank 0 with " +
                  record + ": start every rank with the same worldSize (WORLD_SIZE, --nnodes x --nproc-per-node)";
      }
    }
    im.store->set(verdict_key, bytes_of(verdict));
    if (!verdict.empty()) {
      std::vector<std::string> acks;
      for (int64_t r = 1; r < o.world_size; ++r)
        if (im.store->check({join + std::to_string(r)})) acks.push_back(ack_prefix + std::to_string(r));
      await_acks(*im.store, acks, o.timeout);
    }
    TORCH_CHECK(verdict.empty(), verdict);
  }

  // 3. The backend, through its own key space in the store.
  auto backend_store = c10::make_intrusive<c10d::PrefixStore>(kPrefix + "backend", im.store);
  try {
    if (o.backend == Backend::Gloo) {
      auto opts = c10d::ProcessGroupGloo::Options::create(o.timeout);
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      if (ifname != nullptr && *ifname != '\0') {
        std::stringstream names(ifname);
        for (std::string name; std::getline(names, name, ',');)
          if (!name.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
        im.gloo_address = std::string("interface ") + ifname;
      } else {
        im.gloo_address = local_address_toward(o.master_addr, o.master_port);
        opts->devices.push_back(im.gloo_address.empty()
                                    ? c10d::ProcessGroupGloo::createDefaultDevice()
                                    : c10d::ProcessGroupGloo::createDeviceForHostname(im.gloo_address));
      }
      im.backend = c10::make_intrusive<c10d::ProcessGroupGloo>(backend_store, static_cast<int>(o.rank),
                                                               static_cast<int>(o.world_size), opts);
    } else {
#ifdef NOISYNN_WITH_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = o.timeout;
      im.backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(backend_store, static_cast<int>(o.rank),
                                                               static_cast<int>(o.world_size), opts);
#else
      TORCH_CHECK_VALUE(false, "distributed.backend 'nccl' needs a CUDA build with NCCL");
#endif
    }
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "distributed: ", me, " could not connect to its peers over ", backend_name(o.backend),
                im.gloo_address.empty() ? std::string() : " (bound to " + im.gloo_address + ")", ": ",
                first_line(e.what()),
                "; if the hosts have several networks, set GLOO_SOCKET_IFNAME to the interface "
                "that reaches the other hosts");
  }

  // 4. Heartbeats, through a second store client, so that a failed collective can tell a dead or
  //    stuck rank from a live one (rank 0's store keeps every rank's counter).
  im.interval = std::chrono::milliseconds(std::clamp<int64_t>(o.timeout.count() / 10, 100, 1000));
  c10d::TCPStoreOptions bo = so;
  bo.isServer = false;
  // Connected within the rendezvous timeout (a loaded host can take seconds to accept: a 3 s
  // connect timed out now and then on two busy cores), then its operations time out quickly, so
  // that a dead master is noticed within a few intervals.
  im.beat_store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, bo);
  im.beat_store->setTimeout(std::max(std::chrono::milliseconds(1000), 3 * im.interval));
  im.beat = std::thread([&im, rank = o.rank] {
    int64_t published = -1;
    std::unique_lock<std::mutex> lk(im.mu);
    while (!im.stopping) {
      lk.unlock();
      {
        shutdown::Work unit;
        if (!unit) break;
        try {
          im.beat_store->add(beat_key(rank), 1);
          const int64_t p = im.progress.load();
          if (p != published) {
            im.beat_store->set(progress_key(rank), bytes_of(std::to_string(p)));
            published = p;
          }
        } catch (const std::exception&) {
          im.store_lost = true;  // rank 0 (the store's host) is gone; only the diagnosis cares
        }
      }
      lk.lock();
      if (im.store_lost) break;
      im.cv.wait_for(lk, im.interval, [&] { return im.stopping; });
    }
  });
  return group;
}

Group::~Group() {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->beat.joinable()) impl_->beat.join();
  // A failed backend may still hold queued work that would wait out the timeout, each item in
  // turn, in its destructor: leave it (the process is about to report the failure and exit).
  if (impl_->failed && impl_->backend) (void)impl_->backend.release();
}

void Group::set_progress(int64_t step) { impl_->progress = step; }

void Group::fail(const char* what, const std::string& error) {
  std::lock_guard<std::mutex> lk(impl_->fail_mu);
  if (impl_->failed) TORCH_CHECK(false, impl_->failure);
  const GroupOptions& o = options_;
  const std::string master = o.master_addr + ":" + std::to_string(o.master_port);
  std::string diagnosis;
  auto store_gone = [&] {
    return "rank 0 (the master, hosting the rendezvous at " + master +
           ") is gone: it exited, crashed or became unreachable";
  };
  if (impl_->store_lost) {
    diagnosis = store_gone();
  } else {
    try {
      // Two readings of every rank's heartbeat counter, three heartbeats apart.
      auto read = [&] {
        std::vector<int64_t> v(static_cast<size_t>(o.world_size));
        for (int64_t r = 0; r < o.world_size; ++r) v[r] = impl_->beat_store->add(beat_key(r), 0);
        return v;
      };
      const std::vector<int64_t> before = read();
      std::this_thread::sleep_for(3 * impl_->interval);
      const std::vector<int64_t> after = read();
      std::vector<int64_t> silent, behind;
      const int64_t mine = impl_->progress.load();
      std::string behind_at;
      for (int64_t r = 0; r < o.world_size; ++r) {
        if (r == o.rank) continue;
        if (after[r] == before[r]) {
          silent.push_back(r);
          continue;
        }
        int64_t at = mine;
        if (impl_->beat_store->check({progress_key(r)}))
          at = std::stoll(text_of(impl_->beat_store->get(progress_key(r))));
        if (at < mine) {
          behind.push_back(r);
          behind_at += (behind_at.empty() ? "" : ", ") + std::to_string(at);
        }
      }
      if (!silent.empty()) {
        diagnosis = rank_list(silent) + " stopped responding (no heartbeat for " + seconds(3 * impl_->interval) +
                    "): the process died or hangs";
      } else if (!behind.empty()) {
        diagnosis = rank_list(behind) + " are alive but did not reach this collective within " + seconds(o.timeout) +
                    " (at step " + behind_at + ", this rank at step " + std::to_string(mine) + ")";
      } else {
        diagnosis = "a peer did not complete it within " + seconds(o.timeout);
      }
    } catch (const std::exception&) {
      diagnosis = store_gone();
    }
  }
  impl_->failed = true;
  impl_->failure = "distributed: rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) + ": " + what +
                   " failed: " + diagnosis + " [" + backend_name(o.backend) + ": " + first_line(error) + "]";
  TORCH_CHECK(false, impl_->failure);
}

Work Group::start(const char* what, const std::function<void(Work::Impl&)>& launch) {
  {
    std::lock_guard<std::mutex> lk(impl_->fail_mu);
    TORCH_CHECK(!impl_->failed, impl_->failure);
  }
  auto work = std::make_shared<Work::Impl>();
  try {
    launch(*work);
  } catch (const c10::Error& e) {
    fail(what, e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
  return Work(this, what, std::move(work));
}

void Work::wait() {
  if (!impl_ || !impl_->work) return;
  try {
    impl_->work->wait();
  } catch (const c10::Error& e) {
    group_->fail(what_, e.what_without_backtrace());
  } catch (const std::exception& e) {
    group_->fail(what_, e.what());
  }
}

Work Group::all_reduce(at::Tensor& t, ReduceOp op, const char* what) {
  return start(what, [&](Work::Impl& w) {
    std::vector<at::Tensor> tensors{t};
    c10d::AllreduceOptions opts;
    opts.reduceOp = op == ReduceOp::Sum ? c10d::ReduceOp::SUM : c10d::ReduceOp::MAX;
    opts.timeout = options_.timeout;
    w.work = impl_->backend->allreduce(tensors, opts);
  });
}

Work Group::broadcast(at::Tensor& t, int64_t root, const char* what) {
  return start(what, [&](Work::Impl& w) {
    std::vector<at::Tensor> tensors{t};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.rootTensor = 0;
    opts.timeout = options_.timeout;
    w.work = impl_->backend->broadcast(tensors, opts);
  });
}

Work Group::send(at::Tensor& t, int64_t dst, int64_t tag, const char* what) {
  return start(what, [&](Work::Impl& w) {
    std::vector<at::Tensor> tensors{t};
    w.work = impl_->backend->send(tensors, static_cast<int>(dst), static_cast<int>(tag));
  });
}

Work Group::recv(at::Tensor& t, int64_t src, int64_t tag, const char* what) {
  return start(what, [&](Work::Impl& w) {
    std::vector<at::Tensor> tensors{t};
    w.work = impl_->backend->recv(tensors, static_cast<int>(src), static_cast<int>(tag));
  });
}

void Group::barrier(const char* what) {
  start(what, [&](Work::Impl& w) {
    c10d::BarrierOptions opts;
    opts.timeout = options_.timeout;
    w.work = impl_->backend->barrier(opts);
  }).wait();
}

void Group::agree(const std::string& what, const std::string& value) {
  {
    std::lock_guard<std::mutex> lk(impl_->fail_mu);
    TORCH_CHECK(!impl_->failed, impl_->failure);
  }
  const GroupOptions& o = options_;
  const std::string base = kPrefix + "agree/" + std::to_string(impl_->agree_seq++) + "/";
  c10d::Store& store = *impl_->store;
  std::string verdict;
  try {
    store.set(base + std::to_string(o.rank), bytes_of(value));
    if (o.rank == 0) {
      std::vector<std::string> keys;
      for (int64_t r = 1; r < o.world_size; ++r) keys.push_back(base + std::to_string(r));
      if (!keys.empty()) store.wait(keys, o.timeout);
      for (int64_t r = 1; verdict.empty() && r < o.world_size; ++r) {
        const std::string theirs = text_of(store.get(base + std::to_string(r)));
        if (theirs != value) {
          verdict = "distributed: the ranks disagree on " + what + ": rank " + std::to_string(r) + " has " + theirs +
                    ", rank 0 has " + value;
        }
      }
      store.set(base + "verdict", bytes_of(verdict));
      if (!verdict.empty()) {
        std::vector<std::string> acks;
        for (int64_t r = 1; r < o.world_size; ++r) acks.push_back(base + "ack/" + std::to_string(r));
        await_acks(store, acks, o.timeout);
      }
    } else {
      store.wait({base + "verdict"}, o.timeout);
      verdict = text_of(store.get(base + "verdict"));
      if (!verdict.empty()) store.set(base + "ack/" + std::to_string(o.rank), bytes_of("read"));
    }
  } catch (const c10::Error& e) {
    fail(("agreeing on " + what).c_str(), e.what_without_backtrace());
  }
  TORCH_CHECK(verdict.empty(), verdict);
}

}  // namespace dist
}  // namespace noisynn

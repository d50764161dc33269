// The caching CPU allocator of common/cpu_allocator.h.
//
// Why: glibc maps every allocation above its dynamic threshold (at most 32 MB) afresh, and may map
// smaller ones afresh too depending on timing; each fresh mapping is page-faulted and zeroed again.
// Measured: [128,196,192] op outputs cost ~5,000 faults per call in some processes, and at
// [64,197,768] ~13 of a 14 ms copy was page faults. A training step allocates the same sizes every
// step, so a per-size-class free list serves nearly every request from memory already faulted in.
#include "common/cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <sys/mman.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace noisynn {
namespace cpu_memory {

namespace {

constexpr size_t kAlign = 64;              // c10's own CPU alignment
constexpr size_t kHuge = size_t{2} << 20;  // a transparent huge page
// Blocks this large are mapped by the allocator itself and unmapped when it gives them back, so
// that memory the cache releases leaves the process. From glibc's heaps it would not: freed there,
// in the middle of a heap, it stays resident as free-but-held (measured: the size classes of an
// epoch's short last batch, idle after the epoch boundary, left ~37 MB of RSS held for the rest of
// the run). Smaller blocks given back go to glibc, which is then asked to return its free pages.
constexpr size_t kMapped = size_t{256} << 10;
constexpr int64_t kIdleMs = 10000;  // a size class unused this long is given back
constexpr int64_t kTrimEveryMs = 2000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t default_cap() {
  if (const char* mb = std::getenv("NOISYNN_CPU_CACHE_MB")) return std::max<int64_t>(0, std::atoll(mb)) << 20;
  const int64_t phys = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  return std::min<int64_t>(int64_t{4} << 30, phys / 8);
}

struct Block {
  void* ptr;
  size_t size;
};

struct SizeClass {
  std::vector<void*> free;  // LIFO: the block freed last is the warmest in the caches
  int64_t last_used_ms = 0;
};

class CachingAllocator final : public c10::Allocator {
 public:
  CachingAllocator() : cap_(default_cap()) {}

#if TORCH_VERSION_MAJOR >= 2
  c10::DataPtr allocate(size_t n) override { return take(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#else
  c10::DataPtr allocate(size_t n) const override { return const_cast<CachingAllocator*>(this)->take(n); }
#endif
  c10::DeleterFnPtr raw_deleter() const override { return &CachingAllocator::give_back; }

  Stats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    Stats s;
    s.allocated_bytes = allocated_;
    s.cached_bytes = cached_;
    s.cap_bytes = cap_;
    s.hits = hits_;
    s.misses = misses_;
    return s;
  }

  void release_all() {
    std::vector<Block> to_free;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [size, cls] : classes_) take_class(size, cls, &to_free);
    }
    give_to_system(to_free, /*trim=*/true);
  }

  static CachingAllocator& instance() {
    // Never destroyed: tensors may be freed during exit's static destruction.
    static CachingAllocator* a = new CachingAllocator();
    return *a;
  }

 private:
  static void give_back(void* ptr) { instance().put(ptr); }

  c10::DataPtr take(size_t n) {
    if (n == 0) return c10::DataPtr(nullptr, nullptr, &CachingAllocator::give_back, c10::Device(c10::kCPU));
    const size_t size = size_class(n);
    void* ptr = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      SizeClass& cls = classes_[size];
      cls.last_used_ms = now_ms();
      if (!cls.free.empty()) {
        ptr = cls.free.back();
        cls.free.pop_back();
        cached_ -= static_cast<int64_t>(size);
        ++hits_;
      } else {
        ++misses_;
      }
      if (ptr != nullptr) {
        live_[ptr] = size;
        allocated_ += static_cast<int64_t>(size);
      }
    }
    if (ptr == nullptr) {
      ptr = fresh(size);
      std::lock_guard<std::mutex> lock(mu_);
      live_[ptr] = size;
      allocated_ += static_cast<int64_t>(size);
    }
    return c10::DataPtr(ptr, ptr, &CachingAllocator::give_back, c10::Device(c10::kCPU));
  }

  void put(void* ptr) {
    if (ptr == nullptr) return;
    std::vector<Block> to_free;
    bool idle = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = live_.find(ptr);
      TORCH_INTERNAL_ASSERT(it != live_.end(), "noisynn CPU allocator: freeing a block it does not own");
      const size_t size = it->second;
      live_.erase(it);
      allocated_ -= static_cast<int64_t>(size);
      const int64_t t = now_ms();
      if (t - last_trim_ms_ > kTrimEveryMs) trim_idle(t, &to_free);
      idle = !to_free.empty();
      if (cached_ + static_cast<int64_t>(size) <= cap_) {
        SizeClass& cls = classes_[size];
        cls.free.push_back(ptr);
        cls.last_used_ms = t;
        cached_ += static_cast<int64_t>(size);
      } else {
        to_free.push_back({ptr, size});  // over the cap: back to the system
      }
    }
    give_to_system(to_free, /*trim=*/idle);
  }

  // Size classes unused for kIdleMs give their blocks back (collected under the lock, freed after).
  void trim_idle(int64_t t, std::vector<Block>* out) {
    last_trim_ms_ = t;
    for (auto& [size, cls] : classes_) {
      if (!cls.free.empty() && t - cls.last_used_ms >= kIdleMs) take_class(size, cls, out);
    }
  }

  // Empties a size class's free list into *out (called under the lock; freed after it).
  void take_class(size_t size, SizeClass& cls, std::vector<Block>* out) {
    for (void* p : cls.free) out->push_back({p, size});
    cached_ -= static_cast<int64_t>(size * cls.free.size());
    cls.free.clear();
  }

  // `trim`: also ask glibc to return its free pages when small blocks went back to it. Done when a
  // size class has gone idle and on release_all(), which are rare; not for a block over the cap.
  static void give_to_system(const std::vector<Block>& blocks, bool trim) {
    bool to_glibc = false;
    for (const Block& b : blocks) {
      if (b.size >= kMapped) {
        munmap(b.ptr, b.size);
      } else {
        std::free(b.ptr);
        to_glibc = true;
      }
    }
#if defined(__GLIBC__)
    if (trim && to_glibc) malloc_trim(0);
#else
    (void)trim;
    (void)to_glibc;
#endif
  }

  // Huge-page aligned when 2 MB or more: one fault per 2 MB instead of 512, and fewer TLB misses
  // (THP mode 'madvise'). Over-maps by the alignment and unmaps the slack on either side.
  static void* map(size_t size) {
    const size_t align = size >= kHuge ? kHuge : static_cast<size_t>(sysconf(_SC_PAGE_SIZE));
    const size_t span = size + align;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (start + align - 1) / align * align;
    if (aligned > start) munmap(raw, aligned - start);
    const uintptr_t end = start + span;
    if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
    void* ptr = reinterpret_cast<void*>(aligned);
    if (size >= kHuge) madvise(ptr, size, MADV_HUGEPAGE);
    return ptr;
  }

  static void* system_alloc(size_t size) {
    if (size >= kMapped) return map(size);
    void* ptr = nullptr;
    return posix_memalign(&ptr, kAlign, size) == 0 ? ptr : nullptr;
  }

  void* fresh(size_t size) {
    void* ptr = system_alloc(size);
    if (ptr == nullptr) {
      release_all();  // the cache may be what stands in the way
      ptr = system_alloc(size);
      TORCH_CHECK(ptr != nullptr, "CPU out of memory: tried to allocate ", size, " bytes (", size >> 20, " MB)");
    }
    return ptr;
  }

  std::mutex mu_;
  std::unordered_map<size_t, SizeClass> classes_;
  std::unordered_map<void*, size_t> live_;
  int64_t cap_;
  int64_t cached_ = 0, allocated_ = 0, hits_ = 0, misses_ = 0, last_trim_ms_ = 0;
};

bool g_installed = false;

}  // namespace

size_t size_class(size_t n) {
  if (n <= 256) return (n + 63) / 64 * 64;
  if (n >= (size_t{64} << 20)) return (n + kHuge - 1) / kHuge * kHuge;
  // Four classes per power of two: at most 25% of a block unused.
  size_t base = 1;
  while (base * 2 < n) base *= 2;
  const size_t step = base / 4;
  return (n + step - 1) / step * step;
}

void install() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* choice = std::getenv("NOISYNN_CPU_ALLOCATOR");
    if (choice != nullptr && std::string(choice) == "system") return;
    c10::SetCPUAllocator(&CachingAllocator::instance(), /*priority=*/1);
    g_installed = c10::GetCPUAllocator() == &CachingAllocator::instance();
  });
}

Stats stats() {
  Stats s = CachingAllocator::instance().stats();
  s.installed = g_installed;
  return s;
}

void release_cached() { CachingAllocator::instance().release_all(); }

}  // namespace cpu_memory
}  // namespace noisynn

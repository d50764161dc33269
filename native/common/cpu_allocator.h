// A caching CPU allocator for libtorch (c10::SetCPUAllocator): freed blocks are kept by size class
// and handed out again, so the activations of every training step reuse memory that is already
// mapped and faulted in, instead of glibc mapping (and the kernel zeroing) fresh pages each time.
// Blocks of 1 MB or more are the allocator's own mappings (mmap), unmapped when it gives them back,
// so the memory leaves the process rather than staying in glibc's heaps; those of 2 MB or more are
// 2 MB aligned and advised as transparent huge pages. The cache is bounded and gives memory back
// when it is over its cap or idle.
#pragma once

#include <cstddef>
#include <cstdint>

namespace noisynn {
namespace cpu_memory {

struct Stats {
  int64_t allocated_bytes = 0;  // in tensors now (rounded to size classes)
  int64_t cached_bytes = 0;     // free blocks kept for reuse
  int64_t cap_bytes = 0;        // the most the cache keeps
  int64_t hits = 0;             // allocations served from the cache
  int64_t misses = 0;           // allocations that went to the system
  bool installed = false;       // whether libtorch uses this allocator
};

// Makes the caching allocator libtorch's CPU allocator, once per process, unless
// NOISYNN_CPU_ALLOCATOR=system. The cap is NOISYNN_CPU_CACHE_MB (default: 1/8 of physical memory,
// at most 4 GB). Tensors made before keep their own allocator's deleter, so this is safe at any time.
void install();

Stats stats();

// Frees every cached block now (what `emptyCache()` does in JS).
void release_cached();

// The size a request is rounded up to (exposed for tests).
size_t size_class(size_t n);

}  // namespace cpu_memory
}  // namespace noisynn

// The process-wide runtime defaults shared by the addon and the native programs: threads, and the
// caching CPU allocator (common/cpu_allocator.h).
#pragma once

#include <ATen/Parallel.h>

#include "common/cpu_allocator.h"

#include <cstdlib>
#include <thread>

namespace noisynn {

// libtorch defaults to the physical-core count it detects, which is 1 on some VMs; use every
// core the OS gives us unless the user chose (OMP_NUM_THREADS).
inline void use_all_cores_by_default() {
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
  const int n = static_cast<int>(std::thread::hardware_concurrency());
  if (n > at::get_num_threads()) at::set_num_threads(n);
}

// Every core, and libtorch's CPU tensors from the caching allocator: what the addon and the native
// tests and benchmarks all run with, so their figures compare.
inline void apply_runtime_defaults() {
  use_all_cores_by_default();
  cpu_memory::install();
}

}  // namespace noisynn

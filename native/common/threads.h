// The process-wide runtime defaults shared by the addon and the native programs: threads, and the
// caching CPU allocator (common/cpu_allocator.h).
#pragma once

#include <ATen/Parallel.h>

#include "common/cpu_allocator.h"

#include <cstdlib>
#if defined(_OPENMP)
#include <omp.h>
#endif
#include <thread>

namespace noisynn {

// libtorch defaults to the physical-core count it detects, which is 1 on some VMs; use every
// core the OS gives us unless the user chose (OMP_NUM_THREADS).
inline void use_all_cores_by_default() {
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
  const int n = static_cast<int>(std::thread::hardware_concurrency());
  if (n > at::get_num_threads()) at::set_num_threads(n);
}

// The calling thread's intra-op team size: how many threads libtorch's CPU ops and our kernels
// use for work this thread starts. OpenMP keeps the team size per thread (its nthreads ICV), so
// several threads can each run a model on its own share of the cores: on 2 cores, two trainers of
// one thread each trained the mini ViT at batch 64 in 38-46 ms a step apiece, where one trainer of
// two threads took 53-55 ms (each parallel region's wake-up costs more than it splits). ATen sets
// a thread's team size from its process-wide count the first time the thread asks (once in the
// addon's copy of the inline lazy init, once in libtorch's), so both are run first. A no-op when
// libtorch does not parallelize with OpenMP (its thread pool's size is process-wide).
inline void set_this_thread_intra_op_threads(int n) {
  at::internal::lazy_init_num_threads();
  (void)at::get_num_threads();
#if defined(_OPENMP)
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

// Every core, and libtorch's CPU tensors from the caching allocator: what the addon and the native
// tests and benchmarks all run with, so their figures compare.
inline void apply_runtime_defaults() {
  use_all_cores_by_default();
  cpu_memory::install();
}

}  // namespace noisynn

// CPU thread default shared by the addon and the native programs.
#pragma once

#include <ATen/Parallel.h>

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

}  // namespace noisynn

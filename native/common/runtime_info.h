// What this process runs on: libtorch, CUDA, threads, the BLAS it loaded, the CPU kernel path.
//
// The one file in common/ that reads the other areas (ops/ for its CUDA build and kernel
// facts): it reports on all of them. napi/ converts the struct for info().
#pragma once

#include <string>
#include <vector>

namespace noisynn {

struct RuntimeInfo {
  std::string libtorch_version;
  bool cuda = false;        // a CUDA device is usable now
  bool cuda_built = false;  // this build carries the CUDA kernels
  std::vector<std::string> cuda_devices;
  int threads = 1;  // libtorch's intra-op threads
  std::string blas;
  std::string parallel;     // at::get_parallel_info()
  std::string cpu_kernels;  // the Philox path: "avx512" | "avx2" | "portable"
  bool cpu_kernels_parallel = true;
};

RuntimeInfo runtime_info();

// Which BLAS the process actually loaded, with its path, e.g. "OpenBLAS (/usr/lib/...)".
std::string loaded_blas();

}  // namespace noisynn

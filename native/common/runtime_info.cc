// The runtime report of common/runtime_info.h.
#include "common/runtime_info.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <fstream>

#include "common/philox_cpu.h"
#include "ops/noise.h"
#include "ops/noise_impl.h"

namespace noisynn {

// The build-time config cannot tell: Debian's libblas.so.3 is an alternative that may point at
// reference BLAS or OpenBLAS, so read what is mapped.
std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    auto pos = line.find('/');
    if (pos == std::string::npos) continue;
    std::string path = line.substr(pos);
    if (path.find("openblas") != std::string::npos) return "OpenBLAS (" + path + ")";
    if (path.find("libmkl") != std::string::npos) return "MKL (" + path + ")";
    if (path.find("libblis") != std::string::npos) return "BLIS (" + path + ")";
    if (path.find("libblas.so") != std::string::npos && found.empty()) found = "reference BLAS (" + path + ")";
  }
  if (!found.empty()) return found;
  // PyTorch's x86-64 wheels link MKL statically into libtorch_cpu: nothing to see in the maps.
  if (at::hasMKL()) return "MKL (linked into libtorch)";
  return "unknown (no BLAS library mapped)";
}

RuntimeInfo runtime_info() {
  RuntimeInfo r;
  r.libtorch_version = TORCH_VERSION;
  r.cuda = torch::cuda::is_available();
  r.cuda_built = built_with_cuda();
  if (r.cuda) r.cuda_devices = cuda_device_names();
  r.threads = at::get_num_threads();
  r.blas = loaded_blas();
  r.parallel = at::get_parallel_info();
  r.cpu_kernels = rng::philox_cpu_path();
  r.cpu_kernels_parallel = impl::cpu_kernels_parallel();
  return r;
}

}  // namespace noisynn

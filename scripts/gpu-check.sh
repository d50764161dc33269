#!/usr/bin/env bash
# GPU check without Node: on a machine with an NVIDIA GPU and a CUDA PyTorch (no network
# needed), build the native tests and benchmark against PyTorch's libtorch, check the kernels'
# PTX, run the CUDA checks (CUDA vs CPU kernels for every dtype and geometry, CUDA training
# steps vs CPU ones, bf16 autocast, dropout replay) and the CUDA benchmark, and print the ratios.
#
#   bash scripts/gpu-check.sh                 on the GPU machine (about 5 minutes)
#   bash scripts/gpu-check.sh --build-only    anywhere: the same configure and build, the PTX check and
#                                             the CPU half of the tests (what CI and a GPU-less machine can do)
#
# PYTHON (default python3) is the Python whose torch is used, e.g. PYTHON=.torch/venv/bin/python.
# Its libtorch's CUDA toolkit is found as in the normal build (CUDA_HOME, the nvidia wheels next to
# torch, nvcc on PATH, /usr/local/cuda). Output: build-gpu/, log in build-gpu.log.
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0
[ "${1:-}" = "--build-only" ] && build_only=1
python=${PYTHON:-python3}

prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'
arch_args=()
if [ "$build_only" = 0 ]; then
  "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' ||
    { echo "gpu-check: this PyTorch sees no CUDA device; the CUDA checks would all skip (--build-only builds anyway)" >&2; exit 1; }
  arch=$("$python" -c 'import torch; m, n = torch.cuda.get_device_capability(0); print(f"{m}{n}")')
  arch_args=(-DNOISYNN_CUDA_ARCHITECTURES="$arch" -DTORCH_CUDA_ARCH_LIST="${arch:0:1}.${arch:1}")
fi
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

cmake -S . -B build-gpu "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" "${arch_args[@]}" \
  >build-gpu.log 2>&1 || { tail -n 40 build-gpu.log; exit 1; }
grep -E "noisynn:" build-gpu.log || true
grep -q "noisynn: CUDA kernels ON" build-gpu.log || { echo "gpu-check: this libtorch has no CUDA" >&2; exit 1; }
cmake --build build-gpu --parallel "$(nproc)" >>build-gpu.log 2>&1 || { tail -n 60 build-gpu.log; exit 1; }
nvcc=$(sed -n 's/^CMAKE_CUDA_COMPILER:[A-Z]*=//p' build-gpu/CMakeCache.txt)
bash scripts/check-cuda.sh "$nvcc"

echo "== native tests (CPU and CUDA)"
./build-gpu/noisynn_native_tests
[ "$build_only" = 1 ] && { echo "gpu-check: built and checked (no GPU run)"; exit 0; }
echo "== benchmark: this machine's CPU (a few seconds, CPU figures on a server CPU), then CUDA"
OMP_WAIT_POLICY=PASSIVE ./build-gpu/noisynn_native_bench all

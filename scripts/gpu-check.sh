#!/usr/bin/env bash
# GPU check without Node: on a machine with an NVIDIA GPU and a CUDA PyTorch for python3 (no
# network needed), build the native tests and benchmark against PyTorch's libtorch, run the
# CUDA checks (CUDA vs CPU kernel, every dtype) and the CUDA benchmark, and print the ratios.
# Run from the repository root: bash scripts/gpu-check.sh   (about 3-6 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'
python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' ||
  { echo "gpu-check: this PyTorch sees no CUDA device; the CUDA checks would all skip" >&2; exit 1; }
arch=$(python3 -c 'import torch; m, n = torch.cuda.get_device_capability(0); print(f"{m}{n}")')
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

cmake -S . -B build-gpu "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DTORCH_CUDA_ARCH_LIST="${arch:0:1}.${arch:1}" >build-gpu.log 2>&1 || { tail -n 40 build-gpu.log; exit 1; }
grep -E "noisynn:" build-gpu.log || true
cmake --build build-gpu --parallel "$(nproc)" >>build-gpu.log 2>&1 || { tail -n 60 build-gpu.log; exit 1; }

echo "== native tests (CPU and CUDA)"
./build-gpu/noisynn_native_tests
echo "== benchmark: this machine's CPU (a few seconds, CPU figures on a server CPU), then CUDA"
OMP_WAIT_POLICY=PASSIVE ./build-gpu/noisynn_native_bench all

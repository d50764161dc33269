#!/usr/bin/env bash
# Compile-checks the CUDA kernels with the flags both builds use and inspects their PTX: no
# approximate division or square root and no contracted FMA anywhere in the noise kernels, so the
# Box-Muller arithmetic shared with the CPU (common/philox.h) rounds as the CPU build rounds it.
# Needs only nvcc (no GPU): bash scripts/check-cuda.sh [path/to/nvcc]
set -euo pipefail
cd "$(dirname "$0")/.."
nvcc=${1:-$(command -v nvcc || true)}
if [ -z "$nvcc" ]; then
  echo "check-cuda: no nvcc (pass its path, or put it on PATH)" >&2
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The math flags both builds use (CMakeLists.txt, scripts/torch-config.js), one list. No Node
# needed: this runs on GPU machines that have only PyTorch and nvcc.
read -r -a math <native/ops/nvcc_math_flags.txt
status=0
cuda_sources=$(awk '/^\[/{s=$0; next} s=="[cuda]" && /\.cu$/' native/sources.txt)
for cu in $cuda_sources; do
  name=$(basename "$cu" .cu)
  for arch in 80 90; do
    "$nvcc" -std=c++17 -O3 "${math[@]}" -Inative -arch="compute_$arch" -ptx "$cu" -o "$out/$name.$arch.ptx"
    "$nvcc" -std=c++17 -O3 "${math[@]}" -Inative -gencode "arch=compute_$arch,code=sm_$arch" -c "$cu" -o "$out/$name.$arch.o"
    bad=$(grep -E -c '(div|sqrt|rcp|rsqrt)\.approx|\bfma\.rn\.f32|\bfma\.rn\.f64|\.ftz\.' "$out/$name.$arch.ptx" || true)
    kernels=$(grep -c '^\.visible \.entry\|^\.entry\|\.entry ' "$out/$name.$arch.ptx" || true)
    if [ "$bad" != 0 ]; then
      echo "check-cuda: $cu sm_$arch: $bad approximate or contracted instructions:" >&2
      grep -n -E '(div|sqrt|rcp|rsqrt)\.approx|\bfma\.rn\.f32|\bfma\.rn\.f64|\.ftz\.' "$out/$name.$arch.ptx" | head -n 10 >&2
      status=1
    else
      echo "check-cuda: $cu sm_$arch: $kernels kernels, PTX free of approximate and contracted math"
    fi
  done
done
exit "$status"

#!/usr/bin/env bash
# One-step set-up on Debian 12 + Node 20: installs what the machine lacks, then builds the addon
# and the TypeScript. Idempotent, and quick when everything is already there.
#
#   bash scripts/setup.sh                       Debian's libtorch-dev 1.13 (CPU), the default
#   NOISYNN_TORCH=pip bash scripts/setup.sh     PyTorch 2.15 from PyPI (a CUDA 13 build) in .torch/venv,
#                                               with torchvision, timm, safetensors and torch's nvcc
#   LIBTORCH=/path bash scripts/setup.sh        any other libtorch or PyTorch install
#
# NOISYNN_NATIVE_TESTS=1 also builds the Node-free native test program into build/ (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=${NOISYNN_TORCH:-debian}
case "$flavour" in
  debian | pip) ;;
  *) echo "setup: NOISYNN_TORCH must be 'debian' (default) or 'pip', not '$flavour'" >&2; exit 2 ;;
esac
[ -n "${LIBTORCH:-}" ] && [ "$flavour" = pip ] && { echo "setup: set LIBTORCH or NOISYNN_TORCH=pip, not both" >&2; exit 2; }

# libgloo-dev: the headers c10d's ProcessGroupGloo.hpp includes (data-parallel training), for both
# flavours (PyTorch's wheels do not ship them).
packages=(libopenblas0-openmp dataset-fashion-mnist cmake g++ make ninja-build zlib1g-dev libgloo-dev)
if [ "$flavour" = debian ] && [ -z "${LIBTORCH:-}" ]; then packages+=(libtorch-dev); fi
if [ "$flavour" = pip ]; then packages+=(python3-venv); fi
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies; --ignore-scripts: the addon is built below with cmake-js, not by the
# install-time fallback (which would compile everything a second time).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund >/dev/null
fi

if [ "$flavour" = pip ]; then
  # PyTorch from PyPI in a virtualenv kept in a cache folder outside the clone (so CI and later
  # clones reuse it), linked as .torch/venv. pip's own cache serves the wheels when it has them.
  torch_spec=${NOISYNN_TORCH_VERSION:-2.15.*}
  cache=${NOISYNN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/noisynn}
  venv="$cache/venv-torch-$(printf %s "$torch_spec" | tr -cd '0-9.' | sed 's/\.*$//')"
  python=${NOISYNN_PYTHON:-python3}
  stamp="$venv/.noisynn-ready"
  want="torch==$torch_spec torchvision timm==1.0.31 safetensors"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: PyTorch $torch_spec from PyPI into $venv (a few minutes the first time)"
    mkdir -p "$cache"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install -q --disable-pip-version-check $want
    # An nvcc of exactly the CUDA that torch was built with (cuda-toolkit pins every component).
    toolkit=$("$venv/bin/python" -c 'import importlib.metadata as m, torch
print(m.version("cuda-toolkit") if torch.version.cuda else "")' 2>/dev/null || true)
    if [ -n "$toolkit" ]; then
      "$venv/bin/python" -m pip install -q --disable-pip-version-check "cuda-toolkit[nvcc,cuobjdump,crt,nvvm]==$toolkit"
    fi
    echo "$want" >"$stamp"
  fi
  mkdir -p .torch
  ln -sfn "$venv" .torch/venv
  # The real path: the addon's RUNPATH must not follow .torch/venv if it is re-linked later.
  LIBTORCH=$(.torch/venv/bin/python -c 'import os, torch; print(os.path.realpath(os.path.dirname(torch.__file__)))')
  export LIBTORCH
fi

# The addon (incremental: ninja rebuilds only what changed) and the TypeScript. build/ holds one
# libtorch's build: switching libtorch starts it afresh.
torch_id="${LIBTORCH:-debian}"
if [ -f build/.noisynn-libtorch ] && [ "$(cat build/.noisynn-libtorch)" != "$torch_id" ]; then rm -rf build; fi
jobs=$(nproc 2>/dev/null || echo 2)
log=${TMPDIR:-/tmp}/noisynn-build-$(id -u)-$(printf %s "$PWD" | cksum | cut -d' ' -f1).log
build_failed() {
  tail -n 60 "$log"
  echo "setup: native build failed (full log: $log)" >&2
  exit 1
}
# `build`, not `compile`: compile answers a failed build with a clean full rebuild (many minutes).
npx cmake-js build --out build --parallel "$jobs" >"$log" 2>&1 || build_failed
if [ "${NOISYNN_NATIVE_TESTS:-0}" = 1 ]; then
  # The same build tree (cmake-js configured it) also builds the native tests for ctest.
  { cmake -DNOISYNN_BUILD_TESTS=ON build && cmake --build build --parallel "$jobs"; } >>"$log" 2>&1 || build_failed
fi
echo "$torch_id" >build/.noisynn-libtorch
# dist/ afresh: a module that became a folder (models.ts -> models/) would leave its old .js shadowing it.
rm -rf dist
npx tsc -p tsconfig.json
echo "setup: ready ($(node -e "const i=require('./dist').info(); console.log('libtorch ' + i.libtorchVersion + ', ' + i.blas.split(' ')[0] + ', ' + i.threads + ' threads' + (i.cudaBuilt ? ', CUDA kernels built' : '') + (i.cuda ? ', CUDA device' : ', CPU only'))"))"

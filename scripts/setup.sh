#!/usr/bin/env bash
# One-step set-up on Debian 12 + Node 20: installs what the machine lacks (libtorch, OpenBLAS,
# Fashion-MNIST, build tools, npm dependencies), then builds the addon and the TypeScript.
# Idempotent, and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libtorch-dev libopenblas0-openmp dataset-fashion-mnist cmake g++ make ninja-build zlib1g-dev)
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
# node-gyp-build install fallback (which would compile everything a second time).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund >/dev/null
fi

# The addon (incremental: ninja rebuilds only what changed) and the TypeScript.
jobs=$(nproc 2>/dev/null || echo 2)
npx cmake-js compile --out build --parallel "$jobs" >/tmp/noisynn-build.log 2>&1 || {
  tail -n 60 /tmp/noisynn-build.log
  echo "setup: native build failed (full log: /tmp/noisynn-build.log)" >&2
  exit 1
}
npx tsc -p tsconfig.json
echo "setup: ready ($(node -e "const i=require('./dist').info(); console.log('libtorch ' + i.libtorchVersion + ', ' + i.blas.split(' ')[0] + ', ' + i.threads + ' threads' + (i.cuda ? ', CUDA' : ', CPU only'))"))"

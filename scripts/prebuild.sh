#!/usr/bin/env bash
# Builds the prebuilt binaries of this platform, one per libtorch flavour, into
# prebuilds/<platform>-<arch>/ with prebuildify (node-gyp, binding.gyp), plus the manifest
# flavours.json that the loader (lib/native-loader.ts) matches against the libtorch it finds, and
# the dependency-free preload shim (native/preload).
#
#   bash scripts/prebuild.sh [--check] [debian] [pip]     (default: both flavours)
#
#   debian   Debian's libtorch-dev 1.13, CPU (apt-get install libtorch-dev)
#   pip      PyTorch 2.15 from PyPI, CUDA 13 (NOISYNN_TORCH=pip bash scripts/setup.sh makes .torch/venv)
#
# It builds in a scratch copy of the committed tree, so build/ is left alone. --check then packs
# the package, installs the tarball into an empty folder with no compiler on PATH, and there runs
# info() and one training step with each flavour.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
check=0
flavours=()
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    debian | pip) flavours+=("$arg") ;;
    *) echo "prebuild: unknown argument '$arg' (expected --check, debian, pip)" >&2; exit 2 ;;
  esac
done
((${#flavours[@]})) || flavours=(debian pip)

platform=$(node -p '`${process.platform}-${process.arch}`')
out="prebuilds/$platform"
nodedir=${npm_config_nodedir:-$(npm config get nodedir)}
# The node-gyp npm carries (what prebuildify runs too); npm sets npm_config_node_gyp for scripts.
node_gyp=${npm_config_node_gyp:-$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$scratch"
ln -s "$root/node_modules" "$scratch/node_modules"
mkdir -p "$out/preload"

torch_of() { # flavour -> LIBTORCH value ('' for the system libtorch)
  case "$1" in
    debian)
      [ -e /usr/include/torch/csrc/api/include/torch/torch.h ] || { echo "prebuild: the debian flavour needs libtorch-dev (apt-get install libtorch-dev)" >&2; exit 1; }
      echo "" ;;
    pip)
      [ -x .torch/venv/bin/python ] || { echo "prebuild: the pip flavour needs .torch/venv: run NOISYNN_TORCH=pip bash scripts/setup.sh first" >&2; exit 1; }
      .torch/venv/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))' ;;
  esac
}

entries=()
for flavour in "${flavours[@]}"; do
  libtorch=$(torch_of "$flavour")
  desc=$(LIBTORCH="$libtorch" node scripts/torch-config.js describe)
  torch=$(node -p "JSON.parse(process.argv[1]).version.split('.').slice(0, 2).join('.')" "$desc")
  cuda=$(node -p "const c = JSON.parse(process.argv[1]).cuda; c ? c.split('.')[0] : ''" "$desc")
  variant=cpu
  [ -n "$cuda" ] && variant="cuda$cuda"
  file="noisynn-native.libtorch-$torch-$variant.node"
  echo "prebuild: $flavour flavour: libtorch $torch${cuda:+ with CUDA $cuda} -> $out/$file"
  rm -rf "$scratch/build" "$scratch/prebuilds"
  # N-API: one build serves every Node version; build it against the headers of the Node here
  # (npm_config_nodedir, as npm is set up on Debian), so nothing is downloaded.
  (cd "$scratch" && LIBTORCH="$libtorch" JOBS="$(nproc)" npm_config_nodedir="$nodedir" \
    npx prebuildify --napi --strip --target "node@$(node -p process.versions.node)")
  cp "$scratch/prebuilds/$platform/"*.node "$out/$file"
  # The libtorch and CUDA libraries it needs, preloaded by path when they are not the system's.
  needed=$(readelf -d "$out/$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -E '^lib(torch|c10|cudart|gomp)' | tr '\n' ' ')
  system=false
  install="pip install 'torch==$torch.*' for python3, or set LIBTORCH to a PyTorch $torch install's torch/ folder"
  if [ -z "$libtorch" ]; then
    system=true
    install="sudo apt-get install libtorch$torch libopenblas0-openmp"
  fi
  entries+=("$(node -p "JSON.stringify({file: process.argv[1], torch: process.argv[2], cuda: process.argv[3] || null, system: process.argv[4] === 'true', needed: process.argv[5].split(' ').filter(Boolean), install: process.argv[6]})" \
    "$file" "$torch" "$cuda" "$system" "$needed" "$install")")
done

# The manifest: this run's flavours, plus those of earlier runs whose files are still here.
node -e "
  const fs = require('fs');
  const file = process.argv[1] + '/flavours.json';
  const fresh = process.argv.slice(2).map((e) => JSON.parse(e));
  const old = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : [];
  const kept = old.filter((o) => !fresh.some((f) => f.file === o.file) && fs.existsSync(process.argv[1] + '/' + o.file));
  fs.writeFileSync(file, JSON.stringify([...fresh, ...kept], null, 2) + '\n');
" "$out" "${entries[@]}"

# The preload shim: Node-API only, no libtorch.
(cd "$scratch/native/preload" && npm_config_nodedir="$nodedir" node "$node_gyp" rebuild --release >/dev/null)
cp "$scratch/native/preload/build/Release/noisynn_preload.node" "$out/preload/noisynn-preload.node"
strip --strip-all "$out/preload/noisynn-preload.node"
echo "prebuild: $(find "$out" -name '*.node' | sort | tr '\n' ' ')"

if [ "$check" = 1 ]; then
  npx tsc -p tsconfig.json
  tarball=$(npm pack --silent | tail -n 1)
  app=$(mktemp -d)
  # No compiler may be used, at install or at run time: PATH holds node, npm and sh only.
  nodebin=$(mktemp -d)
  trap 'rm -rf "$scratch" "$app" "$nodebin" "$root/$tarball"' EXIT
  for tool in node npm npx sh; do ln -s "$(command -v "$tool")" "$nodebin/$tool"; done
  (cd "$app" && npm init -y >/dev/null && PATH="$nodebin" npm install --no-audit --no-fund "$root/$tarball")
  for flavour in "${flavours[@]}"; do
    libtorch=$(torch_of "$flavour")
    (cd "$app" && env -u LIBTORCH ${libtorch:+LIBTORCH=$libtorch} NOISYNN_PYTHON=/nonexistent PATH="$nodebin" node -e "
      const nn = require('noisynn-native');
      const i = nn.info();
      const model = nn.NoisyViT.create({ imageSize: 8, patchSize: 4, inChannels: 1, numClasses: 3, embedDim: 8, depth: 1, numHeads: 2, initSeed: 1 });
      const trainer = new nn.Trainer(model, { seed: 1 });
      const images = nn.Tensor.fromTypedArray(new Float32Array(4 * 64).map((_, k) => Math.sin(k)), [4, 1, 8, 8]);
      const labels = nn.Tensor.fromTypedArray(new Int32Array([0, 1, 2, 0]), [4], { dtype: 'int64' });
      trainer.step({ images, labels }).then((r) => {
        if (!Number.isFinite(r.loss)) throw new Error('the training step gave loss ' + r.loss);
        console.log('prebuild: $flavour flavour from the tarball: libtorch ' + i.libtorchVersion + (i.cudaBuilt ? ' (CUDA kernels built, ' + (i.cuda ? 'a GPU' : 'no GPU') + ')' : ' (CPU)') + ', one training step, loss ' + r.loss.toFixed(4));
      });
    ")
  done
fi

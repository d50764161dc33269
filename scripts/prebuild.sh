#!/usr/bin/env bash
# Builds the prebuilt binary for this platform (prebuildify, via node-gyp and binding.gyp) into
# prebuilds/<platform>-<arch>/. It builds in a scratch copy of the committed tree, so the
# cmake-js build in build/ is left alone. Then, with --check, packs the package and installs the
# tarball into an empty folder, where it must load and run info() without compiling anything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

git ls-files -z | xargs -0 cp --parents -t "$scratch"
ln -s "$root/node_modules" "$scratch/node_modules"
# N-API: one build serves every Node version; build it against the headers of the Node here
# (npm_config_nodedir, as npm is set up on Debian), so nothing is downloaded.
(cd "$scratch" && JOBS="$(nproc)" npm_config_nodedir="${npm_config_nodedir:-$(npm config get nodedir)}" \
  npx prebuildify --napi --strip --target "node@$(node -p process.versions.node)")
mkdir -p prebuilds
cp -r "$scratch"/prebuilds/* prebuilds/
echo "prebuild: $(find prebuilds -name '*.node' | tr '\n' ' ')"

if [ "${1:-}" = "--check" ]; then
  npx tsc -p tsconfig.json
  tarball=$(npm pack --silent | tail -n 1)
  app=$(mktemp -d)
  (cd "$app" && npm init -y >/dev/null && npm install --no-audit --no-fund "$root/$tarball" >/dev/null)
  # No compiler may be used: hide the toolchain from the install-time fallback.
  (cd "$app" && PATH=/usr/bin/nonexistent:$(dirname "$(command -v node)") node -e "
    const nn = require('noisynn-native');
    const i = nn.info();
    console.log('installed from the tarball: libtorch', i.libtorchVersion, '|', i.blas, '|', i.threads, 'threads');
  ")
  rm -rf "$app" "$tarball"
fi

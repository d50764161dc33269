#!/usr/bin/env node
// npm's install step: keep a prebuilt flavour when one fits this machine's libtorch (nothing is
// compiled), else build from source with node-gyp (node-gyp-build). `--build-from-source` (npm)
// always builds. A package with prebuilds for this platform but no libtorch yet installs, with a
// warning that says which libtorch each prebuild needs; loading then explains the same.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const manifest = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'flavours.json');
const loader = path.join(root, 'dist', 'native-loader.js');

function buildFromSource() {
  const bin = require.resolve('node-gyp-build/bin.js');
  const r = spawnSync(process.execPath, [bin], { cwd: root, stdio: 'inherit' });
  process.exit(r.status === null ? 1 : r.status);
}

if (process.env.npm_config_build_from_source === 'true' || !fs.existsSync(manifest) || !fs.existsSync(loader)) {
  buildFromSource();
} else {
  const { findLibtorch, flavourFits } = require(loader);
  const flavours = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  const installs = findLibtorch();
  const fit = installs.map((i) => ({ i, f: flavours.find((f) => flavourFits(f, i)) })).find((x) => x.f);
  if (fit) {
    console.log(`noisynn-native: using the prebuilt ${fit.f.file} for libtorch ${fit.i.version} at ${fit.i.root}`);
  } else {
    console.warn(
      `noisynn-native: no prebuilt binary fits the libtorch on this machine (found: ${installs.map((i) => `${i.version} at ${i.root}`).join(', ') || 'none'}). ` +
        flavours
          .map((f) => `${f.file} needs libtorch ${f.torch}${f.cuda ? ` with CUDA ${f.cuda}` : ' (CPU)'}: ${f.install}`)
          .join('; ') +
        '. Or build from source: npm rebuild noisynn-native --build-from-source',
    );
  }
}

#!/usr/bin/env node
// Locates libtorch for binding.gyp: Debian's libtorch-dev by default, or $LIBTORCH
// (a libtorch zip or a PyTorch install's cmake prefix, e.g. .../site-packages/torch).
// Usage: node scripts/torch-config.js include|libdirs|libs|cflags|ldflags|cuda
'use strict';
const fs = require('fs');
const path = require('path');

function findRoot() {
  const env = process.env.LIBTORCH;
  if (env) {
    // Accept the libtorch root, or a cmake prefix such as torch/share/cmake.
    let dir = path.resolve(env);
    for (let i = 0; i < 4; i++) {
      if (fs.existsSync(path.join(dir, 'include', 'torch'))) return { root: dir, lib: path.join(dir, 'lib'), system: false };
      dir = path.dirname(dir);
    }
    throw new Error(`LIBTORCH=${env} does not contain include/torch`);
  }
  const multiarch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return { root: '/usr', lib: `/usr/lib/${multiarch}`, system: true };
}

function hasCuda(t) {
  return fs.existsSync(path.join(t.lib, 'libtorch_cuda.so')) || fs.existsSync(path.join(t.lib, 'libc10_cuda.so'));
}

function cxxAbi(t) {
  const candidates = [
    path.join(t.root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'),
    path.join(t.lib, 'cmake', 'Torch', 'TorchConfig.cmake'),
  ];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(fs.readFileSync(file, 'utf8'));
    if (m) return m[1];
  }
  return '1';
}

// at::parallel_for is an inline template that runs in parallel only in code compiled with
// -fopenmp when libtorch uses OpenMP; link the OpenMP runtime libtorch itself loads (PyTorch
// wheels ship their own libgomp next to libtorch_cpu, Debian's libtorch uses the system one).
function openmp(t) {
  const header = path.join(t.root, 'include', 'ATen', 'Config.h');
  if (!fs.existsSync(header) || !/^#define AT_PARALLEL_OPENMP 1/m.test(fs.readFileSync(header, 'utf8'))) return null;
  for (const dir of t.system ? [] : [t.lib, path.join(t.root, '..', 'torch.libs')]) {
    if (!fs.existsSync(dir)) continue;
    const bundled = fs.readdirSync(dir).filter((f) => /^libgomp.*\.so/.test(f)).sort();
    if (bundled.length) return { cflags: ['-fopenmp'], libs: [path.join(dir, bundled[0])] };
  }
  return { cflags: ['-fopenmp'], libs: ['-fopenmp'] };
}

function config(what) {
  const t = findRoot();
  const cuda = hasCuda(t);
  const omp = openmp(t);
  switch (what) {
    case 'include':
      return [path.join(t.root, 'include'), path.join(t.root, 'include', 'torch', 'csrc', 'api', 'include')];
    case 'libdirs':
      return [t.lib];
    case 'libs':
      return ['-ltorch', '-ltorch_cpu', '-lc10']
        .concat(cuda ? ['-ltorch_cuda', '-lc10_cuda', '-lcudart'] : [])
        .concat(omp ? omp.libs : []);
    case 'ldflags':
      return [`-L${t.lib}`].concat(t.system ? [] : [`-Wl,-rpath,${t.lib}`]);
    case 'cflags':
      return [`-D_GLIBCXX_USE_CXX11_ABI=${cxxAbi(t)}`]
        .concat(cuda ? ['-DNOISYNN_WITH_CUDA=1'] : [])
        .concat(omp ? omp.cflags : []);
    case 'cuda':
      return [cuda ? '1' : '0'];
    default:
      throw new Error(`unknown query ${what}`);
  }
}

module.exports = { config };
if (require.main === module) {
  process.stdout.write(config(process.argv[2] || 'include').join(' ') + '\n');
}

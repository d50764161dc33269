#!/usr/bin/env node
// Locates libtorch for binding.gyp: Debian's libtorch-dev by default, or $LIBTORCH
// (a libtorch zip or a PyTorch install's cmake prefix, e.g. .../site-packages/torch).
// Usage: node scripts/torch-config.js include|libdirs|libs|cflags|ldflags|cuda|cuda-include|nvcc|nvcc-flags
// The CUDA toolkit (for nvcc, cuda_runtime_api.h and libcudart) is $CUDA_HOME, else the one
// whose nvcc is on PATH, else /usr/local/cuda; GPU architectures follow $TORCH_CUDA_ARCH_LIST
// ("8.0;9.0+PTX" style, as PyTorch extensions use), by default 8.0 and 9.0 with PTX for both.
'use strict';
const fs = require('fs');
const path = require('path');

function findRoot() {
  const env = process.env.LIBTORCH;
  if (env) {
    // Accept the libtorch root, or a cmake prefix such as torch/share/cmake.
    let dir = path.resolve(env);
    for (let i = 0; i < 4; i++) {
      if (fs.existsSync(path.join(dir, 'include', 'torch')))
        return { root: dir, lib: path.join(dir, 'lib'), system: false };
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

function cudaHome() {
  const isToolkit = (dir) => fs.existsSync(path.join(dir, 'include', 'cuda_runtime_api.h'));
  const candidates = [];
  if (process.env.CUDA_HOME) candidates.push(path.resolve(process.env.CUDA_HOME));
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const nvcc = dir && path.join(dir, 'nvcc');
    if (!nvcc || !fs.existsSync(nvcc)) continue;
    candidates.push(path.dirname(path.dirname(fs.realpathSync(nvcc))));
    // A wrapper script (`exec /usr/local/cuda-13.0/bin/nvcc "$@"`) names the real one.
    const m = /exec\s+(\S+\/bin\/nvcc)\b/.exec(fs.readFileSync(nvcc).subarray(0, 4096).toString('latin1'));
    if (m) candidates.push(path.dirname(path.dirname(m[1])));
  }
  candidates.push('/usr/local/cuda');
  return candidates.find(isToolkit) || candidates[0];
}

// -gencode flags for nvcc from TORCH_CUDA_ARCH_LIST; like CMake's CUDA_ARCHITECTURES "80 90"
// by default (machine code and PTX for each).
function gencode() {
  const list = (process.env.TORCH_CUDA_ARCH_LIST || '8.0+PTX;9.0+PTX').split(/[;\s]+/).filter(Boolean);
  const flags = [];
  for (const item of list) {
    const m = /^(\d+)\.(\d+)(a?)(\+PTX)?$/.exec(item);
    if (!m) throw new Error(`TORCH_CUDA_ARCH_LIST: cannot read '${item}' (expected e.g. 8.0 or 9.0+PTX)`);
    const sm = `${m[1]}${m[2]}${m[3]}`;
    flags.push('-gencode', `arch=compute_${sm},code=sm_${sm}`);
    if (m[4]) flags.push('-gencode', `arch=compute_${sm},code=compute_${sm}`);
  }
  return flags;
}

// at::parallel_for is an inline template that runs in parallel only in code compiled with
// -fopenmp when libtorch uses OpenMP; link the OpenMP runtime libtorch itself loads (PyTorch
// wheels ship their own libgomp next to libtorch_cpu, Debian's libtorch uses the system one).
function openmp(t) {
  const header = path.join(t.root, 'include', 'ATen', 'Config.h');
  if (!fs.existsSync(header) || !/^#define AT_PARALLEL_OPENMP 1/m.test(fs.readFileSync(header, 'utf8'))) return null;
  for (const dir of t.system ? [] : [t.lib, path.join(t.root, '..', 'torch.libs')]) {
    if (!fs.existsSync(dir)) continue;
    const bundled = fs
      .readdirSync(dir)
      .filter((f) => /^libgomp.*\.so/.test(f))
      .sort();
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
      // --no-as-needed, as TorchConfig.cmake links them: nothing may reference libtorch_cuda's
      // symbols directly, yet loading it is what registers the CUDA kernels and device.
      return ['-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu']
        .concat(cuda ? ['-ltorch_cuda'] : [])
        .concat(['-Wl,--as-needed', '-lc10'])
        .concat(cuda ? ['-lc10_cuda', `-L${path.join(cudaHome(), 'lib64')}`, '-lcudart'] : [])
        .concat(omp ? omp.libs : []);
    case 'ldflags':
      return [`-L${t.lib}`].concat(t.system ? [] : [`-Wl,-rpath,${t.lib}`]);
    case 'cflags':
      return [`-D_GLIBCXX_USE_CXX11_ABI=${cxxAbi(t)}`]
        .concat(cuda ? ['-DNOISYNN_WITH_CUDA=1'] : [])
        .concat(omp ? omp.cflags : []);
    case 'cuda':
      return [cuda ? '1' : '0'];
    case 'cuda-include':
      return cuda ? [path.join(cudaHome(), 'include')] : [];
    case 'nvcc':
      return [path.join(cudaHome(), 'bin', 'nvcc')];
    case 'nvcc-flags':
      // The .cu files are ATen-free (only native/ headers and the CUDA toolkit's).
      return [
        '-std=c++17',
        '-O3',
        '--use_fast_math',
        '-Xcompiler',
        '-fPIC',
        `-I${path.resolve(__dirname, '..', 'native')}`,
      ].concat(gencode());
    default:
      throw new Error(`unknown query ${what}`);
  }
}

module.exports = { config };
if (require.main === module) {
  process.stdout.write(config(process.argv[2] || 'include').join(' ') + '\n');
}

#!/usr/bin/env node
// Locates libtorch (and, for a CUDA libtorch, nvcc and the CUDA runtime) for binding.gyp, as
// scripts/torch-prefix.cmake does for CMake: Debian's libtorch-dev by default, or $LIBTORCH (a
// libtorch folder, a PyTorch install's torch/ folder or its cmake prefix).
// Usage: node scripts/torch-config.js include|libs|cflags|ldflags|cuda|cuda-include|nvcc|nvcc-flags|describe
// The CUDA toolkit is $CUDA_HOME, else the pip wheel next to torch (site-packages/nvidia/cu13, from
// `pip install cuda-toolkit[nvcc]`), else the one whose nvcc is on PATH, else /usr/local/cuda. GPU
// architectures follow $TORCH_CUDA_ARCH_LIST ("8.0;9.0+PTX" style, as PyTorch extensions use), by
// default 8.0 and 9.0 with PTX for both.
'use strict';
const fs = require('fs');
const path = require('path');

const MIN_TORCH = [1, 13];

function fail(message) {
  const err = new Error(`torch-config: ${message}`);
  err.torchConfig = true;
  throw err;
}

/** The libtorch version in a root's headers, as [major, minor, patch], or null. */
function headerVersion(root) {
  for (const rel of [
    'include/torch/headeronly/version.h',
    'include/torch/version.h',
    'include/torch/csrc/api/include/torch/version.h',
  ]) {
    const file = path.join(root, rel);
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const get = (name) => Number((new RegExp(`#define TORCH_VERSION_${name} (\\d+)`).exec(text) || [])[1]);
    const v = [get('MAJOR'), get('MINOR'), get('PATCH')];
    if (v.every(Number.isFinite)) return v;
  }
  return null;
}

function findRoot() {
  const env = process.env.LIBTORCH;
  if (!env) {
    const multiarch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
    return { root: '/usr', lib: `/usr/lib/${multiarch}`, system: true, version: headerVersion('/usr') };
  }
  if (!fs.existsSync(env)) {
    fail(
      `LIBTORCH=${env} does not exist; point it at a libtorch folder or a PyTorch install, or unset it for Debian's libtorch-dev`,
    );
  }
  // The libtorch root, or a cmake prefix below it such as torch/share/cmake.
  let dir = path.resolve(env);
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'include', 'torch'))) {
      const version = headerVersion(dir);
      if (version && (version[0] < MIN_TORCH[0] || (version[0] === MIN_TORCH[0] && version[1] < MIN_TORCH[1]))) {
        fail(
          `the libtorch at ${dir} is version ${version.join('.')}, too old: noisynn-native needs libtorch ${MIN_TORCH.join('.')} or newer`,
        );
      }
      return { root: dir, lib: path.join(dir, 'lib'), system: false, version };
    }
    dir = path.dirname(dir);
  }
  fail(
    `LIBTORCH=${env} holds no libtorch (no include/torch in it or its parents); point it at a libtorch folder or a PyTorch install's torch/ folder`,
  );
}

function hasCuda(t) {
  return fs.existsSync(path.join(t.lib, 'libtorch_cuda.so'));
}

/** torch's own CUDA version ('13.2'), from a PyTorch install's version.py, or ''. */
function torchCudaVersion(t) {
  const file = path.join(t.root, 'version.py');
  if (!fs.existsSync(file)) return '';
  const m = /^cuda\s*(?::[^=]*)?=\s*['"](\d+\.\d+)/m.exec(fs.readFileSync(file, 'utf8'));
  return m ? m[1] : '';
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

/**
 * The folder holding nccl.h for a CUDA libtorch: the nvidia-nccl wheel next to torch, else the
 * CUDA toolkit's or the system's. Null when there is none (c10d's NCCL backend is then left out).
 */
function ncclInclude(t, tk) {
  const candidates = [path.join(t.root, '..', 'nvidia', 'nccl', 'include')];
  if (tk) candidates.push(path.join(tk.home, 'include'));
  candidates.push('/usr/include', '/usr/local/cuda/include');
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'nccl.h'))) || null;
}

/** The CUDA toolkit: { home, nvcc, lib (the folder of libcudart), cudart (its file name) }. */
function cudaToolkit(t) {
  const isToolkit = (dir) =>
    fs.existsSync(path.join(dir, 'bin', 'nvcc')) && fs.existsSync(path.join(dir, 'include', 'cuda_runtime_api.h'));
  const candidates = [];
  if (process.env.CUDA_HOME) candidates.push(path.resolve(process.env.CUDA_HOME));
  const wheels = path.join(t.root, '..', 'nvidia');
  if (fs.existsSync(wheels)) {
    for (const d of fs
      .readdirSync(wheels)
      .filter((d) => /^cu\d+$/.test(d))
      .sort())
      candidates.push(path.join(wheels, d));
  }
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const nvcc = dir && path.join(dir, 'nvcc');
    if (!nvcc || !fs.existsSync(nvcc)) continue;
    candidates.push(path.dirname(path.dirname(fs.realpathSync(nvcc))));
    // A wrapper script (`exec /usr/local/cuda-13.0/bin/nvcc "$@"`) names the real one.
    const m = /exec\s+(\S+\/bin\/nvcc)\b/.exec(fs.readFileSync(nvcc).subarray(0, 4096).toString('latin1'));
    if (m) candidates.push(path.dirname(path.dirname(m[1])));
  }
  candidates.push('/usr/local/cuda');
  const home = candidates.find(isToolkit);
  const cuda = torchCudaVersion(t);
  if (!home) {
    const hint = cuda
      ? `pip install 'cuda-toolkit[nvcc]==${cuda}.*' into the Python environment of that torch`
      : 'install the CUDA toolkit libtorch was built with';
    fail(
      `the libtorch at ${t.root} is a CUDA build${cuda ? ` (CUDA ${cuda})` : ''}; compiling the CUDA kernels needs nvcc of the same CUDA major, and none was found (CUDA_HOME, the nvidia wheels next to torch, PATH, /usr/local/cuda). To get one: ${hint}; or set CUDA_HOME to a CUDA toolkit.`,
    );
  }
  let lib = null;
  let cudart = null;
  for (const d of ['lib64', 'lib']) {
    const dir = path.join(home, d);
    if (!fs.existsSync(dir)) continue;
    const files = fs
      .readdirSync(dir)
      .filter((f) => /^libcudart\.so(\.\d+)*$/.test(f))
      .sort((a, b) => a.length - b.length);
    if (files.length) {
      lib = dir;
      cudart = files[0];
      break;
    }
  }
  if (!lib) fail(`no libcudart.so in ${home}/lib64 or ${home}/lib`);
  return { home, nvcc: path.join(home, 'bin', 'nvcc'), lib, cudart };
}

// -gencode flags for nvcc from TORCH_CUDA_ARCH_LIST; like CMake's CUDA_ARCHITECTURES "80 90"
// by default (machine code and PTX for each).
function gencode() {
  const list = (process.env.TORCH_CUDA_ARCH_LIST || '8.0+PTX;9.0+PTX').split(/[;\s]+/).filter(Boolean);
  const flags = [];
  for (const item of list) {
    const m = /^(\d+)\.(\d+)(a?)(\+PTX)?$/.exec(item);
    if (!m) fail(`TORCH_CUDA_ARCH_LIST: cannot read '${item}' (expected e.g. 8.0 or 9.0+PTX)`);
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

// The kernels' numerics: IEEE division and square root and no FMA contraction, so the
// Box-Muller arithmetic rounds exactly as the CPU build (-ffp-contract=off) does.
const NVCC_MATH = fs
  .readFileSync(path.join(__dirname, '..', 'native', 'ops', 'nvcc_math_flags.txt'), 'utf8')
  .trim()
  .split(/\s+/);

function config(what) {
  const t = findRoot();
  const cuda = hasCuda(t);
  const tk = cuda && !['cuda', 'describe'].includes(what) ? cudaToolkit(t) : null;
  const omp = openmp(t);
  switch (what) {
    case 'include':
      return [path.join(t.root, 'include'), path.join(t.root, 'include', 'torch', 'csrc', 'api', 'include')];
    case 'libs':
      // --no-as-needed, as TorchConfig.cmake links them: nothing may reference libtorch_cuda's
      // symbols directly, yet loading it is what registers the CUDA kernels and device.
      return ['-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu']
        .concat(cuda ? ['-ltorch_cuda'] : [])
        .concat(['-Wl,--as-needed', '-lc10'])
        .concat(tk ? ['-lc10_cuda', `-L${tk.lib}`, `-l:${tk.cudart}`] : [])
        .concat(omp ? omp.libs : []);
    case 'ldflags': {
      // RUNPATH to the libtorch (and CUDA runtime) built against: the addon loads with no LD_LIBRARY_PATH.
      const runpath = t.system ? [] : [t.lib].concat(tk ? [tk.lib] : []);
      return [`-L${t.lib}`].concat(runpath.length ? ['-Wl,--enable-new-dtags', `-Wl,-rpath,${runpath.join(':')}`] : []);
    }
    case 'cflags': {
      // c10d's headers (ProcessGroupGloo.hpp, ProcessGroupNCCL.hpp) are guarded by these, as
      // libtorch's CMake targets define them; Gloo's own headers come from Debian's libgloo-dev.
      const nccl = cuda && ncclInclude(t, tk);
      return [`-D_GLIBCXX_USE_CXX11_ABI=${cxxAbi(t)}`, '-DUSE_DISTRIBUTED', '-DUSE_C10D_GLOO']
        .concat(cuda ? ['-DNOISYNN_WITH_CUDA=1'] : [])
        .concat(nccl ? ['-DUSE_C10D_NCCL', '-DNOISYNN_WITH_NCCL=1'] : [])
        .concat(omp ? omp.cflags : []);
    }
    case 'cuda':
      return [cuda ? '1' : '0'];
    case 'cuda-include': {
      const nccl = tk && ncclInclude(t, tk);
      return tk ? [path.join(tk.home, 'include')].concat(nccl ? [nccl] : []) : [];
    }
    case 'nvcc':
      return [tk ? tk.nvcc : 'nvcc'];
    case 'nvcc-flags':
      // The .cu files are ATen-free (only native/ headers and the CUDA toolkit's).
      return [
        '-std=c++17',
        '-O3',
        ...NVCC_MATH,
        '-Xcompiler',
        '-fPIC',
        `-I${path.resolve(__dirname, '..', 'native')}`,
      ].concat(gencode());
    case 'describe':
      return [
        JSON.stringify({
          root: t.root,
          lib: t.lib,
          system: t.system,
          version: t.version && t.version.join('.'),
          cuda: cuda ? torchCudaVersion(t) || 'unknown' : null,
        }),
      ];
    default:
      fail(`unknown query ${what}`);
  }
}

module.exports = { config };
if (require.main === module) {
  try {
    process.stdout.write(config(process.argv[2] || 'include').join(' ') + '\n');
  } catch (err) {
    // gyp shows stderr of a failing <!(...) command: make it the message, not a stack.
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

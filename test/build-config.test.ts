// Bad libtorch choices stop both builds with a message naming the path, the version found and what
// is needed: LIBTORCH pointing at nothing, at a libtorch too old, and at a CUDA libtorch with no
// nvcc anywhere. CMake (CMakeLists.txt, scripts/torch-prefix.cmake) is configured for real in a
// scratch folder; node-gyp's side is scripts/torch-config.js, which binding.gyp runs.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const hasCmake = spawnSync('cmake', ['--version']).status === 0;

/** A fake libtorch folder with a version (headers, cmake config) and optionally a CUDA library. */
function fakeLibtorch(version: string, cuda: string | null): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-fake-torch-'));
  const [major, minor, patch] = version.split('.');
  const header = `#define TORCH_VERSION_MAJOR ${major}\n#define TORCH_VERSION_MINOR ${minor}\n#define TORCH_VERSION_PATCH ${patch}\n`;
  for (const rel of ['include/torch/headeronly', 'include/torch/csrc/api/include/torch', 'share/cmake/Torch', 'lib']) {
    fs.mkdirSync(path.join(dir, rel), { recursive: true });
  }
  fs.writeFileSync(path.join(dir, 'include/torch/headeronly/version.h'), header);
  fs.writeFileSync(path.join(dir, 'include/torch/csrc/api/include/torch/version.h'), header);
  fs.writeFileSync(
    path.join(dir, 'share/cmake/Torch/TorchConfig.cmake'),
    'message(FATAL_ERROR "not a real libtorch")\n',
  );
  fs.writeFileSync(path.join(dir, 'share/cmake/Torch/TorchConfigVersion.cmake'), `set(PACKAGE_VERSION "${version}")\n`);
  fs.writeFileSync(path.join(dir, 'lib/libtorch.so'), '');
  if (cuda) {
    fs.writeFileSync(path.join(dir, 'lib/libtorch_cuda.so'), '');
    fs.writeFileSync(
      path.join(dir, 'version.py'),
      `__version__ = '${version}+cu${cuda.replace('.', '')}'\ncuda: Optional[str] = '${cuda}'\n`,
    );
  }
  return dir;
}

// No nvcc reachable: PATH without a CUDA toolkit, no CUDA_HOME.
function env(libtorch: string): NodeJS.ProcessEnv {
  const { CUDA_HOME: _unused, ...rest } = process.env;
  return { ...rest, LIBTORCH: libtorch, PATH: '/usr/bin:/bin' };
}

function gypConfig(libtorch: string, query = 'include') {
  return spawnSync(process.execPath, [path.join(ROOT, 'scripts/torch-config.js'), query], {
    encoding: 'utf8',
    env: env(libtorch),
  });
}

function cmakeConfigure(libtorch: string) {
  const build = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-cmake-'));
  try {
    return spawnSync('cmake', ['-S', ROOT, '-B', build], { encoding: 'utf8', env: env(libtorch) });
  } finally {
    fs.rmSync(build, { recursive: true, force: true });
  }
}

/** CMake's message text with its line wrapping undone. */
const unwrap = (text: string) => text.replace(/\s+/g, ' ');

describe('LIBTORCH mistakes stop the build with a message that says what to do', () => {
  const cases = [
    {
      name: 'LIBTORCH pointing at nothing',
      libtorch: () => '/nonexistent/libtorch',
      gyp: 'torch-config: LIBTORCH=/nonexistent/libtorch does not exist',
      cmake: 'noisynn: LIBTORCH=/nonexistent/libtorch does not exist.',
    },
    {
      name: 'a libtorch too old (1.12.1)',
      libtorch: () => fakeLibtorch('1.12.1', null),
      gyp: 'is version 1.12.1, too old: noisynn-native needs libtorch 1.13 or newer',
      cmake: 'is version 1.12.1, too old: noisynn-native needs libtorch 1.13 or newer',
    },
    {
      name: 'a CUDA libtorch (2.15, CUDA 13.2) with no nvcc',
      libtorch: () => fakeLibtorch('2.15.0', '13.2'),
      gyp: "is a CUDA build (CUDA 13.2); compiling the CUDA kernels needs nvcc of the same CUDA major, and none was found (CUDA_HOME, the nvidia wheels next to torch, PATH, /usr/local/cuda). To get one: pip install 'cuda-toolkit[nvcc]==13.2.*' into the Python environment of that torch",
      cmake:
        "is a CUDA build (CUDA 13.2); compiling the CUDA kernels needs nvcc of the same CUDA major, and none was found (CUDA_HOME, PATH, /usr/local/cuda, the nvidia wheels next to torch). To get one: pip install 'cuda-toolkit[nvcc]==13.2.*' into the Python environment of that torch",
    },
  ];

  for (const c of cases) {
    test(`node-gyp (scripts/torch-config.js): ${c.name}`, () => {
      const dir = c.libtorch();
      const r = gypConfig(dir);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(c.gyp);
      if (dir.startsWith(os.tmpdir())) expect(r.stderr).toContain(dir);
    });

    (hasCmake ? test : test.skip)(`CMake: ${c.name}`, () => {
      const dir = c.libtorch();
      const r = cmakeConfigure(dir);
      expect(r.status).not.toBe(0);
      expect(unwrap(r.stderr)).toContain(c.cmake);
      if (dir.startsWith(os.tmpdir())) expect(unwrap(r.stderr)).toContain(dir);
    });
  }
});

// npm runs a script named "pre<name>" before "<name>" (and "post<name>" after it): a "prebuild"
// script once turned `npm run build` into a prebuildify run that failed without the pip venv.
describe('package.json scripts', () => {
  it('have no accidental npm pre/post hooks', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const names = Object.keys(pkg.scripts);
    const hooks = names.filter((n) => /^(pre|post)/.test(n) && names.includes(n.replace(/^(pre|post)/, '')));
    expect(hooks).toEqual([]);
  });
});

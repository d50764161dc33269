// Finds the libtorch on this machine and loads the addon built for it: a local build first, else
// the prebuilt flavour that matches the libtorch found, never a mismatched binary.
//
// Prebuilt binaries (scripts/prebuild.sh) sit in prebuilds/<platform>-<arch>/ with a manifest,
// flavours.json, that names the libtorch each one needs ('1.13' CPU from Debian, '2.15' with CUDA
// 13 from PyPI, ...). libtorch is looked for in this order: $LIBTORCH, the PyTorch that python3
// imports, Debian's libtorch. A prebuild for a libtorch outside the system's library path gets that
// libtorch's libraries loaded first, by path, through a dependency-free shim (native/preload), so
// its own references resolve to them by soname.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** A libtorch install found on this machine. */
export interface LibtorchInstall {
  /** How it was found. */
  source: 'LIBTORCH' | 'python3' | 'system';
  /** The libtorch root (include/, lib/); for PyTorch, its torch/ folder. */
  root: string;
  lib: string;
  /** 'major.minor.patch'. */
  version: string;
  /** The CUDA version it was built with ('13.2'), or null for a CPU build. */
  cuda: string | null;
  /** The folder of the CUDA runtime it loads (PyTorch's nvidia wheels), when known. */
  cudaLib: string | null;
}

/** One entry of prebuilds/<platform>-<arch>/flavours.json. */
export interface PrebuildFlavour {
  /** File name of the addon, in the manifest's folder. */
  file: string;
  /** libtorch major.minor it was built against. */
  torch: string;
  /** CUDA major it was built with, or null (CPU only). */
  cuda: string | null;
  /** Built against the system libtorch (Debian): needs no preload. */
  system: boolean;
  /** The addon's NEEDED libraries that belong to libtorch or CUDA (preloaded by path). */
  needed: string[];
  /** How a user gets the libtorch this flavour needs. */
  install: string;
}

const MULTIARCH = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';

function readVersionHeader(root: string): string | null {
  for (const rel of [
    'include/torch/headeronly/version.h',
    'include/torch/version.h',
    'include/torch/csrc/api/include/torch/version.h',
  ]) {
    const file = path.join(root, rel);
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const part = (name: string) => (new RegExp(`#define TORCH_VERSION_${name} (\\d+)`).exec(text) ?? [])[1];
    const [a, b, c] = [part('MAJOR'), part('MINOR'), part('PATCH')];
    if (a !== undefined && b !== undefined) return `${a}.${b}.${c ?? 0}`;
  }
  return null;
}

/** A PyTorch install's torch/version.py: its version and CUDA version. */
function readVersionPy(root: string): { version: string; cuda: string | null } | null {
  const file = path.join(root, 'version.py');
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, 'utf8');
  const version = /^__version__\s*(?::[^=]*)?=\s*['"](\d+\.\d+\.\d+)/m.exec(text)?.[1];
  if (!version) return null;
  const cuda = /^cuda\s*(?::[^=]*)?=\s*['"](\d+\.\d+)/m.exec(text)?.[1] ?? null;
  return { version, cuda };
}

function describeRoot(root: string, source: LibtorchInstall['source']): LibtorchInstall | null {
  let dir = path.resolve(root);
  for (let i = 0; i < 4 && !fs.existsSync(path.join(dir, 'lib', 'libtorch.so')); i++) dir = path.dirname(dir);
  const lib = path.join(dir, 'lib');
  if (!fs.existsSync(path.join(lib, 'libtorch.so'))) return null;
  const py = readVersionPy(dir);
  const version = py?.version ?? readVersionHeader(dir);
  if (!version) return null;
  const hasCuda = fs.existsSync(path.join(lib, 'libtorch_cuda.so'));
  let cudaLib: string | null = null;
  const wheels = path.join(dir, '..', 'nvidia');
  if (hasCuda && fs.existsSync(wheels)) {
    for (const d of fs.readdirSync(wheels).sort()) {
      const candidate = path.join(wheels, d, 'lib');
      if (fs.existsSync(candidate) && fs.readdirSync(candidate).some((f) => f.startsWith('libcudart.so')))
        cudaLib = candidate;
    }
  }
  return { source, root: dir, lib, version, cuda: hasCuda ? (py?.cuda ?? 'unknown') : null, cudaLib };
}

/** The torch/ folder of the PyTorch that python3 would import, without importing it (fast). */
function pythonTorchRoot(): string | null {
  const code =
    'import importlib.util, os\ns = importlib.util.find_spec("torch")\nprint(os.path.dirname(s.origin) if s and s.origin else "")';
  const python = process.env.NOISYNN_PYTHON ?? 'python3';
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
  const out = r.status === 0 ? r.stdout.trim() : '';
  return out || null;
}

/** Every libtorch this machine offers, in the order the loader tries them. */
export function findLibtorch(): LibtorchInstall[] {
  const found: LibtorchInstall[] = [];
  const add = (i: LibtorchInstall | null) => {
    if (i && !found.some((f) => fs.realpathSync(f.lib) === fs.realpathSync(i.lib))) found.push(i);
  };
  if (process.env.LIBTORCH) add(describeRoot(process.env.LIBTORCH, 'LIBTORCH'));
  const py = pythonTorchRoot();
  if (py) add(describeRoot(py, 'python3'));
  // Debian's runtime package (libtorch1.13) installs versioned libraries only; -dev adds headers.
  const sysLib = `/usr/lib/${MULTIARCH}`;
  const sys = fs.existsSync(sysLib)
    ? fs.readdirSync(sysLib).find((f) => /^libtorch\.so\.\d+\.\d+$/.test(f))
    : undefined;
  if (sys) {
    const version = readVersionHeader('/usr') ?? `${sys.slice('libtorch.so.'.length)}.0`;
    add({
      source: 'system',
      root: '/usr',
      lib: sysLib,
      version,
      cuda: fs.existsSync(path.join(sysLib, 'libtorch_cuda.so')) ? 'unknown' : null,
      cudaLib: null,
    });
  }
  return found;
}

const majorMinor = (v: string) => v.split('.').slice(0, 2).join('.');

/** Whether a prebuilt flavour can run on an install (same libtorch minor, same CUDA major or CPU). */
export function flavourFits(f: PrebuildFlavour, i: LibtorchInstall): boolean {
  if (f.torch !== majorMinor(i.version)) return false;
  if (f.system !== (i.source === 'system')) return false;
  if (f.cuda === null) return i.cuda === null;
  return i.cuda !== null && i.cuda.split('.')[0] === f.cuda && i.cudaLib !== null;
}

function describeInstall(i: LibtorchInstall): string {
  return `libtorch ${i.version}${i.cuda ? ` (CUDA ${i.cuda})` : ' (CPU)'} at ${i.root} (${i.source === 'system' ? 'system' : i.source === 'LIBTORCH' ? '$LIBTORCH' : 'python3'})`;
}

/** Loads a flavour: preloads its libtorch libraries by path when they are not the system's. */
function loadFlavour(dir: string, f: PrebuildFlavour, i: LibtorchInstall): unknown {
  if (!f.system) {
    const shim = path.join(dir, 'preload', 'noisynn-preload.node');
    const { preload } = require(shim) as { preload(file: string): boolean };
    for (const name of f.needed) {
      const file = [i.lib, i.cudaLib]
        .filter((d): d is string => d !== null)
        .map((d) => path.join(d, name))
        .find((p) => fs.existsSync(p));
      if (!file)
        throw new Error(`noisynn-native: ${describeInstall(i)} has no ${name}, which the prebuilt ${f.file} needs`);
      preload(file);
    }
  }
  return require(path.join(dir, f.file));
}

/** Which addon file this process loaded, and why (info() reports it). */
export interface LoadedAddon {
  file: string;
  /** 'build': built from source in this package; 'prebuild': a prebuilt flavour. */
  source: 'build' | 'prebuild';
  /** The libtorch a prebuild was matched to. */
  libtorch: LibtorchInstall | null;
}

export let loadedAddon: LoadedAddon | null = null;

/**
 * Loads the addon of the package at `root`: build/Release/noisynn.node when it was built from
 * source, else the prebuilt flavour matching the first libtorch found that one fits.
 * @throws Error naming the libtorch each prebuilt flavour needs and what was found.
 */
export function loadAddon(root: string): unknown {
  const local = path.join(root, 'build', 'Release', 'noisynn.node');
  if (fs.existsSync(local)) {
    const addon: unknown = require(local);
    loadedAddon = { file: local, source: 'build', libtorch: null };
    return addon;
  }
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const manifest = path.join(dir, 'flavours.json');
  if (!fs.existsSync(manifest)) {
    throw new Error(
      `noisynn-native has no native build for ${process.platform}-${process.arch}: build it from source with ` +
        "`npm rebuild noisynn-native --build-from-source` (needs cmake or node-gyp, g++ and a libtorch: Debian's libtorch-dev, or LIBTORCH=<path>)",
    );
  }
  const flavours = JSON.parse(fs.readFileSync(manifest, 'utf8')) as PrebuildFlavour[];
  const installs = findLibtorch();
  for (const install of installs) {
    const fit = flavours.find((f) => flavourFits(f, install));
    if (fit) {
      const addon = loadFlavour(dir, fit, install);
      loadedAddon = { file: path.join(dir, fit.file), source: 'prebuild', libtorch: install };
      return addon;
    }
  }
  const found = installs.length ? installs.map(describeInstall).join('; ') : 'none';
  const needs = flavours
    .map((f) => `${f.file} needs libtorch ${f.torch}${f.cuda ? ` with CUDA ${f.cuda}` : ' (CPU)'}: ${f.install}`)
    .join('; ');
  throw new Error(
    `noisynn-native found no prebuilt binary for the libtorch on this machine (found: ${found}). ${needs}. ` +
      'Or build from source against your libtorch: LIBTORCH=<path> npm rebuild noisynn-native --build-from-source.',
  );
}

// Random folder trees for fuzzing the ImageFolder walk, and the walk's expected result worked out
// from the tree itself (not from the file system): names, symlinks, loops, empty folders.
import * as fs from 'fs';
import * as path from 'path';

/** A file, a folder, or a symlink to a path relative to the tree's root (which may not exist). */
export type Node = { kind: 'file' } | { kind: 'dir'; children: Map<string, Node> } | { kind: 'link'; target: string };

// Names that stress ordering, extensions and encodings: case, dots, spaces, combining marks,
// astral and fullwidth characters (which sort differently by UTF-16 unit and by code point).
const NAMES = [
  'a',
  'B',
  'b',
  'cat',
  'dog',
  'x-1',
  'x.1',
  'x',
  'x y',
  ' lead',
  'trail ',
  '#',
  'nested',
  '2020',
  '2020-01',
  'é',
  'e\u0301',
  '日本',
  '\u{1F431}',
  '\uff01',
  'Ä',
  'ß',
  'z'.repeat(60),
  '.dot',
  '..x',
];
// Images more often than not, so that most trees load and the walk's ordering is what is checked.
const EXTENSIONS = [
  '.jpg',
  '.JPG',
  '.jpeg',
  '.JpEg',
  '.png',
  '.PNG',
  '.jpg',
  '.png',
  '.txt',
  '.jpg.txt',
  '',
  '.gif',
  '.png.',
];

/** A tree of at most `depth` levels below the class folders, from `r` (uniform in [0, 1)). */
export function randomTree(r: () => number, depth = 3): Map<string, Node> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const allPaths: string[] = [];
  const grow = (level: number, prefix: string): Map<string, Node> => {
    const children = new Map<string, Node>();
    // Class folders mostly hold something: 1 to 3 entries at the root, 1 to 5 in a class.
    const n = level === 0 ? 1 + Math.floor(r() * 3) : (level === 1 ? 1 : 0) + Math.floor(r() * 5);
    for (let i = 0; i < n; i++) {
      // At the root, mostly folders (classes); below, files half the time.
      const roll = level === 0 ? 0.5 + 0.5 * r() : r();
      let name = pick(NAMES);
      let node: Node;
      if (roll < 0.5) {
        name += pick(EXTENSIONS);
        node = { kind: 'file' };
      } else if (roll < 0.8 && level < depth) {
        node = { kind: 'dir', children: grow(level + 1, prefix + name + '/') };
      } else if (roll < 0.95) {
        // Filled in below, once every path of the tree is known.
        node = { kind: 'link', target: '' };
      } else {
        node = { kind: 'file' };
      }
      if (children.has(name)) continue;
      children.set(name, node);
      allPaths.push(prefix + name);
    }
    return children;
  };
  const root = grow(0, '');
  const fill = (children: Map<string, Node>): void => {
    for (const node of children.values()) {
      if (node.kind === 'dir') fill(node.children);
      else if (node.kind === 'link')
        node.target = r() < 0.15 || allPaths.length === 0 ? 'missing/' + pick(NAMES) : pick(allPaths);
    }
  };
  fill(root);
  return root;
}

/** Writes the tree under `root` (symlinks relative, so the tree can be moved). */
export function writeTree(root: string, children: Map<string, Node>): void {
  const write = (dir: string, rel: string, nodes: Map<string, Node>): void => {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, node] of nodes) {
      const p = path.join(dir, name);
      if (node.kind === 'file') fs.writeFileSync(p, '');
      else if (node.kind === 'dir') write(p, rel + name + '/', node.children);
      else fs.symlinkSync(path.relative(dir, path.join(root, node.target)) || '.', p);
    }
  };
  write(root, '', children);
}

function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** What ImageFolder should find: its classes and samples (paths relative to root), or its error. */
export function expectedWalk(
  children: Map<string, Node>,
): { classes: string[]; samples: [string, number][] } | { error: string } {
  // Resolves a tree path through links (each at most 40 hops, as the kernel allows) to a node.
  const resolve = (rel: string, hops = 0): { node: Node; real: string } | null => {
    if (hops > 40) return null;
    let nodes: Map<string, Node> = children;
    const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
    let real: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const node = nodes.get(parts[i]);
      if (node === undefined) return null;
      let cur: { node: Node; real: string } = { node, real: [...real, parts[i]].join('/') };
      if (node.kind === 'link') {
        const r = resolve(node.target, hops + 1);
        if (r === null) return null;
        cur = r;
      }
      if (i === parts.length - 1) return cur;
      if (cur.node.kind !== 'dir') return null;
      nodes = cur.node.children;
      real = cur.real.split('/').filter((p) => p !== '');
    }
    return { node: { kind: 'dir', children }, real: '' };
  };
  const isImage = (name: string): boolean => ['.jpg', '.jpeg', '.png'].includes(path.extname(name).toLowerCase());
  const classes = [...children.keys()]
    .filter((name) => !name.startsWith('.') && resolve(name)?.node.kind === 'dir')
    .sort(compareCodePoints);
  if (classes.length === 0) return { error: 'found no class folders' };
  const samples: [string, number][] = [];
  for (let label = 0; label < classes.length; label++) {
    const folders: { dir: string; files: string[] }[] = [];
    const visit = (rel: string, onPath: Set<string>): void => {
      const here = resolve(rel)!;
      if (onPath.has(here.real)) return;
      const inner = new Set(onPath).add(here.real);
      const files: string[] = [];
      const node = here.node as { kind: 'dir'; children: Map<string, Node> };
      for (const name of node.children.keys()) {
        if (name.startsWith('.')) continue;
        const target = resolve(rel + '/' + name);
        if (target === null) continue;
        if (target.node.kind === 'dir') visit(rel + '/' + name, inner);
        else if (isImage(name)) files.push(rel + '/' + name);
      }
      folders.push({ dir: rel, files: files.sort(compareCodePoints) });
    };
    visit(classes[label], new Set());
    folders.sort((a, b) => compareCodePoints(a.dir, b.dir));
    const files = folders.flatMap((f) => f.files);
    if (files.length === 0) return { error: `found no .jpg, .jpeg or .png files in class folder` };
    for (const f of files) samples.push([f, label]);
  }
  return { classes, samples };
}

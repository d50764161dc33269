// Paths the library writes (checkpointDir, saveWeights' file, the CLI's run folders), checked
// before any work starts, so that a bad one fails at once with an Error naming the option and
// the path instead of a bare errno (or a crash) later.
import * as fs from 'fs';
import * as path from 'path';

// Not `instanceof Error`: fs errors may come from another realm (a vm context, a test runner's).
function reason(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}

// Creating (and removing) a file is the only check that holds for every cause: permissions
// (which root ignores), read-only file systems, /proc and /sys.
function probeWritable(dir: string, fail: (why: string) => Error): void {
  const probe = path.join(dir, `.noisynn-write-probe-${process.pid}-${Date.now()}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
  } catch (err) {
    throw fail(reason(err));
  }
  fs.rmSync(probe, { force: true });
}

/**
 * Creates `dir` and its missing parents, one by one. Not `mkdir -p` (fs.mkdir's recursive
 * option): under /proc, where mkdir fails with ENOENT, Node 20's loops forever.
 */
export function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let p = path.resolve(dir); !fs.existsSync(p); p = path.dirname(p)) {
    missing.push(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      fs.mkdirSync(p);
    } catch (err) {
      // Another process (a rank of the same run, a parallel job) made it in the meantime.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(p).isDirectory()) throw err;
    }
  }
}

/**
 * Creates the folder `dir` (and its parents) when missing, and checks that files can be created
 * in it.
 * @param option The option's name in messages, e.g. 'checkpointDir' or '--out'.
 * @throws Error `Cannot write <option> <dir>: <reason>` (a file in the way, no permission, ...).
 */
export function prepareOutputDir(dir: string, option: string): void {
  const fail = (why: string) => new Error(`Cannot write ${option} ${dir}: ${why}`);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch {
    stat = undefined;
  }
  if (stat !== undefined && !stat.isDirectory()) throw fail('it is a file, not a folder');
  if (stat === undefined) {
    try {
      makeFolders(dir);
    } catch (err) {
      throw fail(reason(err));
    }
  }
  probeWritable(dir, fail);
}

/**
 * Checks that the file `file` can be written: it is not a folder, and its folder exists and
 * takes new files (the writers write a temporary file beside it, then rename it).
 * @throws Error `Cannot write <option> <file>: <reason>`, e.g. `its folder /x does not exist`.
 */
export function checkOutputFile(file: string, option: string): void {
  const fail = (why: string) => new Error(`Cannot write ${option} ${file}: ${why}`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw fail('it is a folder');
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw fail(`its folder ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw fail(`${dir} is not a folder`);
  probeWritable(dir, fail);
}

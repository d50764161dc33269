// Run folders: runs/<command>-<timestamp>/ with config.json, metrics.jsonl, checkpoints/,
// curves.svg, report.html and the command's results.
import * as fs from 'fs';
import * as path from 'path';
import { prepareOutputDir } from '../output-paths';
import { UsageError } from './args';
import { MetricsRecord, parseMetrics } from './curves';

/** '2024-05-01T12:30:45' local time -> '20240501-123045'. */
export function timestamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/**
 * The folder of a new run, not yet created: `out` when given (it must not hold a run already,
 * unless resuming), else `runs/<command>-<timestamp>` under `cwd` (with -2, -3... if taken).
 * Commands plan it first and create it ({@link makeRunFolder}) once every option is checked,
 * so that a refused command leaves no empty folder behind.
 * @throws UsageError when `out` is a file, or already holds a run and `resume` is false.
 */
export function planRunFolder(
  command: string,
  options: { out?: string; cwd: string; resume?: boolean; now?: Date },
): string {
  if (options.out !== undefined) {
    const dir = path.resolve(options.cwd, options.out);
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
      throw new UsageError(`--out ${options.out} is a file, not a folder; choose another --out`);
    }
    if (!options.resume && fs.existsSync(path.join(dir, 'config.json'))) {
      throw new UsageError(
        `${dir} already holds a run; continue it with --resume ${options.out}, or choose another --out`,
      );
    }
    return dir;
  }
  const base = path.resolve(options.cwd, 'runs', `${command}-${timestamp(options.now ?? new Date())}`);
  let dir = base;
  for (let i = 2; fs.existsSync(dir); i++) dir = `${base}-${i}`;
  return dir;
}

/**
 * Creates a planned run folder (and its parents).
 * @throws Error `Cannot write --out <dir>: <reason>` when it cannot be created or written.
 */
export function makeRunFolder(dir: string): string {
  prepareOutputDir(dir, '--out');
  return dir;
}

/** {@link planRunFolder}, then {@link makeRunFolder}. */
export function createRunFolder(
  command: string,
  options: { out?: string; cwd: string; resume?: boolean; now?: Date },
): string {
  return makeRunFolder(planRunFolder(command, options));
}

/**
 * The saved options of a run folder to resume (its config.json `options`).
 * @throws UsageError when the folder has no config.json or it was written by another command.
 */
export function readRunOptions(dir: string, command: string): Record<string, unknown> {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file))
    throw new UsageError(`Cannot resume: ${file} not found (is ${dir} a run folder of noisynn ${command}?)`);
  let saved: { command?: string; options?: Record<string, unknown> };
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof saved;
  } catch (err) {
    throw new UsageError(`Cannot resume: ${file} is not valid JSON (${(err as Error).message})`);
  }
  if (saved.command !== command) {
    throw new UsageError(`Cannot resume: ${dir} is a run of noisynn ${saved.command ?? '?'}, not noisynn ${command}`);
  }
  return saved.options ?? {};
}

/**
 * Options about this invocation (how it prints, where it runs, which folder), not the run itself:
 * a run folder does not record them and --resume does not restore them.
 */
export const NOT_SAVED = new Set([
  'resume',
  'out',
  'json',
  'quiet',
  'device',
  'workers',
  'nprocPerNode',
  'nnodes',
  'nodeRank',
  'masterAddr',
  'masterPort',
]);

/**
 * The parsed options of a resumed run: the saved ones fill every option not given again (other
 * than NOT_SAVED); `given` grows by the ones filled.
 */
export function withSavedOptions(
  options: Record<string, unknown>,
  given: Set<string>,
  saved: Record<string, unknown>,
): { options: Record<string, unknown>; given: Set<string> } {
  const merged = { ...options };
  const nowGiven = new Set(given);
  for (const [k, v] of Object.entries(saved)) {
    if (!given.has(k) && !NOT_SAVED.has(k)) {
      merged[k] = v;
      nowGiven.add(k);
    }
  }
  return { options: merged, given: nowGiven };
}

export function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The records of a run's metrics.jsonl; a resumed run's repeated steps keep their last record. */
export function readMetrics(file: string): MetricsRecord[] {
  if (!fs.existsSync(file)) return [];
  const records = parseMetrics(fs.readFileSync(file, 'utf8'));
  const seen = new Map<string, number>();
  const out: MetricsRecord[] = [];
  for (const r of records) {
    const key =
      r.type === 'step' || r.type === 'epoch'
        ? `${r.type}/${r.kind ?? ''}/${r.seed ?? ''}/${r.type === 'step' ? r.step : r.epoch}`
        : null;
    if (key === null) {
      out.push(r);
      continue;
    }
    const at = seen.get(key);
    if (at === undefined) {
      seen.set(key, out.length);
      out.push(r);
    } else {
      out[at] = r;
    }
  }
  return out;
}

/** Paths inside a run folder. */
export function runPaths(dir: string) {
  return {
    dir,
    config: path.join(dir, 'config.json'),
    metrics: path.join(dir, 'metrics.jsonl'),
    checkpoints: path.join(dir, 'checkpoints'),
    curves: path.join(dir, 'curves.svg'),
    report: path.join(dir, 'report.html'),
    results: path.join(dir, 'results.json'),
    table: path.join(dir, 'table.md'),
    weights: path.join(dir, 'model.safetensors'),
  };
}

/** A path for messages: relative to cwd when inside it. */
export function displayPath(p: string, cwd: string): string {
  const rel = path.relative(cwd, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

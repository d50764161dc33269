// Parameter counts of the registered variants for `noisynn models`, counted by the native model
// itself and cached on disk.
//
// Building a variant initialises its weights, which takes seconds for the large ViTs (about 7 s
// and 1.2 GB for vit_large on two cores; all variants together take 15-25 s). The counts depend
// only on the architecture and this package's version, so each is counted once per machine and
// kept in <cache>/parameter-counts.json (the cache folder: $NOISYNN_CACHE_DIR, else
// $XDG_CACHE_HOME/noisynn-native, else ~/.cache/noisynn-native). A cache that cannot be read
// or written is only a slower path.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { info } from '../info';
import { createModel, MODEL_VARIANTS, ModelVariantName } from '../models';

/** The folder `noisynn` caches what it computed in. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NOISYNN_CACHE_DIR) return env.NOISYNN_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'noisynn-native');
}

// A count is valid for one architecture and one package version.
function cacheKey(name: ModelVariantName, version: string): string {
  const v = MODEL_VARIANTS[name];
  return `${version} ${name} ${JSON.stringify({ family: v.family, ...v.config })}`;
}

function readCache(file: string): Record<string, number> {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, number>) : {};
  } catch {
    return {};
  }
}

function writeCache(file: string, counts: Record<string, number>): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, `${JSON.stringify(counts, null, 2)}\n`);
    fs.renameSync(tmp, file);
  } catch {
    // Not cached: the next run counts again.
  }
}

/**
 * The trainable parameters of each named variant (with its own head), in order: from the cache,
 * else by building the model natively (one at a time, freed at once).
 *
 * @param onCounting Called once, before the first variant that has to be built, with how many.
 */
export function parameterCounts(names: readonly ModelVariantName[], onCounting?: (missing: number) => void): number[] {
  const { version } = info();
  const file = path.join(cacheDir(), 'parameter-counts.json');
  const cache = readCache(file);
  const missing = names.filter((n) => typeof cache[cacheKey(n, version)] !== 'number');
  if (missing.length > 0) {
    onCounting?.(missing.length);
    for (const name of missing) {
      const model = createModel(name, { noise: 'none', initSeed: 0 });
      try {
        cache[cacheKey(name, version)] = model.numParameters();
      } finally {
        model.dispose();
      }
    }
    writeCache(file, cache);
  }
  return names.map((n) => cache[cacheKey(n, version)]);
}

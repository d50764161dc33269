// Data-parallel process groups: the `distributed` option (torchrun's launch contract), the one
// group per rendezvous that the trainers of a process share, and the shard a DataLoader takes.
import { binding, NativeProcessGroup } from './binding';
import {
  expectInteger,
  expectKnownKeys,
  expectNonEmptyString,
  expectOneOf,
  expectOptions,
  expectPositiveInteger,
  rangeError,
  typeError,
} from './validate';

export type DistributedBackend = 'gloo' | 'nccl';

/**
 * One rank of a data-parallel group, given explicitly. The same fields torchrun, Slurm or a
 * Kubernetes PyTorchJob put in the environment (see `distributed: 'env'`).
 */
export interface DistributedOptions {
  /** 'gloo' (CPU tensors) or 'nccl' (CUDA tensors). Default: 'nccl' for a model on a GPU, else 'gloo'. */
  backend?: DistributedBackend;
  /** This process's rank, in [0, worldSize). Rank 0 hosts the rendezvous and writes checkpoints. */
  rank: number;
  /** Processes in the group. */
  worldSize: number;
  /** Address of rank 0's host, reachable from every rank (e.g. '10.0.0.1'). */
  masterAddr: string;
  /** Port of the rendezvous on rank 0's host. */
  masterPort: number;
  /**
   * Bounds the rendezvous and every collective: when a rank dies or hangs, the others fail with
   * an error naming it after at most this long (a dead rank is usually noticed at once).
   * Default 300000 (5 minutes).
   */
  timeoutMs?: number;
}

/** `'env'` (torchrun's variables: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) or explicit options. */
export type DistributedOption = 'env' | DistributedOptions;

/** {@link DistributedOptions} with every default filled in. */
export interface ResolvedDistributed {
  readonly backend: DistributedBackend;
  readonly rank: number;
  readonly worldSize: number;
  readonly masterAddr: string;
  readonly masterPort: number;
  readonly timeoutMs: number;
  /** This process's index on its host (LOCAL_RANK; the rank when not set). */
  readonly localRank: number;
}

/** A DataLoader's shard: rank `rank` of `worldSize` takes every worldSize-th sample of each epoch. */
export interface Shard {
  rank: number;
  worldSize: number;
}

export const DEFAULT_TIMEOUT_MS = 300_000;

const KEYS = ['backend', 'rank', 'worldSize', 'masterAddr', 'masterPort', 'timeoutMs'];
const ENV_VARS = ['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'];

function envInteger(name: string, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') {
    throw new RangeError(
      `distributed: 'env' needs the environment variable ${name} (torchrun's launch contract: ${ENV_VARS.join(', ')})`,
    );
  }
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Expected integer between ${min} and ${max} for environment variable ${name} but received '${text}'`,
    );
  }
  return value;
}

/**
 * Validates a `distributed` option and fills its defaults (the backend by `device`).
 * `'env'` reads RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK and NOISYNN_DIST_TIMEOUT_MS.
 * @throws TypeError / RangeError naming the option or the environment variable.
 */
export function resolveDistributed(option: unknown, device: string): ResolvedDistributed {
  let r: Omit<ResolvedDistributed, 'backend' | 'localRank'> & { backend?: DistributedBackend; localRank?: number };
  if (option === 'env') {
    const worldSize = envInteger('WORLD_SIZE', 1, 1 << 20);
    const timeout = process.env.NOISYNN_DIST_TIMEOUT_MS;
    r = {
      rank: envInteger('RANK', 0, worldSize - 1),
      worldSize,
      masterAddr: process.env.MASTER_ADDR ?? '',
      masterPort: envInteger('MASTER_PORT', 1, 65535),
      timeoutMs: timeout === undefined ? DEFAULT_TIMEOUT_MS : envInteger('NOISYNN_DIST_TIMEOUT_MS', 1, 2 ** 31 - 1),
      localRank: process.env.LOCAL_RANK === undefined ? undefined : envInteger('LOCAL_RANK', 0, 1 << 20),
    };
    if (r.masterAddr.trim() === '') {
      throw new RangeError(
        `distributed: 'env' needs the environment variable MASTER_ADDR (torchrun's launch contract: ${ENV_VARS.join(', ')})`,
      );
    }
  } else {
    if (typeof option === 'string' || option === null || typeof option !== 'object' || Array.isArray(option)) {
      throw typeError('distributed', "'env' or an object {rank, worldSize, masterAddr, masterPort}", option);
    }
    const o = expectOptions(option, 'distributed');
    expectKnownKeys(o, 'distributed', KEYS);
    const worldSize = expectPositiveInteger(o.worldSize, 'distributed.worldSize');
    r = {
      backend:
        o.backend === undefined ? undefined : expectOneOf(o.backend, 'distributed.backend', ['gloo', 'nccl'] as const),
      rank: expectInteger(o.rank, 'distributed.rank', 0, worldSize - 1),
      worldSize,
      masterAddr: expectNonEmptyString(o.masterAddr, 'distributed.masterAddr'),
      masterPort: expectInteger(o.masterPort, 'distributed.masterPort', 1, 65535),
      timeoutMs:
        o.timeoutMs === undefined
          ? DEFAULT_TIMEOUT_MS
          : expectInteger(o.timeoutMs, 'distributed.timeoutMs', 1, 2 ** 31 - 1),
    };
  }
  const backend = r.backend ?? (device.startsWith('cuda') ? 'nccl' : 'gloo');
  if (backend === 'nccl' && !binding.builtWithNccl) {
    throw rangeError('distributed.backend', "'gloo' (this build has no NCCL: it needs a CUDA build)", backend);
  }
  return Object.freeze({ ...r, backend, localRank: r.localRank ?? r.rank });
}

// One group per rendezvous: every trainer of this process that names the same one shares it.
const groups = new Map<string, Promise<NativeProcessGroup>>();
let current: { key: string; shard: Shard } | null = null;

/**
 * @internal The group of `d`, joined once per process (the rendezvous runs off the JS thread and
 * waits for every rank). A failed join is forgotten, so that a later call retries.
 */
export function joinProcessGroup(d: ResolvedDistributed): Promise<NativeProcessGroup> {
  const key = `${d.backend}://${d.masterAddr}:${d.masterPort}/${d.rank}/${d.worldSize}`;
  let joining = groups.get(key);
  if (joining === undefined) {
    // Known at once: a DataLoader's shard 'auto' may be resolved before the rendezvous completes.
    current ??= { key, shard: { rank: d.rank, worldSize: d.worldSize } };
    joining = binding.createProcessGroup({
      backend: d.backend,
      rank: d.rank,
      worldSize: d.worldSize,
      masterAddr: d.masterAddr,
      masterPort: d.masterPort,
      timeoutMs: d.timeoutMs,
    });
    groups.set(key, joining);
    const settled = joining;
    settled.catch(() => {
      if (groups.get(key) === settled) groups.delete(key);
      if (current?.key === key) current = null;
    });
  }
  return joining;
}

/** @internal Validates a DataLoader's `shard` option. */
export function expectShard(value: unknown): 'auto' | Shard | undefined {
  if (value === undefined || value === 'auto') return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw typeError('shard', "'auto' or an object {rank, worldSize}", value);
  }
  const o = value as Record<string, unknown>;
  expectKnownKeys(o, 'shard', ['rank', 'worldSize']);
  const worldSize = expectPositiveInteger(o.worldSize, 'shard.worldSize');
  return { rank: expectInteger(o.rank, 'shard.rank', 0, worldSize - 1), worldSize };
}

/**
 * @internal What `shard: 'auto'` means now: the group this process joined, else the environment
 * (RANK and WORLD_SIZE, as torchrun sets them), else a single shard.
 */
export function autoShard(): Shard {
  if (current) return current.shard;
  const rank = process.env.RANK;
  const world = process.env.WORLD_SIZE;
  if (rank !== undefined && world !== undefined) {
    const worldSize = Number(world);
    const r = Number(rank);
    if (Number.isInteger(worldSize) && worldSize >= 1 && Number.isInteger(r) && r >= 0 && r < worldSize) {
      return { rank: r, worldSize };
    }
    throw new RangeError(
      `shard 'auto': the environment's RANK '${rank}' and WORLD_SIZE '${world}' are not a rank in [0, WORLD_SIZE)`,
    );
  }
  return { rank: 0, worldSize: 1 };
}

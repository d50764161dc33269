// `noisynn train --nproc-per-node N`: torchrun's part. Starts this host's ranks as child
// processes of the same command, with torchrun's variables and a share of the CPU threads each;
// forwards Ctrl-C; fails as a whole when one rank fails. The ranks themselves read the variables
// (`distributed: 'env'`), so torchrun, Slurm or a PyTorchJob can start them instead.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OptionSpec, UsageError } from './args';
import type { CliContext } from './context';
import { createRunFolder } from './run-folder';

export const LAUNCH_OPTIONS: OptionSpec[] = [
  {
    name: 'nproc-per-node',
    type: 'positiveInteger',
    valueName: 'N',
    description:
      'Data-parallel training: start N ranks on this host (each with its share of the CPU threads; the batch size is per rank).',
  },
  {
    name: 'nnodes',
    type: 'positiveInteger',
    valueName: 'N',
    default: 1,
    description: 'Hosts taking part, each running this command with its own --node-rank.',
  },
  {
    name: 'node-rank',
    type: 'nonNegativeInteger',
    valueName: 'I',
    default: 0,
    description: 'This host, in [0, nnodes).',
  },
  {
    name: 'master-addr',
    type: 'string',
    valueName: 'ADDR',
    default: '127.0.0.1',
    description: 'Address of the host of node rank 0, reachable from every host.',
  },
  {
    name: 'master-port',
    type: 'positiveInteger',
    valueName: 'PORT',
    default: 29500,
    description: 'Port of the rendezvous on that host.',
  },
];

const LAUNCH_FLAGS = new Set(LAUNCH_OPTIONS.map((o) => `--${o.name}`));

/** This process's place in a group, when it is one rank of several (torchrun's variables). */
export function rankOfEnvironment(): { rank: number; worldSize: number } | null {
  const { RANK, WORLD_SIZE } = process.env;
  if (RANK === undefined || WORLD_SIZE === undefined) return null;
  const worldSize = Number(WORLD_SIZE);
  return Number.isInteger(worldSize) && worldSize > 1 ? { rank: Number(RANK), worldSize } : null;
}

/** The arguments without the launcher's own options (the ranks get them as variables). */
function rankArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (LAUNCH_FLAGS.has(flag)) {
      if (eq < 0) i++; // its value
      continue;
    }
    out.push(a);
  }
  return out;
}

/** Writes a child's output line by line, each line prefixed (e.g. '[rank 1] '). */
function relay(from: NodeJS.ReadableStream, to: { write(text: string): unknown }, prefix: string): void {
  let pending = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split(/(?<=\n)/);
    pending = lines[lines.length - 1].endsWith('\n') ? '' : (lines.pop() ?? '');
    for (const line of lines) to.write(prefix + line);
  });
  from.on('end', () => {
    if (pending) to.write(`${prefix}${pending}\n`);
  });
}

/**
 * Runs `noisynn <command> <args>` as this host's ranks and resolves with the exit status: 0 when
 * every rank succeeded; otherwise the first failing rank's status (the others are stopped).
 * Rank 0's output is relayed as is; other ranks' (errors only: they run quiet) prefixed.
 */
export async function launchRanks(
  command: string,
  options: Record<string, unknown>,
  given: Set<string>,
  ctx: CliContext,
): Promise<number> {
  const nproc = options.nprocPerNode as number;
  const nnodes = options.nnodes as number;
  const nodeRank = options.nodeRank as number;
  if (nodeRank >= nnodes) {
    throw new UsageError(`Expected integer below --nnodes (${nnodes}) for --node-rank but received '${nodeRank}'`);
  }
  if (ctx.argv === undefined) throw new Error('launchRanks needs the command line (CliContext.argv)');
  const worldSize = nproc * nnodes;
  const args = rankArgs(ctx.argv);
  // Every rank names the same run folder (rank 0 writes it): a timestamped default would differ.
  if (!given.has('out') && !given.has('resume')) {
    if (nnodes > 1) throw new UsageError('With --nnodes > 1, give --out DIR (a folder every host can reach)');
    args.push('--out', createRunFolder(command, { cwd: ctx.cwd }));
  }
  const threads = Math.max(1, Math.floor(os.availableParallelism() / nproc));
  // dist/cli.js beside this file once built (lib/cli/launch.ts under ts-jest: the package's dist/).
  const built = path.join(__dirname, '..', 'cli.js');
  const cli = fs.existsSync(built) ? built : path.join(__dirname, '..', '..', 'dist', 'cli.js');
  const children: ChildProcess[] = [];
  let firstFailure: { rank: number; status: number } | null = null;
  const stopAll = (signal: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };
  const onAbort = () => stopAll('SIGINT'); // each rank stops after the same step and writes its results
  ctx.signal.addEventListener('abort', onAbort);
  const onExit = () => stopAll('SIGKILL');
  process.on('exit', onExit);
  let killTimer: NodeJS.Timeout | undefined;
  try {
    const exits = [];
    for (let local = 0; local < nproc; local++) {
      const rank = nodeRank * nproc + local;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(local),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(nproc),
        MASTER_ADDR: options.masterAddr as string,
        MASTER_PORT: String(options.masterPort),
        OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(threads),
      };
      // Own process group: a terminal's Ctrl-C reaches the launcher only, which forwards it once.
      const child = spawn(process.execPath, [cli, command, ...args], {
        cwd: ctx.cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      children.push(child);
      const prefix = rank === 0 ? '' : `[rank ${rank}] `;
      relay(child.stdout!, ctx.stdout, prefix);
      relay(child.stderr!, ctx.stderr, prefix);
      exits.push(
        new Promise<void>((resolve) => {
          child.on('error', (err) => {
            ctx.stderr.write(`noisynn: could not start rank ${rank}: ${err.message}\n`);
            firstFailure ??= { rank, status: 1 };
            resolve();
          });
          child.on('exit', (code, signal) => {
            const status = code ?? (signal === 'SIGINT' ? 130 : 1);
            if (status !== 0 && firstFailure === null) {
              firstFailure = { rank, status };
              if (!ctx.signal.aborted) {
                ctx.stderr.write(
                  `noisynn: rank ${rank} ${code !== null ? `exited with status ${code}` : `was killed by ${signal}`}; stopping the other ranks\n`,
                );
                stopAll('SIGTERM');
                killTimer = setTimeout(() => stopAll('SIGKILL'), 10_000);
              }
            }
            resolve();
          });
        }),
      );
    }
    await Promise.all(exits);
  } finally {
    if (killTimer) clearTimeout(killTimer);
    ctx.signal.removeEventListener('abort', onAbort);
    process.removeListener('exit', onExit);
  }
  const failure = firstFailure as { rank: number; status: number } | null;
  return failure === null ? 0 : failure.status;
}

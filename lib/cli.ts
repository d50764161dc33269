#!/usr/bin/env node
// The `noisynn` command: info, models, train, eval, compare, audit.
//
// Exit status: 0 success; 1 a failure while running (missing data, a bad weights file, ...);
// 2 a usage error (unknown option, malformed value); 130 interrupted by Ctrl-C (partial results
// are written first). Errors print as one line on stderr: `noisynn: <message>`.
import { CommandSpec, formatCommandHelp, parseArgs, UsageError, wrap } from './cli/args';
import { COMPARE_COMMAND, runCompare } from './cli/compare';
import type { CliContext } from './cli/context';
import { AUDIT_COMMAND, EVAL_COMMAND, runAudit, runEval } from './cli/evaluate';
import { INFO_COMMAND, MODELS_COMMAND, runInfo, runModels } from './cli/inspect';
import { runTrain, TRAIN_COMMAND } from './cli/train';

type Handler = (options: Record<string, unknown>, given: Set<string>, ctx: CliContext) => number | Promise<number>;

const COMMANDS: { spec: CommandSpec; run: Handler }[] = [
  { spec: INFO_COMMAND, run: (o, _g, ctx) => runInfo(o, ctx) },
  { spec: MODELS_COMMAND, run: (o, _g, ctx) => runModels(o, ctx) },
  { spec: TRAIN_COMMAND, run: runTrain },
  { spec: EVAL_COMMAND, run: runEval },
  { spec: COMPARE_COMMAND, run: runCompare },
  { spec: AUDIT_COMMAND, run: runAudit },
];

/** The top-level --help. */
export function formatHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length));
  return [
    'Usage: noisynn <command> [options]',
    '',
    'NoisyNN (NoisyViT, NoisyCNN) on libtorch: train, evaluate honestly, and audit evaluation for label leaks.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}  ${wrap(c.spec.summary, 80, width + 4)}`),
    '',
    'Run `noisynn <command> --help` for its options. The main job: `noisynn compare` (or `noisynn compare --quick`).',
    '',
  ].join('\n');
}

/** Streams and signal of a real process (tests pass their own). */
export interface MainIO {
  stdout?: CliContext['stdout'];
  stderr?: CliContext['stderr'];
  signal?: AbortSignal;
  cwd?: string;
}

/**
 * Runs the CLI on `argv` (the arguments after `noisynn`) and resolves with the exit status.
 * Never throws: errors are printed as `noisynn: <message>` on stderr.
 *
 * @example
 * const status = await main(['models', '--json'], { stdout: { write: (s) => out.push(s) } });
 */
export async function main(argv: readonly string[], io: MainIO = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const fail = (message: string, status: number): number => {
    stderr.write(`noisynn: ${message.split('\n')[0]}\n`);
    return status;
  };
  const [name, ...rest] = argv;
  if (name === undefined) {
    stderr.write(formatHelp());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const sub = COMMANDS.find((c) => c.spec.name === rest[0]);
    stdout.write(sub ? formatCommandHelp(sub.spec) : formatHelp());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    stdout.write(`${(require('../package.json') as { version: string }).version}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) {
    const kind = name.startsWith('-') ? 'option' : 'command';
    return fail(
      `Unknown ${kind} '${name}'; expected a command: ${COMMANDS.map((c) => c.spec.name).join(', ')} (see noisynn --help)`,
      2,
    );
  }
  try {
    const parsed = parseArgs(rest, command.spec);
    if (parsed.help) {
      stdout.write(formatCommandHelp(command.spec));
      return 0;
    }
    const ctx: CliContext = {
      stdout,
      stderr,
      signal: io.signal ?? new AbortController().signal,
      cwd: io.cwd ?? process.cwd(),
      commandLine: ['noisynn', ...argv].map(quoteArg).join(' '),
      argv: rest,
    };
    return await command.run(parsed.options, parsed.given, ctx);
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message, 2);
    // Library validation errors (TypeError / RangeError) and runtime failures: one line, status 1.
    const message = err instanceof Error ? err.message : String(err);
    if (process.env.NOISYNN_DEBUG && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
    return fail(message, 1);
  }
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

/** The process entry: Ctrl-C aborts cleanly once, a second Ctrl-C exits at once. */
function runAsProcess(): void {
  const controller = new AbortController();
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(
      '\nnoisynn: stopping after the current step (or validation batch) and writing results (Ctrl-C again to quit now)\n',
    );
    controller.abort();
  });
  // A closed pipe (e.g. `noisynn models | head`) is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  main(process.argv.slice(2), { signal: controller.signal }).then(
    (status) => {
      process.exitCode = status;
    },
    (err: unknown) => {
      process.stderr.write(`noisynn: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) runAsProcess();

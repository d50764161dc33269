// What a command runs with: its output streams, the abort signal, the working directory.
import { ProgressStream } from './progress';

export interface CliContext {
  /** Results (tables, JSON). */
  stdout: { write(text: string): unknown };
  /** Progress, messages and errors. */
  stderr: ProgressStream;
  /** Aborted on Ctrl-C: training stops after the current step and partial results are written. */
  signal: AbortSignal;
  /** Where relative paths (runs/, --out) resolve. */
  cwd: string;
  /** The command line as typed, for reports. */
  commandLine: string;
  /** The arguments after the command's name (the launcher hands them to the ranks it starts). */
  argv?: readonly string[];
}

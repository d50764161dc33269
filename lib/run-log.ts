// The metrics log: JSON lines appended to a file (a record per training step, epoch, audit and
// run), written by Trainer.fit and runComparison alike.
import { promises as fsp } from 'fs';
import type { FileHandle } from 'fs/promises';
import * as path from 'path';
import { makeFolders } from './output-paths';

/** One line of the log: its `type` ('step', 'epoch', 'audit', 'run') and its fields. */
export interface LogRecord {
  type: string;
  [field: string]: unknown;
}

/** Where a training loop sends its records: a {@link MetricsLog}, or one tagged with the run. */
export interface LogWriter {
  /** Appends the record; rejects when it cannot be written. */
  write(record: LogRecord): Promise<void>;
}

/**
 * An open metrics log. The file is opened up front, so a path that cannot be appended to (a
 * folder, a read-only file) fails before any work starts; records are then written in order
 * through the one handle, each with the time. Every failure is an Error naming the option and
 * the path.
 */
export class MetricsLog implements LogWriter {
  /** The file, as given. */
  readonly file: string;
  readonly #option: string;
  #handle: FileHandle | null;
  // Writes run one after another; the tail never rejects, so a failed write cannot go unhandled.
  #tail: Promise<void> = Promise.resolve();
  #failed: Error | null = null;

  private constructor(file: string, option: string, handle: FileHandle) {
    this.file = file;
    this.#option = option;
    this.#handle = handle;
  }

  /**
   * Opens `file` for appending, creating its folder when missing.
   * @param option The option's name in error messages (default 'metricsLog').
   * @throws Error `Cannot open metricsLog <file> for appending: <reason>`.
   */
  static async open(file: string, option = 'metricsLog'): Promise<MetricsLog> {
    let handle: FileHandle;
    try {
      makeFolders(path.dirname(path.resolve(file)));
      handle = await fsp.open(file, 'a');
    } catch (err) {
      throw new Error(`Cannot open ${option} ${file} for appending: ${(err as Error).message}`);
    }
    return new MetricsLog(file, option, handle);
  }

  /**
   * Appends `record` with the current time, after every earlier record; resolves once it is in
   * the file. After a failed write every later one rejects with the same error.
   */
  write(record: LogRecord): Promise<void> {
    const line = `${JSON.stringify({ ...record, time: new Date().toISOString() })}\n`;
    const done = this.#tail.then(() => this.#append(line));
    this.#tail = done.catch(() => undefined);
    return done;
  }

  /** A writer that adds `tag`'s fields to every record, after its type (e.g. a run's kind and seed). */
  tagged(tag: Record<string, unknown>): LogWriter {
    return {
      write: ({ type, ...fields }) => this.write({ type, ...tag, ...fields }),
    };
  }

  /** Waits for the pending writes and closes the file. Idempotent. */
  async close(): Promise<void> {
    await this.#tail;
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }

  async #append(line: string): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (this.#handle === null) throw new Error(`${this.#option} ${this.file} is closed`);
    try {
      await this.#handle.write(line);
    } catch (err) {
      this.#failed = new Error(`Cannot write ${this.#option} ${this.file}: ${(err as Error).message}`);
      throw this.#failed;
    }
  }
}

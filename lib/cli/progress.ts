// Progress display for long CLI work: a redrawn bar on a terminal, a line per epoch otherwise.

/** Where progress goes: stderr in the CLI, a buffer in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  /** True when the stream is a terminal (then the bar is redrawn in place). */
  isTTY?: boolean;
  /** Terminal width; 100 when unknown. */
  columns?: number;
}

/** One training step as the display needs it (a subset of the trainer's StepEvent). */
export interface StepProgress {
  epoch: number;
  epochs: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  loss: number;
  top1: number;
  imagesPerSecond: number;
}

/** One finished epoch as the display needs it (a subset of the trainer's EpochEvent). */
export interface EpochProgress {
  epoch: number;
  epochs: number;
  loss: number;
  top1: number;
  imagesPerSecond: number;
  seconds: number;
  validation?: { loss: number; top1: number };
}

/** 75 -> '1:15', 3725 -> '1:02:05', NaN -> '--:--'. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** A bar of `width` cells, `fraction` of them full. */
export function renderBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/** 0.8532 -> '85.3%'. */
export function percent(fraction: number, digits = 1): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)}%` : 'n/a';
}

/**
 * Draws training progress. On a TTY each step redraws one line (at most ~12 times a second):
 * `linear seed 2 · epoch 2/3 ███████░░░░ 120/235 loss 0.4321 acc 84.2% 752 img/s ETA 1:32`;
 * other streams get one line per finished epoch and whatever {@link Progress.log} prints.
 * `quiet` prints nothing but {@link Progress.log} lines.
 */
export class Progress {
  readonly #stream: ProgressStream;
  readonly #tty: boolean;
  readonly #quiet: boolean;
  readonly #now: () => number;
  #label = '';
  #lastDraw = -Infinity;
  #drawn = false;
  // The run's rate is measured from its first step event (a resumed run starts mid-way).
  #runBase: { step: number; time: number } | null = null;
  // Batch loss and accuracy are noisy: the bar shows their moving averages over the run.
  #ema = { loss: 0, top1: 0, imagesPerSecond: 0, n: 0 };
  // Work of the whole job, in steps, for an overall ETA (compare runs many trainings).
  #jobSteps = 0;
  #jobDone = 0;
  #jobStart = 0;

  constructor(stream: ProgressStream, options: { quiet?: boolean; now?: () => number } = {}) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
    this.#quiet = options.quiet === true;
    this.#now = options.now ?? (() => Date.now());
  }

  /** Whether the display redraws a bar (a TTY and not quiet). */
  get interactive(): boolean {
    return this.#tty && !this.#quiet;
  }

  /** Starts a training run: `label` prefixes its lines (e.g. 'linear seed 2'). */
  startRun(label = ''): void {
    this.#label = label;
    this.#runBase = null;
    this.#ema = { loss: 0, top1: 0, imagesPerSecond: 0, n: 0 };
  }

  /** Declares the steps the whole job will take, so the ETA covers all of it, not one run. */
  startJob(totalSteps: number): void {
    this.#jobSteps = totalSteps;
    this.#jobDone = 0;
    this.#jobStart = this.#now();
  }

  /** Takes steps that will not run (e.g. a run restored from an earlier job) out of the job. */
  dropFromJob(steps: number): void {
    this.#jobSteps = Math.max(0, this.#jobSteps - steps);
  }

  /** Seconds left: of the job when one was declared, else of the current run; NaN when unknown. */
  eta(e: StepProgress): number {
    const now = this.#now();
    if (this.#jobSteps > 0) {
      if (this.#jobDone === 0) return NaN;
      return ((now - this.#jobStart) / 1000 / this.#jobDone) * Math.max(0, this.#jobSteps - this.#jobDone);
    }
    const done = (e.epoch - 1) * e.stepsPerEpoch + e.stepInEpoch;
    const total = e.epochs * e.stepsPerEpoch;
    if (this.#runBase === null || done <= this.#runBase.step) return NaN;
    const perStep = (now - this.#runBase.time) / 1000 / (done - this.#runBase.step);
    return perStep * (total - done);
  }

  /** Counts a step and redraws the bar (TTY only, at most ~12 times a second). */
  step(e: StepProgress): void {
    this.#jobDone++;
    const now = this.#now();
    if (this.#runBase === null) this.#runBase = { step: (e.epoch - 1) * e.stepsPerEpoch + e.stepInEpoch, time: now };
    const m = this.#ema;
    m.n++;
    const w = 0.9;
    m.loss = w * m.loss + (1 - w) * e.loss;
    m.top1 = w * m.top1 + (1 - w) * e.top1;
    m.imagesPerSecond = w * m.imagesPerSecond + (1 - w) * e.imagesPerSecond;
    if (!this.interactive) return;
    const last = e.stepInEpoch === e.stepsPerEpoch;
    if (!last && now - this.#lastDraw < 80) return;
    this.#lastDraw = now;
    this.#stream.write(`\r\x1b[2K${this.renderLine(e)}`);
    this.#drawn = true;
  }

  /**
   * The bar line for a step, cut to the terminal width. Loss, accuracy and images/s are moving
   * averages over the run's steps so far (bias-corrected), the step's own values before any.
   */
  renderLine(e: StepProgress): string {
    const columns = this.#stream.columns && this.#stream.columns > 40 ? this.#stream.columns : 100;
    const m = this.#ema;
    const avg = (v: number, own: number) => (m.n > 0 ? v / (1 - 0.9 ** m.n) : own);
    const head = `${this.#label ? `${this.#label} · ` : ''}epoch ${e.epoch}/${e.epochs}`;
    const tail =
      ` ${e.stepInEpoch}/${e.stepsPerEpoch} loss ${avg(m.loss, e.loss).toFixed(4)} acc ${percent(avg(m.top1, e.top1))}` +
      ` ${Math.round(avg(m.imagesPerSecond, e.imagesPerSecond))} img/s ETA ${formatDuration(this.eta(e))}`;
    const barWidth = Math.max(5, Math.min(30, columns - head.length - tail.length - 2));
    const line = `${head} ${renderBar(e.stepInEpoch / e.stepsPerEpoch, barWidth)}${tail}`;
    return line.length > columns - 1 ? line.slice(0, columns - 1) : line;
  }

  /** Prints the summary line of a finished epoch (every stream unless quiet). */
  epoch(e: EpochProgress): void {
    if (this.#quiet) return;
    const val = e.validation ? ` · val loss ${e.validation.loss.toFixed(4)} acc ${percent(e.validation.top1)}` : '';
    this.log(
      `${this.#label ? `${this.#label} · ` : ''}epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)} acc ${percent(e.top1)}` +
        `${val} · ${Math.round(e.imagesPerSecond)} img/s · ${formatDuration(e.seconds)}`,
    );
  }

  /** Prints a line (unless quiet), clearing the bar first. */
  info(line: string): void {
    if (!this.#quiet) this.log(line);
  }

  /** Prints a line even when quiet, clearing the bar first. */
  log(line: string): void {
    this.clear();
    this.#stream.write(`${line}\n`);
  }

  /** Erases the bar (call before printing anything else to the same terminal). */
  clear(): void {
    if (this.#drawn) {
      this.#stream.write('\r\x1b[2K');
      this.#drawn = false;
    }
  }
}

/** 'optimal along batch while training' for progress lines. */
export function describeNoise(n: {
  kind: string;
  axis: string;
  when: string;
  strength: number;
  note?: string;
}): string {
  if (n.kind === 'none') return n.note ? `none (${n.note})` : 'none';
  const when = { train: 'while training', eval: 'at evaluation', always: 'always' }[n.when] ?? n.when;
  const strength = n.kind === 'optimal' ? '' : ` ${n.strength}`;
  return `${n.kind}${strength} along the ${n.axis} axis ${when}`;
}

// runComparison: the NoisyNN experiment. Noise kinds x seeds on one model, each trained model
// scored leak-free, with its noise at evaluation on shuffled and on class-sorted batches (the
// paper's official protocol), and audited for the leak.
import { promises as fsp } from 'fs';
import * as path from 'path';
import { auditWithPasses } from '../audit';
import { DataLoader } from '../dataloader';
import { createModel, ModelNoiseConfig, NoisyModel } from '../models';
import { NoiseKind } from '../noise';
import { LogWriter, MetricsLog } from '../run-log';
import { EpochEvent, EvalResult, FitResult, StepEvent, Trainer } from '../trainer';
import { info } from '../info';
import {
  chooseData,
  chooseModel,
  comparisonConfig,
  environment,
  EvalLoaders,
  Experiment,
  prepareData,
} from './experiment';
import { ComparisonOptions, ComparisonSettings, resolveComparisonOptions, RunInfo } from './options';
import { ComparisonAudit, ComparisonResult, ComparisonRun, OFFICIAL_PRESET_LABEL, summarize } from './summary';

/**
 * Runs the NoisyNN comparison: for every seed and noise kind, trains the same model with that
 * noise while training (at the official site, along the batch; for a CNN detached, with the
 * official script's a = 0.4 for linear), then scores it on the test set three ways:
 *
 * - leak-free: no noise at evaluation, shuffled test batches (this package's default protocol);
 * - the kind's noise at evaluation on shuffled test batches of the official protocol's size: the
 *   noise's own effect;
 * - official: the same noise on class-sorted test batches, as the family's official code
 *   evaluated (OFFICIAL_PROTOCOLS: a ViT at evaluation only in batches of 10, a CNN in training
 *   and evaluation in batches of 512).
 *
 * The models trained without noise are also scored with optimal noise at evaluation only (the
 * ViT's headline protocol), shuffled and class-sorted. Every kind starts from the same initial
 * weights and sees the same batches for a given seed, so the kinds differ only in their noise.
 * With `audit`, every run's model is audited ({@link auditLeakage}) with its noise at evaluation.
 *
 * @returns Per-run scores; per kind the means with 95% t intervals over seeds and the paired,
 *   Holm-corrected effect against no noise; the audits; the resolved config.
 * @throws TypeError / RangeError for bad options (naming the option); Error when the data is missing.
 * @example
 * const result = await runComparison({ seeds: [1, 2], epochs: 1, trainSamples: 3000 });
 * console.log(formatComparisonTable(result));
 */
export async function runComparison(options?: ComparisonOptions): Promise<ComparisonResult> {
  const started = Date.now();
  const s = resolveComparisonOptions(options);
  const [trainFull, testFull] = chooseData(s);
  const model = chooseModel(s, trainFull);
  const log = s.metricsLog === undefined ? undefined : await MetricsLog.open(s.metricsLog);
  const runs: ComparisonRun[] = [];
  const audits: ComparisonAudit[] = [];
  try {
    const exp = await prepareData(s, trainFull, testFull, model);
    const total = s.kinds.length * s.seeds.length;
    const jobs = jobsFor(s, total);
    const config = comparisonConfig(s, exp, jobs);
    // Seeds outside, kinds inside: an interrupted job still has every kind for the first seeds.
    const queue = s.seeds.flatMap((seed, si) =>
      s.kinds.map((kind, ki) => ({ seed, kind, ki, index: si * s.kinds.length + ki })),
    );
    // Results by queue position, so the order does not depend on which job finished first.
    const slots: ({ run: ComparisonRun; audits: ComparisonAudit[] } | undefined)[] = new Array(total);
    // A job that fails stops the others after their current step; its error is the job's.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    if (s.signal?.aborted) stop.abort();
    s.signal?.addEventListener('abort', onAbort);
    const ls: ComparisonSettings = { ...s, signal: stop.signal };
    let next = 0;
    const job = async () => {
      const loaders = exp.evalLoaders();
      try {
        while (!stop.signal.aborted && next < queue.length) {
          const { seed, kind, ki, index } = queue[next++];
          const done = s.resumedRuns.find((r) => r.kind === kind && r.seed === seed);
          const run: RunInfo = {
            kind,
            seed,
            index,
            total,
            epochs: s.epochs,
            stepsPerEpoch: exp.stepsPerEpoch,
            restored: done !== undefined,
          };
          s.onRunStart?.(run);
          if (done) {
            slots[index] = {
              run: done,
              audits: s.resumedAudits.filter((x) => x.kind === kind && x.seed === seed),
            };
            s.onRunEnd?.(run, done);
            continue;
          }
          const outcome = await trainScoreAudit(ls, exp, loaders, jobs.threadsPerJob, run, ki, log);
          if (outcome === null) break;
          slots[index] = { run: outcome.result, audits: outcome.audits };
          s.onRunEnd?.(run, outcome.result);
        }
      } catch (err) {
        stop.abort();
        throw err;
      } finally {
        loaders.dispose();
      }
    };
    let settled: PromiseSettledResult<void>[];
    try {
      settled = await Promise.allSettled(Array.from({ length: jobs.jobs }, job));
    } finally {
      s.signal?.removeEventListener('abort', onAbort);
    }
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const slot of slots) {
      if (slot === undefined) continue;
      runs.push(slot.run);
      audits.push(...slot.audits);
    }
    // Stopped (an abort) before every run finished.
    const aborted = runs.length < total;
    return {
      config,
      runs,
      summary: summarize(runs, s.kinds, audits),
      audits,
      aborted,
      seconds: (Date.now() - started) / 1000,
      environment: environment(),
    };
  } finally {
    await log?.close();
    // The parent folder goes too when every run's folder has.
    if (s.checkpointDir !== undefined && !s.keepCheckpoints) await fsp.rmdir(s.checkpointDir).catch(() => undefined);
  }
}

/**
 * Runs trained at once and the threads of each: given, or on CPU one per libtorch thread (at
 * most one per run); on CUDA one job with libtorch's threads.
 */
function jobsFor(s: ComparisonSettings, runs: number): { jobs: number; threadsPerJob: number } {
  const threads = Math.max(1, info().threads);
  const jobs = Math.max(1, Math.min(runs, s.jobs ?? (s.device === 'cpu' ? threads : 1)));
  return { jobs, threadsPerJob: Math.max(1, Math.floor(threads / jobs)) };
}

/**
 * One run: train a fresh model with the run's noise, score it leak-free, with its noise at
 * evaluation on shuffled and class-sorted batches, and audit it as the official protocol scored
 * it. Null when aborted while training.
 */
async function trainScoreAudit(
  s: ComparisonSettings,
  exp: Experiment,
  loaders: EvalLoaders,
  threads: number,
  run: RunInfo,
  kindIndex: number,
  log: MetricsLog | undefined,
): Promise<{ result: ComparisonRun; audits: ComparisonAudit[] } | null> {
  const { kind, seed } = run;
  const strength = exp.strengths[kind];
  // Each (seed, kind) draws its own noise stream.
  const noise: ModelNoiseConfig = {
    kind,
    axis: s.axis,
    when: 'train',
    seed: seed * 16 + kindIndex,
    detach: exp.protocol.detach,
    layer: exp.layer,
    ...(strength === undefined ? {} : { strength }),
  };
  // Same initSeed for every kind: the kinds start from identical weights.
  const net = createModel(exp.model, { numClasses: exp.numClasses, noise, initSeed: seed });
  const runCheckpoints = s.checkpointDir === undefined ? undefined : path.join(s.checkpointDir, `${kind}-seed${seed}`);
  try {
    if (s.device !== 'cpu') net.to(s.device);

    // Train.
    const { trainer, fit, trainSeconds } = await train(
      s,
      exp,
      threads,
      run,
      net,
      runCheckpoints,
      log?.tagged({ kind, seed }),
    );
    if (fit.aborted) return null;

    // Score: leak-free, then with this kind's noise at evaluation (as the official protocol
    // applies it) on shuffled and on class-sorted batches, each audited right after.
    const audited: ComparisonAudit[] = [];
    // When the audit covers the scoring set in the protocol's batches and order, its class-sorted
    // and shuffled passes are the official and eval-noise-shuffled scores: each is evaluated once.
    const reuse = s.audit && exp.auditSet === exp.test && exp.protocol.evalOrder === 'classSorted';
    const scoreAndAudit = async (
      evalNoise: ModelNoiseConfig,
      label: string,
    ): Promise<{ sorted: EvalResult; shuffled: EvalResult }> => {
      net.setNoise(evalNoise);
      if (reuse && !s.signal?.aborted) {
        let got: { sorted: EvalResult; shuffled: EvalResult } | undefined;
        const a = await audit(s, exp, threads, net, evalNoise.kind, label, seed, (sorted, shuffled) => {
          got = { sorted: scoreOf(sorted), shuffled: scoreOf(shuffled) };
        });
        audited.push({ kind, evalKind: evalNoise.kind, label, seed, ...a });
        return got!;
      }
      const shuffled = await scoreWith(loaders.shuffledLoader, trainer, net, evalNoise);
      const sorted = await scoreWith(loaders.officialLoader, trainer, net, evalNoise);
      if (s.audit && !s.signal?.aborted) {
        audited.push({
          kind,
          evalKind: evalNoise.kind,
          label,
          seed,
          ...(await audit(s, exp, threads, net, evalNoise.kind, label, seed)),
        });
      }
      return { sorted, shuffled };
    };
    loaders.leakFreeLoader.setEpoch(0);
    const leakFree = await trainer.evaluate(loaders.leakFreeLoader);
    const evalNoise: ModelNoiseConfig = { ...noise, when: exp.protocol.noiseWhen };
    const own = await scoreAndAudit(evalNoise, kind);
    const noiseShuffled = own.shuffled;
    const official = own.sorted;
    // The paper's headline: a plainly trained model, optimal noise at evaluation only.
    let preset: { officialPreset: EvalResult; officialPresetShuffled: EvalResult } | undefined;
    if (kind === 'none') {
      const optimal: ModelNoiseConfig = {
        kind: 'optimal',
        axis: s.axis,
        when: 'eval',
        seed: seed * 16 + s.kinds.length,
        layer: exp.layer,
      };
      const scored = await scoreAndAudit(optimal, OFFICIAL_PRESET_LABEL);
      preset = { officialPresetShuffled: scored.shuffled, officialPreset: scored.sorted };
    }

    // Record: the 'run' record comes last, so a run without one is retrained on resume.
    const last = fit.history[fit.history.length - 1];
    const scores = { leakFree, noiseShuffled, official, ...(preset ?? {}) };
    const result: ComparisonRun = {
      kind,
      seed,
      epochs: fit.epochs,
      trainSeconds,
      trainLoss: last?.loss ?? NaN,
      trainTop1: last?.top1 ?? NaN,
      ...scores,
      history: fit.history,
    };
    for (const entry of audited) await log?.write({ type: 'audit', ...entry });
    await log?.write({ type: 'run', kind, seed, epochs: fit.epochs, trainSeconds, ...scores });
    // A run's checkpoint is deleted only once its results are in the log.
    if (runCheckpoints !== undefined && !s.keepCheckpoints && log !== undefined) {
      await fsp.rm(runCheckpoints, { recursive: true, force: true });
    }
    return { result, audits: audited };
  } finally {
    net.dispose();
  }
}

/** Trains `net` for the run, resuming from the run's checkpoint when there is one. */
async function train(
  s: ComparisonSettings,
  exp: Experiment,
  threads: number,
  run: RunInfo,
  net: NoisyModel,
  checkpointDir: string | undefined,
  log: LogWriter | undefined,
): Promise<{ trainer: Trainer; fit: FitResult; trainSeconds: number }> {
  const trainLoader = new DataLoader(exp.train, {
    batchSize: s.batchSize,
    order: 'shuffle',
    seed: run.seed,
    transforms: exp.transforms,
    numWorkers: s.numWorkers,
    device: s.device,
  });
  const trainer = new Trainer(net, {
    optimizer: { name: 'adamw', lr: s.lr, weightDecay: s.weightDecay },
    schedule: { name: 'cosine', warmupSteps: exp.warmupSteps },
    labelSmoothing: s.labelSmoothing,
    seed: run.seed,
    threads,
  });
  trainer.on('step', (e: StepEvent) => s.onStep?.(run, e));
  trainer.on('epoch', (e: EpochEvent) => s.onEpoch?.(run, e));
  const t0 = Date.now();
  const fit = await trainer._fit(trainLoader, { epochs: s.epochs, signal: s.signal, checkpointDir }, log);
  return { trainer, fit, trainSeconds: (Date.now() - t0) / 1000 };
}

/** `net` scored on `loader` with `evalNoise` (its stream restarted: every pass draws the same noise). */
async function scoreWith(
  loader: DataLoader,
  trainer: Trainer,
  net: NoisyModel,
  evalNoise: ModelNoiseConfig,
): Promise<EvalResult> {
  net.setNoise(evalNoise);
  loader.setEpoch(0);
  return trainer.evaluate(loader);
}

/** An evaluation's scores without its per-sample hits. */
function scoreOf(r: EvalResult & { correctByIndex?: Uint8Array }): EvalResult {
  const { correctByIndex: _hits, ...score } = r;
  return score;
}

/** The leakage audit of `net` with its current (evaluation-time) noise, in the protocol's batches. */
async function audit(
  s: ComparisonSettings,
  exp: Experiment,
  threads: number,
  net: NoisyModel,
  evalKind: NoiseKind,
  label: string,
  seed: number,
  passes?: (sorted: EvalResult, shuffled: EvalResult) => void,
) {
  s.onMessage(
    `auditing ${label} (seed ${seed}) with ${evalKind === 'none' ? 'no noise' : `${evalKind} noise`} at evaluation on ${exp.auditSet.length} test images...`,
  );
  return auditWithPasses(
    net,
    exp.auditSet,
    {
      batchSize: exp.protocol.evalBatchSize,
      transforms: exp.transforms,
      seed: 0,
      numWorkers: Math.max(1, s.numWorkers),
      // The leak test only: the batch-size-1 pass (one forward per image) would cost ~5x the two
      // batched passes, and the table's noise effect is leak-free vs shuffled with noise already.
      batchSizeOne: false,
      threads,
    },
    passes,
  );
}

/**
 * The finished runs and audits recorded in a comparison's metrics log (its JSON lines, parsed),
 * for {@link ComparisonOptions.resume}. A run counts as finished when its 'run' record is there;
 * its history comes from its 'epoch' records.
 */
export function resumeFromLog(records: readonly Record<string, unknown>[]): {
  runs: ComparisonRun[];
  audits: ComparisonAudit[];
} {
  const strip = (r: Record<string, unknown>) => {
    const { type: _type, kind: _kind, seed: _seed, time: _time, ...rest } = r;
    return rest;
  };
  const runs: ComparisonRun[] = [];
  for (const r of records) {
    if (r.type !== 'run') continue;
    const byEpoch = new Map<number, EpochEvent>();
    for (const e of records)
      if (e.type === 'epoch' && e.kind === r.kind && e.seed === r.seed)
        byEpoch.set(e.epoch as number, strip(e) as unknown as EpochEvent);
    const history = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
    const last = history[history.length - 1];
    runs.push({
      ...(strip(r) as unknown as ComparisonRun),
      kind: r.kind as NoiseKind,
      seed: r.seed as number,
      trainLoss: last?.loss ?? NaN,
      trainTop1: last?.top1 ?? NaN,
      history,
    });
  }
  const audits = records
    .filter((r) => r.type === 'audit')
    .map((r) => ({ ...strip(r), kind: r.kind, seed: r.seed }) as unknown as ComparisonAudit);
  return { runs, audits };
}

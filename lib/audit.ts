// auditLeakage: does a model's accuracy depend on how the test batches were composed?
import { DataLoader } from './dataloader';
import { Dataset } from './datasets';
import { OFFICIAL_PROTOCOLS } from './defaults';
import { NoisyModel } from './models';
import { pairedProportionTest, PairedProportionTest } from './statistics';
import { EvalResult, Trainer } from './trainer';
import { distributedOf } from './trainer/distributed';
import { Transform } from './transforms';
import {
  expectBoolean,
  expectKnownKeys,
  expectNonNegativeInteger,
  expectOptions,
  expectPositiveInteger,
  rangeError,
  typeError,
} from './validate';

export interface AuditOptions {
  /**
   * Batch size of the class-sorted and shuffled passes. Default: the official protocol's test
   * batch size for the model's family (OFFICIAL_PROTOCOLS: 10 for a ViT, 512 for a CNN).
   */
  batchSize?: number;
  /** Transforms the model expects (e.g. [transforms.normalize('fashion-mnist')]). Default none. */
  transforms?: readonly Transform[];
  /** Seed of the shuffled order. Default 0. */
  seed?: number;
  /** Native loader threads. Default 2. */
  numWorkers?: number;
  /**
   * Level of each test: the leak test is one-sided (class-sorted better), the noise-effect tests
   * two-sided. Default 0.001.
   */
  alpha?: number;
  /**
   * Also evaluate at batch size 1 and test the noise's own effect against it (sorted-single,
   * shuffled-single). Default true. false: the leak test only (sorted vs shuffled), and
   * singleTop1 is null; the batch-size-1 pass costs ~5x the two batched passes (one forward per
   * image), which is why `noisynn compare` leaves it out.
   */
  batchSizeOne?: boolean;
  /** CPU threads of the audit's evaluations (TrainerOptions.threads), 1 to 1024. Default: libtorch's. */
  threads?: number;
}

/**
 * A paired test between two evaluations of the same samples, in the first's favour when the
 * difference is positive (see pairedProportionTest for the fields).
 */
export interface PairedTest extends PairedProportionTest {
  pair: 'sorted-shuffled' | 'sorted-single' | 'shuffled-single';
  /**
   * 'leak': class-sorted vs shuffled batches with the same noise, one-sided (sorted better): the
   * label leaking through the batch. 'noiseEffect': a batched evaluation vs batch size 1, which
   * switches batch-axis noise (linear, optimal) off: the noise's own effect, never a leak.
   */
  measures: 'leak' | 'noiseEffect';
}

export interface AuditResult {
  /** Top-1 with class-sorted batches (the paper's official evaluation order). */
  sortedTop1: number;
  /** Top-1 with shuffled batches. */
  shuffledTop1: number;
  /** Top-1 with batch size 1 (batch-axis noise is the identity there); null without that pass (batchSizeOne: false). */
  singleTop1: number | null;
  /** True when the leak test (class-sorted better than shuffled, same noise) is significant at alpha. */
  leakSuspected: boolean;
  /** The leak test: tests[0]. */
  leak: PairedTest;
  /** The smallest leak (sorted minus shuffled top-1) this audit detects with 80% power: leak.minimumDetectable. */
  minimumDetectableLeak: number;
  samples: number;
  batchSize: number;
  alpha: number;
  /** sorted-shuffled (the leak), then sorted-single and shuffled-single (the noise's effect) unless batchSizeOne is false. */
  tests: PairedTest[];
  explanation: string;
}

const KEYS = ['batchSize', 'transforms', 'seed', 'numWorkers', 'alpha', 'batchSizeOne', 'threads'];

/** A test level in (0, 0.5]. */
function expectAlpha(value: unknown): number {
  if (typeof value !== 'number') throw typeError('alpha', 'number in (0, 0.5]', value);
  if (!(value > 0 && value <= 0.5)) throw rangeError('alpha', 'number in (0, 0.5]', value);
  return value;
}

function pairedTest(pair: PairedTest['pair'], first: Uint8Array, second: Uint8Array, alpha: number): PairedTest {
  let b = 0;
  let c = 0;
  for (let i = 0; i < first.length; i++) {
    if (first[i] === 1 && second[i] === 0) b++;
    else if (first[i] === 0 && second[i] === 1) c++;
  }
  const measures = pair === 'sorted-shuffled' ? 'leak' : 'noiseEffect';
  const test = pairedProportionTest(b, c, first.length, measures === 'leak' ? 'greater' : 'two-sided', alpha);
  return { pair, measures, ...test };
}

const points = (x: number) => `${x >= 0 ? '+' : '−'}${(100 * Math.abs(x)).toFixed(2)}`;
const interval = (t: PairedTest) => `95% CI ${points(t.lower)} to ${points(t.upper)} points`;
const pValue = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toPrecision(2));

/** One line on a paired test: the difference, its interval and the test. */
export function describePairedTest(t: PairedTest): string {
  const method = t.method === 'exact' ? 'exact binomial' : 'McNemar';
  const sided = t.alternative === 'greater' ? 'one-sided' : 'two-sided';
  return `${points(t.difference)} points (${interval(t)}; b = ${t.b}, c = ${t.c}; ${sided} ${method} p = ${pValue(t.pValue)})`;
}

/**
 * Evaluates `model` on `dataset` three ways, in its current noise configuration and eval mode:
 * class-sorted batches (how the NoisyNN paper's official code read its test set), shuffled
 * batches of the same size, and batch size 1.
 *
 * - The leak test compares class-sorted with shuffled batches under the same noise. A model
 *   whose prediction for a sample depends only on that sample gives the same predictions either
 *   way; batch-axis noise on class-sorted batches mixes each sample with others of its own class,
 *   and the label leaks. One-sided (sorted better), on the samples the two passes disagree on
 *   (b right only when sorted, c right only when shuffled): an exact binomial test when
 *   b + c < 25, McNemar's continuity-corrected z otherwise. `leakSuspected` is its verdict at
 *   `alpha`.
 * - "No leak detected" is not evidence of no leak: the result carries the paired accuracy
 *   difference with its 95% interval, (b - c)/n ± 1.96 sqrt((b + c) - (b - c)^2/n)/n, and the
 *   smallest leak the test would have detected with 80% power (minimumDetectableLeak).
 * - Batch size 1 switches batch-axis noise (linear, optimal) off; gaussian and salt-and-pepper
 *   noise still apply there. The sorted-vs-single and shuffled-vs-single pairs (two-sided)
 *   therefore measure the noise's own effect, and never count as a leak.
 *
 * @throws TypeError / RangeError for bad arguments.
 * @example
 * const audit = await auditLeakage(model, new FashionMNIST({ split: 'test' }), { transforms: [transforms.normalize('fashion-mnist')] });
 * console.log(audit.explanation); // the leak, its interval, what the test could detect
 */
export async function auditLeakage(model: NoisyModel, dataset: Dataset, options?: AuditOptions): Promise<AuditResult> {
  return auditWithPasses(model, dataset, options);
}

/**
 * auditLeakage, also handing its class-sorted and shuffled passes (with per-sample hits) to
 * `passes`: `noisynn compare` takes them as its official and eval-noise-shuffled scores instead of
 * evaluating the same batches twice.
 * @internal
 */
export async function auditWithPasses(
  model: NoisyModel,
  dataset: Dataset,
  options?: AuditOptions,
  passes?: (sorted: EvalResult, shuffled: EvalResult) => void,
): Promise<AuditResult> {
  if (!(model instanceof NoisyModel)) throw typeError('model', 'NoisyViT or NoisyCNN', model);
  if (!(dataset instanceof Dataset)) throw typeError('dataset', 'Dataset', dataset);
  const o = expectOptions(options);
  expectKnownKeys(o, 'options', KEYS);
  const batchSize =
    o.batchSize === undefined
      ? OFFICIAL_PROTOCOLS[model.family].evalBatchSize
      : expectPositiveInteger(o.batchSize, 'batchSize');
  const seed = o.seed === undefined ? 0 : expectNonNegativeInteger(o.seed, 'seed');
  const numWorkers = o.numWorkers === undefined ? 2 : expectPositiveInteger(o.numWorkers, 'numWorkers');
  const alpha = o.alpha === undefined ? 0.001 : expectAlpha(o.alpha);
  const batchSizeOne = o.batchSizeOne === undefined ? true : expectBoolean(o.batchSizeOne, 'batchSizeOne');
  const transforms = o.transforms as readonly Transform[] | undefined;
  // Validated by the Trainer, which takes it as its own option.
  const threads = o.threads === undefined ? {} : { threads: o.threads as number };

  // A trainer only for its batch evaluation: it never steps, so it holds no optimizer state. A
  // model trained data-parallel is audited by all its ranks, each on its shard, in per-rank
  // batches that keep the global batch (what 'global' noise mixes) at `batchSize`; the
  // batch-size-1 pass keeps each sample's noise to itself.
  const distributed = distributedOf(model);
  const world = distributed?.worldSize ?? 1;
  const evaluator = new Trainer(model, { seed: 0, ...(distributed ? { distributed } : {}), ...threads });
  const shard = distributed ? { shard: { rank: distributed.rank, worldSize: world } } : {};
  const run = (order: 'classSorted' | 'shuffle' | 'sequential', size: number) =>
    evaluator._evaluate(
      new DataLoader(dataset, {
        batchSize: Math.ceil(size / world),
        order,
        seed,
        transforms,
        numWorkers,
        device: model.device,
        ...shard,
      }),
      { localNoise: size === 1 },
    );
  const sorted = await run('classSorted', batchSize);
  const shuffled = await run('shuffle', batchSize);
  const single = batchSizeOne ? await run('sequential', 1) : null;
  passes?.(sorted, shuffled);

  const tests = [pairedTest('sorted-shuffled', sorted.correctByIndex, shuffled.correctByIndex, alpha)];
  if (single) {
    tests.push(
      pairedTest('sorted-single', sorted.correctByIndex, single.correctByIndex, alpha),
      pairedTest('shuffled-single', shuffled.correctByIndex, single.correctByIndex, alpha),
    );
  }
  const leak = tests[0];
  return {
    sortedTop1: sorted.top1,
    shuffledTop1: shuffled.top1,
    singleTop1: single ? single.top1 : null,
    leakSuspected: leak.significant,
    leak,
    minimumDetectableLeak: leak.minimumDetectable,
    samples: sorted.samples,
    batchSize,
    alpha,
    tests,
    explanation: explain(sorted, shuffled, single, tests, alpha),
  };
}

function explain(
  sorted: EvalResult,
  shuffled: EvalResult,
  single: EvalResult | null,
  tests: PairedTest[],
  alpha: number,
) {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const [leak, sortedSingle, shuffledSingle] = tests;
  const accuracies = single
    ? `top-1 is ${pct(sorted.top1)} on class-sorted batches, ${pct(shuffled.top1)} on shuffled batches ` +
      `and ${pct(single.top1)} at batch size 1 (${single.samples} images).`
    : `top-1 is ${pct(sorted.top1)} on class-sorted batches and ${pct(shuffled.top1)} on shuffled batches (${sorted.samples} images).`;
  const verdict = leak.significant
    ? `Leak: class-sorted minus shuffled batches, same noise, is ${describePairedTest(leak)} < ${alpha}: ` +
      'predictions improve when a batch holds one class. Report the shuffled figure.'
    : `No leak detected at ${alpha}: class-sorted minus shuffled batches, same noise, is ${describePairedTest(leak)}. ` +
      `That is not evidence of no leak: this test detects a leak of ${(100 * leak.minimumDetectable).toFixed(2)} points ` +
      'or more with 80% power.';
  if (!single) return `${accuracies} ${verdict}`;
  const effect =
    `The noise's own effect (batch size 1 switches batch-axis noise off; not a leak): class-sorted minus batch size 1 is ${describePairedTest(sortedSingle)}, ` +
    `shuffled minus batch size 1 ${describePairedTest(shuffledSingle)}.`;
  return `${accuracies} ${verdict} ${effect}`;
}

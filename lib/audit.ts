// auditLeakage: does a model's accuracy depend on how the test batches were composed?
import { DataLoader } from './dataloader';
import { Dataset } from './datasets';
import { NoisyModel } from './models';
import { Trainer } from './trainer';
import { distributedOf } from './trainer/distributed';
import { Transform } from './transforms';
import {
  expectKnownKeys,
  expectNonNegativeInteger,
  expectOptions,
  expectPositiveInteger,
  expectPositiveNumber,
  typeError,
} from './validate';

export interface AuditOptions {
  /** Batch size of the class-sorted and shuffled passes. Default 64 (the official code used small batches). */
  batchSize?: number;
  /** Transforms the model expects (e.g. [transforms.normalize('fashion-mnist')]). Default none. */
  transforms?: readonly Transform[];
  /** Seed of the shuffled order. Default 0. */
  seed?: number;
  /** Native loader threads. Default 2. */
  numWorkers?: number;
  /** Two-sided critical z of the paired tests. Default 3.29 (p < 0.001). */
  criticalZ?: number;
}

/** McNemar's paired test between two evaluations of the same samples. */
export interface PairedTest {
  pair: 'sorted-shuffled' | 'sorted-single' | 'shuffled-single';
  /** Samples right in the first evaluation and wrong in the second. */
  b: number;
  /** Samples wrong in the first and right in the second. */
  c: number;
  /** (|b - c| - 1) / sqrt(b + c), continuity corrected; 0 when b + c = 0. */
  z: number;
  significant: boolean;
}

export interface AuditResult {
  /** Top-1 with class-sorted batches (the paper's official evaluation order). */
  sortedTop1: number;
  /** Top-1 with shuffled batches. */
  shuffledTop1: number;
  /** Top-1 with batch size 1 (no other sample can leak into a prediction). */
  singleTop1: number;
  /** True when any pair differs beyond sampling noise (see `explanation`). */
  leakSuspected: boolean;
  samples: number;
  batchSize: number;
  tests: PairedTest[];
  explanation: string;
}

const KEYS = ['batchSize', 'transforms', 'seed', 'numWorkers', 'criticalZ'];

function mcnemar(pair: PairedTest['pair'], a: Uint8Array, b: Uint8Array, criticalZ: number): PairedTest {
  let rightWrong = 0;
  let wrongRight = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === 1 && b[i] === 0) rightWrong++;
    else if (a[i] === 0 && b[i] === 1) wrongRight++;
  }
  const n = rightWrong + wrongRight;
  const z = n === 0 ? 0 : Math.max(0, Math.abs(rightWrong - wrongRight) - 1) / Math.sqrt(n);
  return { pair, b: rightWrong, c: wrongRight, z, significant: z > criticalZ };
}

/**
 * Evaluates `model` on `dataset` three ways, in its current noise configuration and eval mode:
 * class-sorted batches (how the NoisyNN paper's official code read its test set), shuffled
 * batches, and batch size 1.
 *
 * How a leak is decided: a model whose prediction for a sample depends only on that sample gives
 * the same prediction whatever else shares its batch, so the three evaluations agree sample by
 * sample. For each pair of evaluations, McNemar's paired test counts the samples one gets right
 * and the other wrong (b and c); without a leak b and c are equal up to chance (and both are
 * usually 0). `leakSuspected` is true when any pair's continuity-corrected z = (|b - c| - 1) /
 * sqrt(b + c) exceeds `criticalZ` (3.29: two-sided p < 0.001). Batch-axis noise at evaluation on
 * class-sorted batches (the 'official' preset) mixes each sample with others of its own class,
 * which is flagged; a model without evaluation-time noise passes.
 *
 * @throws TypeError / RangeError for bad arguments.
 * @example
 * const audit = await auditLeakage(model, new FashionMNIST({ split: 'test' }), { batchSize: 64, transforms: [transforms.normalize('fashion-mnist')] });
 * if (audit.leakSuspected) console.warn(audit.explanation);
 */
export async function auditLeakage(model: NoisyModel, dataset: Dataset, options?: AuditOptions): Promise<AuditResult> {
  if (!(model instanceof NoisyModel)) throw typeError('model', 'NoisyViT or NoisyCNN', model);
  if (!(dataset instanceof Dataset)) throw typeError('dataset', 'Dataset', dataset);
  const o = expectOptions(options);
  expectKnownKeys(o, 'options', KEYS);
  const batchSize = o.batchSize === undefined ? 64 : expectPositiveInteger(o.batchSize, 'batchSize');
  const seed = o.seed === undefined ? 0 : expectNonNegativeInteger(o.seed, 'seed');
  const numWorkers = o.numWorkers === undefined ? 2 : expectPositiveInteger(o.numWorkers, 'numWorkers');
  const criticalZ = o.criticalZ === undefined ? 3.29 : expectPositiveNumber(o.criticalZ, 'criticalZ');
  const transforms = o.transforms as readonly Transform[] | undefined;

  // A trainer only for its batch evaluation: it never steps, so it holds no optimizer state. A
  // model trained data-parallel is audited by all its ranks, each on its shard, in per-rank
  // batches that keep the global batch (what 'global' noise mixes) at `batchSize`; the
  // batch-size-1 pass keeps each sample's noise to itself.
  const distributed = distributedOf(model);
  const world = distributed?.worldSize ?? 1;
  const evaluator = new Trainer(model, distributed ? { seed: 0, distributed } : { seed: 0 });
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
  const single = await run('sequential', 1);

  const tests = [
    mcnemar('sorted-shuffled', sorted.correctByIndex, shuffled.correctByIndex, criticalZ),
    mcnemar('sorted-single', sorted.correctByIndex, single.correctByIndex, criticalZ),
    mcnemar('shuffled-single', shuffled.correctByIndex, single.correctByIndex, criticalZ),
  ];
  const leakSuspected = tests.some((t) => t.significant);
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const worst = tests.reduce((a, t) => (t.z > a.z ? t : a));
  const explanation = leakSuspected
    ? `Leak suspected: top-1 is ${pct(sorted.top1)} on class-sorted batches, ${pct(shuffled.top1)} on shuffled batches and ${pct(single.top1)} at batch size 1; ` +
      `predictions depend on the other samples in the batch (McNemar ${worst.pair}: ${worst.b} vs ${worst.c} discordant samples, z = ${worst.z.toFixed(1)} > ${criticalZ}). ` +
      'Report the batch-size-1 or shuffled figure.'
    : `No leak detected: top-1 is ${pct(sorted.top1)} (class-sorted), ${pct(shuffled.top1)} (shuffled), ${pct(single.top1)} (batch size 1); ` +
      `no pair differs beyond chance (largest McNemar z = ${worst.z.toFixed(2)} <= ${criticalZ}).`;
  return {
    sortedTop1: sorted.top1,
    shuffledTop1: shuffled.top1,
    singleTop1: single.top1,
    leakSuspected,
    samples: single.samples,
    batchSize,
    tests,
    explanation,
  };
}

// A comparison's results: their types, and the summary per row: means with t intervals over
// seeds, each noise kind's paired effect against no noise (Holm-corrected), the leak and the audits.
import type { AuditResult } from '../audit';
import type { NoiseKind } from '../noise';
import { holm, meanInterval, pairedTTest, PairedTTest } from '../statistics';
import type { EpochEvent, EvalResult } from '../trainer';
import type { ComparisonConfig } from './options';

/** One trained model's scores. */
export interface ComparisonRun {
  kind: NoiseKind;
  seed: number;
  /** Epochs trained (fewer when aborted). */
  epochs: number;
  trainSeconds: number;
  /** The last epoch's training loss and top-1. */
  trainLoss: number;
  trainTop1: number;
  /** No noise at evaluation, shuffled test batches: the honest score. */
  leakFree: EvalResult;
  /**
   * This kind's noise at evaluation, shuffled test batches of the official protocol's size: the
   * noise's own effect at evaluation, with no class-sorted batch to leak through.
   */
  noiseShuffled: EvalResult;
  /** This kind's noise at evaluation, class-sorted test batches of the protocol's size: the paper's protocol. */
  official: EvalResult;
  /**
   * Kind 'none' only: optimal noise at evaluation only on the plainly trained model, class-sorted
   * batches (the ViT's 'official' preset: the paper's headline protocol).
   */
  officialPreset?: EvalResult;
  /** Kind 'none' only: the same optimal noise at evaluation on shuffled batches (never reported by the paper). */
  officialPresetShuffled?: EvalResult;
  /** Per-epoch history from the trainer. */
  history: EpochEvent[];
}

/**
 * Replicates over seeds: mean, sample standard deviation (n - 1; 0 for a single value) and the
 * 95% t interval of the mean, mean ± halfWidth, halfWidth = t_{0.975, n-1} std / sqrt(n) (NaN for
 * a single value).
 */
export interface Spread {
  mean: number;
  std: number;
  halfWidth: number;
  n: number;
  values: number[];
}

/**
 * A noise kind's effect on leak-free accuracy: per seed s, d_s = leakFree(kind, s) -
 * leakFree(none, s); the mean of d with its 95% t interval and paired t-test.
 */
export interface NoiseEffect extends PairedTTest {
  /** The seeds both the kind and 'none' ran with, in the order of d. */
  seeds: number[];
  /** pValue after Holm's step-down correction across the kinds compared with 'none'. */
  pHolm: number;
  /**
   * 'helps' / 'hurts': Holm-corrected p < 0.05, by the sign of the mean. 'none detectable':
   * otherwise. 'too few seeds': fewer than 2 pairs.
   */
  verdict: 'helps' | 'hurts' | 'none detectable' | 'too few seeds';
  /**
   * The largest |d| inside the 95% interval, max(|lower|, |upper|): an effect larger than this is
   * excluded by the data, so "no effect detectable above" it.
   */
  detectableAbove: number;
}

/** The audits of one row's models, one per seed. */
export interface AuditSummary {
  audited: number;
  /** Audits whose leak test was significant. */
  leaks: number;
  /** The largest of the audits' minimum detectable leaks. */
  minimumDetectable: number;
  alpha: number;
}

export interface KindSummary {
  /** The noise while training. */
  kind: NoiseKind;
  /**
   * The noise at evaluation under the official protocol: `kind` itself, or 'optimal' for the
   * extra row of models trained without noise and evaluated with optimal noise.
   */
  evalKind: NoiseKind;
  /** The row's name: the kind, or 'none → optimal' for the extra row. */
  label: string;
  leakFree: Spread;
  /** The row's noise at evaluation on shuffled batches of the protocol's size. */
  noiseShuffled: Spread;
  official: Spread;
  /** Per seed, official minus noiseShuffled: sorted minus shuffled batches, same noise. */
  leak: Spread;
  /** official.mean - leakFree.mean: what the official protocol adds. */
  gap: number;
  /** Kinds other than 'none', on their own row, when 'none' ran: the paired effect of the noise. */
  effect?: NoiseEffect;
  audit?: AuditSummary;
}

/** The audit of one run's model with `evalKind` noise at evaluation. */
export interface ComparisonAudit extends AuditResult {
  kind: NoiseKind;
  evalKind: NoiseKind;
  label: string;
  seed: number;
}

export interface ComparisonResult {
  config: ComparisonConfig;
  runs: ComparisonRun[];
  /** One row per kind, in the order of config.kinds (kinds with no finished run are left out). */
  summary: KindSummary[];
  audits: ComparisonAudit[];
  aborted: boolean;
  seconds: number;
  environment: { version: string; libtorch: string; blas: string; threads: number; node: string };
}

/** Mean, sample standard deviation (n - 1; 0 when there is one value) and the 95% t interval's half-width. */
export function spread(values: readonly number[]): Spread {
  const m = meanInterval(values);
  return { mean: m.mean, std: m.n > 1 ? m.sd : 0, halfWidth: m.halfWidth, n: m.n, values: [...values] };
}

/** The label of the row of models trained without noise and scored with optimal noise at evaluation. */
export const OFFICIAL_PRESET_LABEL = 'none → optimal';

/** The level of the verdicts on the noise kinds' effects (Holm-corrected across the kinds). */
export const EFFECT_ALPHA = 0.05;

function row(
  kind: NoiseKind,
  evalKind: NoiseKind,
  label: string,
  leakFree: readonly number[],
  noiseShuffled: readonly number[],
  official: readonly number[],
  audits: readonly ComparisonAudit[],
): KindSummary {
  const mine = audits.filter((a) => a.kind === kind && a.evalKind === evalKind);
  const out: KindSummary = {
    kind,
    evalKind,
    label,
    leakFree: spread(leakFree),
    noiseShuffled: spread(noiseShuffled),
    official: spread(official),
    leak: spread(official.map((v, i) => v - noiseShuffled[i])),
    gap: NaN,
  };
  out.gap = out.official.mean - out.leakFree.mean;
  if (mine.length) {
    out.audit = {
      audited: mine.length,
      leaks: mine.filter((a) => a.leakSuspected).length,
      minimumDetectable: Math.max(...mine.map((a) => a.minimumDetectableLeak)),
      alpha: mine[0].alpha,
    };
  }
  return out;
}

/**
 * Groups runs by kind, in `kinds` order; after 'none', the 'none → optimal' row when its runs
 * have it. Each kind other than 'none' gets its paired effect against 'none' (same seeds),
 * Holm-corrected across those kinds.
 */
export function summarize(
  runs: readonly ComparisonRun[],
  kinds: readonly NoiseKind[],
  audits: readonly ComparisonAudit[] = [],
): KindSummary[] {
  const out: KindSummary[] = [];
  const top1 = (rs: readonly ComparisonRun[], pick: (r: ComparisonRun) => EvalResult | undefined) =>
    rs.map((r) => pick(r)?.top1 ?? NaN);
  for (const kind of kinds) {
    const mine = runs.filter((r) => r.kind === kind);
    if (mine.length === 0) continue;
    const leakFree = top1(mine, (r) => r.leakFree);
    out.push(
      row(
        kind,
        kind,
        kind,
        leakFree,
        top1(mine, (r) => r.noiseShuffled),
        top1(mine, (r) => r.official),
        audits,
      ),
    );
    if (kind === 'none' && mine.every((r) => r.officialPreset !== undefined)) {
      const sorted = top1(mine, (r) => r.officialPreset);
      const shuffled = top1(mine, (r) => r.officialPresetShuffled);
      out.push(row(kind, 'optimal', OFFICIAL_PRESET_LABEL, leakFree, shuffled, sorted, audits));
    }
  }

  // Each kind's paired effect on leak-free accuracy, against 'none' on the same seeds.
  const none = new Map(runs.filter((r) => r.kind === 'none').map((r) => [r.seed, r.leakFree.top1]));
  const compared = out.filter((s) => s.label === s.kind && s.kind !== 'none' && none.size > 0);
  for (const s of compared) {
    const paired = runs.filter((r) => r.kind === s.kind && none.has(r.seed));
    const t = pairedTTest(paired.map((r) => r.leakFree.top1 - (none.get(r.seed) as number)));
    s.effect = {
      ...t,
      seeds: paired.map((r) => r.seed),
      pHolm: NaN,
      verdict: 'too few seeds',
      detectableAbove: Math.max(Math.abs(t.lower), Math.abs(t.upper)),
    };
  }
  const adjusted = holm(compared.map((s) => (s.effect as NoiseEffect).pValue));
  compared.forEach((s, i) => {
    const e = s.effect as NoiseEffect;
    e.pHolm = adjusted[i];
    if (e.n >= 2) e.verdict = e.pHolm < EFFECT_ALPHA ? (e.mean > 0 ? 'helps' : 'hurts') : 'none detectable';
  });
  return out;
}

// A comparison's results: their types, the mean ± std per kind, and the table that reports them.
import type { AuditResult } from '../audit';
import type { NoiseKind } from '../noise';
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
  /** This kind's noise at evaluation, class-sorted test batches: the paper's protocol. */
  official: EvalResult;
  /**
   * Kind 'none' only: the 'official' preset on the plainly trained model (optimal noise at
   * evaluation only, class-sorted batches): the paper's headline protocol.
   */
  officialPreset?: EvalResult;
  /** Per-epoch history from the trainer. */
  history: EpochEvent[];
}

/** Mean and sample standard deviation (n - 1; 0 for a single value) of one protocol's top-1. */
export interface Spread {
  mean: number;
  std: number;
  n: number;
  values: number[];
}

export interface KindSummary {
  /** The noise while training. */
  kind: NoiseKind;
  /**
   * The noise at evaluation under the official protocol: `kind` itself, or 'optimal' for the
   * extra row of models trained without noise and evaluated with the 'official' preset.
   */
  evalKind: NoiseKind;
  /** The row's name: the kind, or 'none → optimal' for the official-preset row. */
  label: string;
  leakFree: Spread;
  official: Spread;
  /** official.mean - leakFree.mean: what the official protocol adds. */
  gap: number;
}

/** The audit of one kind's first-seed model with `evalKind` noise at evaluation. */
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

/** Mean and sample standard deviation (n - 1; 0 when there is one value). */
export function spread(values: readonly number[]): Spread {
  const n = values.length;
  const mean = n ? values.reduce((s, v) => s + v, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n, values: [...values] };
}

/** The label of the row of models trained without noise and scored with the 'official' preset. */
export const OFFICIAL_PRESET_LABEL = 'none → optimal';

/**
 * Groups runs by kind, in `kinds` order; after 'none', the 'none → optimal' row (the 'official'
 * preset on the plainly trained models) when its runs have it.
 */
export function summarize(runs: readonly ComparisonRun[], kinds: readonly NoiseKind[]): KindSummary[] {
  const out: KindSummary[] = [];
  for (const kind of kinds) {
    const mine = runs.filter((r) => r.kind === kind);
    if (mine.length === 0) continue;
    const leakFree = spread(mine.map((r) => r.leakFree.top1));
    const official = spread(mine.map((r) => r.official.top1));
    out.push({ kind, evalKind: kind, label: kind, leakFree, official, gap: official.mean - leakFree.mean });
    const preset = mine.filter((r) => r.officialPreset !== undefined);
    if (kind === 'none' && preset.length === mine.length) {
      const officialPreset = spread(preset.map((r) => (r.officialPreset as EvalResult).top1));
      out.push({
        kind,
        evalKind: 'optimal',
        label: OFFICIAL_PRESET_LABEL,
        leakFree,
        official: officialPreset,
        gap: officialPreset.mean - leakFree.mean,
      });
    }
  }
  return out;
}

const pct = (x: number, digits = 2) => (Number.isFinite(x) ? (100 * x).toFixed(digits) : 'n/a');
const pm = (s: Spread) => `${pct(s.mean)} ± ${pct(s.std)}`;
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${pct(Math.abs(x))}`;

/** One line describing the experiment, for table headers and reports. */
export function describeComparison(c: ComparisonConfig): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return (
    `${c.dataset} · ${c.model} (${n(c.parameters)} parameters) · ${c.seeds.length} seed${c.seeds.length === 1 ? '' : 's'} × ` +
    `${c.epochs} epoch${c.epochs === 1 ? '' : 's'} on ${n(c.trainSamples)} training images · ${n(c.testSamples)} test images · ` +
    `noise along the ${c.noise.axis} axis while training`
  );
}

/**
 * The result table: mean ± std (over seeds) of test top-1 in percent under both protocols,
 * plain text for a terminal or GitHub markdown (table.md).
 */
export function formatComparisonTable(
  result: Pick<ComparisonResult, 'config' | 'summary' | 'audits'>,
  format: 'text' | 'markdown' = 'text',
): string {
  const { config, summary, audits } = result;
  const header = ['noise', 'leak-free top-1 %', 'official top-1 %', 'official − leak-free', 'leak audit'];
  const auditOf = (s: KindSummary) => {
    const a = audits.find((x) => x.kind === s.kind && x.evalKind === s.evalKind);
    return a ? (a.leakSuspected ? 'LEAK' : 'pass') : '—';
  };
  const rows = summary.map((s) => [s.label, pm(s.leakFree), pm(s.official), signed(s.gap), auditOf(s)]);
  const notes = [
    `leak-free: no noise at evaluation, shuffled test batches of ${config.evalBatchSize}.`,
    `official: the kind's noise at evaluation (as the paper's code), class-sorted test batches of ${config.evalBatchSize}.`,
    ...(summary.some((s) => s.label === OFFICIAL_PRESET_LABEL)
      ? [
          `${OFFICIAL_PRESET_LABEL}: the models trained without noise, scored with the 'official' preset (optimal noise at evaluation only): the paper's headline protocol.`,
        ]
      : []),
    `mean ± sample std over ${config.seeds.length} seed${config.seeds.length === 1 ? '' : 's'} (${config.seeds.join(', ')}).`,
  ];
  if (audits.length) {
    notes.push(
      `leak audit: McNemar tests between class-sorted, shuffled and batch-size-1 evaluation of seed ${audits[0].seed}'s model with the row's noise at evaluation, ${audits[0].samples} test images.`,
    );
  }
  if (format === 'markdown') {
    const align = ['---', '---:', '---:', '---:', ':---:'];
    return [
      `**${describeComparison(config)}**`,
      '',
      `| ${header.join(' | ')} |`,
      `| ${align.join(' | ')} |`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
      '',
      ...notes.map((n) => `- ${n}`),
      '',
    ].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('   ')
      .trimEnd();
  return [
    describeComparison(config),
    '',
    line(header),
    widths.map((w) => '─'.repeat(w)).join('   '),
    ...rows.map(line),
    '',
    ...notes,
    '',
  ].join('\n');
}

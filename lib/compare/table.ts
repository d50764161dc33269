// The comparison's tables, as plain text for a terminal or GitHub markdown (table.md): does the
// noise help when nothing leaks, and what noise at evaluation and the official protocol add.
import type { ComparisonConfig } from './options';
import {
  AuditSummary,
  ComparisonResult,
  EFFECT_ALPHA,
  KindSummary,
  NoiseEffect,
  OFFICIAL_PRESET_LABEL,
  Spread,
} from './summary';

const pct = (x: number, digits = 2) => (Number.isFinite(x) ? (100 * x).toFixed(digits) : 'n/a');
const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${pct(Math.abs(x))}` : 'n/a');
/** mean ± the 95% t interval's half-width (the mean alone for a single seed). */
const withInterval = (mean: string, s: Pick<Spread, 'n' | 'halfWidth'>) =>
  s.n > 1 && Number.isFinite(s.halfWidth) ? `${mean} ± ${pct(s.halfWidth)}` : mean;
const meanCell = (s: Spread) => withInterval(pct(s.mean), s);
const differenceCell = (s: Spread) => withInterval(signed(s.mean), s);
const pCell = (p: number) => (Number.isNaN(p) ? '—' : p < 0.001 ? '<0.001' : p.toFixed(3));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The verdict on a kind's effect, as the table prints it. */
export function verdictText(e: NoiseEffect | undefined): string {
  if (e === undefined) return '—';
  if (e.verdict === 'too few seeds') return 'needs 2+ seeds';
  if (e.verdict !== 'none detectable') return e.verdict;
  return `no effect detectable above ${pct(e.detectableAbove)} points`;
}

/** The audits' verdict on a row, as the table prints it: how many seeds' models leak. */
export function auditText(a: AuditSummary | undefined): string {
  if (a === undefined) return '—';
  return `${a.leaks > 0 ? 'leak' : 'no leak'} ${a.leaks}/${a.audited}`;
}

/** One line describing the experiment, for table headers and reports. */
export function describeComparison(c: ComparisonConfig): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return (
    `${c.dataset} · ${c.model} (${n(c.parameters)} parameters) · ${plural(c.seeds.length, 'seed')} × ` +
    `${plural(c.epochs, 'epoch')} on ${n(c.trainSamples)} training images · ${n(c.testSamples)} test images · ` +
    `noise along the ${c.noise.axis} axis while training`
  );
}

interface Table {
  title: string;
  header: string[];
  /** 'l' or 'r' per column. */
  align: ('l' | 'r')[];
  rows: string[][];
}

function render(t: Table, format: 'text' | 'markdown'): string[] {
  if (format === 'markdown') {
    return [
      `*${t.title}*`,
      '',
      `| ${t.header.join(' | ')} |`,
      `| ${t.align.map((a) => (a === 'l' ? '---' : '---:')).join(' | ')} |`,
      ...t.rows.map((r) => `| ${r.join(' | ')} |`),
    ];
  }
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (t.align[i] === 'l' ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('   ')
      .trimEnd();
  return [t.title, '', line(t.header), widths.map((w) => '─'.repeat(w)).join('   '), ...t.rows.map(line)];
}

/** The first table: leak-free accuracy per kind and each kind's paired effect against no noise. */
function effectTable(summary: readonly KindSummary[], config: ComparisonConfig): Table {
  const own = summary.filter((s) => s.label === s.kind);
  return {
    title: `Does the noise help when nothing leaks? Leak-free top-1 (no noise at evaluation, shuffled batches of ${config.evalBatchSize})`,
    header: ['noise', 'leak-free top-1 %', 'Δ vs none, points', 'p (Holm)', 'verdict'],
    align: ['l', 'r', 'r', 'r', 'l'],
    rows: own.map((s) => [
      s.label,
      meanCell(s.leakFree),
      s.effect ? withInterval(signed(s.effect.mean), s.effect) : s.kind === 'none' ? '(reference)' : '—',
      s.effect ? pCell(s.effect.pHolm) : '',
      s.kind === 'none' ? '' : verdictText(s.effect),
    ]),
  };
}

/** The second table: the row's noise at evaluation, shuffled and class-sorted, and the leak between them. */
function protocolTable(summary: readonly KindSummary[], config: ComparisonConfig): Table {
  const b = config.protocol.evalBatchSize;
  return {
    title: `What noise at evaluation and the official protocol add (test batches of ${b})`,
    header: [
      'noise (train → eval)',
      'leak-free %',
      'eval noise, shuffled %',
      'official, sorted %',
      'leak, points',
      'leak audit',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r'],
    rows: summary.map((s) => [
      s.label,
      meanCell(s.leakFree),
      meanCell(s.noiseShuffled),
      meanCell(s.official),
      differenceCell(s.leak),
      auditText(s.audit),
    ]),
  };
}

/** The notes under the tables: what each column is and how the intervals and verdicts are made. */
function notes(result: Pick<ComparisonResult, 'config' | 'summary' | 'audits'>): string[] {
  const { config, summary, audits } = result;
  const p = config.protocol;
  const seeds = config.seeds;
  const compared = summary.filter((s) => s.effect).length;
  const out = [
    `± is the 95% t interval of the mean over ${plural(seeds.length, 'seed')} (${seeds.join(', ')}): t_{0.975, n−1} · sd / √n; seeds are the unit of replication.`,
    `Δ vs none: per seed, the kind's leak-free top-1 minus that of the model trained without noise (same initial weights and batches); mean ± its 95% t interval. ` +
      `p: paired t-test, Holm-corrected across the ${plural(compared, 'kind')} compared. Verdict: helps / hurts when p (Holm) < ${EFFECT_ALPHA}; ` +
      'otherwise "no effect detectable above X points", X the largest |Δ| inside the 95% interval (larger effects are excluded).',
    `eval noise, shuffled: the row's noise at evaluation on shuffled test batches of ${p.evalBatchSize}: the noise's own effect, with no class-sorted batch to leak through.`,
    `official, sorted: the row's noise at evaluation on class-sorted test batches of ${p.evalBatchSize}, as the official ${p.family === 'vit' ? 'ViT' : 'CNN'} code (${p.summary}).`,
    'leak: per seed, official minus eval noise on shuffled batches: class-sorted minus shuffled batches with the same noise.',
  ];
  if (summary.some((s) => s.label === OFFICIAL_PRESET_LABEL)) {
    out.push(
      `${OFFICIAL_PRESET_LABEL}: the models trained without noise, with optimal noise at evaluation only` +
        (p.family === 'vit'
          ? ": class-sorted, the paper's headline protocol; shuffled, the cell the paper never reported."
          : ' (the ViT headline protocol; the official CNN code has no optimal noise).'),
    );
  }
  if (config.noise.siteNote) out.push(`site: ${config.noise.siteNote}.`);
  if (audits.length) {
    const a = audits[0];
    const mde = Math.max(...audits.map((x) => x.minimumDetectableLeak));
    out.push(
      `leak audit: every seed's model with the row's noise at evaluation, on ${a.samples} test images: class-sorted vs shuffled batches of ${a.batchSize}, ` +
        `one-sided (sorted better), exact binomial when b + c < 25, McNemar otherwise, at alpha ${a.alpha}; "leak k/n": k of n seeds' models flagged. ` +
        `The smallest leak these audits detect with 80% power: ${pct(mde)} points or less.`,
    );
  }
  return out;
}

/**
 * The result tables, plain text for a terminal or GitHub markdown (table.md): leak-free top-1 per
 * kind with its paired, Holm-corrected effect against no noise; then per row the noise at
 * evaluation on shuffled and class-sorted batches, the leak between them and the audits' verdict.
 * Every ± is a 95% t interval over seeds.
 */
export function formatComparisonTable(
  result: Pick<ComparisonResult, 'config' | 'summary' | 'audits'>,
  format: 'text' | 'markdown' = 'text',
): string {
  const { config, summary } = result;
  const tables = [effectTable(summary, config), protocolTable(summary, config)];
  const head = format === 'markdown' ? `**${describeComparison(config)}**` : describeComparison(config);
  return [
    head,
    '',
    ...render(tables[0], format),
    '',
    ...render(tables[1], format),
    '',
    ...notes(result).map((n) => (format === 'markdown' ? `- ${n}` : n)),
    '',
  ].join('\n');
}

// report.html: a self-contained page (inline CSS and SVG, no scripts) summarising a run folder.
import type { ComparisonResult } from '../compare';
import { describeComparison, OFFICIAL_PRESET_LABEL } from '../compare';
import { escapeXml } from './plot';

/** A cell: text (escaped) or `{ html }` (trusted markup), with an optional CSS class. */
export type Cell = string | number | { html: string; className?: string } | { text: string; className?: string };

/** A table: header cells, body rows, per-column alignment. */
export interface TableSpec {
  headers: readonly string[];
  rows: readonly (readonly Cell[])[];
  /** 'l' | 'r' | 'c' per column; default left for the first, right for the rest. */
  align?: readonly ('l' | 'r' | 'c')[];
  caption?: string;
  /** A CSS class for the table element. */
  className?: string;
}

export interface ReportSection {
  title: string;
  /** Trusted HTML (build it with the helpers here, which escape their text). */
  html: string;
}

export interface ReportPage {
  title: string;
  /** A line under the title, e.g. the date and duration. */
  subtitle?: string;
  /** A highlighted paragraph at the top: the one thing to take away. */
  summary?: string;
  sections: readonly ReportSection[];
  /** Small print at the bottom (versions, the command line). */
  footer?: string;
}

export const escapeHtml = escapeXml;

function cellHtml(cell: Cell, align: string): string {
  const cls = typeof cell === 'object' && cell.className ? ` ${cell.className}` : '';
  const content =
    typeof cell === 'object' ? ('html' in cell ? cell.html : escapeHtml(cell.text)) : escapeHtml(String(cell));
  return `<td class="${align}${cls}">${content}</td>`;
}

/** An HTML table; text cells are escaped. */
export function htmlTable(spec: TableSpec): string {
  const alignOf = (i: number) => ({ l: 'left', r: 'right', c: 'center' })[spec.align?.[i] ?? (i === 0 ? 'l' : 'r')];
  return [
    `<div class="scroll">${spec.className ? `<table class="${spec.className}">` : '<table>'}`,
    spec.caption ? `<caption>${escapeHtml(spec.caption)}</caption>` : '',
    `<thead><tr>${spec.headers.map((h, i) => `<th class="${alignOf(i)}">${escapeHtml(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...spec.rows.map((r) => `<tr>${r.map((c, i) => cellHtml(c, alignOf(i))).join('')}</tr>`),
    '</tbody>',
    '</table></div>',
  ].join('\n');
}

/**
 * A key/value table of a flat or nested config (nested objects are flattened with dots), with
 * `pairs` key/value pairs side by side per row (2 keeps a long config on one screen).
 */
export function configTable(config: Record<string, unknown>, pairs = 1): string {
  const rows: Cell[][] = [];
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        if (Object.keys(v).length === 0) rows.push([{ html: `<code>${escapeHtml(key)}</code>` }, '—']);
        else walk(v as Record<string, unknown>, key);
      } else {
        rows.push([
          { html: `<code>${escapeHtml(key)}</code>` },
          Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? '—' : String(v),
        ]);
      }
    }
  };
  walk(config, '');
  const wide: Cell[][] = [];
  const perColumn = Math.ceil(rows.length / pairs);
  for (let r = 0; r < perColumn; r++) {
    wide.push(Array.from({ length: pairs }, (_, c) => rows[c * perColumn + r] ?? ['', '']).flat());
  }
  const headers = Array.from({ length: pairs }, () => ['setting', 'value']).flat();
  return htmlTable({ headers, rows: wide, align: headers.map(() => 'l'), className: 'config' });
}

/** A paragraph of escaped text. */
export function paragraph(text: string, className?: string): string {
  return `<p${className ? ` class="${className}"` : ''}>${escapeHtml(text)}</p>`;
}

const CSS = `
:root{--fg:#1d1d1f;--muted:#6e6e73;--line:#e3e3e8;--accent:#0072B2;--bad:#b3261e;--good:#1b7f3b;--bg:#fafafa}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1040px;margin:0 auto;padding:32px 28px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:18px;margin:36px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
.subtitle{color:var(--muted);margin:0 0 20px}
.summary{background:#fff;border-left:4px solid var(--accent);padding:12px 16px;margin:16px 0;border-radius:4px;box-shadow:0 1px 2px rgba(0,0,0,.05)}
table{border-collapse:collapse;background:#fff;margin:8px 0 12px;box-shadow:0 1px 2px rgba(0,0,0,.05);font-variant-numeric:tabular-nums}
caption{caption-side:bottom;text-align:left;color:var(--muted);font-size:13px;padding-top:6px}
th,td{padding:7px 14px;border-bottom:1px solid var(--line);white-space:nowrap}
th{background:#f2f2f5;font-weight:600;font-size:13.5px}
tbody tr:last-child td{border-bottom:none}
.left{text-align:left}.right{text-align:right}.center{text-align:center}
.best{font-weight:700}
.leak{color:var(--bad);font-weight:700}.pass{color:var(--good);font-weight:600}
.muted{color:var(--muted)}
.scroll{overflow-x:auto;max-width:100%}
.config td:nth-child(2n+1):not(:first-child),.config th:nth-child(2n+1):not(:first-child){border-left:1px solid var(--line)}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f2f2f5;padding:1px 4px;border-radius:3px}
.figure{background:#fff;padding:8px;box-shadow:0 1px 2px rgba(0,0,0,.05);overflow-x:auto}
.figure svg{display:block;max-width:100%;height:auto}
ul.notes{color:var(--muted);font-size:14px;padding-left:20px}
footer{margin-top:40px;color:var(--muted);font-size:12.5px}
`;

/** The whole page: one HTML document with everything inline (opens from a file, no network). */
export function renderReport(page: ReportPage): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<h1>${escapeHtml(page.title)}</h1>`,
    page.subtitle ? `<p class="subtitle">${escapeHtml(page.subtitle)}</p>` : '',
    page.summary ? `<div class="summary">${page.summary}</div>` : '',
    ...page.sections.map((s) => `<section>\n<h2>${escapeHtml(s.title)}</h2>\n${s.html}\n</section>`),
    page.footer ? `<footer>${page.footer}</footer>` : '',
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** SVG markup for inlining in HTML: drops an XML declaration if present. */
export function inlineSvg(svg: string): string {
  return `<div class="figure">${svg.replace(/^<\?xml[^>]*>\s*/, '')}</div>`;
}

const pct = (x: number | undefined, digits = 2) =>
  typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '—';
const num = (x: number | undefined, digits = 4) =>
  typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—';

/** Timing and versions for the footer. */
export function footerHtml(command: string, environment: Record<string, unknown>): string {
  const env = Object.entries(environment)
    .map(([k, v]) => `${escapeHtml(k)} ${escapeHtml(String(v))}`)
    .join(' · ');
  return `Command: <code>${escapeHtml(command)}</code><br>${env}<br>Generated by noisynn-native.`;
}

// ---------------------------------------------------------------------------------------------
// The comparison report
// ---------------------------------------------------------------------------------------------

/** report.html of `noisynn compare`. */
export function comparisonReport(
  result: ComparisonResult,
  svg: string,
  meta: { command: string; started: Date },
): string {
  const { config, summary, audits, runs } = result;
  const bestLeakFree = Math.max(...summary.filter((s) => s.label === s.kind).map((s) => s.leakFree.mean));
  const resultRows: Cell[][] = summary.map((s) => {
    const audit = audits.find((a) => a.kind === s.kind && a.evalKind === s.evalKind);
    return [
      { html: `<code>${escapeHtml(s.label)}</code>` },
      {
        text: `${pct(s.leakFree.mean)} ± ${pct(s.leakFree.std)}`,
        className: s.leakFree.mean === bestLeakFree ? 'best' : '',
      },
      `${pct(s.official.mean)} ± ${pct(s.official.std)}`,
      { text: `${s.gap >= 0 ? '+' : '−'}${pct(Math.abs(s.gap))}`, className: Math.abs(s.gap) > 0.01 ? 'best' : '' },
      audit
        ? { text: audit.leakSuspected ? 'leak suspected' : 'pass', className: audit.leakSuspected ? 'leak' : 'pass' }
        : '—',
    ];
  });
  const withPreset = runs.some((r) => r.officialPreset);
  const perSeedRows: Cell[][] = runs.map((r) => [
    { html: `<code>${escapeHtml(r.kind)}</code>` },
    r.seed,
    r.epochs,
    num(r.trainLoss),
    pct(r.trainTop1),
    pct(r.leakFree.top1),
    pct(r.official.top1),
    ...(withPreset ? [pct(r.officialPreset?.top1)] : []),
    `${r.trainSeconds.toFixed(1)} s`,
  ]);
  const auditRows: Cell[][] = audits.map((a) => {
    const worst = a.tests.reduce((m, t) => (t.z > m.z ? t : m), a.tests[0]);
    return [
      { html: `<code>${escapeHtml(a.kind)}</code> → <code>${escapeHtml(a.evalKind)}</code>` },
      pct(a.sortedTop1),
      pct(a.shuffledTop1),
      pct(a.singleTop1),
      worst ? `${worst.pair}: ${worst.b} / ${worst.c}, z = ${worst.z.toFixed(1)}` : '—',
      { text: a.leakSuspected ? 'leak suspected' : 'pass', className: a.leakSuspected ? 'leak' : 'pass' },
    ];
  });
  const leaky = audits.filter((a) => a.leakSuspected).map((a) => a.label);
  // The extra row repeats none's leak-free score: rank the kinds by their own rows.
  const ranked = summary.filter((s) => s.label === s.kind).sort((a, b) => b.leakFree.mean - a.leakFree.mean);
  const top = ranked[0];
  const bottom = ranked[ranked.length - 1];
  const topOfficial = [...summary].sort((a, b) => b.official.mean - a.official.mean)[0];
  // "Best" only when the lead over the runner-up is larger than the spread over seeds.
  const standsOut =
    ranked.length < 2 ||
    top.leakFree.mean - ranked[1].leakFree.mean > Math.max(top.leakFree.std, ranked[1].leakFree.std);
  const leakFreeText = !top
    ? ''
    : standsOut
      ? `Leak-free, the best kind is <b>${escapeHtml(top.label)}</b> at ${pct(top.leakFree.mean)} ± ${pct(top.leakFree.std)} top-1. `
      : `Leak-free, no kind stands out: top-1 ranges from ${pct(bottom.leakFree.mean)} (<code>${escapeHtml(bottom.label)}</code>) to ${pct(top.leakFree.mean)} (<code>${escapeHtml(top.label)}</code>), ` +
        "and the leader's margin over the runner-up is within the spread over seeds. ";
  const summaryText = top
    ? leakFreeText +
      `Under the official protocol the best is <b>${escapeHtml(topOfficial.label)}</b> at ${pct(topOfficial.official.mean)} ± ${pct(topOfficial.official.std)}` +
      (leaky.length
        ? `; the audit flags ${leaky.map((k) => `<code>${escapeHtml(k)}</code>`).join(', ')}: with that noise at evaluation, predictions depend on which other images share the batch.`
        : '.') +
      (result.aborted ? ' <b>The job was interrupted: these are the runs that finished.</b>' : '')
    : 'No run finished.';
  const sections: ReportSection[] = [
    {
      title: 'Test accuracy by noise kind',
      html:
        htmlTable({
          headers: [
            'noise (training → evaluation)',
            'leak-free top-1',
            'official top-1',
            'official − leak-free',
            'leak audit',
          ],
          rows: resultRows,
          align: ['l', 'r', 'r', 'r', 'c'],
          caption: `mean ± sample std over ${config.seeds.length} seed${config.seeds.length === 1 ? '' : 's'} (${config.seeds.join(', ')}) on ${config.testSamples.toLocaleString('en-US')} test images`,
        }) +
        '\n<ul class="notes">' +
        `<li><b>leak-free</b>: no noise at evaluation, test batches of ${config.evalBatchSize} in shuffled order (this package's default).</li>` +
        `<li><b>official</b>: the kind's noise applied at evaluation, test batches of ${config.evalBatchSize} in class-sorted order, as the paper's code evaluated. With batch-axis noise, each image is mixed with others of its own class, so the label leaks into the prediction.</li>` +
        (summary.some((s) => s.label === OFFICIAL_PRESET_LABEL)
          ? `<li><b>${escapeHtml(OFFICIAL_PRESET_LABEL)}</b>: the models trained without noise, scored with the 'official' preset (optimal noise at evaluation only): the paper's headline protocol.</li>`
          : '') +
        '</ul>',
    },
    { title: 'Training curves', html: inlineSvg(svg) },
  ];
  if (audits.length) {
    sections.push({
      title: 'Leakage audit',
      html:
        paragraph(
          `Each kind's seed-${audits[0].seed} model, with the official protocol's noise at evaluation, scored three ways on ${audits[0].samples.toLocaleString('en-US')} test images: ` +
            `class-sorted batches of ${audits[0].batchSize}, shuffled batches of ${audits[0].batchSize}, and one image at a time. ` +
            'A model whose prediction depends only on its own input agrees with itself image by image; McNemar tests on the disagreements decide (|z| > 3.29, p < 0.001).',
        ) +
        htmlTable({
          headers: [
            'noise (training → evaluation)',
            'class-sorted',
            'shuffled',
            'batch size 1',
            'largest McNemar (b / c)',
            'verdict',
          ],
          rows: auditRows,
          align: ['l', 'r', 'r', 'r', 'r', 'c'],
        }),
    });
  }
  sections.push({
    title: 'Every run',
    html: htmlTable({
      headers: [
        'noise',
        'seed',
        'epochs',
        'train loss',
        'train top-1',
        'leak-free top-1',
        'official top-1',
        ...(withPreset ? [OFFICIAL_PRESET_LABEL] : []),
        'time',
      ],
      rows: perSeedRows,
    }),
  });
  sections.push({ title: 'Configuration', html: configTable(config as unknown as Record<string, unknown>, 2) });
  return renderReport({
    title: `NoisyNN comparison: ${config.dataset}, ${config.model}`,
    subtitle: `${describeComparison(config)} · started ${meta.started.toISOString().replace('T', ' ').slice(0, 19)} UTC · took ${formatMinutes(result.seconds)}`,
    summary: summaryText,
    sections,
    footer: footerHtml(meta.command, result.environment),
  });
}

function formatMinutes(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
}

// ---------------------------------------------------------------------------------------------
// The training report
// ---------------------------------------------------------------------------------------------

export interface TrainingReportInput {
  config: Record<string, unknown>;
  history: readonly {
    epoch: number;
    loss: number;
    top1: number;
    lr: number;
    imagesPerSecond: number;
    seconds: number;
    validation?: { loss: number; top1: number; top5: number };
  }[];
  /** The final test evaluation. */
  test?: { loss: number; top1: number; top5: number; samples: number };
  /** How the test was scored, e.g. 'no noise at evaluation, shuffled batches of 256'. */
  testProtocol?: string;
  aborted: boolean;
  /** The epoch this invocation resumed from (its time excludes the earlier ones). */
  resumedFrom?: number | null;
  seconds: number;
  environment: Record<string, unknown>;
}

/** report.html of `noisynn train`. */
export function trainingReport(
  input: TrainingReportInput,
  svg: string,
  meta: { command: string; started: Date; title: string },
): string {
  const rows: Cell[][] = input.history.map((h) => [
    h.epoch,
    num(h.loss),
    pct(h.top1),
    num(h.validation?.loss),
    pct(h.validation?.top1),
    pct(h.validation?.top5),
    h.lr.toExponential(2),
    Math.round(h.imagesPerSecond),
    `${h.seconds.toFixed(1)} s`,
  ]);
  const t = input.test;
  const summary = t
    ? `Test top-1 <b>${pct(t.top1)}</b> (top-5 ${pct(t.top5)}, loss ${num(t.loss)}) on ${t.samples.toLocaleString('en-US')} images` +
      `${input.testProtocol ? `: ${escapeHtml(input.testProtocol)}` : ''}.` +
      (input.aborted ? ' <b>Training was interrupted.</b>' : '')
    : input.aborted
      ? '<b>Training was interrupted before the test evaluation.</b>'
      : undefined;
  return renderReport({
    title: meta.title,
    subtitle:
      `started ${meta.started.toISOString().replace('T', ' ').slice(0, 19)} UTC · took ${formatMinutes(input.seconds)}` +
      (input.resumedFrom ? ` (resumed after epoch ${input.resumedFrom})` : ''),
    summary,
    sections: [
      { title: 'Curves', html: inlineSvg(svg) },
      {
        title: 'Epochs',
        html: htmlTable({
          headers: [
            'epoch',
            'train loss',
            'train top-1',
            'val loss',
            'val top-1',
            'val top-5',
            'lr (end)',
            'img/s',
            'time',
          ],
          rows,
        }),
      },
      { title: 'Configuration', html: configTable(input.config, 2) },
    ],
    footer: footerHtml(meta.command, input.environment),
  });
}

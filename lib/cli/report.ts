// report.html: a self-contained page (inline CSS and SVG, no scripts) summarising a run folder:
// the page and table helpers, and the training report (the comparison's is comparison-report.ts).
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

export const pct = (x: number | undefined, digits = 2) =>
  typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '—';
export const num = (x: number | undefined, digits = 4) =>
  typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—';

/** Timing and versions for the footer. */
export function footerHtml(command: string, environment: Record<string, unknown>): string {
  const env = Object.entries(environment)
    .map(([k, v]) => `${escapeHtml(k)} ${escapeHtml(String(v))}`)
    .join(' · ');
  return `Command: <code>${escapeHtml(command)}</code><br>${env}<br>Generated by noisynn-native.`;
}

/** '10 min 11 s' */
export function formatMinutes(seconds: number): string {
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

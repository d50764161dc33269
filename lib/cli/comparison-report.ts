// report.html of `noisynn compare`: the two result tables, the curves, every audit, every run and
// the configuration.
import type { ComparisonResult, KindSummary, NoiseEffect, Spread } from '../compare';
import { auditText, describeComparison, EFFECT_ALPHA, OFFICIAL_PRESET_LABEL, verdictText } from '../compare';
import {
  Cell,
  configTable,
  escapeHtml,
  footerHtml,
  formatMinutes,
  htmlTable,
  inlineSvg,
  num,
  paragraph,
  pct,
  renderReport,
  ReportSection,
} from './report';

/** mean ± the 95% t interval's half-width, in percent (the mean alone for one seed). */
function meanPm(s: Spread, signed = false): string {
  const m = signed ? `${s.mean >= 0 ? '+' : '−'}${pct(Math.abs(s.mean)).replace('%', '')}` : pct(s.mean);
  return s.n > 1 && Number.isFinite(s.halfWidth) ? `${m} ± ${pct(s.halfWidth)}` : m;
}

/** The sentence on one kind's effect for the summary. */
function effectSentence(s: KindSummary): string {
  const e = s.effect as NoiseEffect;
  const name = `<code>${escapeHtml(s.label)}</code>`;
  const interval = `${e.mean >= 0 ? '+' : '−'}${(100 * Math.abs(e.mean)).toFixed(2)} ± ${(100 * e.halfWidth).toFixed(2)} points`;
  if (e.verdict === 'too few seeds') return `${name}: one seed, no interval`;
  if (e.verdict === 'none detectable') return `${name}: ${escapeHtml(verdictText(e))} (${interval})`;
  return `${name} <b>${e.verdict}</b> (${interval}, Holm p = ${e.pHolm < 0.001 ? '&lt;0.001' : e.pHolm.toFixed(3)})`;
}

/** report.html of `noisynn compare`. */
export function comparisonReport(
  result: ComparisonResult,
  svg: string,
  meta: { command: string; started: Date },
): string {
  const { config, summary, audits, runs } = result;
  const protocol = config.protocol;
  const own = summary.filter((s) => s.label === s.kind);
  const effectRows: Cell[][] = own.map((s) => [
    { html: `<code>${escapeHtml(s.label)}</code>` },
    meanPm(s.leakFree),
    s.effect ? meanPm({ ...s.effect, std: s.effect.sd, values: [] }, true) : s.kind === 'none' ? 'reference' : '—',
    s.effect
      ? Number.isNaN(s.effect.pHolm)
        ? '—'
        : s.effect.pHolm < 0.001
          ? '<0.001'
          : s.effect.pHolm.toFixed(3)
      : '',
    s.kind === 'none'
      ? ''
      : {
          text: verdictText(s.effect),
          className: s.effect?.verdict === 'helps' ? 'pass' : s.effect?.verdict === 'hurts' ? 'leak' : '',
        },
  ]);
  const protocolRows: Cell[][] = summary.map((s) => [
    { html: `<code>${escapeHtml(s.label)}</code>` },
    meanPm(s.leakFree),
    meanPm(s.noiseShuffled),
    meanPm(s.official),
    { text: meanPm(s.leak, true), className: s.audit && s.audit.leaks > 0 ? 'leak' : '' },
    s.audit ? { text: auditText(s.audit), className: s.audit.leaks > 0 ? 'leak' : 'pass' } : '—',
  ]);
  const withPreset = runs.some((r) => r.officialPreset);
  const perSeedRows: Cell[][] = runs.map((r) => [
    { html: `<code>${escapeHtml(r.kind)}</code>` },
    r.seed,
    r.epochs,
    num(r.trainLoss),
    pct(r.trainTop1),
    pct(r.leakFree.top1),
    pct(r.noiseShuffled?.top1),
    pct(r.official.top1),
    ...(withPreset ? [pct(r.officialPresetShuffled?.top1), pct(r.officialPreset?.top1)] : []),
    `${r.trainSeconds.toFixed(1)} s`,
  ]);
  const points = (x: number) => `${x >= 0 ? '+' : '−'}${(100 * Math.abs(x)).toFixed(2)}`;
  const auditRows: Cell[][] = audits.map((a) => {
    const [sortedSingle, shuffledSingle] = a.tests.slice(1);
    return [
      { html: `<code>${escapeHtml(a.kind)}</code> → <code>${escapeHtml(a.evalKind)}</code>` },
      a.seed,
      pct(a.sortedTop1),
      pct(a.shuffledTop1),
      pct(a.singleTop1 ?? undefined),
      `${points(a.leak.difference)} (${points(a.leak.lower)} to ${points(a.leak.upper)})`,
      `${a.leak.b} / ${a.leak.c}, ${a.leak.method === 'exact' ? 'exact' : 'McNemar'} p = ${a.leak.pValue < 1e-4 ? a.leak.pValue.toExponential(1) : a.leak.pValue.toPrecision(2)}`,
      (100 * a.minimumDetectableLeak).toFixed(2),
      sortedSingle && shuffledSingle
        ? `${points(sortedSingle.difference)} / ${points(shuffledSingle.difference)}`
        : '—',
      { text: a.leakSuspected ? 'leak' : 'no leak detected', className: a.leakSuspected ? 'leak' : 'pass' },
    ];
  });
  const leaky = summary.filter((s) => s.audit && s.audit.leaks > 0);
  const compared = own.filter((s) => s.effect);
  const summaryText = own.length
    ? (compared.length
        ? `Leak-free, against the models trained without noise (same seeds): ${compared.map(effectSentence).join('; ')}. `
        : 'Leak-free: no kind to compare with <code>none</code>. ') +
      (leaky.length
        ? `Under the official protocol the audits find a leak for ${leaky.map((s) => `<code>${escapeHtml(s.label)}</code> (${s.audit?.leaks}/${s.audit?.audited} seeds)`).join(', ')}: with that noise at evaluation, predictions improve when a test batch holds one class.`
        : audits.length
          ? 'The audits find no leak under the official protocol (see the smallest leak they could detect).'
          : '') +
      (result.aborted ? ' <b>The job was interrupted: these are the runs that finished.</b>' : '')
    : 'No run finished.';
  const n = config.seeds.length;
  const sections: ReportSection[] = [
    {
      title: 'Does the noise help when nothing leaks?',
      html:
        htmlTable({
          headers: ['noise', 'leak-free top-1', 'Δ vs none (points)', 'p (Holm)', 'verdict'],
          rows: effectRows,
          align: ['l', 'r', 'r', 'r', 'l'],
          caption: `mean ± 95% t interval over ${n} seed${n === 1 ? '' : 's'} (${config.seeds.join(', ')}) on ${config.testSamples.toLocaleString('en-US')} test images, no noise at evaluation, shuffled batches of ${config.evalBatchSize}`,
        }) +
        '\n<ul class="notes">' +
        "<li><b>Δ vs none</b>: per seed, the kind's leak-free top-1 minus that of the model trained without noise from the same initial weights on the same batches; mean ± its 95% t interval (t<sub>0.975, n−1</sub> · sd / √n).</li>" +
        `<li><b>p (Holm)</b>: paired t-test, Holm-corrected across the ${compared.length} kinds. <b>Verdict</b>: helps / hurts when it is below ${EFFECT_ALPHA}; otherwise no effect is detectable above the largest |Δ| inside the 95% interval.</li>` +
        '</ul>',
    },
    {
      title: 'Noise at evaluation and the official protocol',
      html:
        htmlTable({
          headers: [
            'noise (training → evaluation)',
            'leak-free top-1',
            'noise at eval, shuffled',
            'official (class-sorted)',
            'leak: sorted − shuffled',
            'leak audit',
          ],
          rows: protocolRows,
          align: ['l', 'r', 'r', 'r', 'r', 'c'],
          caption: `mean ± 95% t interval over seeds; test batches of ${protocol.evalBatchSize} for the noisy columns`,
        }) +
        '\n<ul class="notes">' +
        `<li><b>noise at eval, shuffled</b>: the row's noise at evaluation on shuffled test batches of ${protocol.evalBatchSize}: the noise's own effect.</li>` +
        `<li><b>official</b>: the same noise on class-sorted test batches of ${protocol.evalBatchSize}, as the official ${protocol.family === 'vit' ? 'ViT' : 'CNN'} code (${escapeHtml(protocol.summary)}). With batch-axis noise, each image is mixed with others of its own class, so the label leaks into the prediction.</li>` +
        "<li><b>leak</b>: per seed, official minus noise at eval on shuffled batches (class-sorted minus shuffled, same noise); <b>leak audit</b>: how many seeds' audits flag it.</li>" +
        (summary.some((s) => s.label === OFFICIAL_PRESET_LABEL)
          ? `<li><b>${escapeHtml(OFFICIAL_PRESET_LABEL)}</b>: the models trained without noise, with optimal noise at evaluation only${protocol.family === 'vit' ? ": class-sorted, the paper's headline protocol; shuffled, the cell the paper never reported" : ' (the ViT headline protocol; the official CNN code has no optimal noise)'}.</li>`
          : '') +
        (config.noise.siteNote ? `<li><b>site</b>: ${escapeHtml(config.noise.siteNote)}.</li>` : '') +
        '</ul>',
    },
    { title: 'Training curves', html: inlineSvg(svg) },
  ];
  if (audits.length) {
    sections.push({
      title: 'Leakage audit',
      html:
        paragraph(
          `Every run's model, with the official protocol's noise at evaluation, scored three ways on ${audits[0].samples.toLocaleString('en-US')} test images: ` +
            `class-sorted batches of ${audits[0].batchSize}, shuffled batches of ${audits[0].batchSize}, and one image at a time. ` +
            `The leak test is class-sorted vs shuffled with the same noise, one-sided (sorted better): exact binomial on the b + c images the two disagree on when b + c < 25, McNemar otherwise, at alpha ${audits[0].alpha}. ` +
            'The interval is (b − c)/n ± 1.96 √((b + c) − (b − c)²/n) / n; the smallest detectable leak is at 80% power. ' +
            "Batch size 1 switches batch-axis noise off, so the last column (sorted − single / shuffled − single) is the noise's own effect, not a leak.",
        ) +
        htmlTable({
          headers: [
            'noise (training → evaluation)',
            'seed',
            'class-sorted',
            'shuffled',
            'batch size 1',
            'leak, points (95% CI)',
            'b / c, test',
            'smallest detectable leak',
            'noise effect vs batch size 1',
            'verdict',
          ],
          rows: auditRows,
          align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'c'],
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
        'noise at eval, shuffled',
        'official top-1',
        ...(withPreset ? [`${OFFICIAL_PRESET_LABEL}, shuffled`, `${OFFICIAL_PRESET_LABEL}, class-sorted`] : []),
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

// Line charts as hand-written SVG: the loss and accuracy curves of a run folder (no dependency).

/** One line on a chart. */
export interface Series {
  name: string;
  /** [x, y] pairs in drawing order; non-finite points are skipped (they break the line). */
  points: readonly (readonly [number, number])[];
  /** A CSS colour; by default the palette's next one. */
  color?: string;
  /** Dashed line (e.g. validation beside a solid training line). */
  dashed?: boolean;
  /** Draw a dot on each point (for sparse series such as per-epoch validation). */
  markers?: boolean;
}

/** One chart panel: axes, ticks, labels, a legend, its series. */
export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Format of y tick labels: 'number' (default) or 'percent' (y in [0, 1] shown as %). */
  yFormat?: 'number' | 'percent';
  /** Fixed y range; by default the data's range, padded and widened to whole ticks. */
  yRange?: readonly [number, number];
  /** Start the x axis here even if the data starts later (e.g. 0 for epochs). */
  xMin?: number;
}

export interface ChartOptions {
  /** Width of each panel in px. Default 480. */
  panelWidth?: number;
  /** Height in px. Default 340. */
  height?: number;
  /** A title above the panels. */
  title?: string;
}

/**
 * Colour-blind-safe palette (Okabe & Ito), reordered so the first five (compare's noise kinds)
 * stay distinct in greyscale print too.
 */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/**
 * "Nice" tick values inside [lo, hi]: a step of 1, 2, 2.5 or 5 times a power of ten, the one
 * whose tick count is closest to `target` (2.5 only when clearly better: its labels are longer).
 */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const magnitude = 10 ** Math.floor(Math.log10((hi - lo) / Math.max(1, target)));
  const count = (step: number) => Math.floor(hi / step + 1e-9) - Math.ceil(lo / step - 1e-9) + 1;
  let best = magnitude;
  let bestScore = Infinity;
  for (const m of [1, 2, 2.5, 5, 10, 20]) {
    const step = m * magnitude;
    const score = Math.abs(count(step) - target) + (m === 2.5 ? 0.5 : 0);
    if (score < bestScore) {
      best = step;
      bestScore = score;
    }
  }
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / best - 1e-9) * best; v <= hi + best * 1e-9; v += best)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Decimals needed to write every multiple of `step` exactly (2.5 -> 1, 0.02 -> 2), at most 6. */
function decimalsFor(step: number): number {
  for (let d = 0; d < 6; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
  }
  return 6;
}

/** Tick label text: as few decimals as the step needs. */
export function formatTick(value: number, step: number, format: 'number' | 'percent' = 'number'): string {
  if (format === 'percent') return `${(value * 100).toFixed(decimalsFor(step * 100))}%`;
  if (Math.abs(value) >= 1e5 || (Math.abs(value) > 0 && Math.abs(value) < 1e-4)) return value.toExponential(1);
  return value.toFixed(decimalsFor(step));
}

/**
 * Averages consecutive points into at most `maxPoints` buckets (per-step losses of a long run
 * would otherwise make a multi-megabyte SVG and an unreadable line).
 */
export function downsample(points: readonly (readonly [number, number])[], maxPoints = 300): [number, number][] {
  const finite = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (finite.length <= maxPoints) return finite.map(([x, y]) => [x, y]);
  const out: [number, number][] = [];
  const size = finite.length / maxPoints;
  for (let b = 0; b < maxPoints; b++) {
    const slice = finite.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (slice.length === 0) continue;
    out.push([slice[slice.length - 1][0], slice.reduce((s, p) => s + p[1], 0) / slice.length]);
  }
  return out;
}

/** Exponential moving average of y (bias-corrected, so the first points are not pulled to 0). */
export function smooth(points: readonly (readonly [number, number])[], weight = 0.9): [number, number][] {
  let avg = 0;
  let n = 0;
  return points.map(([x, y]) => {
    n++;
    avg = weight * avg + (1 - weight) * y;
    return [x, avg / (1 - weight ** n)];
  });
}

function fmt(n: number): string {
  return Number(n.toFixed(2)).toString();
}

function renderPanel(
  panel: Panel,
  x0: number,
  width: number,
  height: number,
  colorOf: (s: Series, i: number) => string,
): string {
  // Margins leave room for tick labels (left, bottom), the title (top) and the legend (below).
  const legendRows = Math.ceil(panel.series.length / 2);
  const m = { left: 62, right: 16, top: 34, bottom: 58 + legendRows * 18 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = panel.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let xLo = xs.length ? Math.min(...xs) : 0;
  if (panel.xMin !== undefined) xLo = Math.min(xLo, panel.xMin);
  let xHi = xs.length ? Math.max(...xs) : 1;
  if (xLo === xHi) [xLo, xHi] = [xLo - 0.5, xHi + 0.5];
  let [yLo, yHi] = panel.yRange ?? [ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1];
  if (!panel.yRange) {
    const pad = (yHi - yLo) * 0.06 || Math.abs(yHi) * 0.1 || 0.5;
    yLo -= pad;
    yHi += pad;
    if (Math.min(...ys) >= 0 && yLo < 0) yLo = 0;
  }
  const xTicks = niceTicks(xLo, xHi, Math.max(3, Math.floor(plotW / 70)));
  let yTicks = niceTicks(yLo, yHi, 5);
  // The y axis is widened to whole ticks, so the frame starts and ends on a label.
  if (!panel.yRange && yTicks.length > 1) {
    const step = yTicks[1] - yTicks[0];
    const lo = Math.floor(yLo / step + 1e-9) * step;
    const hi = Math.ceil(yHi / step - 1e-9) * step;
    [yLo, yHi] = [Math.min(...ys) >= 0 ? Math.max(0, lo) : lo, hi];
    yTicks = [];
    for (let v = yLo; v <= yHi + step * 1e-6; v += step) yTicks.push(Number(v.toPrecision(12)));
  }
  const sx = (x: number) => x0 + m.left + ((x - xLo) / (xHi - xLo)) * plotW;
  const sy = (y: number) => m.top + plotH - ((y - yLo) / (yHi - yLo)) * plotH;
  const xStep = xTicks.length > 1 ? xTicks[1] - xTicks[0] : 1;
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
  const parts: string[] = [];
  parts.push(`<g class="panel">`);
  parts.push(
    `<text x="${fmt(x0 + m.left + plotW / 2)}" y="20" class="title" text-anchor="middle">${escapeXml(panel.title)}</text>`,
  );
  // Grid and ticks.
  for (const t of yTicks) {
    if (t < yLo - 1e-12 || t > yHi + 1e-12) continue;
    const y = fmt(sy(t));
    parts.push(`<line x1="${fmt(x0 + m.left)}" x2="${fmt(x0 + m.left + plotW)}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<line x1="${fmt(x0 + m.left - 5)}" x2="${fmt(x0 + m.left)}" y1="${y}" y2="${y}" class="axis"/>`);
    parts.push(
      `<text x="${fmt(x0 + m.left - 8)}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${escapeXml(formatTick(t, yStep, panel.yFormat))}</text>`,
    );
  }
  for (const t of xTicks) {
    if (t < xLo - 1e-12 || t > xHi + 1e-12) continue;
    const x = fmt(sx(t));
    parts.push(`<line x1="${x}" x2="${x}" y1="${fmt(m.top)}" y2="${fmt(m.top + plotH)}" class="grid"/>`);
    parts.push(`<line x1="${x}" x2="${x}" y1="${fmt(m.top + plotH)}" y2="${fmt(m.top + plotH + 5)}" class="axis"/>`);
    parts.push(
      `<text x="${x}" y="${fmt(m.top + plotH + 19)}" class="tick" text-anchor="middle">${escapeXml(formatTick(t, xStep))}</text>`,
    );
  }
  parts.push(
    `<rect x="${fmt(x0 + m.left)}" y="${fmt(m.top)}" width="${fmt(plotW)}" height="${fmt(plotH)}" class="frame"/>`,
  );
  // Axis labels.
  parts.push(
    `<text x="${fmt(x0 + m.left + plotW / 2)}" y="${fmt(m.top + plotH + 38)}" class="label" text-anchor="middle">${escapeXml(panel.xLabel)}</text>`,
  );
  const ly = m.top + plotH / 2;
  parts.push(
    `<text x="${fmt(x0 + 16)}" y="${fmt(ly)}" class="label" text-anchor="middle" transform="rotate(-90 ${fmt(x0 + 16)} ${fmt(ly)})">${escapeXml(panel.yLabel)}</text>`,
  );
  // Lines, clipped to the plot area.
  const clip = `clip${Math.round(x0)}`;
  parts.push(
    `<clipPath id="${clip}"><rect x="${fmt(x0 + m.left)}" y="${fmt(m.top)}" width="${fmt(plotW)}" height="${fmt(plotH)}"/></clipPath>`,
  );
  parts.push(`<g clip-path="url(#${clip})">`);
  panel.series.forEach((s, i) => {
    const color = colorOf(s, i);
    const pts = downsample(s.points);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const title = `<title>${escapeXml(s.name)}</title>`;
    if (pts.length > 1) {
      const d = pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${fmt(sx(x))},${fmt(sy(y))}`).join(' ');
      parts.push(
        `<path d="${d}" class="series" stroke="${color}"${dash} data-series="${escapeXml(s.name)}">${title}</path>`,
      );
    }
    if (s.markers || pts.length === 1) {
      for (const [x, y] of pts)
        parts.push(
          `<circle cx="${fmt(sx(x))}" cy="${fmt(sy(y))}" r="3.2" fill="${color}" data-series="${escapeXml(s.name)}"/>`,
        );
    }
  });
  parts.push('</g>');
  // Legend below the axis label, two entries per row.
  const legendTop = m.top + plotH + 54;
  panel.series.forEach((s, i) => {
    const col = i % 2;
    const row = Math.floor(i / 2);
    const lx = x0 + m.left + col * (plotW / 2);
    const lyy = legendTop + row * 18;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<line x1="${fmt(lx)}" x2="${fmt(lx + 22)}" y1="${fmt(lyy)}" y2="${fmt(lyy)}" stroke="${colorOf(s, i)}" class="series"${dash}/>`,
    );
    parts.push(
      `<text x="${fmt(lx + 28)}" y="${fmt(lyy)}" class="legend" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  if (all.length === 0) {
    parts.push(
      `<text x="${fmt(x0 + m.left + plotW / 2)}" y="${fmt(m.top + plotH / 2)}" class="label" text-anchor="middle">no data</text>`,
    );
  }
  parts.push('</g>');
  return parts.join('\n');
}

/**
 * Renders panels side by side as one standalone SVG document (also valid inline in HTML).
 *
 * @example
 * renderChart([{ title: 'Loss', xLabel: 'epoch', yLabel: 'loss', series: [{ name: 'train', points: [[1, 0.9], [2, 0.6]] }] }]);
 */
export function renderChart(panels: readonly Panel[], options: ChartOptions = {}): string {
  const panelWidth = options.panelWidth ?? 480;
  const height = options.height ?? 340;
  const top = options.title ? 28 : 0;
  const width = panelWidth * Math.max(1, panels.length);
  // Series with the same name share a colour across panels (the same run in loss and accuracy).
  const colors = new Map<string, string>();
  const colorOf = (s: Series, i: number): string => {
    if (s.color) return s.color;
    const key = s.name.replace(/\s*\((train|validation|val|test)\)$/i, '');
    if (!colors.has(key)) colors.set(key, PALETTE[colors.size % PALETTE.length]);
    return colors.get(key) ?? PALETTE[i % PALETTE.length];
  };
  const body = panels.map((p, i) => renderPanel(p, i * panelWidth, panelWidth, height, colorOf)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + top}" viewBox="0 0 ${width} ${height + top}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif">`,
    '<style>',
    '.title{font-size:15px;font-weight:600;fill:#222}',
    '.label{font-size:12.5px;fill:#333}',
    '.tick{font-size:11px;fill:#555}',
    '.legend{font-size:12px;fill:#222}',
    '.grid{stroke:#e6e6e6;stroke-width:1}',
    '.axis{stroke:#666;stroke-width:1}',
    '.frame{fill:none;stroke:#888;stroke-width:1}',
    '.series{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}',
    '</style>',
    `<rect width="${width}" height="${height + top}" fill="#fff"/>`,
    options.title
      ? `<text x="${width / 2}" y="20" class="title" text-anchor="middle">${escapeXml(options.title)}</text>`
      : '',
    `<g transform="translate(0 ${top})">`,
    body,
    '</g>',
    '</svg>',
    '',
  ].join('\n');
}

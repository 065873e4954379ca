// Exports of the current view: CSV and JSON of its tensors, SVG of its heatmap (vector,
// publication quality). Pure string builders, unit-tested in plain Node.
import type { ColourMap } from '../shared/protocol';
import type { Stage, TensorData } from '../shared/trace';
import { tensorToJson } from '../shared/codec';
import { cssColour } from './draw/colormap';
import {
  centredRange,
  colourRange,
  formatValue,
  headData,
  headsHeld,
  isWhole,
  wholeData,
  type Matrix,
  type ScaleEnds,
} from '../shared/tensorView';

/** Float32 values printed with 9 significant digits round-trip exactly. */
const exact = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(9))) : String(v));

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) || /^[=+\-@\t]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The matrix as CSV, a header row of `index:label` columns. A window of a bigger matrix gives its
 * first row and column (`at`), so the indices are the whole matrix's, and says so in the corner cell.
 */
export function matrixToCsv(
  m: Matrix,
  at?: { readonly r0: number; readonly c0: number; readonly note: string },
): string {
  const r0 = at?.r0 ?? 0;
  const c0 = at?.c0 ?? 0;
  const corner = `${m.rowAxis} \\ ${m.colAxis}${at ? ` (${at.note})` : ''}`;
  const head = [csvCell(corner), ...m.colLabels.map((l, j) => csvCell(`${j + c0}:${l}`))].join(',');
  const rows = [head];
  for (let r = 0; r < m.rows; r++) {
    const cells = [csvCell(`${r + r0}:${m.rowLabels[r] ?? r + r0}`)];
    for (let c = 0; c < m.cols; c++) cells.push(exact(m.data[r * m.cols + c]!));
    rows.push(cells.join(','));
  }
  return rows.join('\n') + '\n';
}

/**
 * A tensor as the JSON export saves it: whole, or (a big run's, fetched a head at a time) the heads
 * the panel holds, its head axis labelled by their indices. Throws for a tensor not loaded at all.
 */
export function exportedTensor(t: TensorData): TensorData {
  const { remote: _remote, ...rest } = t;
  if (isWhole(t)) return rest;
  const held = [...headsHeld(t).keys()].sort((a, b) => a - b);
  if (held.length === 0) return { ...rest, data: wholeData(t) }; // throws: nothing of it is here
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = new Float32Array(held.length * per);
  held.forEach((h, i) => data.set(headData(t, h), i * per));
  const axis = t.axes[0]!;
  return {
    ...rest,
    shape: [held.length, ...t.shape.slice(1)],
    data,
    labels: { ...t.labels, [axis]: held.map(String) },
  };
}

export function stageToJson(stage: Stage, extra: Record<string, unknown> = {}): string {
  const tensors = stage.tensors.map((t) => tensorToJson(exportedTensor(t)));
  return JSON.stringify({ ...extra, stage: { ...stage, tensors } }, null, 1);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface SvgOptions {
  readonly title: string;
  readonly colourMap: ColourMap;
  /** The panel's scale ends for this tensor (scaleEndsFor), so the SVG has the panel's colours. */
  readonly fixedRange?: ScaleEnds;
  readonly cell?: number;
  readonly font?: string;
  /** A signed tensor, drawn as in the panel: the diverging map, centred on 0. */
  readonly diverging?: boolean;
  /** What the colour measures, written along the legend. */
  readonly legendTitle?: string;
}

/** A standalone SVG heatmap: one rect per cell, token labels, title and colour legend. */
export function heatmapSvg(m: Matrix, o: SvgOptions): string {
  const cell = o.cell ?? (m.cols > 64 ? 6 : 18);
  const font = o.font ?? 'Helvetica, Arial, sans-serif';
  const labelW = Math.min(14, Math.max(1, ...m.rowLabels.map((l) => [...l].length))) * 6.5 + 10;
  const labelH = Math.min(14, Math.max(1, ...m.colLabels.map((l) => [...l].length))) * 6.5 + 10;
  const top = 24 + labelH;
  const left = labelW;
  const own = colourRange(m, o.fixedRange);
  const { min, max } = o.diverging ? centredRange(own) : own;
  const map = o.diverging ? 'diverging' : o.colourMap;
  // Room for the legend's end labels at 11 px (about 6.8 px a character), never less than before.
  const legendW = Math.max(70, 32 + Math.ceil(Math.max(formatValue(min).length, formatValue(max).length) * 6.8));
  const w = left + m.cols * cell + legendW + (o.legendTitle ? 16 : 0);
  const h = top + m.rows * cell + 16;
  const span = max - min;
  const showLabels = cell >= 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="${esc(font)}" font-size="11">`,
    `<title>${esc(o.title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="16" font-size="13" font-weight="bold">${esc(o.title)}</text>`,
  ];
  for (let r = 0; r < m.rows; r++)
    for (let c = 0; c < m.cols; c++) {
      const v = m.data[r * m.cols + c]!;
      const fill = m.masked?.(r, c) ? '#eee' : cssColour(map, (v - min) / span);
      parts.push(
        `<rect x="${left + c * cell}" y="${top + r * cell}" width="${cell}" height="${cell}" fill="${fill}"><title>${esc(`${m.rowLabels[r]} → ${m.colLabels[c]}: ${formatValue(v)}`)}</title></rect>`,
      );
    }
  if (showLabels) {
    m.rowLabels.forEach((l, r) =>
      parts.push(
        `<text x="${left - 4}" y="${top + (r + 0.5) * cell}" text-anchor="end" dominant-baseline="middle">${esc(l)}</text>`,
      ),
    );
    m.colLabels.forEach((l, c) => {
      const x = left + (c + 0.5) * cell;
      parts.push(
        `<text transform="translate(${x},${top - 4}) rotate(-90)" dominant-baseline="middle">${esc(l)}</text>`,
      );
    });
  }
  const lx = left + m.cols * cell + 14;
  const lh = Math.max(40, Math.min(200, m.rows * cell));
  parts.push(`<defs><linearGradient id="legend" x1="0" y1="1" x2="0" y2="0">`);
  for (let i = 0; i <= 10; i++) parts.push(`<stop offset="${i / 10}" stop-color="${cssColour(map, i / 10)}"/>`);
  parts.push(`</linearGradient></defs>`, `<rect x="${lx}" y="${top}" width="10" height="${lh}" fill="url(#legend)"/>`);
  parts.push(
    `<text x="${lx + 14}" y="${top + 8}">${esc(formatValue(max))}</text>`,
    `<text x="${lx + 14}" y="${top + lh}">${esc(formatValue(min))}</text>`,
  );
  if (o.legendTitle)
    parts.push(
      `<text transform="translate(${w - 6},${top + lh / 2}) rotate(-90)" text-anchor="middle">${esc(o.legendTitle)}</text>`,
    );
  parts.push('</svg>');
  return parts.join('\n');
}

export function fileSafe(s: string): string {
  return (
    s
      .replace(/[^\w.-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'attention'
  );
}

// A chart of curves: a [series, x] tensor (plot: 'curves', e.g. accuracy of two models by input
// length) drawn as one line per row against the column labels, y from 0 to 100%, with a legend, axis
// titles, each point's value written beside it, and a readout of the point under the mouse.
import type { TensorData } from '../../shared/trace';
import { shapeText, type Matrix } from '../../shared/tensorView';
import { arrowStep, h } from '../dom';
import type { PanelContext } from './part';
import { sizeCanvas, type Figure } from './matrixFigure';

/** Two colours far apart for most colour-vision types (blue, orange), then more; each series also has its own marker. */
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];

export interface CurvesLayout {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

export function layoutCurves(panelWidth: number): CurvesLayout {
  const width = Math.max(360, Math.min(640, panelWidth - 40));
  const height = 300;
  return { width, height, left: 56, right: width - 16, top: 16, bottom: height - 52 };
}

/** The canvas position of point (series s, column k), values read as shares in [0, 1]. */
export function pointAt(l: CurvesLayout, m: Matrix, s: number, k: number): { x: number; y: number } {
  const x = m.cols === 1 ? (l.left + l.right) / 2 : l.left + 24 + ((l.right - l.left - 48) * k) / (m.cols - 1);
  const v = Math.max(0, Math.min(1, m.data[s * m.cols + k]!));
  return { x, y: l.bottom - (l.bottom - l.top) * v };
}

function percent(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

function marker(g: CanvasRenderingContext2D, s: number, x: number, y: number): void {
  g.beginPath();
  if (s % 2 === 0) g.arc(x, y, 4, 0, 2 * Math.PI);
  else g.rect(x - 4, y - 4, 8, 8);
  g.fill();
}

export function drawCurves(
  g: CanvasRenderingContext2D,
  m: Matrix,
  l: CurvesLayout,
  theme: { foreground: string; font: string },
  xTitle: string,
  yTitle: string,
  focus?: { s: number; k: number },
): void {
  g.clearRect(0, 0, l.width, l.height);
  g.font = theme.font;
  g.lineWidth = 1;
  // Grid and y axis: 0, 25, 50, 75, 100%.
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (let q = 0; q <= 4; q++) {
    const y = l.bottom - ((l.bottom - l.top) * q) / 4;
    g.strokeStyle = theme.foreground;
    g.globalAlpha = q === 0 ? 0.8 : 0.2;
    g.beginPath();
    g.moveTo(l.left, y);
    g.lineTo(l.right, y);
    g.stroke();
    g.globalAlpha = 1;
    g.fillStyle = theme.foreground;
    g.fillText(`${q * 25}%`, l.left - 6, y);
  }
  // x labels and titles.
  g.textAlign = 'center';
  g.textBaseline = 'top';
  for (let k = 0; k < m.cols; k++) g.fillText(m.colLabels[k]!, pointAt(l, m, 0, k).x, l.bottom + 6);
  g.fillText(xTitle, (l.left + l.right) / 2, l.bottom + 26);
  g.save();
  g.translate(14, (l.top + l.bottom) / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = 'middle';
  g.fillText(yTitle, 0, 0);
  g.restore();
  // One line per series, its markers, and each point's value.
  for (let s = 0; s < m.rows; s++) {
    const colour = COLOURS[s % COLOURS.length]!;
    g.strokeStyle = colour;
    g.fillStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    for (let k = 0; k < m.cols; k++) {
      const p = pointAt(l, m, s, k);
      if (k === 0) g.moveTo(p.x, p.y);
      else g.lineTo(p.x, p.y);
    }
    g.stroke();
    for (let k = 0; k < m.cols; k++) {
      const p = pointAt(l, m, s, k);
      marker(g, s, p.x, p.y);
      const others = Array.from({ length: m.rows }, (_, r) => m.data[r * m.cols + k]!);
      const v = m.data[s * m.cols + k]!;
      // Above the point for the upper curve, below it for the lower one unless that would run into the x labels.
      const above = v >= Math.max(...others) || p.y + 22 > l.bottom;
      g.textBaseline = above ? 'bottom' : 'top';
      g.fillText(percent(v), p.x, above ? p.y - 6 : p.y + 6);
    }
  }
  if (focus) {
    const p = pointAt(l, m, focus.s, focus.k);
    g.strokeStyle = theme.foreground;
    g.lineWidth = 1.5;
    g.beginPath();
    g.arc(p.x, p.y, 7, 0, 2 * Math.PI);
    g.stroke();
  }
}

/** The nearest point to (x, y) within 20 px, if any. */
export function curvePointAt(l: CurvesLayout, m: Matrix, x: number, y: number): { s: number; k: number } | undefined {
  let best: { s: number; k: number; d: number } | undefined;
  for (let s = 0; s < m.rows; s++)
    for (let k = 0; k < m.cols; k++) {
      const p = pointAt(l, m, s, k);
      const d = Math.hypot(p.x - x, p.y - y);
      if (d <= 20 && (!best || d < best.d)) best = { s, k, d };
    }
  return best && { s: best.s, k: best.k };
}

export function curvesFigure(ctx: PanelContext, tensor: TensorData, matrix: Matrix): Figure {
  // Its own copy of the numbers: every repaint (resize, theme, hover) reads them, and the trace's
  // typed arrays may be handed on (transferred) after this figure is built.
  const m: Matrix = { ...matrix, data: Float32Array.from(matrix.data) };
  const testid = tensor.name;
  const xTitle = `${m.colAxis} (characters)`;
  const yTitle = tensor.name;
  const canvas = h('canvas', {
    class: 'curves',
    'data-testid': `curves-${testid}`,
    tabindex: 0,
    role: 'img',
    'aria-label': `${tensor.name} against ${m.colAxis}: ${Array.from({ length: m.rows }, (_, s) => `${m.rowLabels[s]} ${Array.from({ length: m.cols }, (_, k) => `${m.colLabels[k]} ${percent(m.data[s * m.cols + k]!)}`).join(', ')}`).join('; ')}`,
  });
  const legend = h(
    'div',
    { class: 'curve-legend', 'data-testid': `legend-${testid}` },
    ...Array.from({ length: m.rows }, (_, s) =>
      h('span', { class: 'series', 'data-series': m.rowLabels[s]! }, `${s % 2 === 0 ? '●' : '■'} ${m.rowLabels[s]!}`),
    ),
  );
  const readout = h('div', { class: 'readout', 'data-testid': `readout-${testid}`, 'aria-live': 'polite' }, '\u00a0');
  let layout = layoutCurves(ctx.width());
  let g: CanvasRenderingContext2D | null = null;
  let focus: { s: number; k: number } | undefined;
  const paint = (): void => {
    if (g) drawCurves(g, m, layout, ctx.theme(), xTitle, yTitle, focus);
    readout.textContent = focus
      ? `${m.rowLabels[focus.s]} · ${m.colAxis} ${m.colLabels[focus.k]}: ${percent(m.data[focus.s * m.cols + focus.k]!)}`
      : '\u00a0';
  };
  const relayout = (): void => {
    layout = layoutCurves(ctx.width());
    g = sizeCanvas(canvas, layout.width, layout.height);
    paint();
  };
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    const at = curvePointAt(layout, m, e.clientX - r.left, e.clientY - r.top);
    if (at?.s !== focus?.s || at?.k !== focus?.k) {
      focus = at;
      paint();
    }
  });
  canvas.addEventListener('keydown', (e) => {
    const f = focus ?? { s: 0, k: 0 };
    const next = arrowStep(e.key, { row: f.s, col: f.k }, m.rows, m.cols);
    if (!next) return;
    e.preventDefault();
    focus = { s: next.row, k: next.col };
    paint();
  });
  relayout();
  // Each series' colour on its legend entry, through the CSSOM (the panel's CSP forbids inline styles).
  legend.querySelectorAll<HTMLElement>('.series').forEach((el, s) => {
    el.style.color = COLOURS[s % COLOURS.length]!;
    el.style.marginRight = '1.5em';
  });
  const el = h(
    'figure',
    { class: 'figure wide', 'data-testid': `chart-${testid}` },
    h(
      'figcaption',
      {},
      h('b', {}, `${tensor.name} against ${m.colAxis}`),
      ' ',
      h('span', { class: 'shape', 'data-testid': `shape-${testid}` }, shapeText(tensor)),
    ),
    legend,
    canvas,
    readout,
  );
  return { el, resize: relayout };
}

// One heatmap figure: caption with the tensor's shape and head, the canvas (hover and arrow keys
// move a cell cursor), and a readout of the exact value under it.
import type { ColourMap } from '../../shared/protocol';
import type { TensorData } from '../../shared/trace';
import {
  formatValue,
  isSigned,
  legendLabel,
  legendTitle,
  scaleEndsFor,
  shapeText,
  type Matrix,
} from '../../shared/tensorView';
import { arrowStep, h } from '../dom';
import { HeatmapPainter, hitTest, layoutHeatmap, scaleOf, type HeatmapStyle, type Layout } from '../draw/heatmap';
import { isAttentionMatrix } from '../matrices';
import type { PanelContext } from './part';
import { curvesFigure } from './curvesFigure';

export interface Figure {
  readonly el: HTMLElement;
  resize(): void;
}

export interface MatrixFigureOptions {
  readonly matrix: Matrix;
  readonly tensor: TensorData;
  readonly head: number;
  readonly colourMap: ColourMap;
  readonly kvHeadOf?: readonly number[];
  readonly caption?: string;
  /** data-testid suffix of the canvas, shape and readout (default: the tensor's name). */
  readonly testid?: string;
  /** The cursor's query row: outlined, named in the label, and read out (its strongest keys) until a cell is hovered. */
  readonly focusRow?: number;
  /** A second matrix of the same cells read out beside this one's value (α beside ‖αvW_O‖), each named. */
  readonly companion?: { readonly label: string; readonly ownLabel: string; readonly matrix: Matrix };
}

type Cell = { readonly row: number; readonly col: number };

/** Canvas sized for the device's pixel ratio; returns its 2-D context (none in a DOM without canvas). */
export function sizeCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = width * dpr;
  canvas.height = height * dpr;
  // Through the CSSOM: the panel's CSP forbids inline style attributes.
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  ctx?.scale(dpr, dpr);
  return ctx;
}

/** One row in words: its label and index, and its three largest values with their columns. */
function rowText(m: Matrix, r: number): string {
  const cols = Array.from({ length: m.cols }, (_, c) => c).filter((c) => !m.masked?.(r, c));
  const top = cols.sort((a, b) => m.data[r * m.cols + b]! - m.data[r * m.cols + a]! || a - b).slice(0, 3);
  const values = top.map((c) => `${m.colLabels[c]} (#${c}) ${formatValue(m.data[r * m.cols + c]!)}`).join(', ');
  return `${m.rowAxis} ${m.rowLabels[r]} (#${r}), largest: ${values}`;
}

export function matrixFigure(ctx: PanelContext, o: MatrixFigureOptions): Figure {
  const { matrix, tensor } = o;
  // A [series, x] tensor meant as a chart (accuracy by input length) is drawn as curves, not a heatmap.
  if (tensor.plot === 'curves' && tensor.shape.length === 2) return curvesFigure(ctx, tensor, matrix);
  const testid = o.testid ?? tensor.name;
  const wide = isAttentionMatrix(tensor);
  let style: HeatmapStyle = {
    colourMap: o.colourMap,
    ...ctx.theme(),
    scale: scaleEndsFor(tensor.name),
    showValues: true,
    diverging: isSigned(tensor.name),
    legendTitle: legendTitle(tensor.name),
  };
  const ends = scaleOf(matrix, style);
  const legend = `${style.legendTitle}: ${legendLabel(ends.min)} to ${legendLabel(ends.max)}`;
  const focus = o.focusRow !== undefined && o.focusRow >= 0 && o.focusRow < matrix.rows ? o.focusRow : undefined;
  if (focus !== undefined) style = { ...style, focusRow: focus };
  const focusText = focus === undefined ? undefined : rowText(matrix, focus);
  const canvas = h('canvas', {
    class: 'heatmap',
    'data-testid': `heatmap-${testid}`,
    tabindex: 0,
    role: 'img',
    'aria-label': `${tensor.name} ${shapeText(tensor)}; colour: ${legend}${focusText ? `; focused row: ${focusText}` : ''}`,
    'data-legend': legend,
    'data-focus-row': focus,
  });
  const idle = focusText ?? '\u00a0';
  const readout = h('div', { class: 'readout', 'data-testid': `readout-${testid}`, 'aria-live': 'polite' }, idle);
  // Both numbers of the hovered cell where the figure has a companion (α and ‖αvW_O‖).
  const companion =
    o.companion &&
    h('div', { class: 'readout', 'data-testid': `readout-both-${testid}`, 'aria-live': 'polite' }, '\u00a0');
  const legendWidth = Math.max(legendLabel(ends.min).length, legendLabel(ends.max).length);
  let layout: Layout;
  let painter: HeatmapPainter | undefined;
  let cell: Cell | undefined;
  const relayout = (): void => {
    // The theme's colours now: a theme switch re-lays out every figure.
    style = { ...style, ...ctx.theme() };
    const w = ctx.width();
    const maxWidth = wide ? Math.max(320, w - 40) : Math.max(240, Math.min(480, (w - 60) / 2));
    layout = layoutHeatmap(matrix, maxWidth, true, legendWidth);
    const g = sizeCanvas(canvas, layout.width, layout.height);
    painter = g ? new HeatmapPainter(g, matrix, style) : undefined;
    painter?.draw(layout, cell);
  };
  const show = (c: Cell | undefined): void => {
    cell = c;
    painter?.moveCursor(layout, cell);
    readout.textContent = c
      ? `${matrix.rowAxis} ${matrix.rowLabels[c.row]} (#${c.row}) · ${matrix.colAxis} ${matrix.colLabels[c.col]} (#${c.col}) = ${formatValue(matrix.data[c.row * matrix.cols + c.col]!)}`
      : idle;
    const other = o.companion;
    if (companion && other)
      companion.textContent = c
        ? `${other.ownLabel} = ${formatValue(matrix.data[c.row * matrix.cols + c.col]!)} (colour) · ${other.label} = ${formatValue(other.matrix.data[c.row * other.matrix.cols + c.col]!)}`
        : '\u00a0';
  };
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    const c = hitTest(layout, matrix, e.clientX - r.left, e.clientY - r.top);
    if (c?.row !== cell?.row || c?.col !== cell?.col) show(c);
  });
  // Keyboard focus puts the cell cursor on the first cell, so a screen reader announces it at once (readout is aria-live).
  canvas.addEventListener('focus', () => {
    if (!cell) show({ row: 0, col: 0 });
  });
  canvas.addEventListener('keydown', (e) => {
    const next = arrowStep(e.key, cell ?? { row: 0, col: 0 }, matrix.rows, matrix.cols);
    if (!next) return;
    e.preventDefault();
    show(next);
  });
  relayout();
  const headNote =
    tensor.axes[0] === 'head'
      ? o.head < 0
        ? ' · mean of heads'
        : ` · head ${o.head}`
      : tensor.axes[0] === 'kv_head' && o.kvHeadOf
        ? ` · KV head ${o.kvHeadOf[Math.max(0, o.head)]} (shared)`
        : '';
  const el = h(
    'figure',
    { class: wide ? 'figure wide' : 'figure', title: tensor.description },
    h(
      'figcaption',
      {},
      h('b', { 'data-testid': `caption-${testid}` }, o.caption ?? tensor.name),
      ' ',
      h('span', { class: 'shape', 'data-testid': `shape-${testid}` }, shapeText(tensor)),
      headNote,
    ),
    canvas,
    readout,
    ...(companion ? [companion] : []),
  );
  return { el, resize: relayout };
}

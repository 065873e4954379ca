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
import {
  axisName,
  cellPoint,
  HeatmapPainter,
  hitTest,
  layoutHeatmap,
  scaleOf,
  visibleLabels,
  type HeatmapStyle,
  type Layout,
} from '../draw/heatmap';
import { lut } from '../draw/colormap';
import {
  centreView,
  clampView,
  fullView,
  includeCell,
  isZoomed,
  panView,
  plural,
  poolFactor,
  poolingNote,
  poolMax,
  rowRangeView,
  sameView,
  viewText,
  zoomView,
  type View,
} from '../../shared/viewport';
import { zoomOf, type ZoomKey } from '../store';
import { isAttentionMatrix } from '../matrices';
import type { PanelContext } from './part';
import { curvesFigure } from './curvesFigure';

export interface Figure {
  readonly el: HTMLElement;
  resize(): void;
  /** Lets go of listeners outside the figure (window-level drags). */
  dispose?(): void;
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
  /** Where the figure's zoom window is kept in the store (per stage, tensor and head); without it the window lives with the figure. */
  readonly zoomKey?: ZoomKey;
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
  const { rows, cols } = matrix;
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
  const focus = o.focusRow !== undefined && o.focusRow >= 0 && o.focusRow < rows ? o.focusRow : undefined;
  if (focus !== undefined) style = { ...style, focusRow: focus };
  const focusText = focus === undefined ? undefined : rowText(matrix, focus);
  const ariaBase = `${tensor.name} ${shapeText(tensor)}; colour: ${legend}${focusText ? `; focused row: ${focusText}` : ''}`;
  const canvas = h('canvas', {
    class: 'heatmap',
    'data-testid': `heatmap-${testid}`,
    tabindex: 0,
    role: 'img',
    'aria-label': ariaBase,
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

  // ---- the window (zoom and pan): kept in the store per stage, tensor and head when the figure has a key
  const full = fullView(rows, cols);
  const key = o.zoomKey;
  let view = clampView((key && zoomOf(ctx.store.state, key)) ?? full, rows, cols);
  const rowWord = plural(axisName(matrix.rowAxis) || 'row');
  const zoomable = Math.max(rows, cols) > 24;
  const button = (id: string, label: string, title: string, act: () => void): HTMLElement =>
    h(
      'vscode-button',
      { secondary: true, 'data-testid': `${id}-${testid}`, title, 'aria-label': title, onclick: act },
      label,
    );
  const fromIn = h('input', {
    type: 'number',
    class: 'range-input',
    min: 0,
    max: rows - 1,
    'data-testid': `rows-from-${testid}`,
    'aria-label': `first ${axisName(matrix.rowAxis) || 'row'} shown`,
  });
  const toIn = h('input', {
    type: 'number',
    class: 'range-input',
    min: 0,
    max: rows - 1,
    'data-testid': `rows-to-${testid}`,
    'aria-label': `last ${axisName(matrix.rowAxis) || 'row'} shown`,
  });
  const rangeError = h('span', { class: 'range-error', 'data-testid': `rows-error-${testid}`, role: 'alert' });
  const showRows = (): void => {
    const a = Number(fromIn.value);
    const b = Number(toIn.value);
    const ok = (x: number): boolean => fromIn.value !== '' && Number.isInteger(x) && x >= 0 && x < rows;
    if (!ok(a) || !ok(b) || toIn.value === '') {
      rangeError.textContent = `Give two whole ${rowWord} from 0 to ${rows - 1}.`;
      return;
    }
    rangeError.textContent = '';
    setView(rowRangeView(view, a, b, rows, cols));
  };
  for (const input of [fromIn, toIn])
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') showRows();
    });
  const windowText = h('div', { class: 'window-text muted', 'data-testid': `window-${testid}`, 'aria-live': 'polite' });
  const poolText = h('span', { class: 'pooling muted', 'data-testid': `pooling-${testid}` });
  const minimap = h('canvas', {
    class: 'minimap',
    'data-testid': `minimap-${testid}`,
    role: 'img',
    'aria-label': `the whole ${rows} × ${cols} matrix; the rectangle is the window shown (drag it to pan)`,
  });
  const toolbar = zoomable
    ? h(
        'div',
        { class: 'zoom-bar', 'data-testid': `zoom-bar-${testid}` },
        button('zoom-out', '−', 'Zoom out (−)', () => zoomBy(0.5)),
        button('zoom-in', '+', 'Zoom in (+)', () => zoomBy(2)),
        button('zoom-fit', 'Fit', 'Show the whole matrix (0)', () => setView(full)),
        h('label', { class: 'range-label' }, `${rowWord} `, fromIn, '–', toIn),
        button('rows-show', 'Show', `Show only these ${rowWord}`, showRows),
        rangeError,
      )
    : undefined;
  // The controls and the window's description on the left, the minimap on the right (its room kept while hidden).
  const top = toolbar
    ? h('div', { class: 'zoom-top' }, h('div', { class: 'zoom-left' }, toolbar, windowText), minimap)
    : windowText;

  let layout: Layout;
  let painter: HeatmapPainter | undefined;
  let g: CanvasRenderingContext2D | null = null;
  let cell: Cell | undefined;
  let band: { from: number; to: number } | undefined;
  let mini: { canvas: HTMLCanvasElement; scale: number; k: number } | undefined;

  const drawMinimap = (): void => {
    if (!toolbar) return;
    const zoomed = isZoomed(view, rows, cols);
    // Its room is kept while hidden, so the heatmap does not jump down when the minimap appears.
    minimap.style.visibility = zoomed ? 'visible' : 'hidden';
    const mg = sizeCanvas(minimap, minimapSize(rows, cols).w, minimapSize(rows, cols).h);
    if (!zoomed || !mg) return;
    if (!mini) {
      // The whole matrix once, pooled to at most MINIMAP_PX on its longer side.
      const scale = Math.min(1, MINIMAP_PX / Math.max(rows, cols));
      const k = poolFactor(scale);
      const p = poolMax(matrix, full, k, k);
      const img = new ImageData(p.width, p.height);
      const table = lut(ends.map);
      const span = ends.max - ends.min || 1;
      p.values.forEach((x, i) => {
        const j = Number.isNaN(x) ? -1 : Math.max(0, Math.min(255, Math.round(((x - ends.min) / span) * 255)));
        if (j < 0) img.data.set([128, 128, 128, 30], i * 4);
        else img.data.set(table.subarray(j * 4, j * 4 + 4), i * 4);
      });
      const off = document.createElement('canvas');
      off.width = p.width;
      off.height = p.height;
      off.getContext('2d')?.putImageData(img, 0, 0);
      mini = { canvas: off, scale, k };
    }
    const k = mini.k;
    mg.imageSmoothingEnabled = false;
    mg.save();
    mg.beginPath();
    mg.rect(0, 0, cols * mini.scale, rows * mini.scale);
    mg.clip();
    mg.drawImage(mini.canvas, 0, 0, mini.canvas.width * k * mini.scale, mini.canvas.height * k * mini.scale);
    mg.restore();
    const r = minimapRect(view, mini.scale);
    mg.lineWidth = 3;
    mg.strokeStyle = 'rgba(0,0,0,0.7)';
    mg.strokeRect(r.x, r.y, r.w, r.h);
    mg.lineWidth = 1.5;
    mg.strokeStyle = '#fff';
    mg.strokeRect(r.x, r.y, r.w, r.h);
    minimap.dataset.window = `${r.x.toFixed(1)},${r.y.toFixed(1)},${r.w.toFixed(1)},${r.h.toFixed(1)}`;
  };

  const describe = (): void => {
    const zoomed = isZoomed(view, rows, cols);
    windowText.textContent = zoomed
      ? `Showing ${viewText(view, rows, cols, axisName(matrix.rowAxis), axisName(matrix.colAxis))} (drag to pan, Ctrl+wheel or + / − to zoom, 0 to fit).`
      : `Showing the whole ${rows} × ${cols} matrix${zoomable ? ' (Ctrl+wheel, + / − or the buttons zoom).' : '.'}`;
    poolText.textContent = poolingNote(layout.ky, layout.kx) ? ` · ${poolingNote(layout.ky, layout.kx)}` : '';
    const shown = visibleLabels(layout);
    canvas.dataset.view = `${view.r0},${view.nr},${view.c0},${view.nc}`;
    canvas.dataset.rowLabels = shown.rows.join(',');
    canvas.dataset.colLabels = shown.cols.join(',');
    // The texts drawn on the axes (as the painter wrote them), one per labelled index.
    canvas.dataset.rowLabelText = JSON.stringify(painter?.labels.rows ?? []);
    canvas.dataset.colLabelText = JSON.stringify(painter?.labels.cols ?? []);
    canvas.dataset.cell = layout.cell.toFixed(3);
    canvas.dataset.plotLeft = String(layout.left);
    canvas.dataset.plotTop = String(layout.top);
    canvas.dataset.cellH = layout.cellH.toFixed(3);
    canvas.setAttribute(
      'aria-label',
      zoomed
        ? `${ariaBase}; showing ${viewText(view, rows, cols, axisName(matrix.rowAxis), axisName(matrix.colAxis))}`
        : ariaBase,
    );
    if (document.activeElement !== fromIn && document.activeElement !== toIn) {
      fromIn.value = String(view.r0);
      toIn.value = String(view.r0 + view.nr - 1);
    }
  };

  const paintOverlay = (): void => {
    painter?.moveCursor(layout, cell);
    if (band && g) {
      const a = Math.max(view.r0, Math.min(band.from, band.to));
      const b = Math.min(view.r0 + view.nr - 1, Math.max(band.from, band.to));
      g.save();
      g.fillStyle = 'rgba(128,160,255,0.35)';
      g.fillRect(
        0,
        layout.top + (a - view.r0) * layout.cellH,
        layout.left + view.nc * layout.cell,
        (b - a + 1) * layout.cellH,
      );
      g.restore();
    }
  };

  const maxWidth = (): number => {
    const w = ctx.width();
    return wide ? Math.max(160, w - 40) : Math.max(240, Math.min(480, (w - 60) / 2));
  };
  const relayout = (): void => {
    // The theme's colours now: a theme switch re-lays out every figure.
    style = { ...style, ...ctx.theme() };
    layout = layoutHeatmap(matrix, maxWidth(), true, legendWidth, view);
    g = sizeCanvas(canvas, layout.width, layout.height);
    painter = g ? new HeatmapPainter(g, matrix, style) : undefined;
    const t0 = performance.now();
    painter?.draw(layout, cell);
    // How long the cells took to draw (the bench and the e2e test read it: it follows the window, not T²).
    canvas.dataset.drawMs = (performance.now() - t0).toFixed(1);
    paintOverlay();
    describe();
    drawMinimap();
  };

  function setView(next: View): void {
    const v = clampView(next, rows, cols);
    if (sameView(v, view)) return;
    view = v;
    rangeError.textContent = '';
    relayout();
    if (key) ctx.store.dispatch({ type: 'zoom', key, view: isZoomed(v, rows, cols) ? v : undefined });
  }

  function zoomBy(factor: number, at?: { row: number; col: number }): void {
    const anchor =
      at ??
      (cell
        ? { row: cell.row + 0.5, col: cell.col + 0.5 }
        : { row: view.r0 + view.nr / 2, col: view.c0 + view.nc / 2 });
    setView(zoomView(view, factor, anchor, rows, cols));
  }

  const show = (c: Cell | undefined): void => {
    cell = c;
    paintOverlay();
    readout.textContent = c
      ? `${matrix.rowAxis} ${matrix.rowLabels[c.row]} (#${c.row}) · ${matrix.colAxis} ${matrix.colLabels[c.col]} (#${c.col}) = ${formatValue(matrix.data[c.row * matrix.cols + c.col]!)}`
      : idle;
    const other = o.companion;
    if (companion && other)
      companion.textContent = c
        ? `${other.ownLabel} = ${formatValue(matrix.data[c.row * matrix.cols + c.col]!)} (colour) · ${other.label} = ${formatValue(other.matrix.data[c.row * other.matrix.cols + c.col]!)}`
        : '\u00a0';
  };
  const local = (e: MouseEvent): { x: number; y: number } => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const rowAtY = (y: number): number =>
    Math.max(view.r0, Math.min(view.r0 + view.nr - 1, view.r0 + Math.floor((y - layout.top) / layout.cellH)));

  let drag: { x: number; y: number; from: View } | undefined;
  canvas.addEventListener('mousedown', (e) => {
    if (e.button !== 0 || !zoomable) return;
    const p = local(e);
    if (e.shiftKey && p.x < layout.left && p.y >= layout.top) {
      // Shift-drag down the query axis selects a range of rows.
      e.preventDefault();
      const r = rowAtY(p.y);
      band = { from: r, to: r };
      paintOverlay();
      return;
    }
    if (isZoomed(view, rows, cols) && hitTest(layout, matrix, p.x, p.y)) {
      e.preventDefault();
      drag = { x: e.clientX, y: e.clientY, from: view };
      canvas.classList.add('dragging');
    }
  });
  const onMove = (e: MouseEvent): void => {
    if (band) {
      band = { ...band, to: rowAtY(local(e).y) };
      readout.textContent = `release to show ${rowWord} #${Math.min(band.from, band.to)}–#${Math.max(band.from, band.to)}`;
      paintOverlay();
      return;
    }
    if (drag) {
      const dc = Math.round((drag.x - e.clientX) / layout.cell);
      const dr = Math.round((drag.y - e.clientY) / layout.cellH);
      const next = panView(drag.from, dr, dc, rows, cols);
      if (!sameView(next, view)) setView(next);
    }
  };
  const onUp = (): void => {
    if (band) {
      const b = band;
      band = undefined;
      readout.textContent = idle;
      setView(rowRangeView(view, b.from, b.to, rows, cols));
      paintOverlay();
    }
    if (drag) {
      drag = undefined;
      canvas.classList.remove('dragging');
    }
  };
  window.addEventListener('mousemove', onMove);
  window.addEventListener('mouseup', onUp);
  canvas.addEventListener('mousemove', (e) => {
    if (band || drag) return;
    const p = local(e);
    const c = hitTest(layout, matrix, p.x, p.y);
    if (c?.row !== cell?.row || c?.col !== cell?.col) show(c);
  });
  canvas.addEventListener('wheel', (e) => {
    if (!zoomable || !(e.ctrlKey || e.metaKey)) return;
    e.preventDefault();
    const p = local(e);
    // About the pointer: the cell under it stays under it (placed with the new window's own cell size).
    const at = cellPoint(layout, p.x, p.y);
    const next = zoomView(view, e.deltaY < 0 ? 1.25 : 0.8, at, rows, cols);
    const l2 = layoutHeatmap(matrix, maxWidth(), true, legendWidth, next);
    setView({ ...next, r0: at.row - (p.y - l2.top) / l2.cellH, c0: at.col - (p.x - l2.left) / l2.cell });
  });
  let miniDrag = false;
  const miniTo = (e: MouseEvent): void => {
    if (!mini) return;
    const r = minimap.getBoundingClientRect();
    setView(centreView(view, (e.clientY - r.top) / mini.scale, (e.clientX - r.left) / mini.scale, rows, cols));
  };
  minimap.addEventListener('mousedown', (e) => {
    e.preventDefault();
    miniDrag = true;
    miniTo(e);
  });
  const onMiniMove = (e: MouseEvent): void => {
    if (miniDrag) miniTo(e);
  };
  const onMiniUp = (): void => {
    miniDrag = false;
  };
  window.addEventListener('mousemove', onMiniMove);
  window.addEventListener('mouseup', onMiniUp);
  // Keyboard focus puts the cell cursor on the first cell shown, so a screen reader announces it at once (readout is aria-live).
  canvas.addEventListener('focus', () => {
    if (!cell) show({ row: view.r0, col: view.c0 });
  });
  canvas.addEventListener('keydown', (e) => {
    if (zoomable && (e.key === '+' || e.key === '=' || e.key === '-' || e.key === '0')) {
      e.preventDefault();
      if (e.key === '0') setView(full);
      else zoomBy(e.key === '-' ? 0.5 : 2);
      return;
    }
    const next = arrowStep(e.key, cell ?? { row: view.r0, col: view.c0 }, rows, cols);
    if (!next) return;
    e.preventDefault();
    // The cursor scrolls into view: the window moves as little as it must.
    const moved = includeCell(view, next.row, next.col, rows, cols);
    cell = next;
    if (!sameView(moved, view)) setView(moved);
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
      poolText,
    ),
    top,
    canvas,
    readout,
    ...(companion ? [companion] : []),
  );
  return {
    el,
    resize: relayout,
    dispose: () => {
      window.removeEventListener('mousemove', onMove);
      window.removeEventListener('mouseup', onUp);
      window.removeEventListener('mousemove', onMiniMove);
      window.removeEventListener('mouseup', onMiniUp);
    },
  };
}

/** The minimap's longer side, in px. */
const MINIMAP_PX = 96;

/** The minimap's size: the whole matrix at most MINIMAP_PX on its longer side (8 px at least on each). */
function minimapSize(rows: number, cols: number): { w: number; h: number } {
  const scale = Math.min(1, MINIMAP_PX / Math.max(rows, cols));
  return { w: Math.max(8, Math.round(cols * scale)), h: Math.max(8, Math.round(rows * scale)) };
}

/** The window's rectangle on a minimap drawn at `scale` px a cell (at least 3 px each way, to stay grabbable). */
export function minimapRect(v: View, scale: number): { x: number; y: number; w: number; h: number } {
  const w = Math.max(3, v.nc * scale);
  const hh = Math.max(3, v.nr * scale);
  return { x: v.c0 * scale, y: v.r0 * scale, w, h: hh };
}

// Canvas heatmap with token labels on both axes, a colour legend, hover hit-testing and a
// keyboard cell cursor. Layout and hit-testing are pure (unit-tested); drawing uses canvas 2D.
import { isLightColour } from '../attentionViews';
import type { ColourMap } from '../../shared/protocol';
import { colourAt, cssColour, lut, type MapName } from './colormap';
import {
  centredRange,
  colourRange,
  formatValue,
  legendLabel,
  type Matrix,
  type ScaleEnds,
  type ValueRange,
} from '../../shared/tensorView';
import { fullView, labelIndices, labelStep, poolFactor, poolMax, type View } from '../../shared/viewport';

export interface Layout {
  /** Cell width and height; cells are square unless a wide matrix would make rows unreadably thin. Below 2 px they are fractional. */
  readonly cell: number;
  readonly cellH: number;
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  /** Label every `stride`-th token (multiples of it, see labelStep) so labels never overlap. */
  readonly rowLabelStride: number;
  readonly colLabelStride: number;
  /** The window of cells drawn (the whole matrix unless zoomed). */
  readonly view: View;
  /** Cells pooled into one pixel down and across (1 when a cell is a pixel or more). */
  readonly ky: number;
  readonly kx: number;
}

export const LABEL_FONT_PX = 11;
/** Labels are drawn for every token once its cells are this tall (wide), a spaced subset below. */
export const LABEL_GAP_PX = 10;
/** Height of the strip that holds the axis titles. */
export const AXIS_TITLE_PX = 14;
/** The tallest a heatmap's cells may stack before rows are thinned (pooled) to fit. */
export const MAX_PLOT_HEIGHT = 640;

const AXIS_NAMES: Record<string, string> = { output: 'output step', input: 'input token', vocab: 'vocabulary' };

/** The title of an axis as drawn on it: rows read downwards, columns rightwards. */
export function axisTitle(axis: string, along: 'rows' | 'cols'): string {
  return axis ? `${axisName(axis)} ${along === 'rows' ? '↓' : '→'}` : '';
}

/** An axis's name in words ("output" is "output step"). */
export function axisName(axis: string): string {
  return AXIS_NAMES[axis] ?? axis;
}
/** Width of one character of the legend's 10 px labels, at most (monospace digits are about 6 px). */
const LEGEND_CHAR_PX = 6.2;

/** Characters of the legend's end labels (formatValue of the range's ends): room is made for all of them. */
export function legendChars(min: number, max: number): number {
  return Math.max(formatValue(min).length, formatValue(max).length);
}

/** Width of the legend: gap, colour bar, its end labels (legendLabel, 10 px) and a column for its rotated title. */
export function legendWidth(labelChars: number): number {
  return 8 + 10 + 5 + Math.ceil(Math.max(6, labelChars) * LEGEND_CHAR_PX) + 16;
}

/** A cell size that fits: whole pixels from 2 px up (crisp), fractional below (the cells are then pooled). */
function cellSize(room: number, n: number): number {
  const fit = room / Math.max(1, n);
  return fit >= 2 ? Math.min(28, Math.floor(fit)) : Math.max(1 / 64, fit);
}

/**
 * Fit the window `view` (default: the whole matrix) of a rows×cols matrix into maxWidth, with room
 * for labels; cells up to 28 px, as small as the width needs (then pooled: ky × kx cells a pixel).
 * Rows stack at most MAX_PLOT_HEIGHT px. The legend grows past six characters of end labels (e.g.
 * "-8.6045e-6") so they are never clipped.
 */
export function layoutHeatmap(
  m: Pick<Matrix, 'rows' | 'cols' | 'rowLabels' | 'colLabels'> & Partial<Pick<Matrix, 'rowAxis' | 'colAxis'>>,
  maxWidth: number,
  showLabels = true,
  legendLabelChars = 6,
  view: View = fullView(m.rows, m.cols),
): Layout {
  const maxLabel = (labels: readonly string[]): number =>
    Math.min(
      14,
      labels.reduce((a, l) => Math.max(a, [...l].length), 1),
    );
  const left = showLabels ? Math.ceil(maxLabel(m.rowLabels) * LABEL_FONT_PX * 0.62) + 8 : 0;
  // A strip above the column labels for the axis titles ("query ↓", "key →").
  const titles = showLabels && (m.rowAxis || m.colAxis) ? AXIS_TITLE_PX : 0;
  const top = showLabels ? Math.ceil(maxLabel(m.colLabels) * LABEL_FONT_PX * 0.62) + 8 + titles : 0;
  const legend = legendWidth(legendLabelChars);
  const cell = cellSize(maxWidth - left - legend, view.nc);
  // Rows stay tall enough to label (when there are few of them) even if columns are thin, and
  // never stack taller than MAX_PLOT_HEIGHT.
  const tall = view.nr <= 64 && showLabels ? Math.max(cell, Math.min(LABEL_FONT_PX + 3, 18)) : cell;
  const cellH = tall * view.nr > MAX_PLOT_HEIGHT ? cellSize(MAX_PLOT_HEIGHT, view.nr) : tall;
  return {
    cell,
    cellH,
    left,
    top,
    width: Math.ceil(left + cell * view.nc + legend),
    // At least room for the legend's rotated title beside a one-row matrix (a decoder step's row).
    height: Math.ceil(top + Math.max(cellH * view.nr, 64) + 4),
    rowLabelStride: labelStep(cellH, LABEL_GAP_PX),
    colLabelStride: labelStep(cell, LABEL_GAP_PX),
    view,
    ky: poolFactor(cellH),
    kx: poolFactor(cell),
  };
}

/** The cell under a point of the canvas (in the matrix's own row and column numbers), if any. */
export function hitTest(
  l: Layout,
  m: Pick<Matrix, 'rows' | 'cols'>,
  x: number,
  y: number,
): { row: number; col: number } | undefined {
  const col = l.view.c0 + Math.floor((x - l.left) / l.cell);
  const row = l.view.r0 + Math.floor((y - l.top) / l.cellH);
  if (x < l.left || y < l.top) return undefined;
  if (col >= l.view.c0 + l.view.nc || row >= l.view.r0 + l.view.nr || col >= m.cols || row >= m.rows) return undefined;
  return { row, col };
}

/** Where a point falls in cell coordinates, fractional and unclamped (the anchor of a zoom). */
export function cellPoint(l: Layout, x: number, y: number): { row: number; col: number } {
  return { row: l.view.r0 + (y - l.top) / l.cellH, col: l.view.c0 + (x - l.left) / l.cell };
}

export interface HeatmapStyle {
  readonly colourMap: ColourMap;
  readonly foreground: string;
  readonly font: string;
  /** Ends of the colour scale fixed by the tensor's meaning (scaleEndsFor); the rest follow the data. */
  readonly scale?: ScaleEnds;
  readonly showLabels?: boolean;
  readonly showValues?: boolean;
  /** A signed tensor: drawn on the diverging map, its range centred on 0. */
  readonly diverging?: boolean;
  /** What the colour measures (the legend's title). */
  readonly legendTitle?: string;
  /** A row outlined as the focus (the cursor's query row: a hovered token, a generated token's choosing query). */
  readonly focusRow?: number;
}

/** The colour range and map a heatmap is drawn with (the SVG and PNG exports use the same). */
export function scaleOf(
  m: Pick<Matrix, 'rows' | 'cols' | 'data' | 'masked'>,
  style: Pick<HeatmapStyle, 'colourMap' | 'scale' | 'diverging'>,
): ValueRange & { readonly map: MapName } {
  const r = colourRange(m, style.scale);
  return style.diverging ? { ...centredRange(r), map: 'diverging' } : { ...r, map: style.colourMap };
}

export function drawHeatmap(
  ctx: CanvasRenderingContext2D,
  m: Matrix,
  l: Layout,
  style: HeatmapStyle,
  cursor?: { row: number; col: number },
): DrawnLabels {
  const { min, max, map } = scaleOf(m, style);
  const span = max - min || 1;
  const v = l.view;
  ctx.save();
  ctx.clearRect(0, 0, l.width, l.height);
  // Only the window's cells are read. Colours go through an ImageData of one pixel per cell (or
  // per ky × kx block of cells, its largest value, when cells are under a pixel), scaled up without
  // smoothing: one draw call instead of a fillRect per cell.
  const direct = l.kx === 1 && l.ky === 1;
  const pooled = direct ? undefined : poolMax(m, v, l.ky, l.kx);
  const w = pooled ? pooled.width : v.nc;
  const hgt = pooled ? pooled.height : v.nr;
  const img = new ImageData(w, hgt);
  const table = lut(map);
  for (let y = 0; y < hgt; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      const row = v.r0 + y;
      const col = v.c0 + x;
      const isMasked = pooled
        ? Number.isNaN(pooled.values[y * w + x]!) && blockMasked(m, l, y, x)
        : m.masked?.(row, col);
      if (isMasked) {
        img.data[o] = img.data[o + 1] = img.data[o + 2] = 128;
        img.data[o + 3] = 30;
        continue;
      }
      const val = pooled ? pooled.values[y * w + x]! : m.data[row * m.cols + col]!;
      const i = Number.isNaN(val) ? 128 : Math.max(0, Math.min(255, Math.round(((val - min) / span) * 255)));
      img.data.set(table.subarray(i * 4, i * 4 + 4), o);
    }
  }
  const off = document.createElement('canvas');
  off.width = w;
  off.height = hgt;
  off.getContext('2d')!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  // Each pooled pixel covers exactly ky × kx cells (the last ones fewer): drawn at that size and
  // clipped to the window, so every block sits over its own cells.
  ctx.save();
  ctx.beginPath();
  ctx.rect(l.left, l.top, v.nc * l.cell, v.nr * l.cellH);
  ctx.clip();
  ctx.drawImage(off, l.left, l.top, w * l.kx * l.cell, hgt * l.ky * l.cellH);
  ctx.restore();
  if (l.cell >= 6 && m.masked) {
    // Masked (e.g. future tokens under a causal mask): hatched, so it never reads as a 0 weight.
    ctx.strokeStyle = 'rgba(128,128,128,0.45)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let r = v.r0; r < v.r0 + v.nr; r++)
      for (let c = v.c0; c < v.c0 + v.nc; c++) {
        if (!m.masked(r, c)) continue;
        const x = l.left + (c - v.c0) * l.cell;
        const y = l.top + (r - v.r0) * l.cellH;
        ctx.moveTo(x, y + l.cellH);
        ctx.lineTo(x + l.cell, y);
      }
    ctx.stroke();
  }
  if (style.showValues && l.cell >= 26 && l.cellH >= 14) {
    const integers = m.data.every(Number.isInteger);
    ctx.font = `9px ${style.font}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (let r = v.r0; r < v.r0 + v.nr; r++)
      for (let c = v.c0; c < v.c0 + v.nc; c++) {
        if (m.masked?.(r, c)) continue;
        const val = m.data[r * m.cols + c]!;
        const rgb = colourAt(map, (val - min) / span);
        ctx.fillStyle = rgb[0] * 0.3 + rgb[1] * 0.59 + rgb[2] * 0.11 > 140 ? '#000' : '#fff';
        ctx.fillText(cellText(val, integers), l.left + (c - v.c0 + 0.5) * l.cell, l.top + (r - v.r0 + 0.5) * l.cellH);
      }
  }
  const drawn = style.showLabels !== false ? drawLabels(ctx, m, l, style) : { rows: [], cols: [] };
  drawLegend(ctx, l, style, map, min, max);
  if (style.focusRow !== undefined && style.focusRow >= 0 && style.focusRow < m.rows)
    drawRowFocus(ctx, l, style, style.focusRow);
  if (cursor) drawCellCursor(ctx, l, style, cursor);
  ctx.restore();
  return drawn;
}

/** The label texts drawn on each axis, in order (the figure reports them for tests and assistive tools). */
export interface DrawnLabels {
  readonly rows: readonly string[];
  readonly cols: readonly string[];
}

/** Whether every cell of pooled block (y, x) is masked (an all-NaN block that is not masked is drawn as a NaN). */
function blockMasked(m: Matrix, l: Layout, y: number, x: number): boolean {
  if (!m.masked) return false;
  const v = l.view;
  for (let r = v.r0 + y * l.ky; r < Math.min(v.r0 + v.nr, v.r0 + (y + 1) * l.ky); r++)
    for (let c = v.c0 + x * l.kx; c < Math.min(v.c0 + v.nc, v.c0 + (x + 1) * l.kx); c++)
      if (!m.masked(r, c)) return false;
  return true;
}

function inView(l: Layout, row: number, col?: number): boolean {
  const v = l.view;
  return row >= v.r0 && row < v.r0 + v.nr && (col === undefined || (col >= v.c0 && col < v.c0 + v.nc));
}

/** The cell cursor's outline (nothing when the cell is outside the window). */
export function drawCellCursor(
  ctx: CanvasRenderingContext2D,
  l: Layout,
  style: Pick<HeatmapStyle, 'foreground'>,
  cursor: { row: number; col: number },
): void {
  if (!inView(l, cursor.row, cursor.col)) return;
  ctx.strokeStyle = style.foreground;
  ctx.lineWidth = 2;
  // A cell under 4 px is outlined as a 4 px box around it, so the cursor stays visible.
  const w = Math.max(4, l.cell);
  const hh = Math.max(4, l.cellH);
  const x = l.left + (cursor.col - l.view.c0 + 0.5) * l.cell - w / 2;
  const y = l.top + (cursor.row - l.view.r0 + 0.5) * l.cellH - hh / 2;
  ctx.strokeRect(x + 1, y + 1, Math.max(1, w - 2), Math.max(1, hh - 2));
  // A second, opposite line inside: the cursor stands out on any cell colour, in every theme (high contrast too).
  if (w >= 8 && hh >= 8) {
    ctx.save();
    ctx.lineWidth = 1;
    ctx.strokeStyle = isLightColour(style.foreground) ? '#000' : '#fff';
    ctx.strokeRect(x + 2.5, y + 2.5, Math.max(1, w - 5), Math.max(1, hh - 5));
    ctx.restore();
  }
}

/** An outline around one whole row (of the window). */
export function drawRowFocus(
  ctx: CanvasRenderingContext2D,
  l: Layout,
  style: Pick<HeatmapStyle, 'foreground'>,
  row: number,
): void {
  if (!inView(l, row)) return;
  const y = l.top + (row - l.view.r0) * l.cellH;
  ctx.save();
  ctx.strokeStyle = style.foreground;
  ctx.lineWidth = 2;
  ctx.setLineDash([4, 2]);
  ctx.strokeRect(l.left - 1, y - 1, l.view.nc * l.cell + 2, Math.max(1, l.cellH) + 2);
  ctx.restore();
}

/** The labels drawn on each axis (the visible tokens' indices, a spaced subset when cells are small). */
export function visibleLabels(l: Layout): { readonly rows: number[]; readonly cols: number[] } {
  return {
    rows: labelIndices(l.view.r0, l.view.nr, l.cellH, LABEL_GAP_PX),
    cols: labelIndices(l.view.c0, l.view.nc, l.cell, LABEL_GAP_PX),
  };
}

/**
 * A heatmap that moves its cell cursor without redrawing the cells: the drawn heatmap is kept as
 * a bitmap and copied back under each new cursor (a 512 × 512 redraw costs tens of milliseconds,
 * too slow to follow the mouse).
 */
export class HeatmapPainter {
  private snapshot: HTMLCanvasElement | undefined;
  /** What the last draw wrote on the axes. */
  labels: DrawnLabels = { rows: [], cols: [] };

  constructor(
    private readonly ctx: CanvasRenderingContext2D,
    private readonly m: Matrix,
    private readonly style: HeatmapStyle,
  ) {}

  /** Draws everything for this layout (after the canvas was sized for it). */
  draw(l: Layout, cursor?: { row: number; col: number }): void {
    this.labels = drawHeatmap(this.ctx, this.m, l, this.style);
    const canvas = this.ctx.canvas;
    this.snapshot ??= document.createElement('canvas');
    this.snapshot.width = canvas.width;
    this.snapshot.height = canvas.height;
    this.snapshot.getContext('2d')?.drawImage(canvas, 0, 0);
    if (cursor) this.moveCursor(l, cursor);
  }

  moveCursor(l: Layout, cursor: { row: number; col: number } | undefined): void {
    const { ctx, snapshot } = this;
    if (!snapshot) return this.draw(l, cursor);
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
    ctx.drawImage(snapshot, 0, 0);
    ctx.restore();
    if (cursor) drawCellCursor(ctx, l, this.style, cursor);
  }
}

/**
 * A cell's value in six characters at most, so it stays inside its cell: two decimals below 10
 * (".12", "-3.14"), fewer above ("12.3", "123", "1.2e3"); whole numbers whole when the matrix holds
 * only those. An exact zero (sparsemax, masks) reads
 * "0", unlike a small weight that rounds to ".00". The readout shows the exact value.
 */
export function cellText(v: number, integers = false): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return formatValue(v);
  // A matrix of whole numbers (token ids, counts) prints them whole: id 55 is not "55.0".
  if (integers && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a < 9.995) return v.toFixed(2).replace(/^(-?)0\./, '$1.');
  if (a < 99.95) return v.toFixed(1);
  if (a < 999.5) return v.toFixed(0);
  return v.toExponential(1).replace('+', '');
}

function clip(label: string): string {
  const chars = [...label];
  return chars.length > 14 ? chars.slice(0, 13).join('') + '…' : label;
}

function drawLabels(ctx: CanvasRenderingContext2D, m: Matrix, l: Layout, style: HeatmapStyle): DrawnLabels {
  const drawn: { rows: string[]; cols: string[] } = { rows: [], cols: [] };
  const v = l.view;
  const { rows, cols } = visibleLabels(l);
  ctx.fillStyle = style.foreground;
  const font = (px: number): string =>
    `${Math.min(LABEL_FONT_PX, Math.max(LABEL_GAP_PX, Math.floor(px)))}px ${style.font}`;
  ctx.font = font(l.cellH * l.rowLabelStride);
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (const r of rows) {
    const text = clip(m.rowLabels[r] ?? '');
    drawn.rows.push(text);
    ctx.fillText(text, l.left - 4, l.top + (r - v.r0 + 0.5) * l.cellH);
  }
  // Axis titles in the top strip: the rows' at the left edge, the columns' over the columns.
  ctx.save();
  ctx.font = `italic ${LABEL_FONT_PX}px ${style.font}`;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  // A zoomed window names its range on each axis (so an exported PNG says what it shows).
  const span = (a: number, n: number, len: number): string => (n < len ? ` #${a}–#${a + n - 1} of ${len}` : '');
  const rowTitle = axisTitle(m.rowAxis, 'rows') + (m.rowAxis ? span(v.r0, v.nr, m.rows) : '');
  ctx.fillText(rowTitle, 0, 1);
  const after = rowTitle ? ctx.measureText(rowTitle).width + 12 : 0;
  ctx.fillText(axisTitle(m.colAxis, 'cols') + (m.colAxis ? span(v.c0, v.nc, m.cols) : ''), Math.max(l.left, after), 1);
  ctx.restore();
  ctx.font = font(l.cell * l.colLabelStride);
  for (const c of cols) {
    ctx.save();
    ctx.translate(l.left + (c - v.c0 + 0.5) * l.cell, l.top - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'left';
    const text = clip(m.colLabels[c] ?? '');
    drawn.cols.push(text);
    ctx.fillText(text, 0, 0);
    ctx.restore();
  }
  return drawn;
}

function drawLegend(
  ctx: CanvasRenderingContext2D,
  l: Layout,
  style: HeatmapStyle,
  map: MapName,
  min: number,
  max: number,
): void {
  // Just right of the cells: the bar, its end labels, and the title rotated along the right edge.
  const x = l.left + l.cell * l.view.nc + 8;
  const h = Math.max(40, Math.min(200, l.view.nr * l.cellH));
  for (let i = 0; i < h; i++) {
    ctx.fillStyle = cssColour(map, 1 - i / (h - 1));
    ctx.fillRect(x, l.top + i, 10, 1);
  }
  ctx.fillStyle = style.foreground;
  ctx.font = `10px ${style.font}`;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(legendLabel(max), x + 13, l.top);
  ctx.textBaseline = 'bottom';
  ctx.fillText(legendLabel(min), x + 13, l.top + h);
  if (style.diverging && min < 0 && max > 0) {
    ctx.textBaseline = 'middle';
    ctx.fillText('0', x + 13, l.top + h * (max / (max - min)));
  }
  if (!style.legendTitle) return;
  // The title runs up the legend's last column, centred on the bar, shortened to the canvas's height.
  const room = l.height - 4;
  let title = style.legendTitle;
  while (title.length > 1 && ctx.measureText(title).width > room) title = title.slice(0, -2) + '…';
  ctx.save();
  ctx.translate(l.width - 3, Math.min(l.height - 2, Math.max(2, l.top + h / 2)));
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  const w = ctx.measureText(title).width;
  // Keep the rotated text inside the canvas vertically.
  const shift = Math.max(0, w / 2 - (l.height - 2 - Math.max(2, l.top + h / 2)));
  ctx.fillText(title, shift, 0);
  ctx.restore();
}

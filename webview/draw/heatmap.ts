// Canvas heatmap with token labels on both axes, a colour legend, hover hit-testing and a
// keyboard cell cursor. Layout and hit-testing are pure (unit-tested); drawing uses canvas 2D.
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

export interface Layout {
  /** Cell width and height; cells are square unless a wide matrix would make rows unreadably thin. */
  readonly cell: number;
  readonly cellH: number;
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  /** Draw every `stride`-th label so labels never overlap. */
  readonly rowLabelStride: number;
  readonly colLabelStride: number;
}

export const LABEL_FONT_PX = 11;
/** Height of the strip that holds the axis titles. */
export const AXIS_TITLE_PX = 14;

const AXIS_NAMES: Record<string, string> = { output: 'output step', input: 'input token', vocab: 'vocabulary' };

/** The title of an axis as drawn on it: rows read downwards, columns rightwards. */
export function axisTitle(axis: string, along: 'rows' | 'cols'): string {
  return axis ? `${AXIS_NAMES[axis] ?? axis} ${along === 'rows' ? '↓' : '→'}` : '';
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

/**
 * Fit a rows×cols matrix into maxWidth, with room for labels; cells between 2 and 28 px. The
 * legend grows past six characters of end labels (e.g. "-8.6045e-6") so they are never clipped.
 */
export function layoutHeatmap(
  m: Pick<Matrix, 'rows' | 'cols' | 'rowLabels' | 'colLabels'> & Partial<Pick<Matrix, 'rowAxis' | 'colAxis'>>,
  maxWidth: number,
  showLabels = true,
  legendLabelChars = 6,
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
  const cell = Math.max(2, Math.min(28, Math.floor((maxWidth - left - legend) / Math.max(1, m.cols))));
  // Rows stay tall enough to label (when there are few of them) even if columns are thin.
  const cellH = m.rows <= 64 && showLabels ? Math.max(cell, Math.min(LABEL_FONT_PX + 3, 18)) : cell;
  const stride = (size: number): number => (size >= LABEL_FONT_PX + 2 ? 1 : Math.ceil((LABEL_FONT_PX + 2) / size));
  return {
    cell,
    cellH,
    left,
    top,
    width: left + cell * m.cols + legend,
    height: top + Math.max(cellH * m.rows, 44) + 4,
    rowLabelStride: stride(cellH),
    colLabelStride: stride(cell),
  };
}

export function hitTest(
  l: Layout,
  m: Pick<Matrix, 'rows' | 'cols'>,
  x: number,
  y: number,
): { row: number; col: number } | undefined {
  const col = Math.floor((x - l.left) / l.cell);
  const row = Math.floor((y - l.top) / l.cellH);
  if (x < l.left || y < l.top || col < 0 || row < 0 || col >= m.cols || row >= m.rows) return undefined;
  return { row, col };
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
): void {
  const { min, max, map } = scaleOf(m, style);
  const span = max - min || 1;
  ctx.save();
  ctx.clearRect(0, 0, l.width, l.height);
  // Colours go through an ImageData of one pixel per cell, scaled up without smoothing: one draw
  // call instead of a fillRect per cell (512 × 512 cells stay fast).
  const img = new ImageData(m.cols, m.rows);
  const table = lut(map);
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const o = (r * m.cols + c) * 4;
      if (m.masked?.(r, c)) {
        img.data[o] = img.data[o + 1] = img.data[o + 2] = 128;
        img.data[o + 3] = 30;
        continue;
      }
      const v = m.data[r * m.cols + c]!;
      const i = Number.isNaN(v) ? 128 : Math.max(0, Math.min(255, Math.round(((v - min) / span) * 255)));
      img.data.set(table.subarray(i * 4, i * 4 + 4), o);
    }
  }
  const off = document.createElement('canvas');
  off.width = m.cols;
  off.height = m.rows;
  off.getContext('2d')!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, l.left, l.top, m.cols * l.cell, m.rows * l.cellH);
  if (l.cell >= 6 && m.masked) {
    // Masked (e.g. future tokens under a causal mask): hatched, so it never reads as a 0 weight.
    ctx.strokeStyle = 'rgba(128,128,128,0.45)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let r = 0; r < m.rows; r++)
      for (let c = 0; c < m.cols; c++) {
        if (!m.masked(r, c)) continue;
        const x = l.left + c * l.cell;
        const y = l.top + r * l.cellH;
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
    for (let r = 0; r < m.rows; r++)
      for (let c = 0; c < m.cols; c++) {
        if (m.masked?.(r, c)) continue;
        const v = m.data[r * m.cols + c]!;
        const rgb = colourAt(map, (v - min) / span);
        ctx.fillStyle = rgb[0] * 0.3 + rgb[1] * 0.59 + rgb[2] * 0.11 > 140 ? '#000' : '#fff';
        ctx.fillText(cellText(v, integers), l.left + (c + 0.5) * l.cell, l.top + (r + 0.5) * l.cellH);
      }
  }
  if (style.showLabels !== false) drawLabels(ctx, m, l, style);
  drawLegend(ctx, l, m, style, map, min, max);
  if (style.focusRow !== undefined && style.focusRow >= 0 && style.focusRow < m.rows)
    drawRowFocus(ctx, l, m.cols, style, style.focusRow);
  if (cursor) drawCellCursor(ctx, l, style, cursor);
  ctx.restore();
}

export function drawCellCursor(
  ctx: CanvasRenderingContext2D,
  l: Layout,
  style: Pick<HeatmapStyle, 'foreground'>,
  cursor: { row: number; col: number },
): void {
  ctx.strokeStyle = style.foreground;
  ctx.lineWidth = 2;
  ctx.strokeRect(
    l.left + cursor.col * l.cell + 1,
    l.top + cursor.row * l.cellH + 1,
    Math.max(1, l.cell - 2),
    Math.max(1, l.cellH - 2),
  );
}

/** An outline around one whole row, with a marker in the gap left of it. */
export function drawRowFocus(
  ctx: CanvasRenderingContext2D,
  l: Layout,
  cols: number,
  style: Pick<HeatmapStyle, 'foreground'>,
  row: number,
): void {
  const y = l.top + row * l.cellH;
  ctx.save();
  ctx.strokeStyle = style.foreground;
  ctx.lineWidth = 2;
  ctx.setLineDash([4, 2]);
  ctx.strokeRect(l.left - 1, y - 1, cols * l.cell + 2, l.cellH + 2);
  ctx.restore();
}

/**
 * A heatmap that moves its cell cursor without redrawing the cells: the drawn heatmap is kept as
 * a bitmap and copied back under each new cursor (a 512 × 512 redraw costs tens of milliseconds,
 * too slow to follow the mouse).
 */
export class HeatmapPainter {
  private snapshot: HTMLCanvasElement | undefined;

  constructor(
    private readonly ctx: CanvasRenderingContext2D,
    private readonly m: Matrix,
    private readonly style: HeatmapStyle,
  ) {}

  /** Draws everything for this layout (after the canvas was sized for it). */
  draw(l: Layout, cursor?: { row: number; col: number }): void {
    drawHeatmap(this.ctx, this.m, l, this.style);
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

function drawLabels(ctx: CanvasRenderingContext2D, m: Matrix, l: Layout, style: HeatmapStyle): void {
  ctx.fillStyle = style.foreground;
  ctx.font = `${LABEL_FONT_PX}px ${style.font}`;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (let r = 0; r < m.rows; r += l.rowLabelStride)
    ctx.fillText(clip(m.rowLabels[r] ?? ''), l.left - 4, l.top + (r + 0.5) * l.cellH);
  // Axis titles in the top strip: the rows' at the left edge, the columns' over the columns.
  ctx.save();
  ctx.font = `italic ${LABEL_FONT_PX}px ${style.font}`;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  const rowTitle = axisTitle(m.rowAxis, 'rows');
  ctx.fillText(rowTitle, 0, 1);
  const after = rowTitle ? ctx.measureText(rowTitle).width + 12 : 0;
  ctx.fillText(axisTitle(m.colAxis, 'cols'), Math.max(l.left, after), 1);
  ctx.restore();
  for (let c = 0; c < m.cols; c += l.colLabelStride) {
    ctx.save();
    ctx.translate(l.left + (c + 0.5) * l.cell, l.top - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'left';
    ctx.fillText(clip(m.colLabels[c] ?? ''), 0, 0);
    ctx.restore();
  }
}

function drawLegend(
  ctx: CanvasRenderingContext2D,
  l: Layout,
  m: Pick<Matrix, 'rows' | 'cols'>,
  style: HeatmapStyle,
  map: MapName,
  min: number,
  max: number,
): void {
  // Just right of the cells: the bar, its end labels, and the title rotated along the right edge.
  const x = l.left + l.cell * m.cols + 8;
  const h = Math.max(40, Math.min(200, m.rows * l.cellH));
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

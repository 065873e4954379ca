// Canvas heatmap with token labels on both axes, a colour legend, hover hit-testing and a
// keyboard cell cursor. Layout and hit-testing are pure (unit-tested); drawing uses canvas 2D.
import type { ColourMap } from '../src/protocol';
import { colourAt, cssColour } from './colormap';
import { formatValue, range, type Matrix } from './tensorView';

export interface Layout {
  readonly cell: number;
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  /** Draw every `stride`-th label so labels never overlap. */
  readonly rowLabelStride: number;
  readonly colLabelStride: number;
}

export const LABEL_FONT_PX = 11;

/** Fit a rows×cols matrix into maxWidth, with room for labels; cells between 2 and 28 px. */
export function layoutHeatmap(m: Pick<Matrix, 'rows' | 'cols' | 'rowLabels' | 'colLabels'>, maxWidth: number, showLabels = true): Layout {
  const maxLabel = (labels: readonly string[]): number => Math.min(14, labels.reduce((a, l) => Math.max(a, [...l].length), 1));
  const left = showLabels ? Math.ceil(maxLabel(m.rowLabels) * LABEL_FONT_PX * 0.62) + 8 : 0;
  const top = showLabels ? Math.ceil(maxLabel(m.colLabels) * LABEL_FONT_PX * 0.62) + 8 : 0;
  const legend = 56;
  const cell = Math.max(2, Math.min(28, Math.floor((maxWidth - left - legend) / Math.max(1, m.cols))));
  const stride = cell >= LABEL_FONT_PX + 2 ? 1 : Math.ceil((LABEL_FONT_PX + 2) / cell);
  return {
    cell,
    left,
    top,
    width: left + cell * m.cols + legend,
    height: top + cell * m.rows + 4,
    rowLabelStride: stride,
    colLabelStride: stride,
  };
}

export function hitTest(l: Layout, m: Pick<Matrix, 'rows' | 'cols'>, x: number, y: number): { row: number; col: number } | undefined {
  const col = Math.floor((x - l.left) / l.cell);
  const row = Math.floor((y - l.top) / l.cell);
  if (x < l.left || y < l.top || col < 0 || row < 0 || col >= m.cols || row >= m.rows) return undefined;
  return { row, col };
}

export interface HeatmapStyle {
  readonly colourMap: ColourMap;
  readonly foreground: string;
  readonly font: string;
  /** Fixed value range (e.g. [0, 1] for attention weights) or undefined to use the data's range. */
  readonly fixedRange?: { min: number; max: number };
  readonly showLabels?: boolean;
  readonly showValues?: boolean;
}

export function valueRange(m: Matrix, style: HeatmapStyle): { min: number; max: number } {
  return style.fixedRange ?? range(m.data);
}

export function drawHeatmap(ctx: CanvasRenderingContext2D, m: Matrix, l: Layout, style: HeatmapStyle, cursor?: { row: number; col: number }): void {
  const { min, max } = valueRange(m, style);
  const span = max - min || 1;
  ctx.save();
  ctx.clearRect(0, 0, l.width, l.height);
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const x = l.left + c * l.cell;
      const y = l.top + r * l.cell;
      if (m.masked?.(r, c)) {
        ctx.fillStyle = 'rgba(128,128,128,0.15)';
        ctx.fillRect(x, y, l.cell, l.cell);
        continue;
      }
      const v = m.data[r * m.cols + c]!;
      ctx.fillStyle = cssColour(style.colourMap, (v - min) / span);
      ctx.fillRect(x, y, l.cell, l.cell);
      if (style.showValues && l.cell >= 26) {
        const rgb = colourAt(style.colourMap, (v - min) / span);
        ctx.fillStyle = rgb[0] * 0.3 + rgb[1] * 0.59 + rgb[2] * 0.11 > 140 ? '#000' : '#fff';
        ctx.font = `9px ${style.font}`;
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.fillText(v.toFixed(2).replace(/^0\./, '.'), x + l.cell / 2, y + l.cell / 2);
      }
    }
  }
  if (style.showLabels !== false) drawLabels(ctx, m, l, style);
  drawLegend(ctx, l, m.rows, style, min, max);
  if (cursor) {
    ctx.strokeStyle = style.foreground;
    ctx.lineWidth = 2;
    ctx.strokeRect(l.left + cursor.col * l.cell + 1, l.top + cursor.row * l.cell + 1, l.cell - 2, l.cell - 2);
  }
  ctx.restore();
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
  for (let r = 0; r < m.rows; r += l.rowLabelStride) ctx.fillText(clip(m.rowLabels[r] ?? ''), l.left - 4, l.top + (r + 0.5) * l.cell);
  for (let c = 0; c < m.cols; c += l.colLabelStride) {
    ctx.save();
    ctx.translate(l.left + (c + 0.5) * l.cell, l.top - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'left';
    ctx.fillText(clip(m.colLabels[c] ?? ''), 0, 0);
    ctx.restore();
  }
}

function drawLegend(ctx: CanvasRenderingContext2D, l: Layout, rows: number, style: HeatmapStyle, min: number, max: number): void {
  const x = l.width - 48;
  const h = Math.max(40, Math.min(200, rows * l.cell));
  for (let i = 0; i < h; i++) {
    ctx.fillStyle = cssColour(style.colourMap, 1 - i / (h - 1));
    ctx.fillRect(x, l.top + i, 10, 1);
  }
  ctx.fillStyle = style.foreground;
  ctx.font = `10px ${style.font}`;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(formatValue(max), x + 13, l.top);
  ctx.textBaseline = 'bottom';
  ctx.fillText(formatValue(min), x + 13, l.top + h);
}

// Head view (as in BertViz): queries on the left, keys on the right, a line per pair whose
// opacity and width follow the weight. Hovering or focusing a query shows only its lines. A long
// input scrolls inside the figure: the canvas is one viewport tall and is drawn at the scroll
// offset, with the labels of the rows in view (every row is labelled: rows are never under 12 px).
import type { ColourMap } from '../../shared/protocol';
import { colourAt } from './colormap';
import type { Matrix } from '../../shared/tensorView';

export interface LinesLayout {
  readonly rowH: number;
  readonly colW: number;
  readonly gap: number;
  readonly width: number;
  /** The whole figure's height (what the scroll area holds). */
  readonly height: number;
  /** The canvas's height: the whole figure, or at most MAX_LINES_VIEW px of it (then it scrolls). */
  readonly viewH: number;
}

/** The tallest the lines figure is drawn; a longer input scrolls within it. */
export const MAX_LINES_VIEW = 480;

export function layoutLines(m: Pick<Matrix, 'rows' | 'cols'>): LinesLayout {
  const rowH = m.rows > 64 || m.cols > 64 ? 12 : 18;
  const colW = 130;
  const gap = 160;
  const height = Math.max(m.rows, m.cols) * rowH + 8;
  return { rowH, colW, gap, width: colW * 2 + gap, height, viewH: Math.min(height, MAX_LINES_VIEW) };
}

/** Which query row the pointer is over (left column), if any; y is in the canvas, `offset` the scroll. */
export function lineRowAt(
  l: LinesLayout,
  m: Pick<Matrix, 'rows'>,
  x: number,
  y: number,
  offset = 0,
): number | undefined {
  if (x > l.colW) return undefined;
  const r = Math.floor((y + offset - 4) / l.rowH);
  return r >= 0 && r < m.rows ? r : undefined;
}

/** The rows (of either column) at least partly inside the viewport scrolled to `offset`. */
export function rowsInView(
  l: LinesLayout,
  n: number,
  offset: number,
): { readonly first: number; readonly last: number } {
  const first = Math.max(0, Math.floor((offset - 4) / l.rowH));
  const last = Math.min(n - 1, Math.floor((offset + l.viewH - 4) / l.rowH));
  return { first, last };
}

export function drawLines(
  ctx: CanvasRenderingContext2D,
  m: Matrix,
  l: LinesLayout,
  colourMap: ColourMap,
  foreground: string,
  font: string,
  focusRow?: number,
  offset = 0,
): number {
  let drawn = 0;
  ctx.clearRect(0, 0, l.width, l.viewH);
  ctx.font = `${Math.min(12, l.rowH - 2)}px ${font}`;
  ctx.textBaseline = 'middle';
  const y = (i: number): number => 4 + (i + 0.5) * l.rowH - offset;
  const seen = (i: number): boolean => y(i) > -l.rowH && y(i) < l.viewH + l.rowH;
  const [r, g, b] = colourAt(colourMap, 0.75);
  for (let q = 0; q < m.rows; q++) {
    if (focusRow !== undefined && q !== focusRow) continue;
    for (let k = 0; k < m.cols; k++) {
      // A line is drawn when one of its ends is in view.
      if (!seen(q) && !seen(k)) continue;
      if (m.masked?.(q, k)) continue;
      const w = Math.max(0, Math.min(1, m.data[q * m.cols + k]!));
      if (w < MIN_LINE_WEIGHT) continue;
      ctx.strokeStyle = `rgba(${r},${g},${b},${w.toFixed(3)})`;
      ctx.lineWidth = 0.5 + 3 * w;
      ctx.beginPath();
      ctx.moveTo(l.colW, y(q));
      ctx.lineTo(l.colW + l.gap, y(k));
      ctx.stroke();
      drawn++;
    }
  }
  ctx.fillStyle = foreground;
  ctx.textAlign = 'right';
  const q = rowsInView(l, m.rows, offset);
  for (let i = q.first; i <= q.last; i++) {
    ctx.globalAlpha = focusRow === undefined || focusRow === i ? 1 : 0.45;
    ctx.fillText(m.rowLabels[i] ?? '', l.colW - 6, y(i));
  }
  ctx.globalAlpha = 1;
  ctx.textAlign = 'left';
  const k = rowsInView(l, m.cols, offset);
  for (let i = k.first; i <= k.last; i++) ctx.fillText(m.colLabels[i] ?? '', l.colW + l.gap + 6, y(i));
  return drawn;
}

/** Weights below this are not drawn as lines. */
export const MIN_LINE_WEIGHT = 0.01;

// The head view's lines: from each query's row on the left edge to each key's row on the right,
// in the head's colour, at the line's opacity. The token labels are DOM buttons beside the canvas,
// one HEAD_ROW tall each, so row i's centre is at (i + ½)·HEAD_ROW on both sides.
import type { HeadLine } from '../attentionViews';

export const HEAD_ROW = 20;

export interface HeadLinesLayout {
  readonly width: number;
  /** The whole figure's height (both token columns). */
  readonly height: number;
  readonly row: number;
  /** The canvas's height: the whole figure, or MAX_HEAD_VIEW px of it when the columns scroll. */
  readonly viewH: number;
}

/** The tallest the head view is drawn; longer token columns scroll inside the figure. */
export const MAX_HEAD_VIEW = 480;

export function headLinesLayout(rows: number, cols: number): HeadLinesLayout {
  const height = Math.max(rows, cols, 1) * HEAD_ROW;
  return { width: 220, height, row: HEAD_ROW, viewH: Math.min(height, MAX_HEAD_VIEW) };
}

/** An 8-bit canvas cannot show an opacity below 1/255: such lines are skipped, not drawn invisibly. */
export const MIN_ALPHA = 1 / 255;

/** Draws the lines; returns how many were drawn. Dimmed lines first, so the highlighted ones sit on top. */
export function drawHeadLines(
  g: CanvasRenderingContext2D,
  l: HeadLinesLayout,
  lines: readonly HeadLine[],
  colour: (head: number) => string,
  offset = 0,
): number {
  g.clearRect(0, 0, l.width, l.viewH);
  g.lineWidth = 2;
  g.lineCap = 'round';
  // Drawn at the scroll offset: a line shows when one of its ends is in view.
  const y = (i: number): number => (i + 0.5) * l.row - offset;
  const seen = (i: number): boolean => y(i) > -l.row && y(i) < l.viewH + l.row;
  const order = [...lines]
    .filter((x) => x.alpha >= MIN_ALPHA && (seen(x.query) || seen(x.key)))
    .sort((a, b) => a.alpha - b.alpha);
  for (const x of order) {
    g.globalAlpha = x.alpha;
    g.strokeStyle = colour(x.head);
    g.beginPath();
    g.moveTo(0, y(x.query));
    g.lineTo(l.width, y(x.key));
    g.stroke();
  }
  g.globalAlpha = 1;
  return order.length;
}

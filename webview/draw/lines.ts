// Head view (as in BertViz): queries on the left, keys on the right, a line per pair whose
// opacity and width follow the weight. Hovering or focusing a query shows only its lines.
import type { ColourMap } from '../../shared/protocol';
import { colourAt } from './colormap';
import type { Matrix } from '../../shared/tensorView';

export interface LinesLayout {
  readonly rowH: number;
  readonly colW: number;
  readonly gap: number;
  readonly width: number;
  readonly height: number;
}

export function layoutLines(m: Pick<Matrix, 'rows' | 'cols'>): LinesLayout {
  const rowH = m.rows > 64 || m.cols > 64 ? 8 : 18;
  const colW = 130;
  const gap = 160;
  return { rowH, colW, gap, width: colW * 2 + gap, height: Math.max(m.rows, m.cols) * rowH + 8 };
}

/** Which query row the pointer is over (left column), if any. */
export function lineRowAt(l: LinesLayout, m: Pick<Matrix, 'rows'>, x: number, y: number): number | undefined {
  if (x > l.colW) return undefined;
  const r = Math.floor((y - 4) / l.rowH);
  return r >= 0 && r < m.rows ? r : undefined;
}

export function drawLines(
  ctx: CanvasRenderingContext2D,
  m: Matrix,
  l: LinesLayout,
  colourMap: ColourMap,
  foreground: string,
  font: string,
  focusRow?: number,
): void {
  ctx.clearRect(0, 0, l.width, l.height);
  ctx.font = `${Math.min(12, l.rowH - 2)}px ${font}`;
  ctx.textBaseline = 'middle';
  const y = (i: number): number => 4 + (i + 0.5) * l.rowH;
  const [r, g, b] = colourAt(colourMap, 0.75);
  for (let q = 0; q < m.rows; q++) {
    if (focusRow !== undefined && q !== focusRow) continue;
    for (let k = 0; k < m.cols; k++) {
      if (m.masked?.(q, k)) continue;
      const w = Math.max(0, Math.min(1, m.data[q * m.cols + k]!));
      if (w < 0.01) continue;
      ctx.strokeStyle = `rgba(${r},${g},${b},${w.toFixed(3)})`;
      ctx.lineWidth = 0.5 + 3 * w;
      ctx.beginPath();
      ctx.moveTo(l.colW, y(q));
      ctx.lineTo(l.colW + l.gap, y(k));
      ctx.stroke();
    }
  }
  if (l.rowH < 10) return;
  ctx.fillStyle = foreground;
  ctx.textAlign = 'right';
  m.rowLabels.forEach((t, i) => {
    ctx.globalAlpha = focusRow === undefined || focusRow === i ? 1 : 0.45;
    ctx.fillText(t, l.colW - 6, y(i));
  });
  ctx.globalAlpha = 1;
  ctx.textAlign = 'left';
  m.colLabels.forEach((t, i) => ctx.fillText(t, l.colW + l.gap + 6, y(i)));
}

// The heatmap's visible window over a rows × cols matrix, and the pure geometry around it: zooming
// about a point, panning, keeping a cell in view, pooling cells smaller than a pixel, and which axis
// labels fit without overlapping. Windows are whole cells, half-open: rows r0 … r0 + nr − 1.
import type { Matrix } from './tensorView';

export interface View {
  readonly r0: number;
  readonly nr: number;
  readonly c0: number;
  readonly nc: number;
}

/** Fewest cells a zoomed window shows along an axis (or the axis's length, if shorter). */
export const MIN_CELLS = 4;

export function fullView(rows: number, cols: number): View {
  return { r0: 0, nr: Math.max(1, rows), c0: 0, nc: Math.max(1, cols) };
}

const clampInt = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, Math.round(v)));

/** The window made whole and inside the matrix (sizes first, then starts). */
export function clampView(v: View, rows: number, cols: number): View {
  const nr = clampInt(v.nr, Math.min(rows, 1), Math.max(1, rows));
  const nc = clampInt(v.nc, Math.min(cols, 1), Math.max(1, cols));
  return { r0: clampInt(v.r0, 0, Math.max(0, rows - nr)), nr, c0: clampInt(v.c0, 0, Math.max(0, cols - nc)), nc };
}

export function sameView(a: View, b: View): boolean {
  return a.r0 === b.r0 && a.nr === b.nr && a.c0 === b.c0 && a.nc === b.nc;
}

export function isZoomed(v: View, rows: number, cols: number): boolean {
  return v.nr < rows || v.nc < cols;
}

/**
 * Zoom by `factor` (> 1 in, < 1 out) about an anchor in cell coordinates (fractional: the point
 * under the mouse), which stays where it is on screen. Each axis keeps at least MIN_CELLS cells.
 */
export function zoomView(
  v: View,
  factor: number,
  anchor: { readonly row: number; readonly col: number },
  rows: number,
  cols: number,
): View {
  const axis = (start: number, n: number, at: number, len: number): [number, number] => {
    const next = Math.max(Math.min(len, MIN_CELLS), Math.min(len, Math.round(n / factor)));
    const frac = n > 0 ? (at - start) / n : 0.5;
    return [at - frac * next, next];
  };
  const [r0, nr] = axis(v.r0, v.nr, anchor.row, rows);
  const [c0, nc] = axis(v.c0, v.nc, anchor.col, cols);
  return clampView({ r0, nr, c0, nc }, rows, cols);
}

/** Move the window by whole cells (positive: down / right), stopping at the matrix's edges. */
export function panView(v: View, dRows: number, dCols: number, rows: number, cols: number): View {
  return clampView({ ...v, r0: v.r0 + dRows, c0: v.c0 + dCols }, rows, cols);
}

/** The same-sized window centred (as far as the edges allow) on a cell: the minimap's drag. */
export function centreView(v: View, row: number, col: number, rows: number, cols: number): View {
  return clampView({ ...v, r0: row - v.nr / 2, c0: col - v.nc / 2 }, rows, cols);
}

/** The least move of the window that brings a cell into it (the keyboard cursor scrolls into view). */
export function includeCell(v: View, row: number, col: number, rows: number, cols: number): View {
  const shift = (start: number, n: number, at: number): number =>
    at < start ? at : at >= start + n ? at - n + 1 : start;
  return clampView({ ...v, r0: shift(v.r0, v.nr, row), c0: shift(v.c0, v.nc, col) }, rows, cols);
}

/** The window showing query rows a … b (inclusive, either order) over the same keys. */
export function rowRangeView(v: View, a: number, b: number, rows: number, cols: number): View {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return clampView({ ...v, r0: lo, nr: hi - lo + 1 }, rows, cols);
}

/** Cells per screen pixel along an axis whose cells are `cellPx` wide: 1 when a cell is a pixel or more. */
export function poolFactor(cellPx: number): number {
  return cellPx >= 1 ? 1 : Math.ceil(1 / Math.max(cellPx, 1e-9) - 1e-9);
}

export interface Pooled {
  /** Pooled pixels across and down. */
  readonly width: number;
  readonly height: number;
  /** Row-major, width × height: the block's largest value; NaN where every cell of the block is masked. */
  readonly values: Float32Array;
}

/**
 * The window pooled into blocks of ky × kx cells, each block's value the largest of its unmasked
 * cells (the last block of a row or column may hold fewer cells). Reads the window's cells only.
 */
export function poolMax(m: Pick<Matrix, 'data' | 'cols' | 'masked'>, v: View, ky: number, kx: number): Pooled {
  const width = Math.ceil(v.nc / kx);
  const height = Math.ceil(v.nr / ky);
  const values = new Float32Array(width * height).fill(NaN);
  for (let r = 0; r < v.nr; r++) {
    const row = v.r0 + r;
    const py = Math.floor(r / ky) * width;
    for (let c = 0; c < v.nc; c++) {
      const col = v.c0 + c;
      if (m.masked?.(row, col)) continue;
      const x = m.data[row * m.cols + col]!;
      if (Number.isNaN(x)) continue;
      const i = py + Math.floor(c / kx);
      const cur = values[i]!;
      if (Number.isNaN(cur) || x > cur) values[i] = x;
    }
  }
  return { width, height, values };
}

/** The caption's words for the pooling, or '' when every cell has a pixel or more. */
export function poolingNote(ky: number, kx: number): string {
  return ky === 1 && kx === 1 ? '' : `each pixel: max of ${ky}×${kx} cells`;
}

/** Smallest of 1, 2, 5, 10, 20, 50 … whose spacing of `cellPx` × step is at least `minGap` pixels. */
export function labelStep(cellPx: number, minGap = 10): number {
  if (cellPx >= minGap) return 1;
  const need = minGap / Math.max(cellPx, 1e-9);
  for (let p = 1; ; p *= 10) for (const m of [1, 2, 5]) if (m * p >= need) return m * p;
}

/**
 * The indices labelled along an axis showing cells start … start + count − 1, each `cellPx` apart:
 * all of them once a cell is `minGap` px or more, otherwise the multiples of labelStep (stable
 * while panning), never two closer than `minGap`.
 */
export function labelIndices(start: number, count: number, cellPx: number, minGap = 10): number[] {
  const step = labelStep(cellPx, minGap);
  const out: number[] = [];
  for (let i = Math.ceil(start / step) * step; i < start + count; i += step) out.push(i);
  return out;
}

/** The window in words, for the readout and the exports: "queries #0–#149, keys #0–#149 of 600 × 600". */
export function viewText(v: View, rows: number, cols: number, rowAxis = 'rows', colAxis = 'columns'): string {
  const span = (a: number, n: number): string => (n === 1 ? `#${a}` : `#${a}–#${a + n - 1}`);
  return `${plural(rowAxis)} ${span(v.r0, v.nr)}, ${plural(colAxis)} ${span(v.c0, v.nc)} of ${rows} × ${cols}`;
}

export function plural(axis: string): string {
  if (!axis) return 'cells';
  return /[^aeiou]y$/.test(axis) ? `${axis.slice(0, -1)}ies` : axis.endsWith('s') ? axis : `${axis}s`;
}

/** The window's cells as a matrix of their own (labels kept; exports of a zoomed window). */
export function sliceMatrix(m: Matrix, v: View): Matrix {
  const data = new Float32Array(v.nr * v.nc);
  for (let r = 0; r < v.nr; r++)
    data.set(m.data.subarray((v.r0 + r) * m.cols + v.c0, (v.r0 + r) * m.cols + v.c0 + v.nc), r * v.nc);
  const masked = m.masked;
  return {
    rows: v.nr,
    cols: v.nc,
    data,
    rowLabels: m.rowLabels.slice(v.r0, v.r0 + v.nr),
    colLabels: m.colLabels.slice(v.c0, v.c0 + v.nc),
    rowAxis: m.rowAxis,
    colAxis: m.colAxis,
    ...(masked ? { masked: (r: number, c: number) => masked(r + v.r0, c + v.c0) } : {}),
  };
}

// The heatmap's zoom window, pooling and visible labels (shared/viewport.ts, webview/draw/heatmap.ts),
// the store's per-stage+head windows and the export of a zoomed window. Pooling is checked against
// torch's max_pool2d (scripts/reference/pool_ref.py → test/fixtures/viewport/pool.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  centreView,
  clampView,
  fullView,
  includeCell,
  isZoomed,
  labelIndices,
  labelStep,
  panView,
  poolFactor,
  poolingNote,
  poolMax,
  rowRangeView,
  sliceMatrix,
  viewText,
  zoomView,
  type View,
} from '../../shared/viewport';
import type { Matrix } from '../../shared/tensorView';
import {
  cellPoint,
  hitTest,
  LABEL_GAP_PX,
  layoutHeatmap,
  MAX_PLOT_HEIGHT,
  visibleLabels,
} from '../../webview/draw/heatmap';
import { reduce, zoomOf, type PanelState, DEFAULT_SETTINGS } from '../../webview/store';
import { matrixToCsv } from '../../webview/exporters';
import { DEFAULT_CURSOR } from '../../shared/protocol';
import { layoutLines, lineRowAt, rowsInView } from '../../webview/draw/lines';
import { headLinesLayout } from '../../webview/draw/headLines';

const labels = (n: number, p = 't'): string[] => Array.from({ length: n }, (_, i) => `${p}${i}`);

test('zooming keeps the point under the mouse where it was, and stays inside the matrix', () => {
  const T = 600;
  const full = fullView(T, T);
  const z = zoomView(full, 4, { row: 300, col: 150 }, T, T);
  assert.deepEqual([z.nr, z.nc], [150, 150]);
  // The anchor sat at a fraction 0.5 down and 0.25 across; it still does, to half a cell (windows are whole cells).
  assert.ok(Math.abs(300 - z.r0 - 0.5 * z.nr) <= 0.5);
  assert.ok(Math.abs(150 - z.c0 - 0.25 * z.nc) <= 0.5);
  // Zooming out past the whole matrix is the whole matrix; in past MIN_CELLS stops at 4 cells.
  assert.deepEqual(zoomView(z, 0.01, { row: 0, col: 0 }, T, T), full);
  const deep = zoomView(full, 1e6, { row: 599.5, col: 599.5 }, T, T);
  assert.deepEqual(deep, { r0: 596, nr: 4, c0: 596, nc: 4 });
  // A 3-token matrix cannot be zoomed below its own size.
  assert.deepEqual(zoomView(fullView(3, 3), 8, { row: 1, col: 1 }, 3, 3), fullView(3, 3));
  // Zoom in then out about the same point comes back.
  assert.deepEqual(zoomView(z, 0.25, { row: 300, col: 150 }, T, T), full);
  assert.ok(isZoomed(z, T, T) && !isZoomed(full, T, T));
});

test('pan, centre (the minimap), the keyboard cursor and a query range move the window as they should', () => {
  const T = 100;
  const v: View = { r0: 10, nr: 20, c0: 30, nc: 25 };
  assert.deepEqual(panView(v, 5, -40, T, T), { r0: 15, nr: 20, c0: 0, nc: 25 });
  assert.deepEqual(panView(v, 500, 500, T, T), { r0: 80, nr: 20, c0: 75, nc: 25 });
  assert.deepEqual(centreView(v, 50, 50, T, T), { r0: 40, nr: 20, c0: 38, nc: 25 });
  assert.deepEqual(centreView(v, 0, 99, T, T), { r0: 0, nr: 20, c0: 75, nc: 25 });
  // A cell already inside leaves the window alone; one below or left moves it the least.
  assert.deepEqual(includeCell(v, 15, 40, T, T), v);
  assert.deepEqual(includeCell(v, 30, 40, T, T), { ...v, r0: 11 });
  assert.deepEqual(includeCell(v, 15, 29, T, T), { ...v, c0: 29 });
  assert.deepEqual(rowRangeView(v, 70, 60, T, T), { r0: 60, nr: 11, c0: 30, nc: 25 });
  assert.deepEqual(clampView({ r0: -5.4, nr: 1e9, c0: 3.6, nc: 0 }, T, T), { r0: 0, nr: 100, c0: 4, nc: 1 });
  assert.equal(viewText(v, T, T, 'query', 'key'), 'queries #10–#29, keys #30–#54 of 100 × 100');
  assert.equal(
    viewText({ r0: 3, nr: 1, c0: 0, nc: 2 }, 5, 5, 'output step', 'input token'),
    'output steps #3, input tokens #0–#1 of 5 × 5',
  );
});

test('pooling factors: a pixel holds ⌈1/cell⌉ cells, and the caption says so', () => {
  assert.equal(poolFactor(1), 1);
  assert.equal(poolFactor(5), 1);
  assert.equal(poolFactor(0.5), 2);
  assert.equal(poolFactor(0.25), 4);
  assert.equal(poolFactor(0.3), 4);
  assert.equal(poolFactor(1 / 3), 3);
  for (const c of [0.9, 0.51, 0.2, 0.07, 0.013]) {
    const k = poolFactor(c);
    assert.ok(k * c >= 1 - 1e-9 && (k - 1) * c < 1, `${c}: ${k}`);
  }
  assert.equal(poolingNote(1, 1), '');
  assert.equal(poolingNote(4, 4), 'each pixel: max of 4×4 cells');
});

test('max-pooling a window agrees with torch max_pool2d (masked cells and NaN ignored)', () => {
  const fx = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/viewport/pool.json'), 'utf8')) as {
    rows: number;
    cols: number;
    data: (number | null)[];
    cases: { view: View; ky: number; kx: number; width: number; height: number; values: (number | null)[] }[];
  };
  const m: Matrix = {
    rows: fx.rows,
    cols: fx.cols,
    data: Float32Array.from(fx.data, (x) => (x === null ? NaN : x)),
    rowLabels: labels(fx.rows),
    colLabels: labels(fx.cols),
    rowAxis: 'query',
    colAxis: 'key',
    masked: (r, c) => c > r,
  };
  for (const k of fx.cases) {
    const p = poolMax(m, k.view, k.ky, k.kx);
    assert.equal(p.width, k.width);
    assert.equal(p.height, k.height);
    k.values.forEach((want, i) => {
      const got = p.values[i]!;
      if (want === null) assert.ok(Number.isNaN(got), `${JSON.stringify(k.view)} ${k.ky}×${k.kx} [${i}]: ${got}`);
      else assert.equal(got, Math.fround(want), `${JSON.stringify(k.view)} ${k.ky}×${k.kx} [${i}]`);
    });
  }
});

test('labels: every token once cells are ≥ 10 px, otherwise spaced multiples that never overlap', () => {
  assert.deepEqual(labelIndices(5, 4, 12), [5, 6, 7, 8]);
  assert.deepEqual(labelIndices(5, 4, 10), [5, 6, 7, 8]);
  assert.equal(labelStep(9.9), 2);
  assert.equal(labelStep(4), 5);
  assert.equal(labelStep(0.93), 20);
  for (const cell of [0.2, 0.93, 1.5, 3, 4.9, 7, 9.99]) {
    const at = labelIndices(37, 400, cell);
    assert.ok(at.length > 0);
    for (const i of at) assert.ok(i >= 37 && i < 437);
    for (let j = 1; j < at.length; j++)
      assert.ok((at[j]! - at[j - 1]!) * cell >= LABEL_GAP_PX, `cell ${cell}: ${at[j - 1]}, ${at[j]}`);
    // Stable while panning: the same multiples whatever the start.
    const step = labelStep(cell);
    assert.ok(at.every((i) => i % step === 0));
  }
});

test('a 600-token heatmap fits the panel; zoomed, its labels are the window’s tokens and hit-testing inverts the layout', () => {
  const T = 600;
  const m = {
    rows: T,
    cols: T,
    rowLabels: labels(T, 'q'),
    colLabels: labels(T, 'k'),
    rowAxis: 'query',
    colAxis: 'key',
  };
  const fit = layoutHeatmap(m, 586);
  assert.ok(fit.width <= 586, `${fit.width} px`);
  assert.ok(fit.cell < 1 && fit.kx === poolFactor(fit.cell) && fit.kx >= 2, `cell ${fit.cell}, kx ${fit.kx}`);
  assert.ok(fit.height - fit.top <= MAX_PLOT_HEIGHT + 4 + 44);
  const v: View = { r0: 200, nr: 40, c0: 120, nc: 40 };
  const z = layoutHeatmap(m, 586, true, 6, v);
  assert.ok(z.width <= 586);
  assert.ok(z.cell >= 10 && z.kx === 1, `${z.cell} px`);
  const shown = visibleLabels(z);
  assert.deepEqual(
    shown.rows,
    Array.from({ length: 40 }, (_, i) => 200 + i),
  );
  assert.deepEqual(
    shown.cols,
    Array.from({ length: 40 }, (_, i) => 120 + i),
  );
  for (const [r, c] of [
    [200, 120],
    [239, 159],
    [217, 133],
  ] as const) {
    const x = z.left + (c - v.c0 + 0.5) * z.cell;
    const y = z.top + (r - v.r0 + 0.5) * z.cellH;
    assert.deepEqual(hitTest(z, m, x, y), { row: r, col: c });
    const p = cellPoint(z, x, y);
    assert.ok(Math.abs(p.row - (r + 0.5)) < 1e-9 && Math.abs(p.col - (c + 0.5)) < 1e-9);
  }
  assert.equal(hitTest(z, m, z.left + 40 * z.cell + 1, z.top + 1), undefined, 'right of the window');
  // A tall, narrow tensor (600 tokens × 16 dims) is thinned to fit MAX_PLOT_HEIGHT instead of running 4,000 px down.
  const q = layoutHeatmap({ rows: T, cols: 16, rowLabels: labels(T), colLabels: labels(16) }, 480);
  assert.ok(q.cellH * T <= MAX_PLOT_HEIGHT + 1e-9 && q.ky === poolFactor(q.cellH));
});

test('the store keeps a window per stage, tensor and head; a head seen first starts from the stage’s last window', () => {
  let s: PanelState = { cursor: DEFAULT_CURSOR, settings: DEFAULT_SETTINGS };
  const k0 = { stage: 'L0.weights', tensor: 'weights', head: 0 };
  const k1 = { ...k0, head: 1 };
  const v0: View = { r0: 10, nr: 50, c0: 0, nc: 50 };
  const v1: View = { r0: 0, nr: 20, c0: 5, nc: 20 };
  s = reduce(s, { type: 'zoom', key: k0, view: v0 });
  assert.equal(zoomOf(s, k0), v0);
  assert.equal(zoomOf(s, k1), v0, 'head 1 starts from head 0’s window');
  assert.equal(zoomOf(s, { ...k0, stage: 'L1.weights' }), undefined);
  s = reduce(s, { type: 'zoom', key: k1, view: v1 });
  assert.equal(zoomOf(s, k1), v1);
  assert.equal(zoomOf(s, k0), v0, 'head 0 keeps its own');
  assert.equal(reduce(s, { type: 'zoom', key: k1, view: v1 }), s, 'the same window changes nothing');
  s = reduce(s, { type: 'zoom', key: k0, view: undefined });
  assert.equal(zoomOf(s, k0), undefined);
  assert.equal(zoomOf(s, { ...k0, head: 2 }), undefined, 'fit is the last window now');
  const fresh = reduce(s, { type: 'trace', trace: undefined, cursor: DEFAULT_CURSOR });
  assert.equal(zoomOf(fresh, k1), undefined, 'a new trace starts unzoomed');
});

test('a zoomed window exports its own cells with the whole matrix’s indices and says it is a window', () => {
  const m: Matrix = {
    rows: 4,
    cols: 5,
    data: Float32Array.from({ length: 20 }, (_, i) => i / 10),
    rowLabels: ['a', 'b', 'c', 'd'],
    colLabels: ['v', 'w', 'x', 'y', 'z'],
    rowAxis: 'query',
    colAxis: 'key',
    masked: (r, c) => c > r,
  };
  const v: View = { r0: 1, nr: 2, c0: 2, nc: 3 };
  const w = sliceMatrix(m, v);
  assert.deepEqual(
    [...w.data],
    [7, 8, 9, 12, 13, 14].map((x) => Math.fround(x / 10)),
  );
  assert.deepEqual(w.rowLabels, ['b', 'c']);
  assert.deepEqual(w.colLabels, ['x', 'y', 'z']);
  assert.equal(w.masked!(0, 0), true, 'query 1, key 2 is masked');
  assert.equal(w.masked!(1, 0), false, 'query 2, key 2 is not');
  const note = `zoomed window: ${viewText(v, 4, 5, 'query', 'key')}`;
  const csv = matrixToCsv(w, { r0: v.r0, c0: v.c0, note }).trim().split('\n');
  assert.equal(csv[0], '"query \\ key (zoomed window: queries #1–#2, keys #2–#4 of 4 × 5)",2:x,3:y,4:z');
  assert.equal(csv[1]!.split(',')[0], '1:b');
  assert.equal(csv[2]!.split(',')[0], '2:c');
  assert.equal(Math.fround(Number(csv[2]!.split(',')[3])), Math.fround(1.4), 'query 2, key 4');
});

test('the lines and head views stay at most 480 px tall at 2,048 tokens, rows labelled, hit-tested at the scroll offset', () => {
  const l = layoutLines({ rows: 2048, cols: 2048 });
  assert.equal(l.viewH, 480);
  assert.ok(l.rowH >= 10, 'every row is tall enough to label');
  assert.equal(l.height, 2048 * l.rowH + 8);
  const off = 1000 * l.rowH;
  assert.equal(lineRowAt(l, { rows: 2048 }, 10, 4 + 0.5 * l.rowH, off), 1000);
  const seen = rowsInView(l, 2048, off);
  assert.ok(
    seen.first <= 1000 && seen.last >= 1000 + Math.floor(480 / l.rowH) - 1 && seen.last < 1000 + 480 / l.rowH + 1,
  );
  assert.equal(
    layoutLines({ rows: 9, cols: 9 }).viewH,
    layoutLines({ rows: 9, cols: 9 }).height,
    'short inputs do not scroll',
  );
  const hv = headLinesLayout(2048, 2048);
  assert.equal(hv.viewH, 480);
  assert.equal(headLinesLayout(10, 10).viewH, headLinesLayout(10, 10).height);
});

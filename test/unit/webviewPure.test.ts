// The webview's pure parts: colour scale, heatmap layout and hit-testing, tensor slicing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colourAt, lut } from '../../webview/draw/colormap';
import { hitTest, layoutHeatmap } from '../../webview/draw/heatmap';
import { formatValue, range, shapeText, toMatrix, tokenLabel } from '../../shared/tensorView';
import { tensor } from '../../shared/trace';
import { makeTrace } from './traceFixture';

const lum = ([r, g, b]: readonly number[]): number => 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;

test('colour maps are monotonic in luminance (perceptually ordered) and clamp', () => {
  for (const map of ['viridis', 'cividis', 'magma'] as const) {
    let prev = -1;
    for (let i = 0; i <= 20; i++) {
      const l = lum(colourAt(map, i / 20));
      assert.ok(l >= prev - 1, `${map} luminance drops at ${i / 20}`);
      prev = l;
    }
    assert.deepEqual(colourAt(map, -3), colourAt(map, 0));
    assert.deepEqual(colourAt(map, 7), colourAt(map, 1));
  }
  assert.deepEqual(colourAt('viridis', 0), [68, 1, 84]);
  assert.deepEqual(colourAt('viridis', 1), [253, 231, 37]);
  assert.equal(lut('magma').length, 1024);
});

test('heatmap layout fits the width, and hit-testing inverts it', () => {
  const m = { rows: 9, cols: 9, rowLabels: Array(9).fill('token'), colLabels: Array(9).fill('token') };
  const l = layoutHeatmap(m, 600);
  assert.ok(l.width <= 600);
  assert.ok(l.cell >= 2 && l.cell <= 28);
  for (let r = 0; r < 9; r++)
    for (let c = 0; c < 9; c++)
      assert.deepEqual(hitTest(l, m, l.left + (c + 0.5) * l.cell, l.top + (r + 0.5) * l.cellH), { row: r, col: c });
  assert.equal(hitTest(l, m, l.left - 1, l.top + 1), undefined);
  assert.equal(hitTest(l, m, l.left + 9 * l.cell + 1, l.top + 1), undefined);
  const wide = { rows: 13, cols: 128, rowLabels: Array(13).fill('tok'), colLabels: Array(128).fill('1') };
  const lw = layoutHeatmap(wide, 500);
  assert.ok(lw.cellH >= 12 && lw.cell < lw.cellH, 'rows of a wide matrix stay readable');
  assert.deepEqual(hitTest(lw, wide, lw.left + 100.5 * lw.cell, lw.top + 12.5 * lw.cellH), { row: 12, col: 100 });
  const big = { rows: 512, cols: 512, rowLabels: Array(512).fill('x'), colLabels: Array(512).fill('x') };
  const lb = layoutHeatmap(big, 800);
  // 512 columns fit 800 px: cells under 2 px (fractional), each pixel pooling 1×1 cells here.
  assert.ok(lb.width <= 800, `${lb.width} px`);
  assert.ok(lb.cell < 2 && lb.cell >= 1, `${lb.cell} px`);
  assert.ok(lb.rowLabelStride > 1, 'labels thin out instead of overlapping');
});

test('toMatrix slices a head, averages heads, and labels token axes', () => {
  const t = makeTrace(1, 2, 3);
  const w = t.stages.find((s) => s.id === 'L0.weights')!.tensors[0]!;
  const m0 = toMatrix(t, w, 0);
  assert.equal(m0.rows, 3);
  assert.deepEqual(m0.rowLabels, ['The', 'cat', 'sat']);
  assert.deepEqual([...m0.data], [1, 0, 0, 0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3].map(Math.fround));
  const mean = toMatrix(t, w, -1);
  assert.ok(Math.abs(mean.data[3]! - 0.5) < 1e-7);
  const kv = tensor(
    'K',
    [2, 3, 4],
    ['kv_head', 'token', 'd_head'],
    new Float32Array(24).map((_, i) => i),
    { tokenAxes: { token: 'input' } },
  );
  // Query head 3 reads KV head kvHeadOf[3] = 1.
  assert.equal(toMatrix(t, kv, 3, [0, 0, 1, 1]).data[0], 12);
  assert.equal(shapeText(w), '[2 head × 3 query × 3 key]');
});

test('labels and numbers are shown faithfully', () => {
  assert.equal(tokenLabel({ text: ' a', id: 0, start: 0, end: 2 }), '␣a');
  assert.equal(tokenLabel({ text: '\r\n', id: 0, start: 0, end: 2 }), '↵');
  assert.equal(formatValue(0.123456), '0.1235');
  assert.equal(formatValue(-Infinity), '−∞');
  assert.equal(formatValue(1e-5), '1.0000e-5');
  assert.deepEqual(range(new Float32Array([2, -Infinity, 5])), { min: 2, max: 5 });
});

// One colour range for the panel's heatmap, the SVG export and the grid: masked cells never set it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colourRange, formatValue, scaleEndsFor, toMatrix, type Matrix } from '../../shared/tensorView';
import { heatmapSvg } from '../../webview/exporters';
import { cssColour } from '../../webview/draw/colormap';
import { cellText, layoutHeatmap, legendChars } from '../../webview/draw/heatmap';
import { exportTarget } from '../../webview/matrices';
import { DEFAULT_SETTINGS } from '../../webview/store';
import { tensor, type Trace } from '../../shared/trace';
import { makeTrace } from './traceFixture';

// Causal scores of 3 tokens: the masked (future) cells hold a large negative, as real models write.
const scores = new Float32Array([2, -1e9, -1e9, -1, 0.5, -1e9, 1, 3, -2]);
const masked: Matrix = {
  rows: 3,
  cols: 3,
  data: scores,
  rowLabels: ['a', 'b', 'c'],
  colLabels: ['a', 'b', 'c'],
  rowAxis: 'query',
  colAxis: 'key',
  masked: (r, c) => c > r,
};

test('the colour range leaves masked cells out, and keeps the ends a tensor fixes', () => {
  assert.deepEqual(colourRange(masked), { min: -2, max: 3 });
  assert.deepEqual(colourRange({ ...masked, masked: undefined }), { min: -1e9, max: 3 });
  assert.deepEqual(colourRange(masked, scaleEndsFor('weights')), { min: 0, max: 1 });
  assert.deepEqual(colourRange(masked, { min: 0 }), { min: 0, max: 3 });
  assert.deepEqual(colourRange({ ...masked, data: new Float32Array(9) }, { min: 0 }), { min: 0, max: 0.5 });
  assert.deepEqual(scaleEndsFor('scores'), {});
});

test('an exported masked-scores SVG has the panel’s scale, not one stretched by the masked cells', () => {
  const svg = heatmapSvg(masked, { title: 'scores', colourMap: 'viridis', fixedRange: scaleEndsFor('scores') });
  assert.ok(svg.includes(`>${formatValue(3)}</text>`), 'legend top is the largest allowed score');
  assert.ok(svg.includes(`>${formatValue(-2)}</text>`), 'legend bottom is the smallest allowed score');
  // Cell (2, 1) = 3 is the top colour, (2, 2) = -2 the bottom one.
  assert.ok(svg.includes(`fill="${cssColour('viridis', 1)}"><title>c → b: 3.0000</title>`));
  assert.ok(svg.includes(`fill="${cssColour('viridis', 0)}"><title>c → c: -2.0000</title>`));
});

test('exports pick the matrix shown, with its block’s mask', () => {
  const base = makeTrace(1, 2, 3);
  const mask = tensor('mask', [3, 3], ['query', 'key'], new Float32Array([1, 0, 0, 1, 1, 0, 1, 1, 1]));
  const stages = base.stages.map((s) => (s.kind === 'score' ? { ...s, tensors: [...s.tensors, mask] } : s));
  const trace: Trace = { ...base, stages };
  const at = (stage: number, view: 'heatmap' | 'lines' | 'grid') =>
    exportTarget({ trace, cursor: { stage, head: 1, view }, settings: DEFAULT_SETTINGS });
  // The weights stage has no mask of its own: it is its block's (on the scores stage).
  const w = at(3, 'heatmap')!;
  assert.equal(w.tensorName, 'weights');
  assert.equal(w.matrix.masked?.(0, 1), true);
  assert.equal(w.matrix.masked?.(1, 0), false);
  assert.deepEqual([...w.matrix.data], [...toMatrix(trace, stages[3]!.tensors[0]!, 1).data]);
  assert.equal(at(2, 'lines')!.tensorName, 'scores');
  assert.equal(at(3, 'grid'), undefined);
  assert.equal(at(0, 'heatmap'), undefined);
  assert.equal(at(1, 'heatmap')!.matrix.masked, undefined, 'an embedding is not an attention matrix');
});

test('the legend makes room for long end labels (a difference of 1e-6 reads in full)', () => {
  const m = { rows: 3, cols: 3, rowLabels: ['a', 'b', 'c'], colLabels: ['a', 'b', 'c'] };
  const short = layoutHeatmap(m, 600);
  const long = layoutHeatmap(m, 600, true, legendChars(-8.6045e-6, 1e-7));
  assert.equal(legendChars(-8.6045e-6, 1e-7), '-8.6045e-6'.length);
  assert.equal(long.cell, short.cell);
  assert.ok(long.width - short.width >= (10 - 6) * 6, 'four more characters of room');
  assert.equal(
    layoutHeatmap(m, 600, true, legendChars(0, 1)).width,
    short.width,
    'labels of up to six characters keep the old size',
  );
  const tiny: Matrix = { ...masked, data: new Float32Array([-8.6045e-6, 0, 0, 1e-7, 2e-7, 0, 3e-7, 4e-7, 5e-7]) };
  const svg = heatmapSvg(tiny, { title: 'difference', colourMap: 'viridis' });
  const width = Number(/width="([\d.]+)"/.exec(svg)![1]);
  const legendX = Number(/<rect x="([\d.]+)" y="[\d.]+" width="10"/.exec(svg)![1]);
  assert.ok(width - (legendX + 14) >= '-8.6045e-6'.length * 6.5, `legend text has ${width - legendX - 14} px`);
});

test('cell values fit their cell and never read a small weight as zero', () => {
  assert.equal(cellText(0), '0');
  assert.equal(cellText(0.004), '.00');
  assert.equal(cellText(-0.1234), '-.12');
  assert.equal(cellText(3.14159), '3.14');
  assert.equal(cellText(9.996), '10.0');
  assert.equal(cellText(-12.345), '-12.3');
  assert.equal(cellText(123.4), '123');
  assert.equal(cellText(-999.7), '-1.0e3');
  assert.equal(cellText(12345), '1.2e4');
  assert.equal(cellText(-Infinity), '−∞');
  for (const v of [0.5, -7.77, 55.55, -555.5, 5555, -55555]) assert.ok(cellText(v).length <= 6, cellText(v));
});

test('a matrix of token ids prints the ids whole', () => {
  assert.equal(cellText(55, true), '55');
  assert.equal(cellText(1836, true), '1836');
  assert.equal(cellText(151643, true), '151643');
  assert.equal(cellText(55), '55.0');
});

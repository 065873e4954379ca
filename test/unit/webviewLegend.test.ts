// Colour legends: a title saying what the colour measures, end labels of three significant digits
// (or an exponent) with room for them, a diverging map centred on 0 for signed tensors and a
// sequential one for weights and probabilities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colourAt, cssColour } from '../../webview/draw/colormap';
import { AXIS_TITLE_PX, axisTitle, layoutHeatmap, legendWidth, scaleOf } from '../../webview/draw/heatmap';
import { heatmapSvg } from '../../webview/exporters';
import { isSigned, legendLabel, legendTitle, type Matrix } from '../../shared/tensorView';

const m: Matrix = {
  rows: 2,
  cols: 2,
  data: new Float32Array([-1.0476, 0.2, 0.5, 0.9922]),
  rowLabels: ['a', 'b'],
  colLabels: ['a', 'b'],
  rowAxis: 'query',
  colAxis: 'key',
};

test('legend labels have three significant digits, or an exponent', () => {
  assert.equal(legendLabel(-1.0476), '-1.05');
  assert.equal(legendLabel(0.9922), '0.992');
  assert.equal(legendLabel(123.45), '123');
  assert.equal(legendLabel(-8.6045e-6), '-8.60e-6');
  assert.equal(legendLabel(12345), '1.23e4');
  assert.equal(legendLabel(0), '0');
  assert.equal(legendLabel(1), '1');
});

test('the legend has room for its labels at 6.2 px a character and for its title', () => {
  for (const v of [-1.0476, -8.6045e-6, -123456]) {
    const chars = legendLabel(v).length;
    // Bar (18 px with its gap), labels from 5 px after it, a 16 px title column.
    assert.ok(legendWidth(chars) - 23 - 16 >= chars * 6.2, `${legendLabel(v)}: ${legendWidth(chars)} px`);
  }
  const l = layoutHeatmap(m, 600, true, legendLabel(-8.6045e-6).length);
  assert.equal(l.width, l.left + l.cell * 2 + legendWidth(8));
});

test('signed tensors are diverging and centred on 0; weights and probabilities are sequential', () => {
  for (const name of ['scores', 'Q', 'K', 'V', 'difference', 'context', 'logits']) assert.ok(isSigned(name), name);
  for (const name of ['weights', 'probs', 'top_p']) assert.ok(!isSigned(name), name);
  assert.deepEqual(scaleOf(m, { colourMap: 'viridis', diverging: true }), {
    min: -Math.fround(1.0476),
    max: Math.fround(1.0476),
    map: 'diverging',
  });
  assert.equal(scaleOf(m, { colourMap: 'magma', scale: { min: 0, max: 1 } }).map, 'magma');
  // The diverging map's middle is neutral (near white), its ends blue and red.
  const [r, g, b] = colourAt('diverging', 0.5);
  assert.ok(r > 240 && g > 240 && b > 240);
  assert.ok(colourAt('diverging', 0)[2] > colourAt('diverging', 0)[0], 'negative is blue');
  assert.ok(colourAt('diverging', 1)[0] > colourAt('diverging', 1)[2], 'positive is red');
  assert.equal(legendTitle('weights'), 'attention weight α');
  assert.equal(legendTitle('difference'), 'difference (what-if − model)');
});

test('an SVG of a signed tensor is drawn on the centred diverging map, with its legend title', () => {
  const svg = heatmapSvg(m, { title: 'scores', colourMap: 'viridis', diverging: true, legendTitle: 'score S' });
  // -1.0476 is the bottom of the symmetric range, 0.9922 just below its top.
  assert.ok(svg.includes(`fill="${cssColour('diverging', 0)}"><title>a → a: -1.0476</title>`));
  assert.ok(svg.includes('>score S</text>'));
});

test('axis titles sit on the axes, in a strip above the column labels', () => {
  assert.equal(axisTitle('query', 'rows'), 'query ↓');
  assert.equal(axisTitle('key', 'cols'), 'key →');
  assert.equal(axisTitle('output', 'rows'), 'output step ↓');
  assert.equal(axisTitle('input', 'cols'), 'input token →');
  assert.equal(axisTitle('', 'rows'), '');
  const bare = { rows: m.rows, cols: m.cols, rowLabels: m.rowLabels, colLabels: m.colLabels };
  assert.equal(layoutHeatmap(m, 600).top, layoutHeatmap(bare, 600).top + AXIS_TITLE_PX);
});

// The accuracy chart's drawing (webview/components/curvesFigure.ts), without a browser: every point at
// its value on a 0–100% axis, every value written out, labels clear of the x axis, hover finds the point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { curvePointAt, drawCurves, layoutCurves, pointAt } from '../../webview/components/curvesFigure';
import type { Matrix } from '../../shared/tensorView';

const m: Matrix = {
  rows: 2,
  cols: 6,
  data: Float32Array.from([0.92, 0.94, 0.89, 0.85, 0.825, 0.765, 0.1, 0, 0, 0, 0, 0]),
  rowLabels: ['additive attention', 'no attention'],
  colLabels: ['5–10', '11–20', '21–30', '31–40', '41–50', '51–60'],
  rowAxis: 'model',
  colAxis: 'input length',
};

/** A 2-D context that records what is drawn. */
function recorder(): {
  g: CanvasRenderingContext2D;
  texts: { text: string; x: number; y: number; baseline: string }[];
} {
  const texts: { text: string; x: number; y: number; baseline: string }[] = [];
  const state: Record<string, unknown> = { textBaseline: 'alphabetic' };
  const g = new Proxy(state, {
    get: (t, k) =>
      k in t
        ? t[k as string]
        : k === 'fillText'
          ? (text: string, x: number, y: number) => texts.push({ text, x, y, baseline: String(t.textBaseline) })
          : () => {},
    set: (t, k, v) => {
      t[k as string] = v;
      return true;
    },
  }) as unknown as CanvasRenderingContext2D;
  return { g, texts };
}

test('points sit at their share of the 0–100% axis, in column order', () => {
  const l = layoutCurves(800);
  assert.equal(pointAt(l, m, 0, 0).y, l.bottom - (l.bottom - l.top) * m.data[0]!);
  assert.equal(pointAt(l, m, 1, 5).y, l.bottom, '0% is on the x axis');
  for (let k = 1; k < 6; k++) assert.ok(pointAt(l, m, 0, k).x > pointAt(l, m, 0, k - 1).x);
  assert.deepEqual(curvePointAt(l, m, pointAt(l, m, 1, 3).x + 3, pointAt(l, m, 1, 3).y - 2), { s: 1, k: 3 });
  assert.equal(curvePointAt(l, m, 0, 0), undefined, 'nothing far from every point');
});

test('every value is written once, the x labels and axis titles too, and no value label runs into the x labels', () => {
  const l = layoutCurves(800);
  const { g, texts } = recorder();
  drawCurves(g, m, l, { foreground: '#ccc', font: '12px sans-serif' }, 'input length (characters)', 'exact match');
  const values = texts.filter((t) => t.text.endsWith('%') && !/^\d+%$/.test(t.text));
  assert.deepEqual(
    values.map((t) => t.text),
    ['92.0%', '94.0%', '89.0%', '85.0%', '82.5%', '76.5%', '10.0%', '0.0%', '0.0%', '0.0%', '0.0%', '0.0%'],
  );
  for (const v of values) {
    const bottom = v.baseline === 'top' ? v.y + 14 : v.y;
    assert.ok(bottom <= l.bottom, `${v.text} at y ${v.y} (${v.baseline}) stays above the x axis`);
  }
  for (const lab of [...m.colLabels, 'input length (characters)', 'exact match', '0%', '100%'])
    assert.ok(
      texts.some((t) => t.text === lab),
      `${lab} is drawn`,
    );
});

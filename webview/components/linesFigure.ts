// The head view (as in BertViz): one line per query–key pair; hovering or arrowing through the
// queries shows one query's lines and its five strongest keys.
import type { ColourMap } from '../../shared/protocol';
import type { TensorData } from '../../shared/trace';
import { formatValue, shapeText, type Matrix } from '../../shared/tensorView';
import { h } from '../dom';
import { drawLines, layoutLines, lineRowAt } from '../draw/lines';
import type { PanelContext } from './part';
import { sizeCanvas, type Figure } from './matrixFigure';

export function linesFigure(
  ctx: PanelContext,
  tensor: TensorData,
  m: Matrix,
  colourMap: ColourMap,
  row: number | undefined,
): Figure {
  const l = layoutLines(m);
  const canvas = h('canvas', {
    class: 'lines',
    'data-testid': 'lines',
    tabindex: 0,
    role: 'img',
    'aria-label': `head view of ${tensor.name}`,
  });
  const g = sizeCanvas(canvas, l.width, l.height);
  let theme = ctx.theme();
  let focus: number | undefined = row;
  const readout = h('div', { class: 'readout', 'aria-live': 'polite' }, '\u00a0');
  const paint = (): void => {
    if (g) drawLines(g, m, l, colourMap, theme.foreground, theme.font, focus);
    if (focus === undefined) readout.textContent = 'Hover a token on the left to see only its lines.';
    else {
      const top = Array.from({ length: m.cols }, (_, k) => [k, m.data[focus! * m.cols + k]!] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5);
      readout.textContent = `${m.rowLabels[focus]} → ${top.map(([k, v]) => `${m.colLabels[k]} ${formatValue(v)}`).join(', ')}`;
    }
  };
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    const at = lineRowAt(l, m, e.clientX - r.left, e.clientY - r.top);
    if (at !== focus) {
      focus = at;
      paint();
    }
  });
  canvas.addEventListener('mouseleave', () => {
    focus = undefined;
    paint();
  });
  canvas.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    focus = Math.max(0, Math.min(m.rows - 1, (focus ?? -1) + (e.key === 'ArrowDown' ? 1 : -1)));
    paint();
  });
  paint();
  const el = h(
    'figure',
    { class: 'figure wide' },
    h('figcaption', {}, h('b', {}, `${tensor.name} as lines`), ' ', h('span', { class: 'shape' }, shapeText(tensor))),
    canvas,
    readout,
  );
  // Its layout follows the token count, not the panel's width; a resize (or theme change) repaints in the theme's colours.
  return {
    el,
    resize: () => {
      theme = ctx.theme();
      paint();
    },
  };
}

// The head view (as in BertViz): one line per query–key pair; hovering or arrowing through the
// queries shows one query's lines and its five strongest keys.
import type { ColourMap } from '../../shared/protocol';
import type { TensorData } from '../../shared/trace';
import { formatValue, shapeText, type Matrix } from '../../shared/tensorView';
import { h } from '../dom';
import { drawLines, layoutLines, lineRowAt, MIN_LINE_WEIGHT, rowsInView } from '../draw/lines';
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
  let g = sizeCanvas(canvas, l.width, l.viewH);
  let theme = ctx.theme();
  let focus: number | undefined = row;
  const readout = h('div', { class: 'readout', 'data-testid': 'lines-readout', 'aria-live': 'polite' }, '\u00a0');
  // A long input scrolls inside the figure: the canvas stays at the top of the scroll area (sticky)
  // and is drawn at the scroll offset; the spacer gives the area the whole figure's height.
  const scrolls = l.height > l.viewH;
  const spacer = h('div', { class: 'scroll-spacer', 'aria-hidden': 'true' });
  spacer.style.height = `${l.height - l.viewH}px`;
  const area = h(
    'div',
    { class: scrolls ? 'scroll-figure' : 'plain-figure', 'data-testid': 'lines-scroll' },
    canvas,
    scrolls ? spacer : undefined,
  );
  if (scrolls) area.style.width = `${l.width + 16}px`;
  const heads = h(
    'div',
    { class: 'lines-heads', 'data-testid': 'lines-heads' },
    h('span', {}, `${m.rowAxis || 'rows'} (#0–#${m.rows - 1}) ↓`),
    h('span', {}, `${m.colAxis || 'columns'} (#0–#${m.cols - 1}) ↓`),
  );
  heads.style.width = `${l.width}px`;
  const offset = (): number => (scrolls ? area.scrollTop : 0);
  const paint = (): void => {
    const drawn = g ? drawLines(g, m, l, colourMap, theme.foreground, theme.font, focus, offset()) : -1;
    canvas.dataset.lines = String(drawn);
    const shown = rowsInView(l, m.rows, offset());
    canvas.dataset.firstRow = String(shown.first);
    canvas.dataset.lastRow = String(shown.last);
    // A long input spreads each row thin: say so rather than show an empty figure without a word.
    const none =
      drawn === 0
        ? ` No line in view: every weight here is under ${MIN_LINE_WEIGHT} (lines below it are not drawn).`
        : '';
    if (focus === undefined) readout.textContent = `Hover a token on the left to see only its lines.${none}`;
    else {
      const top = Array.from({ length: m.cols }, (_, k) => [k, m.data[focus! * m.cols + k]!] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5);
      readout.textContent = `${m.rowLabels[focus]} → ${top.map(([k, v]) => `${m.colLabels[k]} ${formatValue(v)}`).join(', ')}${none}`;
    }
  };
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    const at = lineRowAt(l, m, e.clientX - r.left, e.clientY - r.top, offset());
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
    // The focused query scrolls into view.
    const top = 4 + focus * l.rowH;
    if (top < area.scrollTop) area.scrollTop = top;
    else if (top + l.rowH > area.scrollTop + l.viewH) area.scrollTop = top + l.rowH - l.viewH;
    paint();
  });
  area.addEventListener('scroll', () => paint());
  paint();
  const el = h(
    'figure',
    { class: 'figure wide' },
    h(
      'figcaption',
      {},
      h('b', {}, `${tensor.name} as lines`),
      ' ',
      h('span', { class: 'shape' }, shapeText(tensor)),
      scrolls
        ? h(
            'span',
            { class: 'muted', 'data-testid': 'lines-note' },
            ` · ${Math.max(m.rows, m.cols)} tokens: scroll inside the figure; every token is labelled`,
          )
        : undefined,
    ),
    heads,
    area,
    readout,
  );
  // Its layout follows the token count, not the panel's width; a resize (or theme change) repaints in the theme's colours.
  return {
    el,
    resize: () => {
      theme = ctx.theme();
      g = sizeCanvas(canvas, l.width, l.viewH);
      paint();
    },
  };
}

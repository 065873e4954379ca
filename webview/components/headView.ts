// The BertViz-style head view: every head of the cursor's attention block overlaid in its own
// colour, queries on the left, keys on the right, one line per pair whose opacity is its weight.
// Coloured swatches show and hide heads (the choice is kept while moving between layers); the
// hovered or focused token's lines stay, the others are dimmed. Tab reaches a token column, the
// arrow keys move through the tokens, Enter or space toggles a swatch (they are buttons).
import type { AttentionBlock } from '../../shared/navigation';
import { formatValue } from '../../shared/tensorView';
import type { Trace } from '../../shared/trace';
import { h } from '../dom';
import {
  headColour,
  headLines,
  isLightColour,
  strongestLines,
  type LineFocus,
  type WeightsCube,
} from '../attentionViews';
import { drawHeadLines, HEAD_ROW, headLinesLayout } from '../draw/headLines';
import type { PanelContext } from './part';
import { sizeCanvas, type Figure } from './matrixFigure';

/** Hidden heads per trace: the choice survives moving between layers and stages, not a new run. */
const hiddenByTrace = new WeakMap<Trace, Set<number>>();

function hiddenHeads(trace: Trace): Set<number> {
  let s = hiddenByTrace.get(trace);
  if (!s) hiddenByTrace.set(trace, (s = new Set()));
  return s;
}

function where(block: AttentionBlock): string {
  const who = block.role === 'cross' ? 'cross-attention' : 'self-attention';
  const at = [
    block.layer !== undefined ? `layer ${block.layer}` : '',
    block.step !== undefined ? `step ${block.step + 1}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return at ? `${who}, ${at}` : who;
}

export function headView(ctx: PanelContext, trace: Trace, block: AttentionBlock, cube: WeightsCube): Figure {
  const hidden = hiddenHeads(trace);
  const shown = (): Set<number> =>
    new Set(Array.from({ length: cube.heads }, (_, i) => i).filter((i) => !hidden.has(i)));
  let dark = isLightColour(ctx.theme().foreground);
  let focus: LineFocus | undefined;
  let hover: LineFocus | undefined;

  const swatches = Array.from({ length: cube.heads }, (_, i) => {
    const chip = h('span', { class: 'hv-chip', 'aria-hidden': 'true' });
    const b = h(
      'button',
      {
        class: 'hv-swatch',
        'data-testid': `head-swatch-${i}`,
        'data-head': i,
        'aria-pressed': hidden.has(i) ? 'false' : 'true',
        title: `Show or hide head ${i}`,
        onclick: () => {
          if (hidden.has(i)) hidden.delete(i);
          else hidden.add(i);
          paint();
        },
      },
      chip,
      `head ${i}`,
    );
    return { b, chip };
  });
  const allOn = h(
    'button',
    {
      class: 'hv-all',
      'data-testid': 'heads-all',
      onclick: () => {
        hidden.clear();
        paint();
      },
    },
    'all heads',
  );

  const tokenButton = (side: 'query' | 'key', i: number, label: string): HTMLButtonElement =>
    h(
      'button',
      {
        class: `hv-tok ${side}`,
        'data-testid': `hv-${side}-${i}`,
        'data-index': i,
        tabindex: i === 0 ? 0 : -1,
        'aria-label': `${side} ${label} (#${i})`,
      },
      label,
    );
  const queries = cube.rowLabels.map((l, i) => tokenButton('query', i, l));
  const keys = cube.colLabels.map((l, i) => tokenButton('key', i, l));
  const layout = headLinesLayout(cube.rows, cube.cols);
  const canvas = h('canvas', {
    class: 'head-lines',
    'data-testid': 'head-lines',
    role: 'img',
    'aria-label': `lines from ${cube.rows} queries to ${cube.cols} keys, one colour per head; opacity = attention weight`,
  });
  let g = sizeCanvas(canvas, layout.width, layout.viewH);
  const readout = h('div', { class: 'readout', 'data-testid': 'head-readout', 'aria-live': 'polite' }, '\u00a0');

  const paint = (): void => {
    const on = shown();
    const f = hover ?? focus;
    const lines = headLines(cube, on, f);
    const drawn = g ? drawHeadLines(g, layout, lines, (i) => headColour(i, dark), scroller.scrollTop) : 0;
    canvas.dataset.lines = String(drawn);
    canvas.dataset.shownHeads = [...on].join(',');
    canvas.dataset.focus = f ? `${f.side}:${f.index}` : '';
    swatches.forEach(({ b, chip }, i) => {
      const isOn = on.has(i);
      b.setAttribute('aria-pressed', isOn ? 'true' : 'false');
      b.classList.toggle('off', !isOn);
      chip.style.backgroundColor = isOn ? headColour(i, dark) : 'transparent';
      chip.style.borderColor = headColour(i, dark);
    });
    for (const [side, list] of [
      ['query', queries],
      ['key', keys],
    ] as const)
      list.forEach((b, i) => b.classList.toggle('dim', f !== undefined && !(f.side === side && f.index === i)));
    if (!f) {
      readout.textContent =
        on.size === 0
          ? 'No head shown: click a head’s swatch to show it.'
          : 'Hover or focus a token to see only its lines (Tab, then the arrow keys).';
      return;
    }
    const label = (f.side === 'query' ? cube.rowLabels : cube.colLabels)[f.index];
    const top = strongestLines(lines, f);
    const other = (l: (typeof top)[number]): string =>
      f.side === 'query' ? `${cube.colLabels[l.key]}` : `${cube.rowLabels[l.query]}`;
    readout.textContent =
      `${f.side} ${label} (#${f.index}) ${f.side === 'query' ? '→' : '←'} ` +
      (top.length ? top.map((l) => `${other(l)} ${formatValue(l.weight)} (head ${l.head})`).join(', ') : 'no weight');
  };

  const column = (side: 'query' | 'key', list: HTMLButtonElement[]): HTMLElement => {
    const col = h(
      'div',
      { class: `hv-col ${side}`, role: 'group', 'aria-label': side === 'query' ? 'queries' : 'keys' },
      ...list,
    );
    col.addEventListener('mouseover', (e) => {
      const i = Number((e.target as HTMLElement).closest<HTMLElement>('.hv-tok')?.dataset.index);
      if (Number.isInteger(i) && (hover?.side !== side || hover.index !== i)) {
        hover = { side, index: i };
        paint();
      }
    });
    col.addEventListener('mouseleave', () => {
      hover = undefined;
      paint();
    });
    col.addEventListener('focusin', (e) => {
      const i = Number((e.target as HTMLElement).dataset.index);
      if (Number.isInteger(i)) {
        focus = { side, index: i };
        list.forEach((b, j) => (b.tabIndex = j === i ? 0 : -1));
        paint();
      }
    });
    col.addEventListener('focusout', (e) => {
      if (!col.contains(e.relatedTarget as Node | null)) {
        focus = undefined;
        paint();
      }
    });
    col.addEventListener('keydown', (e) => {
      const i = Number((e.target as HTMLElement).dataset.index);
      if (!Number.isInteger(i)) return;
      const moves: Record<string, number> = { ArrowUp: -1, ArrowDown: 1, Home: -Infinity, End: Infinity };
      if (e.key in moves) {
        e.preventDefault();
        const j = Math.max(0, Math.min(list.length - 1, i + moves[e.key]!));
        list[j]!.focus();
      } else if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        // Across to the other column, at the same row where there is one.
        const to = side === 'query' ? keys : queries;
        if ((e.key === 'ArrowRight') === (side === 'query')) {
          e.preventDefault();
          to[Math.min(i, to.length - 1)]!.focus();
        }
      }
    });
    return col;
  };

  const body = h('div', { class: 'hv-body' }, column('query', queries), canvas, column('key', keys));
  body.style.setProperty('--hv-row', `${HEAD_ROW}px`);
  // Long token columns scroll inside the figure (both together); the canvas stays in view (sticky)
  // and is drawn at the scroll offset. Focusing a token scrolls it into view (the browser does).
  const scrolls = layout.height > layout.viewH;
  const scroller = h('div', { class: scrolls ? 'scroll-figure' : 'plain-figure', 'data-testid': 'head-scroll' }, body);
  scroller.addEventListener('scroll', () => paint());
  const heads = h(
    'div',
    { class: 'hv-heads', 'data-testid': 'hv-heads' },
    h('span', {}, `queries (#0–#${cube.rows - 1})`),
    h('span', {}, `keys (#0–#${cube.cols - 1})`),
  );
  const gqa = block.info.kvHeadOf
    ? ` Grouped-query attention: ${cube.heads} query heads share ${new Set(block.info.kvHeadOf).size} key/value heads; the lines are each query head’s own weights.`
    : '';
  const el = h(
    'figure',
    { class: 'figure wide head-view', 'data-testid': 'head-view' },
    h(
      'figcaption',
      {},
      h('b', {}, `Head view: ${where(block)}`),
      ' ',
      h(
        'span',
        { class: 'muted' },
        `all ${cube.heads} head${cube.heads === 1 ? '' : 's'} overlaid; queries (left) → keys (right); a line’s opacity is its attention weight α.${gqa}`,
      ),
      scrolls
        ? h(
            'span',
            { class: 'muted', 'data-testid': 'hv-scroll-note' },
            ` ${Math.max(cube.rows, cube.cols)} tokens: the columns scroll inside the figure.`,
          )
        : undefined,
    ),
    h(
      'div',
      { class: 'hv-swatches', role: 'group', 'aria-label': 'Heads: press to show or hide' },
      ...swatches.map((s) => s.b),
      allOn,
    ),
    h('div', { class: 'hv-frame' }, heads, scroller),
    readout,
  );
  paint();
  return {
    el,
    resize: () => {
      dark = isLightColour(ctx.theme().foreground);
      g = sizeCanvas(canvas, layout.width, layout.viewH);
      paint();
    },
  };
}

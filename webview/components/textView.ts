// The text view: the keys flow as the source text (wrapping, its own whitespace and line breaks;
// special tokens as small chips), each shaded by the attention weight it gets from one query: the
// hovered token, else the focused row (the editor caret's token), else the last query. The spans
// are built once; a hover only restyles them, so thousands of tokens stay responsive.
import type { AttentionBlock } from '../../shared/navigation';
import { formatValue, legendLabel } from '../../shared/tensorView';
import type { Trace } from '../../shared/trace';
import { h } from '../dom';
import { isLightColour, textPieces, textShading, type WeightsCube } from '../attentionViews';
import type { PanelState } from '../store';
import type { PanelContext } from './part';
import type { Figure } from './matrixFigure';

/** The shading hue (rgb), one per theme kind, chosen so the token text stays readable over it at full strength. */
const SHADE = { dark: [38, 120, 255], light: [0, 102, 255] } as const;
/** Strongest shading's opacity: the text on it keeps its contrast. */
const MAX_ALPHA = 0.75;

export interface TextViewFigure extends Figure {
  patch(s: PanelState): void;
}

export function textView(
  ctx: PanelContext,
  trace: Trace,
  block: AttentionBlock,
  cube: WeightsCube,
  head: number,
  row: number | undefined,
): TextViewFigure {
  const self = block.role === 'self';
  const source = block.info.keys === 'input' ? trace.text : undefined;
  let dark = isLightColour(ctx.theme().foreground);
  let focusRow = row;
  let hoverRow: number | undefined;
  const spans: HTMLElement[] = new Array(cube.cols);
  const text = h('div', {
    class: 'tv-text',
    'data-testid': 'text-view',
    tabindex: 0,
    'aria-label': self
      ? 'The text, each token shaded by the attention it gets from the chosen token. Left and right arrows choose the token.'
      : 'The input, each token shaded by the attention it gets from the chosen output step. Left and right arrows choose the step.',
  });
  const frag = document.createDocumentFragment();
  // Keys not in the document (a decoder's outputs) are chips with the cube's own labels: a decoder
  // position is named by the token it reads there.
  const pieces =
    source === undefined
      ? cube.colLabels.map((text, index) => ({ kind: 'token' as const, index, text: text || '∅', special: true }))
      : textPieces(cube.colTokens, source);
  for (const p of pieces) {
    if (p.kind === 'gap') {
      frag.append(document.createTextNode(p.text));
      continue;
    }
    const span = h('span', { class: p.special ? 'tv-tok chip' : 'tv-tok', 'data-i': p.index }, p.text);
    spans[p.index] = span;
    frag.append(span);
  }
  text.append(frag);

  // Cross-attention: the queries are another token list (the output), hovered in their own row.
  const queryChips = self
    ? []
    : cube.rowLabels.map((l, i) => h('span', { class: 'tv-q chip', 'data-q': i, 'data-testid': `tv-query-${i}` }, l));
  const queryRow = self
    ? undefined
    : h(
        'div',
        { class: 'tv-queries', 'aria-hidden': 'true' },
        h('span', { class: 'muted' }, cube.rows === 1 ? 'query: ' : 'queries (hover one): '),
        ...queryChips,
      );

  const legendBar = h('span', { class: 'tv-legend-bar', 'aria-hidden': 'true' });
  const legendMax = h('span', { 'data-testid': 'text-legend-max' });
  const maskNote = h('span', { class: 'tv-masked-sample' }, 'token');
  const legend = h(
    'div',
    { class: 'tv-legend', 'data-testid': 'text-legend' },
    h('span', {}, 'attention weight α: 0'),
    legendBar,
    legendMax,
    block.mask ? h('span', { class: 'muted' }, ' · ', maskNote, ' masked: not attendable from this query') : null,
  );
  const readout = h('div', { class: 'readout', 'data-testid': 'text-readout', 'aria-live': 'polite' }, '\u00a0');
  const lastRow = cube.rows - 1;
  const current = (): { row: number; why: string } => {
    if (hoverRow !== undefined) return { row: hoverRow, why: 'hovered' };
    if (focusRow !== undefined && focusRow >= 0 && focusRow < cube.rows) return { row: focusRow, why: 'focused' };
    return { row: lastRow, why: 'the last query; hover a token to choose another' };
  };

  const restyle = (): void => {
    const t0 = performance.now();
    const { row: r, why } = current();
    const { shades, max } = textShading(cube, head, r);
    const [cr, cg, cb] = dark ? SHADE.dark : SHADE.light;
    for (let k = 0; k < shades.length; k++) {
      const span = spans[k];
      if (!span) continue;
      const s = shades[k]!;
      span.style.backgroundColor = s.alpha > 0 ? `rgba(${cr},${cg},${cb},${(s.alpha * MAX_ALPHA).toFixed(3)})` : '';
      span.dataset.weight = String(s.weight);
      if (span.classList.contains('masked') !== s.masked) span.classList.toggle('masked', s.masked);
      if (span.classList.contains('query') !== (self && k === r)) span.classList.toggle('query', self && k === r);
    }
    queryChips.forEach((c, i) => c.classList.toggle('query', i === r));
    const ms = performance.now() - t0;
    text.dataset.restyleMs = ms.toFixed(3);
    text.dataset.row = String(r);
    legendBar.style.backgroundImage = `linear-gradient(to right, rgba(${cr},${cg},${cb},0), rgba(${cr},${cg},${cb},${MAX_ALPHA}))`;
    legendMax.textContent = ` ${legendLabel(max)} (the row’s largest weight)`;
    const top = shades
      .map((s, k) => [k, s.weight] as const)
      .filter(([k]) => !shades[k]!.masked)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5);
    readout.textContent =
      `${cube.rowLabels[r]} (#${r}, ${why}) attends to: ` +
      top.map(([k, v]) => `${cube.colLabels[k]} ${formatValue(v)}`).join(', ');
  };

  text.addEventListener('mouseover', (e) => {
    if (!self) return;
    const i = Number((e.target as HTMLElement).closest<HTMLElement>('.tv-tok')?.dataset.i);
    if (Number.isInteger(i) && i !== hoverRow && i < cube.rows) {
      hoverRow = i;
      restyle();
    }
  });
  text.addEventListener('mouseleave', () => {
    if (hoverRow === undefined) return;
    hoverRow = undefined;
    restyle();
  });
  queryRow?.addEventListener('mouseover', (e) => {
    const i = Number((e.target as HTMLElement).closest<HTMLElement>('.tv-q')?.dataset.q);
    if (Number.isInteger(i) && i !== hoverRow) {
      hoverRow = i;
      restyle();
    }
  });
  queryRow?.addEventListener('mouseleave', () => {
    hoverRow = undefined;
    restyle();
  });
  text.addEventListener('keydown', (e) => {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!d) return;
    e.preventDefault();
    focusRow = Math.max(0, Math.min(lastRow, current().row + d));
    hoverRow = undefined;
    restyle();
  });

  const headText = cube.heads === 1 ? '' : head < 0 ? ' · mean of heads' : ` · head ${Math.min(head, cube.heads - 1)}`;
  const where = [
    block.layer !== undefined ? `layer ${block.layer}` : '',
    block.step !== undefined ? `step ${block.step + 1}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const el = h(
    'figure',
    { class: 'figure wide text-view' },
    h(
      'figcaption',
      {},
      h('b', {}, `Text view: ${self ? 'self' : 'cross'}-attention${where ? `, ${where}` : ''}${headText}`),
      ' ',
      h(
        'span',
        { class: 'muted' },
        self
          ? 'each token is shaded by the attention weight the hovered token (else the caret’s token) gives it.'
          : 'each input token is shaded by the attention weight the hovered output step gives it.',
      ),
    ),
    queryRow ?? null,
    // The legend and the readout above the text, so they stay in sight at thousands of tokens.
    legend,
    readout,
    text,
  );
  restyle();
  return {
    el,
    resize: () => {
      dark = isLightColour(ctx.theme().foreground);
      restyle();
    },
    patch: (s) => {
      if (s.cursor.row === focusRow) return;
      focusRow = s.cursor.row;
      if (hoverRow === undefined) restyle();
    },
  };
}

// "By output step": a Transformer encoder–decoder one decoder position at a time. For the stage's
// decoder layer and the chosen head (or every head): what step t reads and produces, its masked
// self-attention row over decoder positions 0…t (later positions hatched as masked) and its
// cross-attention row over the input tokens. The step is the cursor's focused row, so the hover,
// the decorations, the heatmaps and the "next/previous step" commands follow the same step.
import {
  decoderInputLabel,
  decoderLayerOf,
  producedAt,
  stepCount,
  stepRows,
  stepSentence,
  strongestKeys,
  type StepRows,
} from '../../shared/decoderSteps';
import type { ColourMap } from '../../shared/protocol';
import { formatValue, type Matrix } from '../../shared/tensorView';
import { tensor, type Stage, type Trace } from '../../shared/trace';
import { h } from '../dom';
import { matrixFigure, type Figure } from './matrixFigure';
import { go, type Built, type PanelContext } from './part';

/** Kept while the panel lives, like the grid's scale: one head's row, or a row per head and their mean. */
let allHeads = false;

/** The clamped step the cursor shows (its focused row; step 1 when none). */
export function stepOfCursor(row: number | undefined, steps: number): number {
  return Math.max(0, Math.min(steps - 1, row ?? 0));
}

/** The rows of one attention at a step as a matrix to draw: a row per head, one column per key. */
export function stepMatrix(r: StepRows, colAxis: string): Matrix {
  return {
    rows: r.heads.length,
    cols: r.keys,
    data: r.data,
    rowLabels: r.heads.map((hd) => (hd < 0 ? 'mean' : String(hd))),
    colLabels: r.keyLabels,
    rowAxis: 'head',
    colAxis,
    masked: (_row, col) => r.masked[col] === true,
  };
}

export function stepView(ctx: PanelContext, trace: Trace, stage: Stage, head: number, colourMap: ColourMap): Built {
  const dec = decoderLayerOf(trace, stage);
  if (!dec || (!dec.self && !dec.cross))
    return {
      nodes: [
        h(
          'p',
          { class: 'muted view-unavailable', 'data-testid': 'view-unavailable' },
          'The step view follows the decoder of a Transformer encoder–decoder one output step at a time: move to a decoder stage (its masked self-attention, cross-attention or output).',
        ),
      ],
    };
  const T = stepCount(trace);
  let figures: Figure[] = [];
  let shown = -1;
  const step = (): number => stepOfCursor(ctx.store.state.cursor.row, T);
  const moveTo = (t: number): void => {
    const next = Math.max(0, Math.min(T - 1, t));
    if (next !== step() || ctx.store.state.cursor.row === undefined) go(ctx, { ...ctx.store.state.cursor, row: next });
  };
  const prev = h(
    'vscode-button',
    {
      secondary: true,
      'data-testid': 'step-prev',
      title: 'Previous output step (←)',
      onclick: () => moveTo(step() - 1),
    },
    '◀ Previous step',
  );
  const next = h(
    'vscode-button',
    { secondary: true, 'data-testid': 'step-next', title: 'Next output step (→)', onclick: () => moveTo(step() + 1) },
    'Next step ▶',
  );
  const slider = h('input', {
    type: 'range',
    min: 1,
    max: T,
    'data-testid': 'step-slider',
    'aria-label': `output step, 1 to ${T}`,
  });
  const number = h('input', {
    type: 'number',
    class: 'range-input',
    min: 1,
    max: T,
    'data-testid': 'step-number',
    'aria-label': `output step, 1 to ${T}`,
  });
  const error = h('span', { class: 'range-error', 'data-testid': 'step-error', role: 'alert' });
  slider.addEventListener('input', () => moveTo(Number(slider.value) - 1));
  const typed = (): void => {
    const v = Number(number.value);
    if (!Number.isInteger(v) || v < 1 || v > T) {
      error.textContent = `Give a whole output step from 1 to ${T}.`;
      return;
    }
    error.textContent = '';
    moveTo(v - 1);
  };
  number.addEventListener('change', typed);
  number.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') typed();
  });
  const heads = h('input', { type: 'checkbox', 'data-testid': 'step-all-heads' });
  heads.checked = allHeads;
  heads.addEventListener('change', () => {
    allHeads = heads.checked;
    render(true);
  });
  const bar = h(
    'div',
    { class: 'step-bar', role: 'group', 'aria-label': 'output step' },
    prev,
    h('label', { class: 'range-label' }, 'step ', number, ` of ${T} `),
    slider,
    next,
    h('label', { class: 'range-label' }, heads, ' all heads'),
    error,
  );
  const sentence = h('p', { class: 'step-sentence', 'data-testid': 'step-sentence', 'aria-live': 'polite' });
  const alternatives = h('p', { class: 'muted step-topk', 'data-testid': 'step-topk' });
  const body = h('div', { class: 'step-body' });
  const root = h(
    'div',
    {
      class: 'step-view',
      'data-testid': 'step-view',
      tabindex: 0,
      'aria-label': `decoder layer ${dec.layer} by output step: ← and → move the step`,
    },
    h(
      'p',
      { class: 'muted' },
      `Decoder layer ${dec.layer}, one output step at a time (counted from 1): at step t the decoder reads the token it produced at step t − 1 (at step 1, the start token, shown as ${decoderInputLabel(trace, 0)}) and produces the token of step t.`,
    ),
    bar,
    sentence,
    alternatives,
    body,
  );
  root.addEventListener('keydown', (e) => {
    const target = e.target as HTMLElement;
    if (target !== root && target.tagName !== 'VSCODE-BUTTON') return;
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      e.preventDefault();
      moveTo(step() + (e.key === 'ArrowLeft' ? -1 : 1));
    }
  });

  const section = (
    r: StepRows,
    testid: string,
    title: string,
    colAxis: string,
    caption: string,
    note: string,
  ): { el: HTMLElement; fig: Figure } => {
    const m = stepMatrix(r, colAxis);
    const t = tensor('weights', [m.rows, m.cols], [allHeads ? 'heads' : 'head', 'key'], m.data);
    const fig = matrixFigure(ctx, { matrix: m, tensor: t, head, colourMap, caption, testid });
    const top = strongestKeys(r, 0)
      .map((k) => `‘${r.keyLabels[k.key]}’ (#${k.key}) ${formatValue(k.weight)}`)
      .join(', ');
    const who = r.heads[0]! < 0 ? 'mean of heads' : `head ${r.heads[0]}`;
    const el = h(
      'section',
      { class: 'step-section', 'data-testid': `${testid}-section`, 'data-values': JSON.stringify(Array.from(r.data)) },
      h('h4', {}, title),
      h('p', { class: 'muted' }, note),
      fig.el,
      h('p', { class: 'muted', 'data-testid': `${testid}-top` }, `${who}, largest: ${top}`),
    );
    return { el, fig };
  };

  const render = (force = false): void => {
    const t = step();
    if (t === shown && !force) return;
    shown = t;
    slider.value = String(t + 1);
    if (document.activeElement !== number) number.value = String(t + 1);
    prev.toggleAttribute('disabled', t === 0);
    next.toggleAttribute('disabled', t === T - 1);
    sentence.textContent = `${stepSentence(trace, t)}.`;
    const top = producedAt(trace, t);
    alternatives.textContent = top.length
      ? `Top ${top.length} at this step: ${top.map((c) => `‘${c.text}’ ${(c.p * 100).toFixed(2)}%`).join(', ')}`
      : '';
    figures.forEach((f) => f.dispose?.());
    figures = [];
    const parts: HTMLElement[] = [];
    if (dec.self) {
      const r = stepRows(trace, dec.self, t, head, allHeads);
      const s = section(
        r,
        'step-self',
        `Decoder masked self-attention: step ${t + 1} over decoder positions 1…${t + 1}`,
        'decoder input',
        `masked self-attention weights, row ${t + 1}`,
        `Each key is labelled by the decoder input at its position; positions after step ${t + 1} are masked (hatched): the decoder may not look ahead.`,
      );
      parts.push(s.el);
      figures.push(s.fig);
    }
    if (dec.cross) {
      const r = stepRows(trace, dec.cross, t, head, allHeads);
      const s = section(
        r,
        'step-cross',
        `Cross-attention (output → input): step ${t + 1} over the ${r.keys} input tokens`,
        'input',
        `cross-attention weights, row ${t + 1}`,
        `How much output step ${t + 1} reads each input token.`,
      );
      // On a cross-attention stage its row comes first.
      if (stage.attention?.keys === 'input') parts.unshift(s.el);
      else parts.push(s.el);
      figures.push(s.fig);
    }
    body.replaceChildren(...parts);
  };
  render(true);
  return {
    nodes: [root],
    patch: () => render(),
    resize: () => figures.forEach((f) => f.resize()),
    dispose: () => figures.forEach((f) => f.dispose?.()),
  };
}

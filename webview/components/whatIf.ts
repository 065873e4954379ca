// What if…: recompute one attention block's scores, weights and context from its very Q, K and V
// with another score function or normaliser (the host's engine does the maths), and show the
// result beside the model's weights.
import { missingParams } from '../../shared/scoreParams';
import { blockOf, type AttentionBlock } from '../../shared/navigation';
import {
  findTensor,
  NORMALISERS,
  SCORE_FUNCTIONS,
  type Normaliser,
  type ScoreFunction,
  type Trace,
} from '../../shared/trace';
import { h } from '../dom';
import { matrixOf } from '../matrices';
import { currentStage, type PanelState } from '../store';
import { matrixFigure, type Figure } from './matrixFigure';
import type { PanelContext, PartSpec } from './part';

const WHAT_IF_KINDS: readonly string[] = ['score', 'normalise', 'context', 'qkv'];

/** The block a what-if can recompute from the cursor's stage: one with Q, K and V. */
function whatIfBlock(s: PanelState): AttentionBlock | undefined {
  const stage = currentStage(s);
  if (!s.trace || !stage || !WHAT_IF_KINDS.includes(stage.kind) || s.cursor.view === 'grid') return undefined;
  const b = blockOf(s.trace, stage);
  return b?.stages.qkv && b.q && b.k && b.v ? b : undefined;
}

async function recompute(
  ctx: PanelContext,
  trace: Trace,
  b: AttentionBlock,
  score: ScoreFunction,
  normaliser: Normaliser,
): Promise<void> {
  try {
    const result = await ctx.request({ kind: 'whatIf', stageId: b.stages.qkv!.id, score, normaliser });
    if (ctx.store.state.trace === trace)
      ctx.store.dispatch({ type: 'whatIf', whatIf: { blockId: b.id, score, normaliser, result } });
  } catch (err) {
    if (ctx.store.state.trace === trace) ctx.store.dispatch({ type: 'whatIfError', error: (err as Error).message });
  }
}

export function whatIfPart(ctx: PanelContext): PartSpec {
  return {
    name: 'whatif',
    key: (s) => {
      const b = ctx.standalone ? undefined : whatIfBlock(s);
      // The head and colours matter only once there is a result to draw.
      const drawn = s.whatIf?.blockId === b?.id;
      return (
        b && [
          s.trace,
          b,
          s.whatIf,
          s.whatIfError,
          s.settings.score,
          s.settings.normaliser,
          drawn && s.settings.colourMap,
          drawn && s.cursor.head,
        ]
      );
    },
    build: (s) => {
      const trace = s.trace!;
      const b = whatIfBlock(s)!;
      const qkv = b.stages.qkv!;
      const params = Object.fromEntries(['W', 'W1', 'W2', 'v'].map((n) => [n, findTensor(qkv, n)]));
      const missing = (f: ScoreFunction): string | undefined => missingParams(f, params);
      const current = s.whatIf?.blockId === b.id ? s.whatIf : undefined;
      const score: ScoreFunction = current?.score ?? (missing(s.settings.score) ? 'scaled-dot' : s.settings.score);
      const normaliser: Normaliser = current?.normaliser ?? s.settings.normaliser;
      const toggles = <T extends string>(
        label: string,
        values: readonly T[],
        chosen: T,
        why: (v: T) => string | undefined,
        pick: (v: T) => void,
      ): HTMLElement =>
        h(
          'div',
          { class: 'toggles', role: 'group', 'aria-label': label },
          h('span', { class: 'toggle-label' }, label),
          ...values.map((v) => {
            const reason = why(v);
            const on = v === chosen && current !== undefined;
            return h(
              'button',
              {
                class: on ? 'toggle on' : 'toggle',
                'aria-pressed': on ? 'true' : 'false',
                disabled: reason !== undefined,
                title: reason ?? `Recompute with ${v}`,
                'data-testid': `whatif-${v}`,
                onclick: () => pick(v),
              },
              v,
            );
          }),
        );
      const panel = h(
        'section',
        { class: 'whatif', 'data-testid': 'whatif' },
        h('h3', {}, 'What if…'),
        h(
          'p',
          { class: 'muted' },
          `Recompute this layer’s scores, weights and context from the very same Q, K and V with another score function or normaliser. The model used ${b.info.score} + ${b.info.normaliser}.`,
        ),
        toggles('score', SCORE_FUNCTIONS, score, missing, (v) => void recompute(ctx, trace, b, v, normaliser)),
        toggles(
          'normaliser',
          NORMALISERS,
          normaliser,
          () => undefined,
          (v) => void recompute(ctx, trace, b, score, v),
        ),
      );
      if (s.whatIfError) panel.append(h('div', { class: 'banner error', role: 'alert' }, s.whatIfError));
      const figures: Figure[] = [];
      if (current) {
        const head = s.cursor.head;
        const w = { ...current.result.weights, name: 'weights' };
        const colourMap = s.settings.colourMap;
        figures.push(
          matrixFigure(ctx, {
            matrix: matrixOf(trace, w, head, undefined, b.mask),
            tensor: w,
            head,
            colourMap,
            caption: `what-if weights (${current.score} + ${current.normaliser})`,
            testid: 'whatif-weights',
          }),
        );
        const orig = b.weights;
        if (orig.data.length === w.data.length) {
          const diff = { ...w, name: 'difference', data: w.data.map((v, i) => v - orig.data[i]!) };
          figures.push(
            matrixFigure(ctx, {
              matrix: matrixOf(trace, diff, head, undefined, b.mask),
              tensor: diff,
              head,
              colourMap,
              caption: 'what-if − model weights',
              testid: 'whatif-diff',
            }),
          );
        }
        panel.append(h('div', { class: 'matrices' }, ...figures.map((f) => f.el)));
        if (current.normaliser === 'sigmoid')
          panel.append(
            h(
              'p',
              { class: 'muted' },
              'Sigmoid weighs every key independently, so a row need not sum to 1: the context is not a weighted mean any more.',
            ),
          );
      }
      return { nodes: [panel], resize: () => figures.forEach((f) => f.resize()) };
    },
  };
}

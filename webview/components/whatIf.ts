// What if…: recompute one attention block's scores, weights and context from its very Q, K and V
// with another score function, normaliser (soft or hard) or Luong's local window (the host's
// engine does the maths), and show them with their difference from the model's own.
import { missingParams, missingPredictive } from '../../shared/scoreParams';
import { windowNote, windowText } from '../../shared/localWindow';
import { blockOf, type AttentionBlock } from '../../shared/navigation';
import type { LocalWindow, WhatIfResult } from '../../shared/protocol';
import type { Matrix } from '../../shared/tensorView';
import {
  DEFAULT_SAMPLE_SEED,
  findTensor,
  NORMALISERS,
  SCORE_FUNCTIONS,
  type Normaliser,
  type ScoreFunction,
  type TensorData,
  type Trace,
} from '../../shared/trace';
import { h } from '../dom';
import { difference, matrixOf } from '../matrices';
import { currentStage, type PanelState } from '../store';
import { matrixFigure, type Figure } from './matrixFigure';
import type { PanelContext, PartSpec } from './part';

const WHAT_IF_KINDS: readonly string[] = ['score', 'normalise', 'context', 'qkv'];

/** The window choices: global attention, or Luong's local-m / local-p. */
type WindowChoice = 'global' | 'local-m' | 'local-p';
const WINDOW_CHOICES: readonly WindowChoice[] = ['global', 'local-m', 'local-p'];
const DEFAULT_D = 2;

/** The choices a what-if request is made with. */
interface Choice {
  readonly score: ScoreFunction;
  readonly normaliser: Normaliser;
  readonly local?: LocalWindow;
  readonly seed: number;
}

/** The block a what-if can recompute from the cursor's stage: one with Q, K and V. */
function whatIfBlock(s: PanelState): AttentionBlock | undefined {
  const stage = currentStage(s);
  if (!s.trace || !stage || !WHAT_IF_KINDS.includes(stage.kind) || s.cursor.view === 'grid') return undefined;
  const b = blockOf(s.trace, stage);
  return b?.stages.qkv && b.q && b.k && b.v ? b : undefined;
}

async function recompute(ctx: PanelContext, trace: Trace, b: AttentionBlock, c: Choice): Promise<void> {
  const { score, normaliser, local, seed } = c;
  const extra = { ...(local ? { local } : {}), ...(normaliser === 'sampled' ? { seed } : {}) };
  try {
    const result = await ctx.request({ kind: 'whatIf', stageId: b.stages.qkv!.id, score, normaliser, ...extra });
    if (ctx.store.state.trace === trace)
      ctx.store.dispatch({ type: 'whatIf', whatIf: { blockId: b.id, score, normaliser, result, ...extra } });
  } catch (err) {
    if (ctx.store.state.trace === trace) ctx.store.dispatch({ type: 'whatIfError', error: (err as Error).message });
  }
}

/** A [query, key] or [head, query, key] 1/0 mask as the matrix's hatching for one head (−1: masked in every head). */
function withWindow(m: Matrix, mask: TensorData, head: number): Matrix {
  const n = m.rows * m.cols;
  const heads = mask.shape.length === 3 ? mask.shape[0]! : 1;
  const at = (h: number, r: number, c: number): boolean => mask.data[h * n + r * m.cols + c] === 0;
  const masked =
    heads === 1
      ? (r: number, c: number) => at(0, r, c)
      : head >= 0
        ? (r: number, c: number) => at(Math.min(head, heads - 1), r, c)
        : (r: number, c: number) => Array.from({ length: heads }, (_, h) => at(h, r, c)).every(Boolean);
  return { ...m, masked };
}

/** "The → cat, sat → The, …": the key each query drew (sampled hard attention), for one head. */
function sampledKeys(m: Matrix): string {
  const out: string[] = [];
  for (let r = 0; r < m.rows; r++) {
    const row = m.data.subarray(r * m.cols, (r + 1) * m.cols);
    const j = row.indexOf(Math.max(...row));
    out.push(`${m.rowLabels[r]} (#${r}) → ${row[j]! > 0 ? `${m.colLabels[j]} (#${j})` : 'none (masked)'}`);
  }
  return out.join(', ');
}

const HARD_NOTE =
  'Hard attention puts each row’s whole weight on one key (hardmax: the best-scoring key, ties split evenly; sampled: one key drawn from softmax(s)), so the context is that key’s value. ' +
  'Soft attention (softmax, sparsemax) blends values and is differentiable; hard attention is not: hardmax is piecewise constant in the scores, so its gradient is 0 almost everywhere, ' +
  'and a sampled key has no gradient at all, so training needs a score-function (REINFORCE) estimator, ∇E[f] = E[f(j)·∇log p(j)].';

const SIGMOID_NOTE =
  'Sigmoid weighs every key independently, so a row need not sum to 1: the context is not a weighted mean any more.';

function numberInput(label: string, testid: string, value: number, min: number, max: number, on: (v: number) => void) {
  const input = h('input', {
    type: 'number',
    min,
    max,
    step: 1,
    value,
    'data-testid': testid,
    'aria-label': label,
    onchange: (e: Event) => {
      const v = Number((e.target as HTMLInputElement).value);
      if (Number.isInteger(v) && v >= min && v <= max) on(v);
      else (e.target as HTMLInputElement).value = String(value);
    },
  });
  return h('label', { class: 'whatif-field' }, `${label} `, input);
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
      const params = Object.fromEntries(['W', 'W1', 'W2', 'v', 'W_p', 'v_p'].map((n) => [n, findTensor(qkv, n)]));
      const missing = (f: ScoreFunction): string | undefined => missingParams(f, params);
      const current = s.whatIf?.blockId === b.id ? s.whatIf : undefined;
      const chosen: Choice = {
        score: current?.score ?? (missing(s.settings.score) ? 'scaled-dot' : s.settings.score),
        normaliser: current?.normaliser ?? s.settings.normaliser,
        ...(current?.local ? { local: current.local } : {}),
        seed: current?.seed ?? DEFAULT_SAMPLE_SEED,
      };
      const ask = (change: Partial<Choice> & { local?: LocalWindow | undefined }): void => {
        const next = { ...chosen, ...change };
        if (!next.local) delete next.local;
        void recompute(ctx, trace, b, next);
      };
      const Tk = b.k!.shape[b.k!.shape.length - 2]!;
      const Tq = b.q!.shape[b.q!.shape.length - 2]!;
      // A decoder step's one query sits at its step (local-m's p_t = t); whole-sequence blocks count from their first row.
      const firstQuery = Tq === 1 && b.step !== undefined ? { firstQuery: b.step } : {};
      const windowChoice: WindowChoice = chosen.local
        ? chosen.local.alignment === 'monotonic'
          ? 'local-m'
          : 'local-p'
        : 'global';
      const noPredictive = missingPredictive(params);
      const toggles = <T extends string>(
        label: string,
        values: readonly T[],
        picked: T,
        why: (v: T) => string | undefined,
        pick: (v: T) => void,
        title: (v: T) => string = (v) => `Recompute with ${v}`,
      ): HTMLElement =>
        h(
          'div',
          { class: 'toggles', role: 'group', 'aria-label': label },
          h('span', { class: 'toggle-label' }, label),
          ...values.map((v) => {
            const reason = why(v);
            const on = v === picked && current !== undefined;
            return h(
              'button',
              {
                class: on ? 'toggle on' : 'toggle',
                'aria-pressed': on ? 'true' : 'false',
                disabled: reason !== undefined,
                title: reason ?? title(v),
                'data-testid': `whatif-${v}`,
                onclick: () => pick(v),
              },
              v,
            );
          }),
        );
      const D = chosen.local?.D ?? Math.min(DEFAULT_D, Math.max(1, Tk - 1));
      const gaussian = chosen.local?.gaussian ?? false;
      const windowControls: HTMLElement[] = [];
      if (chosen.local) {
        windowControls.push(
          h(
            'div',
            { class: 'toggles' },
            h('span', { class: 'toggle-label' }, 'window'),
            numberInput('half-width D', 'whatif-window-d', D, 1, Math.max(1, Tk), (v) =>
              ask({ local: { ...chosen.local!, D: v } }),
            ),
            h(
              'label',
              { class: 'whatif-field' },
              h('input', {
                type: 'checkbox',
                'data-testid': 'whatif-gaussian',
                checked: gaussian,
                onchange: (e: Event) =>
                  ask({ local: { ...chosen.local!, gaussian: (e.target as HTMLInputElement).checked } }),
              }),
              ` Gaussian exp(−(s − p_t)²/(2σ²)), σ = D/2 = ${D / 2}`,
            ),
          ),
        );
      }
      if (chosen.normaliser === 'sampled')
        windowControls.push(
          h(
            'div',
            { class: 'toggles' },
            h('span', { class: 'toggle-label' }, 'sampling'),
            numberInput('seed', 'whatif-seed', chosen.seed, 0, 4294967295, (v) => ask({ seed: v })),
          ),
        );
      const panel = h(
        'section',
        { class: 'whatif', 'data-testid': 'whatif' },
        h('h3', {}, 'What if…'),
        h(
          'p',
          { class: 'muted' },
          `Recompute this layer’s scores, weights and context from the very same Q, K and V with another score function, normaliser or a local window. The model used ${b.info.score} + ${b.info.normaliser}, global.`,
        ),
        toggles('score', SCORE_FUNCTIONS, chosen.score, missing, (v) => ask({ score: v })),
        toggles(
          'normaliser',
          NORMALISERS,
          chosen.normaliser,
          () => undefined,
          (v) => ask({ normaliser: v }),
        ),
        toggles(
          'attention',
          WINDOW_CHOICES,
          windowChoice,
          (v) => (v === 'local-p' ? noPredictive : undefined),
          (v) =>
            ask({
              local:
                v === 'global'
                  ? undefined
                  : v === 'local-m'
                    ? // Luong's local-m has no Gaussian, local-p has one: each starts as defined (the box toggles it).
                      { alignment: 'monotonic', D, gaussian: false, ...firstQuery }
                    : { alignment: 'predictive', D, gaussian: true },
            }),
          (v) =>
            v === 'global'
              ? 'Attend over every allowed key'
              : v === 'local-m'
                ? 'Luong’s local-m: a window of half-width D around p_t = t'
                : 'Luong’s local-p: a window around p_t = S·sigmoid(v_pᵀ tanh(W_p h_t))',
        ),
        ...windowControls,
      );
      if (noPredictive) panel.append(h('p', { class: 'muted', 'data-testid': 'whatif-no-local-p' }, noPredictive));
      if (s.whatIfError) panel.append(h('div', { class: 'banner error', role: 'alert' }, s.whatIfError));
      const figures: Figure[] = [];
      if (current) figures.push(...results(ctx, panel, s, trace, b, current.result, { ...chosen }));
      return {
        nodes: [panel],
        resize: () => figures.forEach((f) => f.resize()),
        dispose: () => figures.forEach((f) => f.dispose?.()),
      };
    },
  };
}

/** The what-if's scores, weights and context, then their differences from the model's own, each labelled. */
function results(
  ctx: PanelContext,
  panel: HTMLElement,
  s: PanelState,
  trace: Trace,
  b: AttentionBlock,
  result: WhatIfResult,
  c: Choice,
): Figure[] {
  const head = s.cursor.head;
  const colourMap = s.settings.colourMap;
  const how = `${c.score} + ${c.normaliser}${c.normaliser === 'sampled' ? `, seed ${result.seed ?? c.seed}` : ''}${c.local ? `, ${windowText(c.local)}` : ''}`;
  // Hatched: what the what-if could not attend to (the local window ∧ the block's mask), or the block's mask.
  const hatched = (t: TensorData): Matrix =>
    result.windowMask
      ? withWindow(matrixOf(trace, t, head), result.windowMask, head)
      : matrixOf(trace, t, head, undefined, b.mask);
  const fig = (t: TensorData, m: Matrix, caption: string, testid: string): Figure =>
    matrixFigure(ctx, { matrix: m, tensor: t, head, colourMap, caption, testid });
  const scores = { ...result.scores, name: 'scores' };
  const weights = { ...result.weights, name: 'weights' };
  const context = { ...result.context, name: 'context' };
  const weightsMatrix = hatched(weights);
  const own: Figure[] = [
    fig(scores, hatched(scores), `what-if scores S (${c.score}), before masking`, 'whatif-scores'),
    fig(weights, weightsMatrix, `what-if weights α (${how})`, 'whatif-weights'),
    fig(context, matrixOf(trace, context, head), `what-if context c = Σⱼ αᵢⱼ vⱼ (${how})`, 'whatif-context'),
  ];
  // Differences from the model's own: diverging colours centred on 0. Masked only where the model masks.
  const diffs: Figure[] = [];
  const absent: string[] = [];
  const diff = (mine: TensorData, theirs: TensorData | undefined, name: string, caption: string, testid: string) => {
    const d = theirs && difference(mine, theirs, name, head);
    if (!d) {
      absent.push(mine.name);
      return;
    }
    // A map of zeros is one flat colour: say so in words.
    const same = d.values.every((v) => v === 0) ? ' — 0 everywhere, the same as the model’s' : '';
    diffs.push(fig(d.tensor, matrixOf(trace, d.tensor, head, undefined, b.mask), caption + same, testid));
  };
  diff(scores, b.scores, 'score difference', 'what-if − model: scores', 'whatif-diff-scores');
  diff(weights, b.weights, 'difference', 'what-if − model: weights', 'whatif-diff');
  diff(context, b.context, 'context difference', 'what-if − model: context', 'whatif-diff-context');
  panel.append(
    h('h4', { class: 'whatif-heading' }, `What-if: ${how}`),
    h('div', { class: 'matrices', 'data-testid': 'whatif-results' }, ...own.map((f) => f.el)),
    h(
      'h4',
      { class: 'whatif-heading' },
      `Difference from the model’s own (${b.info.score} + ${b.info.normaliser}): what-if − model`,
    ),
    h('div', { class: 'matrices', 'data-testid': 'whatif-diffs' }, ...diffs.map((f) => f.el)),
  );
  if (absent.length)
    panel.append(
      h(
        'p',
        { class: 'muted', 'data-testid': 'whatif-no-diff' },
        `No difference for ${absent.join(' or ')}: this run does not record the model’s own ${absent.join(' or ')} in a shape to compare with.`,
      ),
    );
  if (c.normaliser === 'sampled')
    panel.append(
      h(
        'p',
        { class: 'muted', 'data-testid': 'whatif-sampled-keys' },
        `Sampled keys (seed ${result.seed ?? c.seed}${head >= 0 ? `, head ${head}` : ''}): ${head >= 0 ? sampledKeys(weightsMatrix) : 'choose one head to list them'}`,
      ),
    );
  if (c.normaliser === 'hardmax' || c.normaliser === 'sampled')
    panel.append(h('p', { class: 'muted', 'data-testid': 'whatif-hard-note' }, HARD_NOTE));
  if (c.normaliser === 'sigmoid') panel.append(h('p', { class: 'muted' }, SIGMOID_NOTE));
  if (c.local) {
    panel.append(h('p', { class: 'muted', 'data-testid': 'whatif-window-note' }, windowNote(c.local)));
    const p = result.positions;
    if (p && c.local.alignment === 'predictive') {
      const per = p.shape.length === 2 ? p.shape[1]! : p.shape[0]!;
      const from = p.shape.length === 2 ? Math.max(0, head) * per : 0;
      const values = Array.from(p.data.subarray(from, from + per), (x) => x.toFixed(2)).join(', ');
      panel.append(h('p', { class: 'muted', 'data-testid': 'whatif-positions' }, `p_t per query: ${values}`));
    }
  }
  return [...own, ...diffs];
}

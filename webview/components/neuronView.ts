// The neuron view (as BertViz's): for one query/key pair of one head, the query vector q, the key
// vector k (of the key/value head it reads, shared under grouped-query attention), their
// element-wise product and its sum, the scale, bias and soft-cap, the final score, and the
// normaliser over the query's row with the chosen key highlighted. The numbers come from
// shared/neuron.ts, recomputed from the block's Q and K and checked against its scores and weights.
import type { Normaliser } from '../../shared/trace';
import type { AttentionBlock } from '../../shared/navigation';
import { NEURON_TOLERANCE, neuronPair, rowMismatch, type NeuronPair, type NeuronSource } from '../../shared/neuron';
import { formatValue, tokenLabel } from '../../shared/tensorView';
import { h } from '../dom';
import { cssColour } from '../draw/colormap';
import type { PanelState } from '../store';
import { go, type PanelContext } from './part';
import type { Figure } from './matrixFigure';

type Source = Extract<NeuronSource, { ok: true }>;

const NORMALISER_TEXT = {
  softmax: 'softmax over the attendable keys: αⱼ = exp(sⱼ − max s) / Σₖ exp(sₖ − max s)',
  sparsemax: 'sparsemax over the attendable keys: αⱼ = max(sⱼ − τ, 0), τ chosen so the row sums to 1',
  sigmoid: 'sigmoid of each attendable key on its own: αⱼ = 1 / (1 + exp(−sⱼ)) (a row need not sum to 1)',
  hardmax: 'hardmax over the attendable keys: α = 1 on the best-scoring key (tied maxima share it evenly), 0 elsewhere',
  sampled: 'sampled hard attention: one key drawn from softmax(s) (seeded); α = 1 on the key drawn, 0 elsewhere',
} as const satisfies Record<Normaliser, string>;

/** A component's value in a cell: three significant digits (the exact value is in its title). */
const short = (v: number): string =>
  v === 0 ? '0' : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3);

export interface NeuronFigure extends Figure {
  patch(s: PanelState): void;
}

export function neuronView(
  ctx: PanelContext,
  block: AttentionBlock,
  src: Source,
  cursorHead: number,
  row: number | undefined,
): NeuronFigure {
  const head = cursorHead < 0 ? 0 : Math.min(cursorHead, src.heads - 1);
  const Tq = block.queryTokens.length;
  const qLabels = block.queryTokens.map(tokenLabel);
  const kLabels = block.keyTokens.map(tokenLabel);
  const label = (list: readonly string[], i: number): string => list[i] || '∅';
  let pinnedRow = row !== undefined && row >= 0 && row < Tq ? row : Tq - 1;
  let hoverRow: number | undefined;
  let key: number | undefined;
  const queryOf = (): number => hoverRow ?? pinnedRow;

  const queryChips = block.queryTokens.map((_, i) =>
    h(
      'button',
      {
        class: 'nv-tok',
        'data-testid': `nv-query-${i}`,
        'data-i': i,
        'aria-label': `query ${label(qLabels, i)} (#${i})`,
        onclick: () => {
          pinnedRow = i;
          hoverRow = undefined;
          key = undefined;
          go(ctx, { ...ctx.store.state.cursor, row: i });
          render();
        },
      },
      label(qLabels, i),
    ),
  );
  const queries = h('div', { class: 'nv-tokens', role: 'group', 'aria-label': 'query token' }, ...queryChips);
  queries.addEventListener('mouseover', (e) => {
    const i = Number((e.target as HTMLElement).closest<HTMLElement>('.nv-tok')?.dataset.i);
    if (Number.isInteger(i) && i !== hoverRow) {
      hoverRow = i;
      render();
    }
  });
  queries.addEventListener('mouseleave', () => {
    hoverRow = undefined;
    render();
  });

  const body = h('div', { class: 'nv-body' });
  const render = (): void => {
    const q = queryOf();
    const base = neuronPair(block, src, head, q, 0);
    // The key: the one clicked, else the query's strongest attendable key.
    let k = key;
    if (k === undefined || !base.row.allowed[k]) {
      k = 0;
      base.row.weights.forEach((w, j) => {
        if (base.row.allowed[j] && w > base.row.weights[k!]!) k = j;
      });
    }
    const p = k === 0 ? base : neuronPair(block, src, head, q, k);
    queryChips.forEach((c, i) => c.classList.toggle('current', i === q));
    body.replaceChildren(
      ...pairParts(p, block, qLabels, kLabels, label, (j) => {
        key = j;
        render();
      }),
    );
  };

  const gqa = block.info.kvHeadOf;
  const where = [
    block.layer !== undefined ? `layer ${block.layer}` : '',
    block.step !== undefined ? `step ${block.step + 1}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const el = h(
    'figure',
    { class: 'figure wide neuron-view', 'data-testid': 'neuron-view' },
    h(
      'figcaption',
      {},
      h('b', {}, `Neuron view: ${block.role}-attention${where ? `, ${where}` : ''} · head ${head}`),
      ' ',
      h(
        'span',
        { class: 'muted' },
        'how one query’s and one key’s vectors make their score, and the score its weight.',
      ),
    ),
    cursorHead < 0
      ? h(
          'p',
          { class: 'warning', 'data-testid': 'nv-head-note' },
          'The mean of heads has no single query or key vector: showing head 0 (choose a head above).',
        )
      : null,
    gqa
      ? h(
          'p',
          { class: 'muted', 'data-testid': 'nv-kv-note' },
          `Grouped-query attention: query head ${head} reads key/value head ${gqa[head]}, shared by query heads ${gqa
            .flatMap((g, i) => (g === gqa[head] ? [i] : []))
            .join(', ')}.`,
        )
      : null,
    h('div', { class: 'nv-pick' }, h('span', { class: 'muted' }, 'Query (hover or click): '), queries),
    body,
  );
  render();
  return {
    el,
    resize: render,
    patch: (s) => {
      const r = s.cursor.row;
      if (r === undefined || r === pinnedRow || r < 0 || r >= Tq) return;
      pinnedRow = r;
      key = undefined;
      if (hoverRow === undefined) render();
    },
  };
}

/** The vectors as a table (one column per component), the steps from the sum to the score, and the row's normaliser. */
function pairParts(
  p: NeuronPair,
  block: AttentionBlock,
  qLabels: readonly string[],
  kLabels: readonly string[],
  label: (list: readonly string[], i: number) => string,
  chooseKey: (j: number) => void,
): HTMLElement[] {
  const d = p.vectors[0]!.values.length;
  const kvNote = p.kvHead !== p.head ? ` (K/V head ${p.kvHead}, shared)` : '';
  const title = h(
    'p',
    { class: 'nv-pair', 'data-testid': 'nv-pair' },
    `query ${label(qLabels, p.query)} (#${p.query}) · key ${label(kLabels, p.key)} (#${p.key}) · head ${p.head}${kvNote} · d = ${d}`,
  );
  const rows = p.vectors.map((v) => {
    const a = Math.max(...Array.from(v.values, Math.abs)) || 1;
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, v.name),
      ...Array.from(v.values, (x) => {
        const td = h('td', { title: String(x) }, short(x));
        td.style.backgroundColor = cssColour('diverging', 0.5 + x / (2 * a));
        td.style.color = Math.abs(x / a) > 0.6 ? '#fff' : '#000';
        return td;
      }),
    );
  });
  const vectors = h(
    'div',
    { class: 'nv-scroll' },
    h(
      'table',
      { class: 'nv-vectors', 'data-testid': 'nv-vectors' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'component'), ...Array.from({ length: d }, (_, i) => h('th', {}, String(i)))),
      ),
      h('tbody', {}, ...rows),
    ),
  );
  const rawName = p.score === 'general' ? 'qᵀW k' : p.score === 'additive' ? 'vᵀ tanh(W₁q + W₂k)' : 'q·k';
  const last = p.vectors[p.vectors.length - 1]!.name;
  const steps: (string | HTMLElement)[] = [`${rawName} = Σ (${last}) = ${formatValue(p.raw)}`];
  if (p.scale.value !== 1 || p.score === 'scaled-dot')
    steps.push(`× scale ${formatValue(p.scale.value)} (${p.scale.label}) = ${formatValue(p.scaled)}`);
  else steps.push(`scale: ${p.scale.label}`);
  if (p.bias !== undefined)
    steps.push(
      `+ position bias B[${p.head}, ${p.query}, ${p.key}] = ${formatValue(p.bias)} → ${formatValue(p.scaled + p.bias)}`,
    );
  if (p.softCap !== undefined) steps.push(`soft-cap ${p.softCap}·tanh(s / ${p.softCap}) = ${formatValue(p.final)}`);
  steps.push(h('b', {}, `score s = ${formatValue(p.final)}`));
  steps.push(`the model’s float32 score: ${formatValue(p.recorded.score)} (this view recomputes in float64)`);
  const stepList = h('ol', { class: 'nv-steps', 'data-testid': 'nv-steps' }, ...steps.map((x) => h('li', {}, x)));

  const maxW = Math.max(...p.row.weights, 1e-12);
  const rowTable = h(
    'table',
    { class: 'nv-row', 'data-testid': 'nv-row' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'key (click to choose)'),
        h('th', {}, 'score s'),
        h('th', {}, 'weight α'),
        h('th', {}, ''),
      ),
    ),
    h(
      'tbody',
      {},
      ...Array.from(p.row.scores, (sc, j) => {
        const allowed = p.row.allowed[j]!;
        const w = p.row.weights[j]!;
        const bar = h('span', { class: 'nv-bar' });
        bar.style.width = `${Math.round((80 * w) / maxW)}px`;
        const tr = h(
          'tr',
          {
            class: j === p.key ? 'chosen' : allowed ? '' : 'masked',
            'data-testid': `nv-key-${j}`,
            tabindex: allowed ? 0 : -1,
            'aria-selected': j === p.key ? 'true' : 'false',
            onclick: () => allowed && chooseKey(j),
            onkeydown: (e: Event) => {
              const ke = e as KeyboardEvent;
              if (allowed && (ke.key === 'Enter' || ke.key === ' ')) {
                ke.preventDefault();
                chooseKey(j);
              }
            },
          },
          h('td', {}, `${label(kLabels, j)} (#${j})`),
          h('td', {}, allowed ? formatValue(sc) : `${formatValue(sc)} (masked)`),
          h('td', {}, allowed ? formatValue(w) : '0 (not attendable)'),
          h('td', {}, bar),
        );
        return tr;
      }),
    ),
  );
  const chosenW = p.row.weights[p.key]!;
  const norm = h(
    'p',
    { class: 'nv-norm', 'data-testid': 'nv-norm' },
    `${NORMALISER_TEXT[p.normaliser]} → α for ${label(kLabels, p.key)} = ${formatValue(chosenW)} (the model’s: ${formatValue(p.recorded.weight)})`,
  );
  const diff = rowMismatch(block, p);
  const ok = diff.scores < NEURON_TOLERANCE.scores && diff.weights < NEURON_TOLERANCE.weights;
  const check = h(
    'p',
    { class: ok ? 'muted' : 'warning', 'data-testid': 'nv-check' },
    ok
      ? `Recomputed from Q and K, this row matches the model’s scores and weights (largest difference ${formatValue(Math.max(diff.scores, diff.weights))}).`
      : `This row does not match the model’s own scores (largest difference ${formatValue(diff.scores)}) or weights (${formatValue(diff.weights)}): the model computes its scores with terms this view does not show; trust the heatmap’s numbers.`,
  );
  return [title, vectors, h('div', { class: 'nv-cols' }, h('div', {}, stepList, norm, check), rowTable)];
}

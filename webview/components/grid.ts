// Model view: every layer × head of self-attention as thumbnails, plus each layer's head mean
// and the attention rollout, pooled where the weights are (webview/tensors.ts: here for a small
// run, the host for a big one). Thumbnails are painted when scrolled into view; clicking one
// opens it full size with exact values on hover. A cursor move only moves the highlight.
import type { ColourMap } from '../../shared/protocol';
import { ROLLOUT_MAX_TOKENS, type GridThumbs, type Thumb } from '../../shared/derived';
import { h } from '../dom';
import { paintThumb, THUMB } from '../draw/thumb';
import type { PanelState } from '../store';
import { go, type Built, type PanelContext } from './part';

interface Opener {
  readonly el: HTMLElement;
  readonly stage: number;
  readonly head: number;
}

export function buildGrid(ctx: PanelContext, thumbs: GridThumbs, colourMap: ColourMap): Built {
  const blocks = thumbs.rows;
  if (blocks.length === 0)
    return { nodes: [h('p', { class: 'muted' }, 'This model has no self-attention layers to show in a grid.')] };
  const heads = Math.max(...blocks.map((b) => b.heads.length));
  const pending = new Map<Element, () => void>();
  const observer =
    typeof IntersectionObserver === 'undefined'
      ? undefined
      : new IntersectionObserver((entries) => {
          for (const e of entries) {
            if (!e.isIntersecting) continue;
            pending.get(e.target)?.();
            pending.delete(e.target);
            observer?.unobserve(e.target);
          }
        });
  const openers: Opener[] = [];
  const stageIndex = new Map(ctx.store.state.trace?.stages.map((s, i) => [s.id, i]));
  const thumb = (label: string, t: Thumb, open?: { stage: number; head: number }): HTMLElement => {
    const canvas = h('canvas', { class: 'thumb', width: THUMB, height: THUMB });
    const onclick = open
      ? () => go(ctx, { ...ctx.store.state.cursor, stage: open.stage, head: open.head, view: 'heatmap' })
      : undefined;
    const cell = h(
      open ? 'button' : 'div',
      { class: 'grid-cell', title: label, 'aria-label': label, onclick },
      canvas,
      h('span', { class: 'grid-label' }, label),
    );
    if (open) openers.push({ el: cell, ...open });
    const draw = (): void => paintThumb(canvas, t.data, t.rows, t.cols, colourMap);
    if (observer) {
      pending.set(canvas, draw);
      observer.observe(canvas);
    }
    return cell;
  };
  const table = h('div', { class: 'grid', role: 'grid', 'data-testid': 'heads-grid' });
  // Through the CSSOM: the panel's CSP forbids inline style attributes.
  table.style.gridTemplateColumns = `auto repeat(${heads + 1}, ${THUMB + 8}px)`;
  table.append(
    h('div', {}),
    ...Array.from({ length: heads }, (_, i) => h('div', { class: 'grid-head' }, `head ${i}`)),
    h('div', { class: 'grid-head' }, 'mean'),
  );
  for (const b of blocks) {
    const stage = stageIndex.get(b.stage) ?? 0;
    table.append(h('div', { class: 'grid-row-label' }, b.layer !== undefined ? `layer ${b.layer}` : b.title));
    for (let hd = 0; hd < heads; hd++) {
      const t = b.heads[hd];
      if (!t) {
        table.append(h('div', {}));
        continue;
      }
      const kv = b.kvHeadOf ? ` (K/V head ${b.kvHeadOf[hd]})` : '';
      table.append(thumb(`layer ${b.layer ?? '?'} head ${hd}${kv}`, t, { stage, head: hd }));
    }
    table.append(thumb(`layer ${b.layer ?? '?'} mean of heads`, b.mean, { stage, head: -1 }));
  }
  const { pool, size } = thumbs;
  const notes = [
    'Each thumbnail is scaled from 0 to its own maximum, so weak heads stay visible; open one for exact values.',
    pool.rows > 1 || pool.cols > 1
      ? `Pooled: each thumbnail pixel is the mean of ${pool.rows} × ${pool.cols} weights of the ${size.rows} × ${size.cols} matrix.`
      : '',
  ].filter(Boolean);
  const extra = h('div', { class: 'grid-extra' });
  if (thumbs.rollout) extra.append(thumb('attention rollout (all layers, residual-corrected)', thumbs.rollout));
  const view = h(
    'div',
    { class: 'grid-view' },
    h('p', { class: 'muted', 'data-testid': 'grid-note' }, notes.join(' ')),
    table,
    h('h3', {}, 'Attention rollout'),
    h(
      'p',
      { class: 'muted' },
      thumbs.rollout
        ? 'Rollout multiplies the layers’ head-averaged attention, each mixed half-and-half with the identity for the residual connection: how much each token’s final state draws on each input token.'
        : `Rollout is left out beyond ${ROLLOUT_MAX_TOKENS} tokens (it multiplies one n × n matrix per layer), or when the layers do not all attend over the same tokens.`,
    ),
    extra,
  );
  let shown: { stage: number; head: number } | undefined;
  return {
    nodes: [view],
    patch: (s: PanelState) => {
      if (shown?.stage === s.cursor.stage && shown.head === s.cursor.head) return;
      shown = { stage: s.cursor.stage, head: s.cursor.head };
      for (const o of openers) o.el.classList.toggle('current', o.stage === s.cursor.stage && o.head === s.cursor.head);
    },
    dispose: () => observer?.disconnect(),
  };
}

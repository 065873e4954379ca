// Model view: every layer × head of self-attention as thumbnails, plus each layer's head mean
// and the attention rollout. Thumbnails are drawn lazily (when scrolled into view); clicking one
// opens it full size with exact values on hover. A cursor move only moves the highlight.
import type { ColourMap } from '../../shared/protocol';
import type { Trace } from '../../shared/trace';
import { headMean, rollout, selfAttentionBlocks } from '../../shared/derived';
import { h } from '../dom';
import { paintThumb, THUMB } from '../draw/thumb';
import type { PanelState } from '../store';
import { go, type Built, type PanelContext } from './part';

interface Opener {
  readonly el: HTMLElement;
  readonly stage: number;
  readonly head: number;
}

export function buildGrid(ctx: PanelContext, trace: Trace, colourMap: ColourMap): Built {
  const blocks = selfAttentionBlocks(trace);
  if (blocks.length === 0)
    return { nodes: [h('p', { class: 'muted' }, 'This model has no self-attention layers to show in a grid.')] };
  const heads = Math.max(...blocks.map((b) => b.weights.shape[0]!));
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
  const thumb = (
    label: string,
    draw: (c: HTMLCanvasElement) => void,
    open?: { stage: number; head: number },
  ): HTMLElement => {
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
    if (observer) {
      pending.set(canvas, () => draw(canvas));
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
    const w = b.weights;
    const [H, Q, K] = w.shape as [number, number, number];
    const stage = trace.stages.indexOf(b.stages.normalise);
    table.append(
      h('div', { class: 'grid-row-label' }, b.layer !== undefined ? `layer ${b.layer}` : b.stages.normalise.title),
    );
    for (let hd = 0; hd < heads; hd++) {
      if (hd >= H) {
        table.append(h('div', {}));
        continue;
      }
      const kv = b.info.kvHeadOf ? ` (K/V head ${b.info.kvHeadOf[hd]})` : '';
      table.append(
        thumb(
          `layer ${b.layer ?? '?'} head ${hd}${kv}`,
          (c) => paintThumb(c, w.data.subarray(hd * Q * K, (hd + 1) * Q * K), Q, K, colourMap),
          { stage, head: hd },
        ),
      );
    }
    table.append(
      thumb(`layer ${b.layer ?? '?'} mean of heads`, (c) => paintThumb(c, headMean(w.data, H, Q, K), Q, K, colourMap), {
        stage,
        head: -1,
      }),
    );
  }
  const extra = h('div', { class: 'grid-extra' });
  extra.append(
    thumb('attention rollout (all layers, residual-corrected)', (c) => {
      const r = rollout(trace);
      if (r) paintThumb(c, r.data, r.n, r.n, colourMap);
    }),
  );
  const view = h(
    'div',
    { class: 'grid-view' },
    table,
    h('h3', {}, 'Attention rollout'),
    h(
      'p',
      { class: 'muted' },
      'Rollout multiplies the layers’ head-averaged attention, each mixed half-and-half with the identity for the residual connection: how much each token’s final state draws on each input token.',
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

// Model view: every layer × head of self-attention as thumbnails, plus each layer's head mean
// and the attention rollout. Thumbnails are drawn lazily (when scrolled into view) from
// downsampled copies; clicking one opens it full size with exact values on hover.
import type { ColourMap } from '../../shared/protocol';
import type { Trace } from '../../shared/trace';
import { findTensor } from '../../shared/trace';
import { lut } from '../colormap';
import { downsample, headMean, rollout, selfAttentionWeightStages } from '../../shared/derived';
import { h } from '../dom';

export const THUMB = 72;

/** Fills a canvas with a matrix in [0, 1] (attention weights), downsampled to the canvas. */
export function paintThumb(canvas: HTMLCanvasElement, data: Float32Array, rows: number, cols: number, map: ColourMap): void {
  const d = downsample(data, rows, cols, THUMB);
  canvas.width = d.cols;
  canvas.height = d.rows;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(d.cols, d.rows);
  const table = lut(map);
  // Scale each thumbnail to its own max so weak heads stay visible; the full view shows exact values.
  let max = 0;
  for (const v of d.data) if (v > max) max = v;
  const px = img.data;
  const scale = 255 / (max || 1);
  for (let i = 0; i < d.data.length; i++) {
    const idx = Math.max(0, Math.min(255, (d.data[i]! * scale + 0.5) | 0)) * 4;
    const o = i * 4;
    px[o] = table[idx]!;
    px[o + 1] = table[idx + 1]!;
    px[o + 2] = table[idx + 2]!;
    px[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export interface GridOptions {
  readonly colourMap: ColourMap;
  readonly onOpen: (stageIndex: number, head: number) => void;
  readonly currentStage: number;
  readonly currentHead: number;
}

export function buildGrid(trace: Trace, o: GridOptions): HTMLElement {
  const stages = selfAttentionWeightStages(trace);
  if (stages.length === 0) return h('p', { class: 'muted' }, 'This model has no self-attention layers to show in a grid.');
  const heads = Math.max(...stages.map((s) => findTensor(s, 'weights')!.shape[0]!));
  const pending = new Map<Element, () => void>();
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      pending.get(e.target)?.();
      pending.delete(e.target);
      observer.unobserve(e.target);
    }
  });
  const thumb = (label: string, draw: (c: HTMLCanvasElement) => void, onClick?: () => void, current = false): HTMLElement => {
    const canvas = h('canvas', { class: 'thumb', width: THUMB, height: THUMB });
    const cell = h(
      onClick ? 'button' : 'div',
      { class: current ? 'grid-cell current' : 'grid-cell', title: label, 'aria-label': label, ...(onClick ? { onclick: onClick } : {}) },
      canvas,
      h('span', { class: 'grid-label' }, label),
    );
    pending.set(canvas, () => draw(canvas));
    observer.observe(canvas);
    return cell;
  };
  const table = h('div', { class: 'grid', role: 'grid', 'data-testid': 'heads-grid' });
  // Through the CSSOM: the panel's CSP forbids inline style attributes.
  table.style.gridTemplateColumns = `auto repeat(${heads + 1}, ${THUMB + 8}px)`;
  table.append(h('div', {}), ...Array.from({ length: heads }, (_, i) => h('div', { class: 'grid-head' }, `head ${i}`)), h('div', { class: 'grid-head' }, 'mean'));
  for (const s of stages) {
    const w = findTensor(s, 'weights')!;
    const [H, Q, K] = w.shape as [number, number, number];
    const si = trace.stages.indexOf(s);
    table.append(h('div', { class: 'grid-row-label' }, s.layer !== undefined ? `layer ${s.layer}` : s.title));
    for (let hd = 0; hd < heads; hd++) {
      if (hd >= H) {
        table.append(h('div', {}));
        continue;
      }
      const kv = s.attention?.kvHeadOf ? ` (K/V head ${s.attention.kvHeadOf[hd]})` : '';
      table.append(thumb(`layer ${s.layer ?? '?'} head ${hd}${kv}`, (c) => paintThumb(c, w.data.subarray(hd * Q * K, (hd + 1) * Q * K), Q, K, o.colourMap), () => o.onOpen(si, hd), si === o.currentStage && hd === o.currentHead));
    }
    table.append(thumb(`layer ${s.layer ?? '?'} mean of heads`, (c) => paintThumb(c, headMean(w.data, H, Q, K), Q, K, o.colourMap), () => o.onOpen(si, -1), si === o.currentStage && o.currentHead === -1));
  }
  const extra = h('div', { class: 'grid-extra' });
  extra.append(
    thumb('attention rollout (all layers, residual-corrected)', (c) => {
      const r = rollout(trace);
      if (r) paintThumb(c, r.data, r.n, r.n, o.colourMap);
    }),
  );
  return h('div', { class: 'grid-view' }, table, h('h3', {}, 'Attention rollout'), h('p', { class: 'muted' }, 'Rollout multiplies the layers’ head-averaged attention, each mixed half-and-half with the identity for the residual connection: how much each token’s final state draws on each input token.'), extra);
}

// Display transforms derived from a trace's weights (no model maths): head mean and attention
// rollout (Abnar & Zuidema, 2020) across self-attention layers.
import type { Trace } from './trace';
import type { Cursor } from './protocol';
import { attentionBlocks, type AttentionBlock } from './navigation';

/** Per-head self-attention blocks over the input tokens (weights [head, query, key]), in layer order. */
export function selfAttentionBlocks(trace: Trace): AttentionBlock[] {
  return attentionBlocks(trace).filter(
    (b) =>
      b.stages.normalise.kind === 'normalise' &&
      b.info.queries === 'input' &&
      b.info.keys === 'input' &&
      b.weights.shape.length === 3,
  );
}

export function headMean(weights: Float32Array, heads: number, n: number, m: number): Float32Array {
  const out = new Float32Array(n * m);
  for (let h = 0; h < heads; h++) for (let i = 0; i < n * m; i++) out[i]! += weights[h * n * m + i]! / heads;
  return out;
}

/**
 * Rollout: Â_l = ½·mean_h(A_l) + ½·I (the residual path), rows renormalised; R = Â_L ⋯ Â_1.
 * Returns one n×n matrix: how much each token's final representation draws on each input token.
 */
export function rollout(trace: Trace): { data: Float32Array; n: number } | undefined {
  const blocks = selfAttentionBlocks(trace);
  if (blocks.length === 0) return undefined;
  const n = blocks[0]!.weights.shape[1]!;
  let r: Float32Array = new Float32Array(n * n);
  for (let i = 0; i < n; i++) r[i * n + i] = 1;
  for (const { weights: w } of blocks) {
    const [H, Q, K] = w.shape as [number, number, number];
    if (Q !== n || K !== n) return undefined;
    const a = headMean(w.data, H, n, n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const v = 0.5 * a[i * n + j]! + (i === j ? 0.5 : 0);
        a[i * n + j] = v;
        sum += v;
      }
      for (let j = 0; j < n; j++) a[i * n + j]! /= sum || 1;
    }
    const next = new Float32Array(n * n);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < n; k++) {
        const aik = a[i * n + k]!;
        if (aik === 0) continue;
        for (let j = 0; j < n; j++) next[i * n + j]! += aik * r[k * n + j]!;
      }
    r = next;
  }
  return { data: r, n };
}

/** Average-pool a rows×cols matrix down to at most `max`×`max` cells, for thumbnails. */
export function downsample(
  data: Float32Array,
  rows: number,
  cols: number,
  max: number,
): { data: Float32Array; rows: number; cols: number } {
  const fr = Math.max(1, Math.ceil(rows / max));
  const fc = Math.max(1, Math.ceil(cols / max));
  if (fr === 1 && fc === 1) return { data, rows, cols };
  const R = Math.ceil(rows / fr);
  const C = Math.ceil(cols / fc);
  const out = new Float32Array(R * C);
  // Sum each block row by row (no per-element division), then divide by the block's size.
  for (let r = 0; r < rows; r++) {
    const base = ((r / fr) | 0) * C;
    const row = r * cols;
    for (let cb = 0, c = 0; cb < C; cb++) {
      let sum = 0;
      const end = Math.min(cols, c + fc);
      for (; c < end; c++) sum += data[row + c]!;
      out[base + cb]! += sum;
    }
  }
  for (let rb = 0; rb < R; rb++) {
    const h = Math.min(fr, rows - rb * fr);
    for (let cb = 0; cb < C; cb++) out[rb * C + cb]! /= h * Math.min(fc, cols - cb * fc);
  }
  return { data: out, rows: R, cols: C };
}

/**
 * The cursor a new run opens with: the stage the user was on (by id, else the same kind at the
 * same layer), the head and view they chose, where those still exist; else the first stage.
 */
export function carryCursor(prev: Trace | undefined, c: Cursor, next: Trace): Cursor {
  const was = prev?.stages[c.stage];
  if (!was) return { stage: 0, head: 0, view: c.view };
  let stage = next.stages.findIndex((s) => s.id === was.id);
  if (stage < 0) stage = next.stages.findIndex((s) => s.kind === was.kind && s.layer === was.layer);
  if (stage < 0) stage = 0;
  const head = c.head < next.model.heads ? c.head : 0;
  return { stage, head, view: c.view };
}

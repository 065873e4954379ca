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
  let r = identity(n);
  for (const { weights: w } of blocks) {
    const [H, Q, K] = w.shape as [number, number, number];
    if (Q !== n || K !== n) return undefined;
    r = rolloutStep(r, w.data, H, n);
  }
  return { data: r, n };
}

function identity(n: number): Float32Array {
  const r = new Float32Array(n * n);
  for (let i = 0; i < n; i++) r[i * n + i] = 1;
  return r;
}

/** One layer of the rollout: Â = ½·mean_h(A) + ½·I with rows renormalised, times the rollout so far. */
function rolloutStep(r: Float32Array, weights: Float32Array, H: number, n: number): Float32Array {
  const a = headMean(weights, H, n, n);
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
  return next;
}

/** The side of the block of cells pooled into one when `n` cells are pooled down to at most `max`. */
function poolBlock(n: number, max: number): number {
  return Math.max(1, Math.ceil(n / max));
}

/** Average-pool a rows×cols matrix down to at most `max`×`max` cells, for thumbnails. */
export function downsample(
  data: Float32Array,
  rows: number,
  cols: number,
  max: number,
): { data: Float32Array; rows: number; cols: number } {
  const fr = poolBlock(rows, max);
  const fc = poolBlock(cols, max);
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

/** A matrix pooled for a thumbnail: each cell is the mean of a `pool` block of the original's cells. */
export interface Thumb {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** One attention block in the grid: its heads pooled, their mean, and where each head's attention lands. */
export interface GridRow {
  /** The weights stage a thumbnail opens. */
  readonly stage: string;
  readonly layer?: number;
  readonly title: string;
  readonly kvHeadOf?: readonly number[];
  readonly heads: readonly Thumb[];
  readonly mean: Thumb;
  /** Per head: the mean over queries of the weight on the first key (the "attention sink"). */
  readonly first: readonly number[];
  /** Per head: the mean over queries of the weight on special keys ([CLS], [SEP], <s>, </s>), if there are any. */
  readonly special?: readonly number[];
  /** The value-weighted norms ‖αᵢⱼ vⱼ W_O^h‖ pooled like the weights, where the block has them. */
  readonly norms?: { readonly heads: readonly Thumb[]; readonly mean: Thumb };
}

export type GridKind = 'self' | 'encoder-self' | 'decoder-self' | 'cross';

/** The grid's sections: one per kind of attention the model has (encoder self-, decoder self-, cross-attention). */
export interface GridSection {
  readonly kind: GridKind;
  readonly title: string;
  readonly rows: readonly GridRow[];
  /** The original's query × key size and the block of cells averaged into one thumbnail cell. */
  readonly size: { readonly rows: number; readonly cols: number };
  readonly pool: { readonly rows: number; readonly cols: number };
}

/** The all-heads grid's pictures, pooled where they are computed (the host, for a big trace). */
export interface GridThumbs {
  readonly sections: readonly GridSection[];
  /** Rollout over the self-attention layers, full size (it exists up to ROLLOUT_MAX_TOKENS). */
  readonly rollout?: Thumb;
}

/** Rollout multiplies n × n matrices per layer (n³ each): beyond this length the grid leaves it out and says so. */
export const ROLLOUT_MAX_TOKENS = 512;

const SECTION_TITLES: Record<GridKind, string> = {
  self: 'self-attention',
  'encoder-self': 'encoder self-attention',
  'decoder-self': 'decoder masked self-attention',
  cross: 'cross-attention (output → input)',
};

function gridKind(b: AttentionBlock, encoderDecoder: boolean): GridKind {
  if (b.role === 'cross') return 'cross';
  if (!encoderDecoder) return 'self';
  return b.info.queries === 'output' ? 'decoder-self' : 'encoder-self';
}

/** The side of a grid thumbnail, at most: the panel asks for it, and a run pools its layers at it as they are made. */
export const GRID_THUMB = 72;

/** The blocks the grid shows: every per-head attention block (weights [head, query, key]), not per decoder step. */
function gridBlocks(trace: Trace): AttentionBlock[] {
  return attentionBlocks(trace).filter(
    (b) => b.stages.normalise.kind === 'normalise' && b.weights.shape.length === 3 && b.step === undefined,
  );
}

/**
 * One block's row of the grid: each head's weights (and value-weighted norms) pooled to at most
 * `max` × `max`, their head mean, and each head's share of attention on the first and special keys.
 */
export function gridRow(b: AttentionBlock, max: number): GridRow {
  const [H, Q, K] = b.weights.shape as [number, number, number];
  const w = b.weights.data;
  if (w.length !== H * Q * K) throw new Error(`the grid needs the weights of ${b.stages.normalise.title}`);
  const n = b.valueNorms && b.valueNorms.data.length === w.length ? b.valueNorms.data : undefined;
  const pooled = (data: Float32Array, r: number, c: number): Thumb => {
    const d = downsample(data, r, c, max);
    return d.data === data ? { data: data.slice(), rows: r, cols: c } : d;
  };
  const specialKeys = b.keyTokens.slice(0, K).flatMap((t, j) => (t.special ? [j] : []));
  const share = (keys: readonly number[]): number[] =>
    Array.from({ length: H }, (_, hd) => {
      let sum = 0;
      for (let q = 0; q < Q; q++) for (const j of keys) sum += w[hd * Q * K + q * K + j]!;
      return sum / Q;
    });
  return {
    stage: b.stages.normalise.id,
    layer: b.layer,
    title: b.stages.normalise.title,
    ...(b.info.kvHeadOf ? { kvHeadOf: b.info.kvHeadOf } : {}),
    heads: Array.from({ length: H }, (_, hd) => pooled(w.subarray(hd * Q * K, (hd + 1) * Q * K), Q, K)),
    mean: pooled(headMean(w, H, Q, K), Q, K),
    first: share([0]),
    ...(specialKeys.length > 0 ? { special: share(specialKeys) } : {}),
    ...(n
      ? {
          norms: {
            heads: Array.from({ length: H }, (_, hd) => pooled(n.subarray(hd * Q * K, (hd + 1) * Q * K), Q, K)),
            mean: pooled(headMean(n, H, Q, K), Q, K),
          },
        }
      : {}),
  };
}

/**
 * A run's grid rows, pooled as its layers are made (while their weights are in hand, which a light
 * run's are only then), by the weights stage's id; the grid of the whole run reads them. With
 * `rollout`, the rollout too, a layer at a time (n³ each: for a light run, whose layers' weights
 * would otherwise be made again for it).
 */
export class GridPool {
  private readonly pooled = new Map<string, GridRow>();
  private roll: { readonly ids: string[]; r: Float32Array; readonly n: number } | 'none' | undefined;

  constructor(
    readonly max: number = GRID_THUMB,
    rollout = false,
  ) {
    if (!rollout) this.roll = 'none';
  }

  /** Pools the blocks of `trace` not pooled yet whose weights it holds. */
  add(trace: Trace): void {
    const inHand = (b: AttentionBlock): boolean => !b.weights.remote && b.weights.data.length > 0;
    for (const b of gridBlocks(trace)) {
      const id = b.stages.normalise.id;
      if (!this.pooled.has(id) && inHand(b)) this.pooled.set(id, gridRow(b, this.max));
    }
    let roll = this.roll;
    if (roll === 'none') return;
    for (const b of selfAttentionBlocks(trace)) {
      const [H, Q, K] = b.weights.shape as [number, number, number];
      if (roll?.ids.includes(b.id) || !inHand(b)) continue;
      const n: number = roll?.n ?? Q;
      if (Q !== n || K !== n || n > ROLLOUT_MAX_TOKENS) {
        this.roll = 'none';
        return;
      }
      roll ??= this.roll = { ids: [], r: identity(n), n };
      roll.r = rolloutStep(roll.r, b.weights.data, H, n);
      roll.ids.push(b.id);
    }
  }

  get rows(): ReadonlyMap<string, GridRow> {
    return this.pooled;
  }

  /** The rollout over `trace`'s self-attention layers, if every one was pooled here, in order. */
  rolloutOf(trace: Trace): { data: Float32Array; n: number } | undefined {
    const roll = this.roll;
    if (roll === 'none' || !roll) return undefined;
    const ids = selfAttentionBlocks(trace).map((b) => b.id);
    return ids.length === roll.ids.length && ids.every((id, i) => id === roll.ids[i])
      ? { data: roll.r, n: roll.n }
      : undefined;
  }
}

/**
 * Every per-head attention block (weights [head, query, key], not per decoder step), grouped by
 * kind, each head pooled to at most `max` × `max`, with its head mean, its share of attention on
 * the first and on special keys; and the rollout over the input's self-attention. What `pool`
 * pooled as the run went (rows at this size, the rollout) is taken as it is.
 */
export function gridThumbnails(trace: Trace, max: number, pool?: GridPool): GridThumbs {
  const pooled = pool?.max === max ? pool.rows : undefined;
  const blocks = gridBlocks(trace);
  const encoderDecoder = trace.outputTokens !== undefined && blocks.some((b) => b.role === 'cross');
  const sections = new Map<GridKind, { rows: GridRow[]; Q: number; K: number }>();
  for (const b of blocks) {
    const [, Q, K] = b.weights.shape as [number, number, number];
    const row = pooled?.get(b.stages.normalise.id) ?? gridRow(b, max);
    const kind = gridKind(b, encoderDecoder);
    const sec = sections.get(kind) ?? { rows: [], Q, K };
    sec.rows.push(row);
    sections.set(kind, sec);
  }
  const order: GridKind[] = ['self', 'encoder-self', 'decoder-self', 'cross'];
  const [n] = (selfAttentionBlocks(trace)[0]?.weights.shape.slice(1) ?? [0]) as [number];
  const r = n > 0 && n <= ROLLOUT_MAX_TOKENS ? (pool?.rolloutOf(trace) ?? rollout(trace)) : undefined;
  return {
    sections: order.flatMap((kind) => {
      const sec = sections.get(kind);
      if (!sec) return [];
      return [
        {
          kind,
          title: SECTION_TITLES[kind],
          rows: sec.rows,
          size: { rows: sec.Q, cols: sec.K },
          pool: { rows: poolBlock(sec.Q, max), cols: poolBlock(sec.K, max) },
        },
      ];
    }),
    ...(r ? { rollout: { data: r.data, rows: r.n, cols: r.n } } : {}),
  };
}

/**
 * Whether `grid` is a grid of `trace` at `max` (one kept on disk, read back): a row per per-head
 * block of the run, each with a thumbnail per head of the size pooling at `max` gives.
 */
export function gridFits(trace: Trace, grid: GridThumbs, max: number): boolean {
  const blocks = new Map(gridBlocks(trace).map((b) => [b.stages.normalise.id, b]));
  const rows = grid.sections.flatMap((s) => (Array.isArray(s.rows) ? s.rows : [undefined]));
  const sized = (t: Thumb | undefined, Q: number, K: number): boolean =>
    t !== undefined &&
    t.data instanceof Float32Array &&
    t.rows === Math.ceil(Q / poolBlock(Q, max)) &&
    t.cols === Math.ceil(K / poolBlock(K, max)) &&
    t.data.length === t.rows * t.cols;
  const fits = (r: GridRow | undefined): boolean => {
    const b = r && blocks.get(r.stage);
    if (!r || !b) return false;
    const [H, Q, K] = b.weights.shape as [number, number, number];
    const all = (ts: readonly Thumb[] | undefined, mean: Thumb | undefined): boolean =>
      Array.isArray(ts) && ts.length === H && [...ts, mean].every((t) => sized(t, Q, K));
    return (
      Array.isArray(r.first) &&
      r.first.length === H &&
      all(r.heads, r.mean) &&
      (r.norms === undefined || all(r.norms.heads, r.norms.mean))
    );
  };
  const n = selfAttentionBlocks(trace)[0]?.weights.shape[1] ?? 0;
  const r = grid.rollout;
  const rollout =
    r === undefined || (r.rows === n && r.cols === n && r.data instanceof Float32Array && r.data.length === n * n);
  return rows.length === blocks.size && rows.every(fits) && rollout;
}

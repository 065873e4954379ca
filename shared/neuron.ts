// The neuron view's numbers (as BertViz's neuron view): for one query/key pair of one head, the
// query vector q, the key vector k, their element-wise product q⊙k, its sum (the raw score), the
// scale, bias and soft-cap the model applied, and the normaliser over the query's row. Recomputed
// here from the block's Q and K, in float64, and checked against the trace's own scores and
// weights. Pure: no DOM, no tfjs.
import type { AttentionBlock } from './navigation';
import type { Normaliser, ScoreFunction, Stage, TensorData } from './trace';
import { findTensor } from './trace';
import { headCount, headData, headsHeld, isWhole, wholeData } from './tensorView';

/** Why a block has no neuron view, or the tensors it is computed from. */
export type NeuronSource =
  | { readonly ok: false; readonly reason: string }
  | {
      readonly ok: true;
      readonly q: TensorData;
      readonly k: TensorData;
      readonly heads: number;
      readonly dk: number;
      readonly score: ScoreFunction;
      /** general: W [d_k, d_k]; additive: W1 [d_a, d_k], W2 [d_a, d_k], v [d_a]. */
      readonly W?: TensorData;
      readonly W1?: TensorData;
      readonly W2?: TensorData;
      readonly v?: TensorData;
      /** [head, query, key] added to the scaled scores (T5's position bias). */
      readonly bias?: TensorData;
    };

const isHeadAxis = (a: string | undefined): boolean => a === 'head' || a === 'kv_head';

/**
 * What the neuron view reads for a block: per-head Q [H, Tq, d] and K [KV, Tk, d] from the block's
 * own Q/K/V stage, the score function's parameters when the trace holds them (a hand-built config's
 * W, W₁, W₂, v), and a position bias from `biasStage` when the block's scores include one.
 */
export function neuronSource(block: AttentionBlock, biasStage?: Stage): NeuronSource {
  const { q, k, info } = block;
  if (!q || !k)
    return {
      ok: false,
      reason:
        'This attention records no per-head query and key vectors (Q and K) in its block, so there is no q·k to take apart. Its scores and weights are in the heatmap.',
    };
  if (q.shape.length !== 3 || k.shape.length !== 3 || !isHeadAxis(q.axes[0]) || !isHeadAxis(k.axes[0]))
    return {
      ok: false,
      reason: `Q is ${fmtShape(q)} and K ${fmtShape(k)}: the neuron view needs [head, token, d] for both.`,
    };
  if (!block.scores || block.scores.shape.length !== 3)
    return { ok: false, reason: 'This block records no [head, query, key] scores to check the view against.' };
  const [H, Tq, dq] = q.shape as [number, number, number];
  const [KV, Tk, dk] = k.shape as [number, number, number];
  if (Tq !== block.queryTokens.length || Tk !== block.keyTokens.length)
    return {
      ok: false,
      reason: `Q has ${Tq} rows and K ${Tk}, but the block has ${block.queryTokens.length} queries and ${block.keyTokens.length} keys.`,
    };
  const score = info.score;
  const params = block.stages.qkv ? block.stages.qkv : undefined;
  const base = { ok: true as const, q, k, heads: H, dk, score };
  if ((score === 'dot' || score === 'scaled-dot') && dq !== dk)
    return { ok: false, reason: `q has ${dq} components and k ${dk}: a dot product needs the same size.` };
  if (KV !== H && !info.kvHeadOf)
    return {
      ok: false,
      reason: `Q has ${H} heads and K ${KV}, but the block says no key/value head each query head reads.`,
    };
  let bias: TensorData | undefined;
  if (info.scoreBias) {
    const b = biasStage && findTensor(biasStage, info.scoreBias.tensor);
    // Read a head at a time (headData): the cursor's head of a big run is all it needs.
    const loaded = b !== undefined && (isWhole(b) || headsHeld(b).size > 0);
    if (!b || !loaded || headCount(b) !== H || b.shape.join() !== [H, Tq, Tk].join())
      return {
        ok: false,
        reason: `This block's scores include a position bias (${info.scoreBias.tensor} of stage ${info.scoreBias.stage}) that is not loaded here.`,
      };
    bias = b;
  }
  if (score === 'general') {
    const W = params && findTensor(params, 'W');
    if (!W || W.shape.length !== 2 || W.shape[0] !== dq || W.shape[1] !== dk)
      return {
        ok: false,
        reason:
          'The general score qᵀW k needs the learned matrix W, which this trace does not hold: the neuron view shows q, k, W k and the score only where W is recorded (hand-built configs).',
      };
    return { ...base, W, bias };
  }
  if (score === 'additive') {
    const W1 = params && findTensor(params, 'W1');
    const W2 = params && findTensor(params, 'W2');
    const v = params && findTensor(params, 'v');
    if (
      !W1 ||
      !W2 ||
      !v ||
      W1.shape[1] !== dq ||
      W2.shape[1] !== dk ||
      W1.shape[0] !== v.shape[0] ||
      W2.shape[0] !== v.shape[0]
    )
      return {
        ok: false,
        reason:
          'The additive score vᵀ tanh(W₁q + W₂k) needs W₁, W₂ and v, which this trace does not hold: the neuron view shows it only where they are recorded (hand-built configs).',
      };
    return { ...base, W1, W2, v, bias };
  }
  return { ...base, bias };
}

function fmtShape(t: TensorData): string {
  return `[${t.shape.map((n, i) => `${n} ${t.axes[i]}`).join(' × ')}]`;
}

/** The key/value head query head h reads (grouped-query attention), and the query heads that share it. */
export function kvHeadFor(block: AttentionBlock, head: number): { kvHead: number; sharedBy: number[] } {
  const map = block.info.kvHeadOf;
  const kvHead = map ? (map[head] ?? 0) : head;
  const sharedBy = map ? map.flatMap((g, h) => (g === kvHead ? [h] : [])) : [head];
  return { kvHead, sharedBy };
}

/** The scale the dot product is multiplied by: the model's own, 1/√d_k for scaled dot, else 1. */
export function scoreScale(score: ScoreFunction, dk: number, modelScale?: number): { value: number; label: string } {
  if (modelScale !== undefined) return { value: modelScale, label: `the model's scale ${fmt(modelScale)}` };
  if (score === 'scaled-dot') return { value: 1 / Math.sqrt(dk), label: `1/√d_k = 1/√${dk}` };
  return { value: 1, label: score === 'dot' ? 'none (plain dot product)' : 'none' };
}

const fmt = (v: number): string => String(Number(v.toPrecision(6)));

/** One term of the score's decomposition: a vector shown component by component. */
export interface NeuronVector {
  readonly name: string;
  readonly values: Float64Array;
}

export interface NeuronPair {
  readonly head: number;
  readonly kvHead: number;
  /** Query heads that read the same key/value head (grouped-query attention); [head] otherwise. */
  readonly sharedBy: readonly number[];
  readonly query: number;
  readonly key: number;
  readonly score: ScoreFunction;
  /** q, k and the terms between them and the raw score (q⊙k; or W k and q⊙W k; or W₁q, W₂k, tanh, v⊙tanh). */
  readonly vectors: readonly NeuronVector[];
  /** The sum of the last vector: q·k, qᵀW k or vᵀ tanh(W₁q + W₂k). */
  readonly raw: number;
  readonly scale: { readonly value: number; readonly label: string };
  /** raw × scale. */
  readonly scaled: number;
  /** The position bias added after scaling, if the block has one. */
  readonly bias?: number;
  readonly softCap?: number;
  /** The score the normaliser sees for this key (after scale, bias and soft-cap; before the mask). */
  readonly final: number;
  readonly normaliser: Normaliser;
  /** The query's row: every key's final score, whether it may be attended, and its weight. */
  readonly row: { readonly scores: Float64Array; readonly allowed: readonly boolean[]; readonly weights: Float64Array };
  /** The trace's own score and weight for this pair, to show beside the recomputed ones. */
  readonly recorded: { readonly score: number; readonly weight: number };
}

/** Row r of head h of a [H, T, d] tensor. */
function vec(t: TensorData, h: number, r: number): Float64Array {
  const d = t.shape[2]!;
  return Float64Array.from(headData(t, h).subarray(r * d, (r + 1) * d));
}

/** Row r of M [n, m] times x [m] → [n]. M, like v, is a hand-built config's small parameter: always whole. */
function matVec(M: TensorData, x: Float64Array): Float64Array {
  const [n, m] = M.shape as [number, number];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += M.data[i * m + j]! * x[j]!;
    out[i] = s;
  }
  return out;
}

const sum = (x: Float64Array): number => x.reduce((a, b) => a + b, 0);

/** The score's terms for one (head, query, key): the vectors, and the raw score (their last one's sum). */
function terms(src: Extract<NeuronSource, { ok: true }>, head: number, kvHead: number, query: number, key: number) {
  const q = vec(src.q, head, query);
  const k = vec(src.k, kvHead, key);
  if (src.score === 'general') {
    const Wk = matVec(src.W!, k); // [d_q, d_k] × [d_k] → [d_q]
    const prod = q.map((x, i) => x * Wk[i]!);
    return {
      vectors: [
        { name: 'q', values: q },
        { name: 'k', values: k },
        { name: 'W k', values: Wk },
        { name: 'q ⊙ W k', values: prod },
      ],
      raw: sum(prod),
    };
  }
  if (src.score === 'additive') {
    const a = matVec(src.W1!, q); // [d_a, d_q] × [d_q] → [d_a]
    const b = matVec(src.W2!, k); // [d_a, d_k] × [d_k] → [d_a]
    const t = a.map((x, i) => Math.tanh(x + b[i]!));
    const vt = t.map((x, i) => x * src.v!.data[i]!);
    return {
      vectors: [
        { name: 'q', values: q },
        { name: 'k', values: k },
        { name: 'W₁ q', values: a },
        { name: 'W₂ k', values: b },
        { name: 'tanh(W₁q + W₂k)', values: t },
        { name: 'v ⊙ tanh(…)', values: vt },
      ],
      raw: sum(vt),
    };
  }
  const prod = q.map((x, i) => x * k[i]!);
  return {
    vectors: [
      { name: 'q', values: q },
      { name: 'k', values: k },
      { name: 'q ⊙ k', values: prod },
    ],
    raw: sum(prod),
  };
}

/**
 * Softmax, sparsemax, sigmoid or hardmax of a row over its allowed keys; masked keys get 0 (a fully
 * masked row is all 0). 'sampled' draws a key in a seeded sequence over the whole tensor, so one
 * row cannot be redrawn alone: it is the softmax the key was drawn from (see neuronParts).
 */
export function normaliseRow(scores: Float64Array, allowed: readonly boolean[], normaliser: Normaliser): Float64Array {
  const n = scores.length;
  const out = new Float64Array(n);
  const idx = Array.from({ length: n }, (_, j) => j).filter((j) => allowed[j]);
  if (idx.length === 0) return out;
  if (normaliser === 'sigmoid') {
    for (const j of idx) out[j] = 1 / (1 + Math.exp(-scores[j]!));
    return out;
  }
  if (normaliser === 'hardmax') {
    // One-hot at the best key; tied maxima share the row evenly.
    const m = Math.max(...idx.map((j) => scores[j]!));
    const best = idx.filter((j) => scores[j] === m);
    for (const j of best) out[j] = 1 / best.length;
    return out;
  }
  if (normaliser === 'softmax' || normaliser === 'sampled') {
    const m = Math.max(...idx.map((j) => scores[j]!));
    let z = 0;
    for (const j of idx) z += out[j] = Math.exp(scores[j]! - m);
    for (const j of idx) out[j]! /= z;
    return out;
  }
  // sparsemax (Martins & Astudillo, 2016): τ from the sorted scores, α = max(s − τ, 0).
  const sorted = idx.map((j) => scores[j]!).sort((a, b) => b - a);
  let cum = 0;
  let kz = 0;
  let cumAtK = 0;
  sorted.forEach((z, i) => {
    cum += z;
    if (1 + (i + 1) * z > cum) {
      kz = i + 1;
      cumAtK = cum;
    }
  });
  const tau = (cumAtK - 1) / kz;
  for (const j of idx) out[j] = Math.max(scores[j]! - tau, 0);
  return out;
}

/**
 * The neuron view of query `query` and key `key` in head `head` (a query head; its key/value head
 * follows kvHeadOf). Every key of the row is scored the same way, so the normaliser's input and
 * output are the row the model computed.
 */
export function neuronPair(
  block: AttentionBlock,
  src: Extract<NeuronSource, { ok: true }>,
  head: number,
  query: number,
  key: number,
): NeuronPair {
  const { info } = block;
  const { kvHead, sharedBy } = kvHeadFor(block, head);
  const Tq = src.q.shape[1]!;
  const Tk = src.k.shape[1]!;
  if (head < 0 || head >= src.heads) throw new RangeError(`head ${head} is not one of the block's ${src.heads} heads`);
  if (query < 0 || query >= Tq) throw new RangeError(`query ${query} is not one of the block's ${Tq} queries`);
  if (key < 0 || key >= Tk) throw new RangeError(`key ${key} is not one of the block's ${Tk} keys`);
  const scale = scoreScale(src.score, src.dk, info.scale);
  const cap = info.softCap;
  const biasRow = src.bias && headData(src.bias, head).subarray(query * Tk, (query + 1) * Tk);
  const finalOf = (raw: number, j: number): { scaled: number; bias?: number; final: number } => {
    const scaled = raw * scale.value;
    const bias = biasRow ? biasRow[j]! : undefined;
    const biased = scaled + (bias ?? 0);
    return { scaled, bias, final: cap !== undefined ? cap * Math.tanh(biased / cap) : biased };
  };
  const scores = new Float64Array(Tk);
  for (let j = 0; j < Tk; j++) scores[j] = finalOf(terms(src, head, kvHead, query, j).raw, j).final;
  const mask = block.mask;
  const allowed = Array.from({ length: Tk }, (_, j) => !mask || mask.data[query * Tk + j] !== 0);
  // A sampled row is the model's own draw (a one-hot); normaliseRow gives the softmax it was drawn from.
  const weights =
    info.normaliser === 'sampled'
      ? Float64Array.from(weightsRow(block, head, query))
      : normaliseRow(scores, allowed, info.normaliser);
  const t = terms(src, head, kvHead, query, key);
  const f = finalOf(t.raw, key);
  const cell = query * Tk + key;
  return {
    head,
    kvHead,
    sharedBy,
    query,
    key,
    score: src.score,
    vectors: t.vectors,
    raw: t.raw,
    scale,
    scaled: f.scaled,
    bias: f.bias,
    softCap: cap,
    final: f.final,
    normaliser: info.normaliser,
    row: { scores, allowed, weights },
    recorded: {
      score: headData(block.scores!, head)[cell]!,
      weight: block.weights.shape.length === 3 ? headData(block.weights, head)[cell]! : NaN,
    },
  };
}

/** Largest difference between the view's row (scores of allowed keys, all weights) and the trace's. */
export function rowMismatch(block: AttentionBlock, p: NeuronPair): { scores: number; weights: number } {
  const Tk = block.keyTokens.length;
  const scores = headData(block.scores!, p.head).subarray(p.query * Tk, (p.query + 1) * Tk);
  const weights = weightsRow(block, p.head, p.query);
  let ds = 0;
  let dw = 0;
  for (let j = 0; j < Tk; j++) {
    if (p.row.allowed[j]) ds = Math.max(ds, relErr(p.row.scores[j]!, scores[j]!));
    dw = Math.max(dw, Math.abs(p.row.weights[j]! - weights[j]!));
  }
  return { scores: ds, weights: dw };
}

/** The trace's weights of query `query` in head `head`, over the block's keys. */
function weightsRow(block: AttentionBlock, head: number, query: number): Float32Array {
  const Tk = block.keyTokens.length;
  const w = block.weights;
  // [query, key] weights (one head) have no head axis; the panel fetches them whole.
  return (w.shape.length === 3 ? headData(w, head) : wholeData(w)).subarray(query * Tk, (query + 1) * Tk);
}

const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.max(1, Math.abs(b));

/** The view's numbers agree with the trace's to float32 rounding. */
export const NEURON_TOLERANCE = { scores: 1e-4, weights: 1e-5 } as const;

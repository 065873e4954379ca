// The attention maths, batched over heads, in tfjs: score functions, normalisers, masks, context
// vectors, multi-head split/merge and grouped-query expansion. Shapes use a leading batch axis
// that is usually the head axis:
//   q [H, Tq, d_q], k [H, Tk, d_k], v [H, Tk, d_v]  →  scores, weights [H, Tq, Tk], context [H, Tq, d_v]
// Every function returns a new tensor and disposes its own intermediates (tf.tidy); inputs are
// never disposed. No vscode import.
import { tf } from '../runtime/backend';
import type { Normaliser, ScoreFunction } from '../../../shared/trace';
import { missingParams } from '../../../shared/scoreParams';

export { missingParams };

export type { Normaliser, ScoreFunction } from '../../../shared/trace';

/** Learned parameters some score functions need. */
export interface ScoreParams {
  /** general: W [d_q, d_k], or one per head [H, d_q, d_k]; score = qᵀ W k. */
  readonly W?: tf.Tensor;
  /** additive: W₁ [d_a, d_q] (or [H, d_a, d_q]), W₂ [d_a, d_k] (or [H, d_a, d_k]), v [d_a] (or [H, d_a]). */
  readonly W1?: tf.Tensor;
  readonly W2?: tf.Tensor;
  readonly v?: tf.Tensor;
}

/** What each normaliser promises, for the UI. */
export const NORMALISER_DOCS: Readonly<Record<Normaliser, string>> = {
  softmax: 'softmax: αᵢ = exp(sᵢ) / Σⱼ exp(sⱼ). Every allowed key gets a positive weight and each row sums to 1.',
  sparsemax:
    'sparsemax: the Euclidean projection of the scores onto the probability simplex, αᵢ = max(sᵢ − τ, 0). ' +
    'Keys scoring below the threshold τ get exactly 0, and each row sums to 1.',
  sigmoid:
    'sigmoid: αᵢ = 1 / (1 + exp(−sᵢ)), each key weighed on its own in (0, 1). Rows need not sum to 1, ' +
    'so the context is a weighted sum of values, not a weighted mean.',
};

/** The sigmoid caveat on its own, for a note under a what-if result. */
export const SIGMOID_ROWS_NOTE = 'Sigmoid weighs every key independently: a row of weights need not sum to 1.';

export const SCORE_FORMULAS: Readonly<Record<ScoreFunction, string>> = {
  dot: 's(q, k) = q·k',
  'scaled-dot': 's(q, k) = q·k / √d',
  general: 's(q, k) = qᵀ W k',
  additive: 's(q, k) = vᵀ tanh(W₁q + W₂k)',
};

export const NORMALISER_FORMULAS: Readonly<Record<Normaliser, string>> = {
  softmax: 'α = softmax(s)',
  sparsemax: 'α = sparsemax(s) = max(s − τ(s), 0)',
  sigmoid: 'α = σ(s) = 1 / (1 + e^(−s))',
};

function shapeError(message: string): never {
  throw new RangeError(message);
}

function check3d(name: string, t: tf.Tensor): asserts t is tf.Tensor3D {
  if (t.rank !== 3) shapeError(`${name} must have 3 axes [batch/head, token, dim], got shape [${t.shape.join(', ')}]`);
}

function checkQK(q: tf.Tensor, k: tf.Tensor, sameDim: boolean): void {
  check3d('q', q);
  check3d('k', k);
  if (q.shape[0] !== k.shape[0]) shapeError(`q has ${q.shape[0]} heads but k has ${k.shape[0]}`);
  if (sameDim && q.shape[2] !== k.shape[2]) shapeError(`q·k needs equal dimensions, got d_q = ${q.shape[2]} and d_k = ${k.shape[2]}`);
}

/**
 * a [H, n, d] × b [H, m, d]ᵀ → [H, n, m], as one 2-D product per head against an explicit
 * transpose: several times faster in tfjs-wasm than a batched matMul with transposeB.
 */
export function perHeadABt(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [H, n, d] = a.shape;
    const m = b.shape[1];
    const out: tf.Tensor2D[] = [];
    for (let h = 0; h < H; h++) {
      const ah = tf.reshape(tf.slice(a, [h, 0, 0], [1, n, d]), [n, d]) as tf.Tensor2D;
      const bh = tf.reshape(tf.slice(b, [h, 0, 0], [1, m, d]), [m, d]) as tf.Tensor2D;
      out.push(tf.matMul(ah, tf.transpose(bh)));
    }
    return tf.stack(out) as tf.Tensor3D;
  });
}

/** dot: s = q·k, [H, Tq, d] × [H, Tk, d] → [H, Tq, Tk]. */
export function dotScores(q: tf.Tensor, k: tf.Tensor): tf.Tensor3D {
  checkQK(q, k, true);
  return perHeadABt(q as tf.Tensor3D, k as tf.Tensor3D);
}

/** scaled dot: s = q·k / √d. */
export function scaledDotScores(q: tf.Tensor, k: tf.Tensor): tf.Tensor3D {
  checkQK(q, k, true);
  const d = q.shape[2]!;
  return tf.tidy(() => tf.div(perHeadABt(q as tf.Tensor3D, k as tf.Tensor3D), tf.scalar(Math.sqrt(d))) as tf.Tensor3D);
}

/** general (bilinear, Luong): s = qᵀ W k, with W [d_q, d_k] shared or [H, d_q, d_k] per head. */
export function generalScores(q: tf.Tensor, k: tf.Tensor, W: tf.Tensor): tf.Tensor3D {
  checkQK(q, k, false);
  const [H, Tq, dq] = q.shape as [number, number, number];
  const dk = k.shape[2]!;
  return tf.tidy(() => {
    let qW: tf.Tensor3D;
    if (W.rank === 2) {
      if (W.shape[0] !== dq || W.shape[1] !== dk) shapeError(`general: W must be [${dq}, ${dk}], got [${W.shape.join(', ')}]`);
      qW = tf.matMul(tf.reshape(q, [H * Tq, dq]) as tf.Tensor2D, W as tf.Tensor2D).reshape([H, Tq, dk]);
    } else if (W.rank === 3) {
      if (W.shape[0] !== H || W.shape[1] !== dq || W.shape[2] !== dk) shapeError(`general: per-head W must be [${H}, ${dq}, ${dk}], got [${W.shape.join(', ')}]`);
      qW = tf.matMul(q as tf.Tensor3D, W as tf.Tensor3D);
    } else {
      shapeError(`general: W must have 2 or 3 axes, got [${W.shape.join(', ')}]`);
    }
    return perHeadABt(qW, k as tf.Tensor3D);
  });
}

/** x [H, T, d] times Mᵀ, M [d_a, d] shared or [H, d_a, d] per head → [H, T, d_a]. */
function project(name: string, x: tf.Tensor3D, M: tf.Tensor): tf.Tensor3D {
  const [H, T, d] = x.shape;
  if (M.rank === 2) {
    if (M.shape[1] !== d) shapeError(`additive: ${name} must be [d_a, ${d}], got [${M.shape.join(', ')}]`);
    return tf.matMul(tf.reshape(x, [H * T, d]) as tf.Tensor2D, M as tf.Tensor2D, false, true).reshape([H, T, M.shape[0]!]);
  }
  if (M.rank === 3) {
    if (M.shape[0] !== H || M.shape[2] !== d) shapeError(`additive: per-head ${name} must be [${H}, d_a, ${d}], got [${M.shape.join(', ')}]`);
    return tf.matMul(x, M as tf.Tensor3D, false, true);
  }
  return shapeError(`additive: ${name} must have 2 or 3 axes, got [${M.shape.join(', ')}]`);
}

/** Largest [H, rows, Tk, d_a] block of tanh units the additive score materialises at once (16 MB). */
const ADDITIVE_BLOCK = 1 << 22;

/**
 * additive (concat, Bahdanau): s = vᵀ tanh(W₁q + W₂k). W₁q is computed once per query and W₂k
 * once per key; broadcasting [H, Tq, 1, d_a] + [H, 1, Tk, d_a] forms every pair at once. Long
 * inputs are done in blocks of queries so the [H, Tq, Tk, d_a] tanh layer never has to exist
 * whole (2 heads × 2048² pairs × 8 units would be 256 MB).
 */
export function additiveScores(q: tf.Tensor, k: tf.Tensor, W1: tf.Tensor, W2: tf.Tensor, v: tf.Tensor): tf.Tensor3D {
  checkQK(q, k, false);
  const [H, Tq] = q.shape as [number, number, number];
  const Tk = k.shape[1]!;
  return tf.tidy(() => {
    const qa = project('W₁', q as tf.Tensor3D, W1);
    const ka = project('W₂', k as tf.Tensor3D, W2);
    const da = qa.shape[2];
    if (ka.shape[2] !== da) shapeError(`additive: W₁ and W₂ must map to the same d_a, got ${da} and ${ka.shape[2]}`);
    let vt: tf.Tensor;
    if (v.rank === 1) {
      if (v.shape[0] !== da) shapeError(`additive: v must be [${da}], got [${v.shape.join(', ')}]`);
      vt = tf.reshape(v, [1, da, 1]);
    } else if (v.rank === 2) {
      if (v.shape[0] !== H || v.shape[1] !== da) shapeError(`additive: per-head v must be [${H}, ${da}], got [${v.shape.join(', ')}]`);
      vt = tf.reshape(v, [H, da, 1]);
    } else {
      return shapeError(`additive: v must have 1 or 2 axes, got [${v.shape.join(', ')}]`);
    }
    const vh = vt.shape[0] === H ? vt : tf.tile(vt, [H, 1, 1]); // [H, d_a, 1], tiny
    const kb = tf.expandDims(ka, 1); // [H, 1, Tk, d_a]
    const block = Math.max(1, Math.floor(ADDITIVE_BLOCK / Math.max(1, H * Tk * da)));
    const rows = (from: number, n: number): tf.Tensor3D =>
      tf.tidy(() => {
        const qb = tf.expandDims(n === Tq ? qa : tf.slice(qa, [0, from, 0], [H, n, da]), 2); // [H, n, 1, d_a]
        const hidden = tf.tanh(tf.add(qb, kb)); // [H, n, Tk, d_a]
        return tf.matMul(tf.reshape(hidden, [H, n * Tk, da]) as tf.Tensor3D, vh as tf.Tensor3D).reshape([H, n, Tk]);
      });
    if (block >= Tq) return rows(0, Tq);
    const parts: tf.Tensor3D[] = [];
    for (let from = 0; from < Tq; from += block) parts.push(rows(from, Math.min(block, Tq - from)));
    return tf.concat(parts, 1);
  });
}

/** Which parameters a score function needs; undefined when `params` has them all, else the reason. */
/** Scores [H, Tq, Tk] with the chosen function. */
export function computeScores(score: ScoreFunction, q: tf.Tensor, k: tf.Tensor, params: ScoreParams = {}): tf.Tensor3D {
  const why = missingParams(score, params);
  if (why) throw new RangeError(why);
  switch (score) {
    case 'dot':
      return dotScores(q, k);
    case 'scaled-dot':
      return scaledDotScores(q, k);
    case 'general':
      return generalScores(q, k, params.W!);
    case 'additive':
      return additiveScores(q, k, params.W1!, params.W2!, params.v!);
  }
}

// ---------------------------------------------------------------------------------------------
// Masks: 1 = may attend, 0 = masked. Any shape that broadcasts against [H, Tq, Tk].

/**
 * Causal mask [Tq, Tk]: query i sees keys j ≤ i + (Tk − Tq). For self-attention (Tq = Tk) that is
 * itself and earlier tokens; when the queries are the last Tq of Tk positions (a key/value cache),
 * the offset keeps each query aligned with its own position.
 */
export function causalMask(Tq: number, Tk: number = Tq): tf.Tensor2D {
  const offset = Tk - Tq;
  const data = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk && j <= i + offset; j++) data[i * Tk + j] = 1;
  return tf.tensor2d(data, [Tq, Tk]);
}

/**
 * Padding mask [B, Tq, Tk] from each sequence's real key length: keys j ≥ keyLengths[b] are
 * padding and masked. B is the leading axis (a batch of sequences, or heads that read them).
 */
export function paddingMask(keyLengths: readonly number[], Tq: number, Tk: number): tf.Tensor3D {
  const B = keyLengths.length;
  const data = new Float32Array(B * Tq * Tk);
  for (let b = 0; b < B; b++) {
    const n = keyLengths[b]!;
    if (!Number.isInteger(n) || n < 0 || n > Tk) shapeError(`key length ${n} for sequence ${b} is not an integer in [0, ${Tk}]`);
    for (let i = 0; i < Tq; i++) for (let j = 0; j < n; j++) data[(b * Tq + i) * Tk + j] = 1;
  }
  return tf.tensor3d(data, [B, Tq, Tk]);
}

/** Both masks at once: allowed only where every mask allows. */
export function combineMasks(...masks: tf.Tensor[]): tf.Tensor {
  if (masks.length === 0) shapeError('combineMasks needs at least one mask');
  return tf.tidy(() => masks.slice(1).reduce<tf.Tensor>((a, m) => tf.mul(a, m), tf.clone(masks[0]!)));
}

/**
 * `x` broadcast to `shape`. tf.broadcastTo (tile) and tf.where with broadcast operands are slow on
 * the wasm backend (seconds at 2×2048×2048), while a broadcasting add is fast, so add to zeros.
 */
function broadcastFloat(x: tf.Tensor, shape: number[]): tf.Tensor {
  if (x.shape.length === shape.length && x.shape.every((n, i) => n === shape[i])) return x;
  return tf.add(tf.zeros(shape, 'float32'), x);
}

/** Whether `from` broadcasts to `to` (numpy rules, aligned at the last axis, no new axes in `to`). */
function broadcasts(from: readonly number[], to: readonly number[]): boolean {
  if (from.length > to.length) return false;
  for (let i = 1; i <= from.length; i++) {
    const f = from[from.length - i]!;
    if (f !== 1 && f !== to[to.length - i]) return false;
  }
  return true;
}

/**
 * The mask as booleans of the scores' shape, and a version in which fully masked rows are opened
 * up (so softmax/sparsemax of such a row stay finite; the result is zeroed afterwards).
 */
function maskParts(shape: number[], mask: tf.Tensor): { allowed: tf.Tensor; computeOn: tf.Tensor } {
  if (!broadcasts(mask.shape, shape)) shapeError(`mask [${mask.shape.join(', ')}] does not broadcast to scores [${shape.join(', ')}]`);
  const allowedF = tf.cast(tf.greater(mask, 0), 'float32');
  const rowHasAny = tf.max(allowedF, -1, true);
  const onF = tf.add(allowedF, tf.sub(1, rowHasAny)); // a fully masked row (all 0) becomes all 1
  return { allowed: tf.greater(broadcastFloat(allowedF, shape), 0), computeOn: tf.greater(broadcastFloat(onF, shape), 0) };
}

/** Numerically stable softmax over the last axis; masked keys get exactly 0, fully masked rows are all 0. */
export function softmax(scores: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (!mask) {
      const m = tf.max(scores, -1, true);
      const e = tf.exp(tf.sub(scores, m));
      return tf.div(e, tf.sum(e, -1, true));
    }
    const { allowed, computeOn } = maskParts(scores.shape, mask);
    const negInf = tf.fill(scores.shape, -Infinity);
    const filled = tf.where(computeOn, scores, negInf);
    const m = tf.max(filled, -1, true);
    const e = tf.exp(tf.where(computeOn, tf.sub(filled, m), negInf));
    const w = tf.div(e, tf.sum(e, -1, true));
    return tf.where(allowed, w, tf.zerosLike(w));
  });
}

/**
 * Sparsemax over the last axis (Martins & Astudillo, 2016): sort z descending, k(z) = max{k :
 * 1 + k·z₍ₖ₎ > Σ_{j≤k} z₍ⱼ₎}, τ = (Σ_{j≤k(z)} z₍ⱼ₎ − 1) / k(z), α = max(z − τ, 0). Exact zeros
 * below the threshold; rows sum to 1. Masked keys are set below any possible threshold first
 * (sparsemax is shift-invariant, so rows are shifted to max 0 and masked keys placed 2 below
 * the lowest allowed score, which can never enter the support), then zeroed.
 */
export function sparsemax(scores: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const n = scores.shape[scores.rank - 1]!;
    let z = scores;
    let allowed: tf.Tensor | undefined;
    if (mask) {
      const parts = maskParts(scores.shape, mask);
      allowed = parts.allowed;
      const on = parts.computeOn;
      const hi = tf.max(tf.where(on, scores, tf.fill(scores.shape, -Infinity)), -1, true);
      const lo = tf.min(tf.where(on, scores, tf.fill(scores.shape, Infinity)), -1, true);
      // Shift first, then place masked keys at (min − max) − 2: precise even for huge scores.
      z = tf.where(on, tf.sub(scores, hi), broadcastFloat(tf.sub(tf.sub(lo, hi), 2), scores.shape));
    } else {
      z = tf.sub(z, tf.max(z, -1, true));
    }
    const sorted = tf.topk(z, n, true).values; // descending
    const cums = tf.cumsum(sorted, sorted.rank - 1);
    const ks = tf.range(1, n + 1, 1, 'float32');
    // The support condition holds for a prefix of the sorted row (shown in the paper), so
    // k(z) is the number of keys satisfying it and Σ_{j≤k(z)} z₍ⱼ₎ their sum.
    const inSupport = tf.cast(tf.greater(tf.add(1, tf.mul(ks, sorted)), cums), 'float32');
    const kz = tf.sum(inSupport, -1, true); // ≥ 1 always: the top key satisfies 1 + z₍₁₎ > z₍₁₎
    const supportSum = tf.sum(tf.mul(sorted, inSupport), -1, true);
    const tau = tf.div(tf.sub(supportSum, 1), kz);
    const w = tf.relu(tf.sub(z, tau));
    return allowed ? tf.where(allowed, w, tf.zerosLike(w)) : w;
  });
}

/** Element-wise logistic sigmoid; masked keys get exactly 0. Rows need not sum to 1. */
export function sigmoid(scores: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const w = tf.sigmoid(scores);
    if (!mask) return w;
    const { allowed } = maskParts(scores.shape, mask);
    return tf.where(allowed, w, tf.zerosLike(w));
  });
}

export function normalise(normaliser: Normaliser, scores: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  switch (normaliser) {
    case 'softmax':
      return softmax(scores, mask);
    case 'sparsemax':
      return sparsemax(scores, mask);
    case 'sigmoid':
      return sigmoid(scores, mask);
  }
}

// ---------------------------------------------------------------------------------------------
// Context, heads, grouped-query attention

/** c = Σᵢ αᵢ vᵢ: weights [H, Tq, Tk] @ v [H, Tk, d_v] → [H, Tq, d_v]. */
export function context(weights: tf.Tensor, v: tf.Tensor): tf.Tensor3D {
  check3d('weights', weights);
  check3d('v', v);
  if (weights.shape[0] !== v.shape[0] || weights.shape[2] !== v.shape[1]) {
    shapeError(`weights [${weights.shape.join(', ')}] do not match values [${v.shape.join(', ')}]`);
  }
  return tf.matMul(weights as tf.Tensor3D, v as tf.Tensor3D);
}

/** [T, H·d] → [H, T, d]: head h owns features h·d … h·d + d − 1. */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  if (x.rank !== 2) shapeError(`splitHeads expects [T, H·d], got [${x.shape.join(', ')}]`);
  const [T, D] = x.shape as [number, number];
  if (!Number.isInteger(heads) || heads < 1 || D % heads !== 0) shapeError(`${D} features do not split into ${heads} heads`);
  return tf.tidy(() => tf.transpose(tf.reshape(x, [T, heads, D / heads]), [1, 0, 2]) as tf.Tensor3D);
}

/** [H, T, d] → [T, H·d]: the inverse of splitHeads (concatenate the heads per token). */
export function mergeHeads(x: tf.Tensor): tf.Tensor2D {
  check3d('x', x);
  const [H, T, d] = x.shape as [number, number, number];
  return tf.tidy(() => tf.reshape(tf.transpose(x, [1, 0, 2]), [T, H * d]) as tf.Tensor2D);
}

/** kvHeadOf for H query heads sharing KV key/value heads in consecutive groups: h → ⌊h / (H/KV)⌋. */
export function groupedKvHeads(heads: number, kvHeads: number): number[] {
  if (!Number.isInteger(heads) || !Number.isInteger(kvHeads) || kvHeads < 1 || heads % kvHeads !== 0) {
    shapeError(`${heads} query heads cannot share ${kvHeads} key/value heads evenly`);
  }
  const group = heads / kvHeads;
  return Array.from({ length: heads }, (_, h) => Math.floor(h / group));
}

/** Grouped-query attention: [KV, T, d] → [H, T, d], query head h reading key/value head kvHeadOf[h]. */
export function expandKv(x: tf.Tensor, kvHeadOf: readonly number[]): tf.Tensor3D {
  check3d('k/v', x);
  const KV = x.shape[0]!;
  kvHeadOf.forEach((g, h) => {
    if (!Number.isInteger(g) || g < 0 || g >= KV) shapeError(`kvHeadOf[${h}] = ${g} is not a key/value head (there are ${KV})`);
  });
  return tf.tidy(() => tf.gather(x, tf.tensor1d(Array.from(kvHeadOf), 'int32'), 0) as tf.Tensor3D);
}

export interface AttendInput {
  /** [H, Tq, d] */
  readonly q: tf.Tensor;
  /** [H, Tk, d], or [KV, Tk, d] with kvHeadOf */
  readonly k: tf.Tensor;
  /** [H, Tk, d_v], or [KV, Tk, d_v] with kvHeadOf */
  readonly v: tf.Tensor;
  readonly score?: ScoreFunction;
  readonly normaliser?: Normaliser;
  readonly params?: ScoreParams;
  /** 1 = may attend, 0 = masked; broadcasts against [H, Tq, Tk] (e.g. causalMask, paddingMask). */
  readonly mask?: tf.Tensor;
  /** Shorthand for a causal mask (combined with `mask` if both are given). */
  readonly causal?: boolean;
  /** Grouped-query attention: query head h reads key/value head kvHeadOf[h]. */
  readonly kvHeadOf?: readonly number[];
}

export interface AttendOutput {
  /** Raw scores before masking [H, Tq, Tk]. */
  readonly scores: tf.Tensor3D;
  /** Normalised weights [H, Tq, Tk]; masked entries exactly 0. */
  readonly weights: tf.Tensor3D;
  /** Context vectors [H, Tq, d_v]. */
  readonly context: tf.Tensor3D;
}

/** One attention step: scores → mask → normalise → context. The caller disposes the three outputs. */
export function attend(input: AttendInput): AttendOutput {
  const { q, score = 'scaled-dot', normaliser = 'softmax', params = {}, kvHeadOf } = input;
  const out = tf.tidy(() => {
    let { k, v } = input;
    check3d('q', q);
    check3d('k', k);
    check3d('v', v);
    if (k.shape[0] !== v.shape[0] || k.shape[1] !== v.shape[1]) shapeError(`k [${k.shape.join(', ')}] and v [${v.shape.join(', ')}] must have the same heads and tokens`);
    if (kvHeadOf) {
      if (kvHeadOf.length !== q.shape[0]) shapeError(`kvHeadOf has ${kvHeadOf.length} entries for ${q.shape[0]} query heads`);
      k = expandKv(k, kvHeadOf);
      v = expandKv(v, kvHeadOf);
    }
    const s = computeScores(score, q, k, params);
    let mask: tf.Tensor | undefined = input.mask;
    if (input.causal) {
      const c = causalMask(q.shape[1]!, k.shape[1]!);
      mask = mask ? tf.mul(mask, c) : c;
    }
    if (mask && !broadcasts(mask.shape, s.shape)) shapeError(`mask [${mask.shape.join(', ')}] does not broadcast to scores [${s.shape.join(', ')}]`);
    const w = normalise(normaliser, s, mask) as tf.Tensor3D;
    const c = context(w, v);
    return { scores: s, weights: w, context: c };
  });
  return out;
}

/** Disposes the tensors of an attend() result. */
export function disposeAttend(out: AttendOutput): void {
  out.scores.dispose();
  out.weights.dispose();
  out.context.dispose();
}

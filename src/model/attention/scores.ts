// Score functions, batched over a leading head (or batch·head) axis:
//   q [H, Tq, d_q], k [H, Tk, d_k]  →  scores [H, Tq, Tk]
// dot q·k, scaled dot q·k/√d, general qᵀWk, additive vᵀtanh(W₁q + W₂k), and the additive score
// without projections that Keras's AdditiveAttention and Attention(score_mode="concat") compute.
// Every function returns a new tensor and disposes its own intermediates; inputs are never disposed.
import { tf } from '../runtime/backend';
import type { ScoreFunction } from '../../../shared/trace';
import { missingParams } from '../../../shared/scoreParams';
import { checkQK, shapeError } from './shapes';

export { missingParams };

/** Learned parameters some score functions need. */
export interface ScoreParams {
  /** general: W [d_q, d_k], or one per head [H, d_q, d_k]; score = qᵀ W k. */
  readonly W?: tf.Tensor;
  /** additive: W₁ [d_a, d_q] (or [H, d_a, d_q]), W₂ [d_a, d_k] (or [H, d_a, d_k]), v [d_a] (or [H, d_a]). */
  readonly W1?: tf.Tensor;
  readonly W2?: tf.Tensor;
  readonly v?: tf.Tensor;
}

export const SCORE_FORMULAS: Readonly<Record<ScoreFunction, string>> = {
  dot: 's(q, k) = q·k',
  'scaled-dot': 's(q, k) = q·k / √d',
  general: 's(q, k) = qᵀ W k',
  additive: 's(q, k) = vᵀ tanh(W₁q + W₂k)',
};

/** Below this many queries the transposeB product wins (measured with 512 keys of 8 and 128). */
const FEW_QUERIES = 8;

/**
 * a [H, n, d] × b [H, m, d]ᵀ → [H, n, m], as one 2-D product per head against an explicit
 * transpose: several times faster in tfjs-wasm than a batched matMul with transposeB. For a few
 * queries (a decoder step: n = 1) the 2-D transposeB product is faster still (0.17 against 1.1 ms
 * for 1 × 512 keys of 128), since it reads b in place instead of copying it transposed.
 */
export function perHeadABt(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [H, n, d] = a.shape;
    const m = b.shape[1];
    const product = (ah: tf.Tensor2D, bh: tf.Tensor2D): tf.Tensor2D =>
      n < FEW_QUERIES ? tf.matMul(ah, bh, false, true) : tf.matMul(ah, tf.transpose(bh)); // [n, d] × [d, m] → [n, m]
    // One head (seq2seq, hand-built configs): no slices to copy and nothing to stack.
    if (H === 1) return tf.reshape(product(tf.reshape(a, [n, d]), tf.reshape(b, [m, d])), [1, n, m]); // → [1, n, m]
    const out: tf.Tensor2D[] = [];
    for (let h = 0; h < H; h++) {
      const ah = tf.reshape(tf.slice(a, [h, 0, 0], [1, n, d]), [n, d]) as tf.Tensor2D; // head h: [1, n, d] → [n, d]
      const bh = tf.reshape(tf.slice(b, [h, 0, 0], [1, m, d]), [m, d]) as tf.Tensor2D; // [1, m, d] → [m, d]
      out.push(product(ah, bh));
    }
    return tf.stack(out) as tf.Tensor3D; // H × [n, m] → [H, n, m]
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
      if (W.shape[0] !== dq || W.shape[1] !== dk)
        shapeError(`general: W must be [${dq}, ${dk}], got [${W.shape.join(', ')}]`);
      qW = tf.matMul(tf.reshape(q, [H * Tq, dq]) as tf.Tensor2D, W as tf.Tensor2D).reshape([H, Tq, dk]); // [H·Tq, d_q] × [d_q, d_k] → [H, Tq, d_k]
    } else if (W.rank === 3) {
      if (W.shape[0] !== H || W.shape[1] !== dq || W.shape[2] !== dk)
        shapeError(`general: per-head W must be [${H}, ${dq}, ${dk}], got [${W.shape.join(', ')}]`);
      qW = tf.matMul(q as tf.Tensor3D, W as tf.Tensor3D); // [H, Tq, d_q] × [H, d_q, d_k] → [H, Tq, d_k]
    } else {
      shapeError(`general: W must have 2 or 3 axes, got [${W.shape.join(', ')}]`);
    }
    return perHeadABt(qW, k as tf.Tensor3D); // [H, Tq, d_k] × [H, Tk, d_k]ᵀ → [H, Tq, Tk]
  });
}

/** x [H, T, d] times Mᵀ, M [d_a, d] shared or [H, d_a, d] per head → [H, T, d_a]: W₁q or W₂k of the additive score. */
export function additiveProject(name: string, x: tf.Tensor3D, M: tf.Tensor): tf.Tensor3D {
  const [H, T, d] = x.shape;
  if (M.rank === 2) {
    if (M.shape[1] !== d) shapeError(`additive: ${name} must be [d_a, ${d}], got [${M.shape.join(', ')}]`);
    return tf
      .matMul(tf.reshape(x, [H * T, d]) as tf.Tensor2D, M as tf.Tensor2D, false, true)
      .reshape([H, T, M.shape[0]!]); // [H·T, d] × [d, d_a] → [H, T, d_a]
  }
  if (M.rank === 3) {
    if (M.shape[0] !== H || M.shape[2] !== d)
      shapeError(`additive: per-head ${name} must be [${H}, d_a, ${d}], got [${M.shape.join(', ')}]`);
    return tf.matMul(x, M as tf.Tensor3D, false, true); // [H, T, d] × [H, d, d_a] → [H, T, d_a]
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
  return tf.tidy(() =>
    additivePairs(additiveProject('W₁', q as tf.Tensor3D, W1), additiveProject('W₂', k as tf.Tensor3D, W2), v),
  );
}

/**
 * The second half of the additive score, from projected queries qa = W₁q [H, Tq, d_a] and keys
 * ka = W₂k [H, Tk, d_a]: s = vᵀ tanh(qa + ka) → [H, Tq, Tk]. For a decoder whose keys stay the
 * same at every step, ka can be projected once (additiveProject) and reused.
 */
export function additivePairs(qa: tf.Tensor3D, ka: tf.Tensor3D, v: tf.Tensor): tf.Tensor3D {
  const [H, Tq, da] = qa.shape;
  const Tk = ka.shape[1];
  if (ka.shape[0] !== H) shapeError(`additive: W₁q has ${H} heads but W₂k has ${ka.shape[0]}`);
  if (ka.shape[2] !== da) shapeError(`additive: W₁ and W₂ must map to the same d_a, got ${da} and ${ka.shape[2]}`);
  return tf.tidy(() => {
    let vt: tf.Tensor;
    if (v.rank === 1) {
      if (v.shape[0] !== da) shapeError(`additive: v must be [${da}], got [${v.shape.join(', ')}]`);
      vt = tf.reshape(v, [1, da, 1]); // [d_a] → [1, d_a, 1]
    } else if (v.rank === 2) {
      if (v.shape[0] !== H || v.shape[1] !== da)
        shapeError(`additive: per-head v must be [${H}, ${da}], got [${v.shape.join(', ')}]`);
      vt = tf.reshape(v, [H, da, 1]); // [H, d_a] → [H, d_a, 1]
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
        return tf.matMul(tf.reshape(hidden, [H, n * Tk, da]) as tf.Tensor3D, vh as tf.Tensor3D).reshape([H, n, Tk]); // [H, n·Tk, d_a] × [H, d_a, 1] → [H, n, Tk]
      });
    if (block >= Tq) return rows(0, Tq);
    const parts: tf.Tensor3D[] = [];
    for (let from = 0; from < Tq; from += block) parts.push(rows(from, Math.min(block, Tq - from)));
    return tf.concat(parts, 1); // blocks of queries → [H, Tq, Tk]
  });
}

/**
 * The additive score without projections, s = Σ_d w_d · tanh(inner · (q_d + k_d)): what Keras's
 * AdditiveAttention (w = its learned `scale` vector, inner = 1) and Attention(score_mode="concat")
 * (w = its scalar `concat_score_weight`, inner = its scalar `scale`) compute. q and k must have the
 * same size d; `weights` is a scalar or [d], `inner` a scalar; either may be left out (1).
 */
export function tanhSumScores(
  q: tf.Tensor,
  k: tf.Tensor,
  opts: { readonly weights?: tf.Tensor; readonly inner?: tf.Tensor } = {},
): tf.Tensor3D {
  checkQK(q, k, true);
  const d = q.shape[2]!;
  const { weights, inner } = opts;
  if (weights && !(weights.size === 1 || (weights.rank === 1 && weights.shape[0] === d)))
    shapeError(`tanhSumScores: weights must be a scalar or [${d}], got [${weights.shape.join(', ')}]`);
  if (inner && inner.size !== 1) shapeError(`tanhSumScores: inner must be a scalar, got [${inner.shape.join(', ')}]`);
  return tf.tidy(() => {
    let sum: tf.Tensor = tf.add(tf.expandDims(q, 2), tf.expandDims(k, 1)); // [H, Tq, 1, d] + [H, 1, Tk, d] → [H, Tq, Tk, d]
    if (inner) sum = tf.mul(sum, inner);
    const t = tf.tanh(sum);
    if (weights && weights.size === 1) return tf.mul(tf.sum(t, -1), weights) as tf.Tensor3D; // [H, Tq, Tk, d] → [H, Tq, Tk]
    return tf.sum(weights ? tf.mul(t, weights) : t, -1) as tf.Tensor3D; // [H, Tq, Tk, d] → [H, Tq, Tk]
  });
}

/** A score function of the caller's own (a layer's learned variant): q [H, Tq, d], k [H, Tk, d] → [H, Tq, Tk]. */
export type ScoreFn = (q: tf.Tensor3D, k: tf.Tensor3D) => tf.Tensor3D;

/** Scores [H, Tq, Tk] with the chosen function (a named one with its parameters, or the caller's own). */
export function computeScores(
  score: ScoreFunction | ScoreFn,
  q: tf.Tensor,
  k: tf.Tensor,
  params: ScoreParams = {},
): tf.Tensor3D {
  if (typeof score === 'function') return score(q as tf.Tensor3D, k as tf.Tensor3D);
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

// Normalisers over the last axis of the scores, with masks applied: soft (softmax, sparsemax,
// sigmoid) and hard (hardmax, sampled: all of a row's weight on one key, or split evenly over tied maxima):
// masked keys get exactly 0 and a fully masked row is all 0. Mask tensors come from the one mask
// builder (mask.ts): 1 = may attend, 0 = masked, any shape that broadcasts against the scores.
// Also Keras's additive −10⁹ mask, for the Keras layers' own semantics.
import { tf } from '../runtime/backend';
import { DEFAULT_SAMPLE_SEED, type Normaliser } from '../../../shared/trace';
import { mulberry32 } from '../../../shared/random';
import { allowedMask } from './mask';
import { broadcasts, shapeError } from './shapes';

/** What each normaliser promises, for the UI. */
export const NORMALISER_DOCS: Readonly<Record<Normaliser, string>> = {
  softmax: 'softmax: αᵢ = exp(sᵢ) / Σⱼ exp(sⱼ). Every allowed key gets a positive weight and each row sums to 1.',
  sparsemax:
    'sparsemax: the Euclidean projection of the scores onto the probability simplex, αᵢ = max(sᵢ − τ, 0). ' +
    'Keys scoring below the threshold τ get exactly 0, and each row sums to 1.',
  sigmoid:
    'sigmoid: αᵢ = 1 / (1 + exp(−sᵢ)), each key weighed on its own in (0, 1). Rows need not sum to 1, ' +
    'so the context is a weighted sum of values, not a weighted mean.',
  hardmax:
    'hardmax (hard attention): αⱼ = 1/|M| for the keys j in M, the set of allowed keys with the highest score, and 0 for ' +
    'every other key, so one key takes the whole row (ties split it evenly) and each row sums to 1. Soft attention blends ' +
    'all values; hard attention picks one. Hardmax is not differentiable in a useful way: it is piecewise constant in the ' +
    'scores, so its gradient is 0 almost everywhere (and undefined where the maximum changes hands), and backpropagation ' +
    'gets no signal to the scores.',
  sampled:
    'sampled hard attention (Xu et al., 2015): each query draws one key j from p = softmax(s) with a seeded generator ' +
    '(mulberry32), and αⱼ = 1, every other key 0, so each row sums to 1 and the context is exactly the drawn value. ' +
    'The draw has no gradient, so training needs a score-function (REINFORCE) estimator: ∇E[f] = E[f(j) ∇log p(j)], ' +
    'estimated from the samples, usually with a baseline to lower its variance.',
};

/** Hard attention's caveat, for a note under a what-if result. */
export const HARD_ATTENTION_NOTE =
  'Hard attention puts each row’s whole weight on one key (ties split evenly), so the context is that key’s value. ' +
  'Its gradient with respect to the scores is 0 almost everywhere: argmax is piecewise constant, and a sampled key ' +
  'has no gradient at all (training needs REINFORCE: ∇E[f] = E[f(j)·∇log p(j)]).';

/** The sigmoid caveat on its own, for a note under a what-if result. */
export const SIGMOID_ROWS_NOTE = 'Sigmoid weighs every key independently: a row of weights need not sum to 1.';

export const NORMALISER_FORMULAS: Readonly<Record<Normaliser, string>> = {
  softmax: 'α = softmax(s)',
  sparsemax: 'α = sparsemax(s) = max(s − τ(s), 0)',
  sigmoid: 'α = σ(s) = 1 / (1 + e^(−s))',
  hardmax: 'αⱼ = 1/|M| if j ∈ M = argmaxₖ sₖ, else 0',
  sampled: 'j ~ softmax(s),  α = one-hot(j)',
};

// ---------------------------------------------------------------------------------------------
// Masks as tensors, built by mask.ts

/**
 * Causal mask [Tq, Tk]: query i sees keys j ≤ i + (Tk − Tq). For self-attention (Tq = Tk) that is
 * itself and earlier tokens; when the queries are the last Tq of Tk positions (a key/value cache),
 * the offset keeps each query aligned with its own position.
 */
export function causalMask(Tq: number, Tk: number = Tq): tf.Tensor2D {
  return tf.tensor2d(allowedMask({ queries: Tq, keys: Tk, causal: true, queryOffset: Tk - Tq }), [Tq, Tk]);
}

/**
 * Padding mask [B, Tq, Tk] from each sequence's real key length: keys j ≥ keyLengths[b] are
 * padding and masked. B is the leading axis (a batch of sequences, or heads that read them).
 */
export function paddingMask(keyLengths: readonly number[], Tq: number, Tk: number): tf.Tensor3D {
  const B = keyLengths.length;
  const data = new Float32Array(B * Tq * Tk);
  keyLengths.forEach((n, b) => {
    if (!Number.isInteger(n) || n < 0 || n > Tk)
      shapeError(`key length ${n} for sequence ${b} is not an integer in [0, ${Tk}]`);
    const paddedKeys = new Set(Array.from({ length: Tk - n }, (_, j) => n + j));
    data.set(allowedMask({ queries: Tq, keys: Tk, causal: false, paddedKeys }), b * Tq * Tk);
  });
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

/**
 * The mask as booleans of the scores' shape, and a version in which fully masked rows are opened
 * up (so softmax/sparsemax of such a row stay finite; the result is zeroed afterwards).
 */
function maskParts(shape: number[], mask: tf.Tensor): { allowed: tf.Tensor; computeOn: tf.Tensor } {
  if (!broadcasts(mask.shape, shape))
    shapeError(`mask [${mask.shape.join(', ')}] does not broadcast to scores [${shape.join(', ')}]`);
  const allowedF = tf.cast(tf.greater(mask, 0), 'float32');
  const rowHasAny = tf.max(allowedF, -1, true); // [..., Tq, Tk] → [..., Tq, 1]
  const onF = tf.add(allowedF, tf.sub(1, rowHasAny)); // a fully masked row (all 0) becomes all 1
  return {
    allowed: tf.greater(broadcastFloat(allowedF, shape), 0),
    computeOn: tf.greater(broadcastFloat(onF, shape), 0),
  };
}

/** Numerically stable softmax over the last axis; masked keys get exactly 0, fully masked rows are all 0. */
export function softmax(scores: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (!mask) {
      const m = tf.max(scores, -1, true); // [..., Tk] → [..., 1]
      const e = tf.exp(tf.sub(scores, m));
      return tf.div(e, tf.sum(e, -1, true));
    }
    const { allowed, computeOn } = maskParts(scores.shape, mask);
    const negInf = tf.fill(scores.shape, -Infinity);
    const filled = tf.where(computeOn, scores, negInf);
    const m = tf.max(filled, -1, true); // [..., Tk] → [..., 1]
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
      const hi = tf.max(tf.where(on, scores, tf.fill(scores.shape, -Infinity)), -1, true); // [..., Tk] → [..., 1]
      const lo = tf.min(tf.where(on, scores, tf.fill(scores.shape, Infinity)), -1, true);
      // Shift first, then place masked keys at (min − max) − 2: precise even for huge scores.
      z = tf.where(on, tf.sub(scores, hi), broadcastFloat(tf.sub(tf.sub(lo, hi), 2), scores.shape));
    } else {
      z = tf.sub(z, tf.max(z, -1, true));
    }
    const sorted = tf.topk(z, n, true).values; // descending
    const cums = tf.cumsum(sorted, sorted.rank - 1);
    const ks = tf.range(1, n + 1, 1, 'float32'); // [Tk]: 1 … Tk
    // The support condition holds for a prefix of the sorted row (shown in the paper), so
    // k(z) is the number of keys satisfying it and Σ_{j≤k(z)} z₍ⱼ₎ their sum.
    const inSupport = tf.cast(tf.greater(tf.add(1, tf.mul(ks, sorted)), cums), 'float32');
    const kz = tf.sum(inSupport, -1, true); // [..., Tk] → [..., 1]; ≥ 1 always: the top key satisfies 1 + z₍₁₎ > z₍₁₎
    const supportSum = tf.sum(tf.mul(sorted, inSupport), -1, true); // [..., Tk] → [..., 1]
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

/**
 * Hardmax over the last axis: 1/|M| on each allowed key whose score equals the row's maximum over
 * allowed keys (M, the tied maxima), 0 elsewhere. Rows sum to 1; a fully masked row is all 0.
 */
export function hardmax(scores: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const parts = mask ? maskParts(scores.shape, mask) : undefined;
    const on = parts?.computeOn ?? tf.onesLike(scores).cast('bool');
    const filled = tf.where(on, scores, tf.fill(scores.shape, -Infinity));
    const m = tf.max(filled, -1, true); // [..., Tk] → [..., 1]
    // Compared only among allowed keys: a masked key (−∞ here) never ties with an all −∞ row.
    const top = tf.cast(tf.logicalAnd(on, tf.equal(filled, m)), 'float32');
    const w = tf.div(top, tf.maximum(tf.sum(top, -1, true), 1)); // [..., Tk] / [..., 1]
    return parts ? tf.where(parts.allowed, w, tf.zerosLike(w)) : w;
  });
}

/**
 * Sampled hard attention: for each row, in row-major order over the leading axes, one draw
 * u ∈ [0, 1) from mulberry32(seed) picks the first allowed key j whose cumulative softmax
 * probability exceeds u (inverse-CDF sampling); α = one-hot(j). Every row consumes one draw, a
 * fully masked row too (it stays all 0), so row r always uses the r-th number of the sequence.
 */
export function sampledHard(scores: tf.Tensor, mask?: tf.Tensor, seed: number = DEFAULT_SAMPLE_SEED): tf.Tensor {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    shapeError(`sampling seed ${seed} is not an integer in [0, 4294967295]`);
  return tf.tidy(() => {
    const p = softmax(scores, mask).dataSync(); // masked keys exactly 0
    const n = scores.shape[scores.rank - 1]!;
    const out = new Float32Array(p.length);
    const rand = mulberry32(seed);
    for (let r = 0; r * n < p.length; r++) {
      const u = rand();
      let total = 0;
      for (let j = 0; j < n; j++) total += p[r * n + j]!;
      if (!(total > 0)) continue;
      let acc = 0;
      let chosen = -1;
      for (let j = 0; j < n; j++) {
        const pj = p[r * n + j]!;
        if (pj <= 0) continue;
        chosen = j; // the last key with weight, should rounding leave acc just below u·total
        acc += pj;
        if (acc > u * total) break;
      }
      out[r * n + chosen] = 1;
    }
    return tf.tensor(out, scores.shape);
  });
}

export interface NormaliseOptions {
  /** The seed of sampled hard attention (default DEFAULT_SAMPLE_SEED). */
  readonly seed?: number;
}

export function normalise(
  normaliser: Normaliser,
  scores: tf.Tensor,
  mask?: tf.Tensor,
  options: NormaliseOptions = {},
): tf.Tensor {
  switch (normaliser) {
    case 'softmax':
      return softmax(scores, mask);
    case 'sparsemax':
      return sparsemax(scores, mask);
    case 'sigmoid':
      return sigmoid(scores, mask);
    case 'hardmax':
      return hardmax(scores, mask);
    case 'sampled':
      return sampledHard(scores, mask, options.seed);
  }
}

/** The value Keras adds to forbidden scores (float32): softmax turns them into exact zeros. */
export const LARGE_NEGATIVE = -1e9;

/**
 * Keras's (and tfjs-layers') masked softmax: softmax(s − 10⁹·(1 − mask)). Masked keys underflow to
 * exactly 0; unlike `softmax(s, mask)`, a fully masked row becomes uniform, as in Keras.
 */
export function largeNegativeSoftmax(scores: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.softmax(mask ? tf.add(scores, tf.mul(tf.sub(1, mask), LARGE_NEGATIVE)) : scores, -1));
}

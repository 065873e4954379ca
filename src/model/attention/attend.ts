// One attention step, scores → mask → normalise → context, returning its weights with its output
// (as tfjs-layers' MultiHeadAttention.computeAttention / callAndReturnAttentionScores do). Shapes
// have a leading batch axis that is usually the head axis:
//   q [H, Tq, d_q], k [H, Tk, d_k], v [H, Tk, d_v]  →  scores, weights [H, Tq, Tk], context [H, Tq, d_v]
// The toy model, seq2seq, the Keras layers, hand-built configs and the what-if all call attend().
// Every tensor made here is disposed (tf.tidy); inputs are never disposed. No vscode import.
import { tf } from '../runtime/backend';
import type { Normaliser, ScoreFunction } from '../../../shared/trace';
import { computeScores, type ScoreFn, type ScoreParams } from './scores';
import { causalMask, normalise } from './normalisers';
import { expandKv } from './heads';
import { broadcasts, check3d, shapeError } from './shapes';

/** c = Σᵢ αᵢ vᵢ: weights [H, Tq, Tk] @ v [H, Tk, d_v] → [H, Tq, d_v]. */
export function context(weights: tf.Tensor, v: tf.Tensor): tf.Tensor3D {
  check3d('weights', weights);
  check3d('v', v);
  if (weights.shape[0] !== v.shape[0] || weights.shape[2] !== v.shape[1]) {
    shapeError(`weights [${weights.shape.join(', ')}] do not match values [${v.shape.join(', ')}]`);
  }
  return tf.matMul(weights as tf.Tensor3D, v as tf.Tensor3D);
}

/** A normaliser of the caller's own: scores and an optional 1/0 mask → weights of the same shape. */
export type NormaliseFn = (scores: tf.Tensor, mask?: tf.Tensor) => tf.Tensor;

export interface AttendInput {
  /** [H, Tq, d] */
  readonly q: tf.Tensor;
  /** [H, Tk, d], or [KV, Tk, d] with kvHeadOf */
  readonly k: tf.Tensor;
  /** [H, Tk, d_v], or [KV, Tk, d_v] with kvHeadOf */
  readonly v: tf.Tensor;
  /** A named score function (with `params`), or the caller's own. Default scaled-dot. */
  readonly score?: ScoreFunction | ScoreFn;
  /** A named normaliser, or the caller's own (e.g. largeNegativeSoftmax for Keras). Default softmax. */
  readonly normaliser?: Normaliser | NormaliseFn;
  readonly params?: ScoreParams;
  /** 1 = may attend, 0 = masked; broadcasts against [H, Tq, Tk] (e.g. causalMask, paddingMask). */
  readonly mask?: tf.Tensor;
  /** Shorthand for a causal mask (combined with `mask` if both are given). */
  readonly causal?: boolean;
  /** Grouped-query attention: query head h reads key/value head kvHeadOf[h]. */
  readonly kvHeadOf?: readonly number[];
  /** The seed of the 'sampled' normaliser (default DEFAULT_SAMPLE_SEED). */
  readonly seed?: number;
  /** Dropout rate on the weights before the context (training only; the weights returned are before it). */
  readonly dropout?: number;
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
    if (k.shape[0] !== v.shape[0] || k.shape[1] !== v.shape[1])
      shapeError(`k [${k.shape.join(', ')}] and v [${v.shape.join(', ')}] must have the same heads and tokens`);
    if (kvHeadOf) {
      if (kvHeadOf.length !== q.shape[0])
        shapeError(`kvHeadOf has ${kvHeadOf.length} entries for ${q.shape[0]} query heads`);
      k = expandKv(k, kvHeadOf);
      v = expandKv(v, kvHeadOf);
    }
    const s = computeScores(score, q, k, params);
    let mask: tf.Tensor | undefined = input.mask;
    if (input.causal) {
      const c = causalMask(q.shape[1]!, k.shape[1]!);
      mask = mask ? tf.mul(mask, c) : c;
    }
    if (mask && !broadcasts(mask.shape, s.shape))
      shapeError(`mask [${mask.shape.join(', ')}] does not broadcast to scores [${s.shape.join(', ')}]`);
    const w = (
      typeof normaliser === 'function' ? normaliser(s, mask) : normalise(normaliser, s, mask, { seed: input.seed })
    ) as tf.Tensor3D;
    const dropout = input.dropout ?? 0;
    const c = context(dropout > 0 && dropout < 1 ? tf.dropout(w, dropout) : w, v);
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

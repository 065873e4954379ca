// "What if this layer used another score function or normaliser?" Recomputes scores, weights and
// context from a stage's own Q, K and V (and whatever score parameters the model has). Pure: takes
// TensorData, returns TensorData, leaves tf.memory() exactly as it found it, also when it throws.
import { tf } from '../runtime/backend';
import { readOut } from '../runtime/read';
import { attend } from './attend';
import { computeScores, missingParams, type ScoreFn, type ScoreParams } from './scores';
import {
  AttentionInputError,
  SCORE_FUNCTIONS,
  tensor,
  type Normaliser,
  type ScoreFunction,
  type TensorData,
} from '../../../shared/trace';

export interface WhatIfParams {
  readonly W?: TensorData;
  readonly W1?: TensorData;
  readonly W2?: TensorData;
  readonly v?: TensorData;
}

export interface WhatIfInput {
  /** [H, Tq, d] (or [Tq, d] for one head). */
  readonly Q: TensorData;
  /** [H or KV, Tk, d] (or [Tk, d]). */
  readonly K: TensorData;
  /** [H or KV, Tk, d_v] (or [Tk, d_v]). */
  readonly V: TensorData;
  readonly params?: WhatIfParams;
  readonly kvHeadOf?: readonly number[];
  readonly causal: boolean;
  /** [Tq, Tk] 1/0: the block's own mask (a sliding window, padding), combined with `causal`. */
  readonly mask?: TensorData;
  /** The model's own scaled-dot: its factor (default 1/√d) and soft-cap c·tanh(s/c), for score 'scaled-dot'. */
  readonly scale?: number;
  readonly softCap?: number;
  /** [H, Tq, Tk] added to whichever scores are computed, before the mask (T5's relative position bias). */
  readonly bias?: TensorData;
}

export interface WhatIfOutput {
  readonly scores: TensorData;
  readonly weights: TensorData;
  readonly context: TensorData;
}

export interface ScoreAvailability {
  readonly score: ScoreFunction;
  readonly available: boolean;
  /** Why not, when not available. */
  readonly reason?: string;
}

/** Which score functions the given parameters make computable (dot and scaled-dot always are). */
export function availableScores(
  params: WhatIfParams | Readonly<Record<string, unknown>> | undefined,
): ScoreAvailability[] {
  return SCORE_FUNCTIONS.map((score) => {
    const reason = missingParams(score, params);
    return reason ? { score, available: false, reason } : { score, available: true };
  });
}

/** The token list an axis of Q or K is labelled with (Q/K's 'token' axis, or a named one). */
function tokenListOf(t: TensorData): 'input' | 'output' | undefined {
  const axis = t.axes[t.axes.length - 2];
  return axis !== undefined ? t.tokenAxes?.[axis] : undefined;
}

function checkData(name: string, t: TensorData): void {
  const size = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== size)
    throw new AttentionInputError('shape', `${name}: ${t.data.length} values do not fill shape [${t.shape.join('×')}]`);
}

/** The model's scaled dot: (q·kᵀ)·scale (default 1/√d), soft-capped to c·tanh(s/c) when `cap` is given. */
const modelScaledDot =
  (scale: number | undefined, cap: number | undefined): ScoreFn =>
  (q, k) => {
    const s = tf.mul(tf.matMul(q, k, false, true), scale ?? 1 / Math.sqrt(q.shape[2])) as tf.Tensor3D; // [H, Tq, Tk]
    return cap === undefined ? s : (tf.mul(tf.tanh(tf.div(s, cap)), cap) as tf.Tensor3D);
  };

/**
 * Recomputes attention on the very same Q, K, V with `score` and `normaliser`. Returns scores
 * (before masking), weights and context, labelled with the same token lists as Q and K.
 */
export function recompute(input: WhatIfInput, score: ScoreFunction, normaliser: Normaliser): WhatIfOutput {
  const { Q, K, V, params = {}, kvHeadOf, causal, mask, scale, softCap, bias } = input;
  if (mask) checkData('mask', mask);
  if (bias) checkData('bias', bias);
  const why = missingParams(score, params);
  if (why) throw new AttentionInputError('unsupported', why);
  for (const [name, t] of [
    ['Q', Q],
    ['K', K],
    ['V', V],
  ] as const) {
    checkData(name, t);
    if (t.shape.length !== 2 && t.shape.length !== 3)
      throw new AttentionInputError(
        'shape',
        `${name} must be [head, token, d] or [token, d], got [${t.shape.join('×')}]`,
      );
  }
  if (Q.shape.length !== K.shape.length || K.shape.length !== V.shape.length) {
    throw new AttentionInputError(
      'shape',
      `Q, K and V must have the same number of axes, got [${Q.shape.join('×')}], [${K.shape.join('×')}], [${V.shape.join('×')}]`,
    );
  }
  for (const [name, t] of Object.entries(params)) if (t) checkData(name, t as TensorData);
  const single = Q.shape.length === 2;
  const as3d = (t: TensorData): number[] => (single ? [1, ...t.shape] : [...t.shape]);

  // readOut: tf.tidy would walk the returned arrays element by element looking for tensors.
  const result = readOut(() => {
    const q = tf.tensor(Q.data, as3d(Q));
    const k = tf.tensor(K.data, as3d(K));
    const v = tf.tensor(V.data, as3d(V));
    const p: { -readonly [K in keyof ScoreParams]: tf.Tensor } = {};
    if (params.W) p.W = tf.tensor(params.W.data, [...params.W.shape]);
    if (params.W1) p.W1 = tf.tensor(params.W1.data, [...params.W1.shape]);
    if (params.W2) p.W2 = tf.tensor(params.W2.data, [...params.W2.shape]);
    if (params.v) p.v = tf.tensor(params.v.data, [...params.v.shape]);
    let out;
    try {
      const own =
        score === 'scaled-dot' && (scale !== undefined || softCap !== undefined)
          ? modelScaledDot(scale, softCap)
          : score;
      const m = mask ? { mask: tf.tensor(mask.data, [...mask.shape]) } : {};
      const b = bias ? tf.tensor(bias.data, [...bias.shape]) : undefined;
      const biased: ScoreFn | undefined = b && ((qh, kh) => tf.add(computeScores(own, qh, kh, p), b) as tf.Tensor3D); // [H, Tq, Tk] + B
      out = attend({ q, k, v, score: biased ?? own, normaliser, params: p, causal, kvHeadOf, ...m });
    } catch (err) {
      if (err instanceof RangeError) throw new AttentionInputError('shape', err.message);
      throw err;
    }
    return {
      scores: out.scores.dataSync() as Float32Array,
      weights: out.weights.dataSync() as Float32Array,
      context: out.context.dataSync() as Float32Array,
      sShape: out.scores.shape,
      cShape: out.context.shape,
    };
  });

  const [H, Tq, Tk] = result.sShape;
  const dv = result.cShape[2];
  const qList = tokenListOf(Q);
  const kList = tokenListOf(K);
  const qk: Record<string, 'input' | 'output'> = {};
  if (qList) qk['query'] = qList;
  if (kList) qk['key'] = kList;
  const cTok: Record<string, 'input' | 'output'> = qList ? { query: qList } : {};
  const how = `${score} + ${normaliser}`;
  const heads = single ? [] : [H];
  const headAxis = single ? [] : ['head'];
  return {
    scores: tensor('scores', [...heads, Tq, Tk], [...headAxis, 'query', 'key'], new Float32Array(result.scores), {
      tokenAxes: qk,
      description: `What-if scores (${score}), before masking`,
    }),
    weights: tensor('weights', [...heads, Tq, Tk], [...headAxis, 'query', 'key'], new Float32Array(result.weights), {
      tokenAxes: qk,
      description: `What-if weights (${how})`,
    }),
    context: tensor('context', [...heads, Tq, dv], [...headAxis, 'query', 'd_v'], new Float32Array(result.context), {
      tokenAxes: cTok,
      description: `What-if context vectors (${how})`,
    }),
  };
}

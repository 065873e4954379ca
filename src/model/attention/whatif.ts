// "What if this layer used another score function or normaliser?" Recomputes scores, weights and
// context from a stage's own Q, K and V (and whatever score parameters the model has), optionally
// inside Luong et al. (2015)'s local attention window. Pure: takes
// TensorData, returns TensorData, leaves tf.memory() exactly as it found it, also when it throws.
import { tf } from '../runtime/backend';
import { readOut } from '../runtime/read';
import { attend, type NormaliseFn } from './attend';
import { normalise } from './normalisers';
import type { LocalWindow } from '../../../shared/protocol';
import { missingPredictive } from '../../../shared/scoreParams';

import { windowText } from '../../../shared/localWindow';

export { missingPredictive, windowText };
import { computeScores, missingParams, type ScoreFn, type ScoreParams } from './scores';
import {
  AttentionInputError,
  DEFAULT_SAMPLE_SEED,
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
  /** Luong's predictive alignment, p_t = S·sigmoid(v_pᵀ tanh(W_p h_t)): W_p [d_p, d], v_p [d_p]. */
  readonly W_p?: TensorData;
  readonly v_p?: TensorData;
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
  /** With a local window: window ∧ the block's mask ∧ causal, 1/0, [Tq, Tk] or [H, Tq, Tk]. */
  readonly windowMask?: TensorData;
  /** With a local window: p_t per query, [Tq] or [H, Tq]. */
  readonly positions?: TensorData;
  /** With 'sampled': the seed drawn with. */
  readonly seed?: number;
}

export interface WhatIfOptions {
  readonly local?: LocalWindow;
  /** The 'sampled' normaliser's seed (default DEFAULT_SAMPLE_SEED). */
  readonly seed?: number;
}

interface Window {
  /** [Hw, Tq, Tk] 1/0 (Hw = 1 for monotonic, H for predictive). */
  readonly allowed: Float32Array;
  /** [Hw, Tq, Tk] Gaussian factors exp(−(s − p_t)²/(2σ²)), or undefined without the Gaussian. */
  readonly gauss?: Float32Array;
  /** [Hw, Tq] */
  readonly positions: Float64Array;
  readonly Hw: number;
}

/**
 * Luong's window: aligned positions p_t (monotonic: the query's own position t, i.e. its index
 * plus Tk − Tq when a causal query block is the last Tq of Tk positions; predictive: from W_p, v_p
 * and the query vector as h_t), keys with |s − p_t| ≤ D, and the Gaussian factors.
 */
function localWindow(
  w: LocalWindow,
  q: tf.Tensor, // [H, Tq, d]
  Tk: number,
  causal: boolean,
  params: WhatIfParams,
): Window {
  const [H, Tq, d] = q.shape as [number, number, number];
  let positions: Float64Array;
  let Hw = 1;
  if (w.alignment === 'monotonic') {
    const offset = w.firstQuery ?? (causal ? Tk - Tq : 0);
    positions = Float64Array.from({ length: Tq }, (_, t) => t + offset);
  } else {
    const why = missingPredictive(params);
    if (why) throw new AttentionInputError('unsupported', why);
    const Wp = params.W_p!;
    const vp = params.v_p!;
    if (Wp.shape.length !== 2 || Wp.shape[1] !== d || vp.shape.length !== 1 || vp.shape[0] !== Wp.shape[0])
      throw new AttentionInputError(
        'shape',
        `local-p needs W_p [d_p, ${d}] and v_p [d_p], got W_p [${Wp.shape.join('×')}] and v_p [${vp.shape.join('×')}]`,
      );
    const dp = Wp.shape[0]!;
    const z = tf.tidy(() => {
      const a = tf.tanh(tf.matMul(q.reshape([H * Tq, d]), tf.tensor2d(Wp.data, [dp, d]), false, true)); // [H·Tq, d_p]
      return tf.mul(tf.sigmoid(tf.matMul(a, tf.tensor2d(vp.data, [dp, 1]))), Tk); // [H·Tq, 1]: S·σ(v_pᵀ tanh(W_p h_t))
    });
    positions = Float64Array.from(z.dataSync());
    z.dispose();
    Hw = H;
  }
  const allowed = new Float32Array(Hw * Tq * Tk);
  const gauss = w.gaussian ? new Float32Array(Hw * Tq * Tk) : undefined;
  const twoSigma2 = 2 * (w.D / 2) ** 2;
  for (let r = 0; r < Hw * Tq; r++) {
    const p = positions[r]!;
    for (let s = 0; s < Tk; s++) {
      if (Math.abs(s - p) <= w.D) allowed[r * Tk + s] = 1;
      if (gauss) gauss[r * Tk + s] = Math.exp(-((s - p) ** 2) / twoSigma2);
    }
  }
  return { allowed, positions, Hw, ...(gauss ? { gauss } : {}) };
}

function checkWindow(w: LocalWindow): void {
  if (w.alignment !== 'monotonic' && w.alignment !== 'predictive')
    throw new AttentionInputError(
      'unsupported',
      `Unknown alignment "${String(w.alignment)}": use monotonic or predictive.`,
    );
  if (w.firstQuery !== undefined && (!Number.isInteger(w.firstQuery) || w.firstQuery < 0))
    throw new AttentionInputError('shape', `The first query's position must be an integer ≥ 0, got ${w.firstQuery}.`);
  if (!Number.isInteger(w.D) || w.D < 1)
    throw new AttentionInputError('shape', `The local window's half-width D must be an integer ≥ 1, got ${w.D}.`);
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
export function recompute(
  input: WhatIfInput,
  score: ScoreFunction,
  normaliser: Normaliser,
  options: WhatIfOptions = {},
): WhatIfOutput {
  const { Q, K, V, params = {}, kvHeadOf, causal, mask, scale, softCap, bias } = input;
  const { local } = options;
  const seed = options.seed ?? DEFAULT_SAMPLE_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new AttentionInputError('shape', `The sampling seed must be an integer in [0, 4294967295], got ${seed}.`);
  if (local) checkWindow(local);
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
    let windowOut: { allowed: Float32Array; positions: Float64Array; Hw: number; H: number } | undefined;
    try {
      const own =
        score === 'scaled-dot' && (scale !== undefined || softCap !== undefined)
          ? modelScaledDot(scale, softCap)
          : score;
      const [H, Tq] = q.shape;
      const Tk = k.shape[1]!;
      const win = local && localWindow(local, q, Tk, causal, params);
      let maskT = mask ? tf.tensor(mask.data, [...mask.shape]) : undefined;
      if (win) {
        const w = tf.tensor3d(win.allowed, [win.Hw, Tq, Tk]);
        maskT = maskT ? tf.mul(w, maskT) : w; // [Hw, Tq, Tk] ∧ [Tq, Tk]
      }
      const m = maskT ? { mask: maskT } : {};
      const b = bias ? tf.tensor(bias.data, [...bias.shape]) : undefined;
      const biased: ScoreFn | undefined = b && ((qh, kh) => tf.add(computeScores(own, qh, kh, p), b) as tf.Tensor3D); // [H, Tq, Tk] + B
      // Luong: normalise over the window, then weigh by the Gaussian; not renormalised.
      const g = win?.gauss && tf.tensor3d(win.gauss, [win.Hw, Tq, Tk]);
      const norm: Normaliser | NormaliseFn = g
        ? (sc, mk) => tf.mul(normalise(normaliser, sc, mk, { seed }), g)
        : normaliser;
      out = attend({ q, k, v, score: biased ?? own, normaliser: norm, params: p, causal, kvHeadOf, seed, ...m });
      if (win) {
        // What may be attended to in the end: the window, the block's mask and the causal mask.
        const allowed = tf.mul(tf.ones([win.Hw, Tq, Tk]), maskT!);
        const full = causal
          ? tf.mul(allowed, tf.linalg.bandPart(tf.ones([Tq, Tk]), -1, Tk - Tq)) // j ≤ i + (Tk − Tq)
          : allowed;
        windowOut = { allowed: full.dataSync() as Float32Array, positions: win.positions, Hw: win.Hw, H };
      }
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
      windowOut,
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
  const how = `${score} + ${normaliser}${normaliser === 'sampled' ? ` (seed ${seed})` : ''}${local ? `, ${windowText(local)}` : ''}`;
  const heads = single ? [] : [H];
  const headAxis = single ? [] : ['head'];
  const wo = result.windowOut;
  const perHead = wo !== undefined && wo.Hw > 1;
  const windowParts = wo
    ? {
        windowMask: tensor(
          'mask',
          perHead ? [H, Tq, Tk] : [Tq, Tk],
          perHead ? ['head', 'query', 'key'] : ['query', 'key'],
          new Float32Array(wo.allowed),
          { tokenAxes: qk, description: `Local window (${windowText(local!)}) ∧ the block's mask: 1 = may attend` },
        ),
        positions: tensor(
          'p_t',
          perHead ? [H, Tq] : [Tq],
          perHead ? ['head', 'query'] : ['query'],
          Float32Array.from(wo.positions),
          { tokenAxes: qList ? { query: qList } : {}, description: 'Aligned position p_t of each query' },
        ),
      }
    : {};
  return {
    ...windowParts,
    ...(normaliser === 'sampled' ? { seed } : {}),
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

// Which learned parameters a score function needs. Pure (no tfjs): the webview imports it too.
import type { ScoreFunction } from './trace';

/** Why `score` cannot be computed with `params` (objects keyed W, W1, W2, v), or undefined if it can. */
export function missingParams(score: ScoreFunction, params: object | undefined): string | undefined {
  const p = params as Readonly<Record<string, unknown>> | undefined;
  const has = (n: string): boolean => p?.[n] !== undefined && p[n] !== null;
  if (score === 'general' && !has('W')) return 'general scores qᵀWk need a learned matrix W, and this model has none.';
  if (score === 'additive') {
    const missing = ['W1', 'W2', 'v'].filter((n) => !has(n));
    if (missing.length)
      return `additive scores vᵀtanh(W₁q + W₂k) need learned W₁, W₂ and v; this model lacks ${missing.join(', ')}.`;
  }
  return undefined;
}

/** Why Luong's predictive alignment (local-p) cannot run with `params` (W_p, v_p), or undefined if it can. */
export function missingPredictive(params: object | undefined): string | undefined {
  const p = params as Readonly<Record<string, unknown>> | undefined;
  const has = (n: string): boolean => p?.[n] !== undefined && p[n] !== null;
  return has('W_p') && has('v_p')
    ? undefined
    : 'Predictive alignment (local-p) needs Luong’s trained W_p and v_p, p_t = S·sigmoid(v_pᵀ tanh(W_p h_t)); this model has none, so only monotonic alignment (p_t = t) is offered.';
}

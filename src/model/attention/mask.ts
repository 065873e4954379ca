// The one mask builder: which keys each query may see. Causal, bidirectional, sliding-window
// (Mistral, Gemma's local layers) and key padding are one rule, so every model draws and computes
// the same mask. Pure TypeScript: the trace records `allowed`, the forward pass adds `additive`.

export interface MaskSpec {
  /** Queries (rows) and keys (columns). */
  readonly queries: number;
  readonly keys: number;
  /** Query i sees key j only when j ≤ i + queryOffset (keys after it are the future). */
  readonly causal: boolean;
  /** Sliding window: query i sees only the `window` most recent keys, itself included. */
  readonly window?: number;
  /** Position of query 0 among the keys (a decoder step over a key/value cache); default 0. */
  readonly queryOffset?: number;
  /** Keys that are padding, seen by no query. */
  readonly paddedKeys?: ReadonlySet<number>;
}

/** True when query `i` may attend to key `j`. */
export function allows(spec: MaskSpec, i: number, j: number): boolean {
  const pos = i + (spec.queryOffset ?? 0);
  if (spec.causal && j > pos) return false;
  if (spec.window !== undefined && pos - j >= spec.window) return false;
  if (spec.paddedKeys?.has(j)) return false;
  return true;
}

/** [queries, keys] of 1 (may attend) and 0 (masked): what the trace and the heatmap's hatching show. */
export function allowedMask(spec: MaskSpec): Float32Array {
  const { queries: Tq, keys: Tk } = spec;
  const out = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk; j++) if (allows(spec, i, j)) out[i * Tk + j] = 1;
  return out;
}

/** [queries, keys] of 0 (may attend) and −∞ (masked), added to the scores before the softmax. */
export function additiveMask(spec: MaskSpec): Float32Array {
  const { queries: Tq, keys: Tk } = spec;
  const out = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk; j++) if (!allows(spec, i, j)) out[i * Tk + j] = -Infinity;
  return out;
}

/** Whether a spec masks anything at all (a bidirectional unpadded block needs no mask tensor). */
export function masksAnything(spec: MaskSpec): boolean {
  return spec.causal || spec.window !== undefined || (spec.paddedKeys?.size ?? 0) > 0;
}

// What the three Keras attention layers share: the record a layer reads out for the trace, the
// tensors of one call, Keras's masks (causal from mask.ts, query and value masks), config helpers.
import { tf } from '../../runtime/backend';
import { allowedMask } from '../../attention/mask';
import { f32 } from '../../runtime/read';

export type KerasAttentionClass = 'MultiHeadAttention' | 'Attention' | 'AdditiveAttention';
export const KERAS_ATTENTION_CLASSES: readonly KerasAttentionClass[] = [
  'MultiHeadAttention',
  'Attention',
  'AdditiveAttention',
];

/** What one attention layer computed on the first batch element, pulled out of tf. */
export interface AttentionLayerRecord {
  readonly layer: string;
  readonly className: KerasAttentionClass;
  readonly heads: number;
  /** Size of each query/key vector (per head for MultiHeadAttention). */
  readonly keyDim: number;
  /** Size of each value / context vector (per head). */
  readonly valueDim: number;
  readonly queryCount: number;
  readonly keyCount: number;
  readonly outputDim: number;
  /** The layer's inputs: query [Tq, dq], value [Tk, dv], key [Tk, dk] (key = value when not given). */
  readonly queryInput: Float32Array;
  readonly valueInput: Float32Array;
  readonly keyInput: Float32Array;
  readonly queryInputDim: number;
  readonly valueInputDim: number;
  readonly keyInputDim: number;
  /** [H, Tq, keyDim], [H, Tk, keyDim], [H, Tk, valueDim]: projected (MHA) or the inputs themselves. */
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  /** [H, Tq, Tk] scores before masking; mask [Tq, Tk] (1 = may attend) when there is one. */
  readonly scores: Float32Array;
  readonly mask?: Float32Array;
  readonly weights: Float32Array;
  /** [H, Tq, valueDim] per-head context Σⱼ αᵢⱼ vⱼ; output [Tq, outputDim] (what the layer returns). */
  readonly context: Float32Array;
  readonly output: Float32Array;
  /** Learned score parameters: Luong's scalar scale / concat weight, Bahdanau's scale vector. */
  readonly scale?: Float32Array;
  readonly concatScoreWeight?: number;
  readonly causal: boolean;
  readonly scoreMode: 'scaled-dot' | 'dot' | 'concat' | 'additive';
}

/** What a layer computed, as tensors (batch first; freed by the caller's tf.tidy). */
export interface LayerAttention {
  /** [B, H, Tq, keyDim], [B, H, Tk, keyDim], [B, H, Tk, valueDim]. */
  readonly q: tf.Tensor;
  readonly k: tf.Tensor;
  readonly v: tf.Tensor;
  /** [B, H, Tq, Tk] before masking, and the weights; mask [B, Tq, Tk] (1 = may attend) when there is one. */
  readonly scores: tf.Tensor;
  readonly weights: tf.Tensor;
  readonly mask?: tf.Tensor;
  /** [B, H, Tq, valueDim] Σⱼ αᵢⱼ vⱼ; output [B, Tq, outputDim] (what the layer returns). */
  readonly context: tf.Tensor;
  readonly output: tf.Tensor;
}

export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
export type Kwargs = Record<string, unknown>;
export type Init = ReturnType<typeof tf.initializers.zeros>;
export type ConfigDict = tf.serialization.ConfigDict;

/** An initializer from a Keras/tfjs config ({className, config}), a name ('glorotUniform'), or the default. */
export function initializerFrom(spec: unknown, fallback: () => Init): Init {
  if (spec === undefined || spec === null) return fallback();
  if (spec instanceof tf.serialization.Serializable) return spec as Init;
  let className: string | undefined;
  let config: ConfigDict = {};
  if (typeof spec === 'string') className = spec.charAt(0).toUpperCase() + spec.slice(1);
  else if (typeof spec === 'object') {
    const s = spec as Record<string, unknown>;
    className =
      typeof s.className === 'string' ? s.className : typeof s.class_name === 'string' ? s.class_name : undefined;
    if (s.config && typeof s.config === 'object') config = s.config as ConfigDict;
  }
  const entry = className ? tf.serialization.SerializationMap.getMap().classNameMap[className] : undefined;
  if (!entry) throw new Error(`unknown initializer ${JSON.stringify(spec)}`);
  return entry[1](entry[0], config) as Init;
}

export function serializeInit(init: Init): ConfigDict {
  return { className: init.getClassName(), config: init.getConfig() };
}

/** Keras' `causal` config / `use_causal_mask` call argument (snake or camel case). */
export function causalFlag(kwargs: Kwargs): boolean {
  return kwargs.useCausalMask === true || kwargs.use_causal_mask === true;
}

/** [1, Tq, Tk]: query i may attend to keys j ≤ i (Keras aligns at the top-left: no query offset). */
export function causalMask(tq: number, tk: number): tf.Tensor3D {
  return tf.tensor3d(allowedMask({ queries: tq, keys: tk, causal: true }), [1, tq, tk]);
}

/** Merges the causal mask and Keras masks into one float [B, Tq, Tk] mask (1 = may attend), or undefined. */
export function combinedMask(
  b: number,
  tq: number,
  tk: number,
  causal: boolean,
  queryMask?: tf.Tensor,
  valueMask?: tf.Tensor,
): tf.Tensor3D | undefined {
  let m: tf.Tensor | undefined;
  const and = (x: tf.Tensor): void => {
    m = m ? tf.mul(m, x) : x;
  };
  if (causal) and(causalMask(tq, tk));
  if (valueMask) and(tf.cast(valueMask, 'float32').reshape([b, 1, tk]));
  if (queryMask) and(tf.cast(queryMask, 'float32').reshape([b, tq, 1]));
  return m ? (tf.mul(m, tf.ones([b, tq, tk])) as tf.Tensor3D) : undefined; // broadcast to [B, Tq, Tk]
}

export function maskList(mask: unknown): (tf.Tensor | undefined)[] {
  if (mask instanceof tf.Tensor) return [mask];
  if (Array.isArray(mask)) return mask.map((m) => (m instanceof tf.Tensor ? m : undefined));
  return [];
}

export function asList(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(inputs) ? inputs : [inputs];
}

export function shapeList(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
  return Array.isArray(inputShape[0]) || inputShape[0] === undefined
    ? (inputShape as tf.Shape[])
    : [inputShape as tf.Shape];
}

export function requireRank3(shape: tf.Shape, layer: string, what: string): void {
  if (shape.length !== 3)
    throw new Error(
      `${layer}: the ${what} must have shape [batch, time, features]; got [${shape.join(', ')}] (only attention over one time axis is supported).`,
    );
}

/** The dropout rate to apply to the weights: the layer's rate while training, else none. */
export function dropoutRate(rate: number, kwargs: Kwargs): number {
  return rate > 0 && rate < 1 && kwargs.training === true ? rate : 0;
}

/** The first batch element of a tensor, as numbers. */
export const first = (t: tf.Tensor): Float32Array => f32(tf.slice(t, 0, 1));

/** The record of what a layer computed, from its tensors (first batch element) and its own facts. */
export function recordOf(
  a: LayerAttention,
  inputs: { query: tf.Tensor; value: tf.Tensor; key: tf.Tensor },
  facts: Pick<
    AttentionLayerRecord,
    | 'layer'
    | 'className'
    | 'heads'
    | 'keyDim'
    | 'valueDim'
    | 'outputDim'
    | 'causal'
    | 'scoreMode'
    | 'scale'
    | 'concatScoreWeight'
  >,
): AttentionLayerRecord {
  const { query, value, key } = inputs;
  return {
    ...facts,
    queryCount: query.shape[1]!,
    keyCount: key.shape[1]!,
    queryInput: first(query),
    valueInput: first(value),
    keyInput: first(key),
    queryInputDim: query.shape[2]!,
    valueInputDim: value.shape[2]!,
    keyInputDim: key.shape[2]!,
    q: first(a.q),
    k: first(a.k),
    v: first(a.v),
    scores: first(a.scores),
    ...(a.mask ? { mask: first(a.mask) } : {}),
    weights: first(a.weights),
    context: first(a.context),
    output: first(a.output),
  };
}

/** The [query, value, key] a layer was given (value = query and key = value when left out). */
export function qvk(inputs: tf.Tensor | tf.Tensor[]): {
  list: tf.Tensor[];
  query: tf.Tensor;
  value: tf.Tensor;
  key: tf.Tensor;
} {
  const list = asList(inputs);
  const query = list[0]!;
  const value = list[1] ?? query;
  return { list, query, value, key: list[2] ?? value };
}

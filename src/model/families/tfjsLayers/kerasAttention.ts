// Keras's three attention layers as TensorFlow.js custom layers, with Keras's class names, config
// keys and weight names, so a layers-format model.json written by tensorflowjs_converter from a
// Keras 2 model (or by tfjs's own model.save) loads with tf.loadLayersModel:
//
//   MultiHeadAttention  num_heads, key_dim, value_dim, dropout, use_bias, output_shape, attention_axes
//                       weights <name>/query/kernel [d, H, key_dim], <name>/query/bias [H, key_dim],
//                       key/…, value/… ([d_v, H, value_dim]), attention_output/kernel [H, value_dim, d_out],
//                       attention_output/bias [d_out]  (Keras 2's EinsumDense layout).
//   Attention           Luong: use_scale (scalar "scale"), score_mode 'dot' | 'concat'
//                       ("concat_score_weight"), causal; inputs [query, value] or [query, value, key].
//   AdditiveAttention   Bahdanau: use_scale (vector "scale" of size dim); scores = Σ scale·tanh(q + k).
//
// Inputs are [batch, time, features] tensors (attention over the time axis, the Keras default).
// Every layer computes through the shared attention core (attend with its score function, Keras's
// −10⁹ softmax, causal masks from mask.ts). `computeAttention` returns the weights with the output,
// as tfjs-layers' callAndReturnAttentionScores does; `call` returns the output alone, and
// `callAndReturnAttention` reads everything out for the trace (first batch element). No vscode import.
import { tf } from '../../runtime/backend';
import { attend, type AttendOutput } from '../../attention/attend';
import { allowedMask } from '../../attention/mask';
import { largeNegativeSoftmax } from '../../attention/normalisers';
import { dotScores, tanhSumScores, type ScoreFn } from '../../attention/scores';
import { f32 } from '../../trace/transformerStages';

export type KerasAttentionClass = 'MultiHeadAttention' | 'Attention' | 'AdditiveAttention';
export const KERAS_ATTENTION_CLASSES: readonly KerasAttentionClass[] = ['MultiHeadAttention', 'Attention', 'AdditiveAttention'];

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

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type Kwargs = Record<string, unknown>;
type Init = ReturnType<typeof tf.initializers.zeros>;
type ConfigDict = tf.serialization.ConfigDict;

/** An initializer from a Keras/tfjs config ({className, config}), a name ('glorotUniform'), or the default. */
function initializerFrom(spec: unknown, fallback: () => Init): Init {
  if (spec === undefined || spec === null) return fallback();
  if (spec instanceof tf.serialization.Serializable) return spec as Init;
  let className: string | undefined;
  let config: ConfigDict = {};
  if (typeof spec === 'string') className = spec.charAt(0).toUpperCase() + spec.slice(1);
  else if (typeof spec === 'object') {
    const s = spec as Record<string, unknown>;
    className = typeof s.className === 'string' ? s.className : typeof s.class_name === 'string' ? s.class_name : undefined;
    if (s.config && typeof s.config === 'object') config = s.config as ConfigDict;
  }
  const entry = className ? tf.serialization.SerializationMap.getMap().classNameMap[className] : undefined;
  if (!entry) throw new Error(`unknown initializer ${JSON.stringify(spec)}`);
  return entry[1](entry[0], config) as Init;
}

function serializeInit(init: Init): ConfigDict {
  return { className: init.getClassName(), config: init.getConfig() };
}

/** Keras' `causal` config / `use_causal_mask` call argument (snake or camel case). */
function causalFlag(kwargs: Kwargs): boolean {
  return kwargs.useCausalMask === true || kwargs.use_causal_mask === true;
}

/** [1, Tq, Tk]: query i may attend to keys j ≤ i (Keras aligns at the top-left: no query offset). */
function causalMask(tq: number, tk: number): tf.Tensor3D {
  return tf.tensor3d(allowedMask({ queries: tq, keys: tk, causal: true }), [1, tq, tk]);
}

/** Merges the causal mask and Keras masks into one float [B, Tq, Tk] mask (1 = may attend), or undefined. */
function combinedMask(b: number, tq: number, tk: number, causal: boolean, queryMask?: tf.Tensor, valueMask?: tf.Tensor): tf.Tensor3D | undefined {
  let m: tf.Tensor | undefined;
  const and = (x: tf.Tensor): void => {
    m = m ? tf.mul(m, x) : x;
  };
  if (causal) and(causalMask(tq, tk));
  if (valueMask) and(tf.cast(valueMask, 'float32').reshape([b, 1, tk]));
  if (queryMask) and(tf.cast(queryMask, 'float32').reshape([b, tq, 1]));
  return m ? (tf.mul(m, tf.ones([b, tq, tk])) as tf.Tensor3D) : undefined; // broadcast to [B, Tq, Tk]
}

function maskList(mask: unknown): (tf.Tensor | undefined)[] {
  if (mask instanceof tf.Tensor) return [mask];
  if (Array.isArray(mask)) return mask.map((m) => (m instanceof tf.Tensor ? m : undefined));
  return [];
}

function asList(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(inputs) ? inputs : [inputs];
}

function shapeList(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
  return Array.isArray(inputShape[0]) || inputShape[0] === undefined ? (inputShape as tf.Shape[]) : [inputShape as tf.Shape];
}

function requireRank3(shape: tf.Shape, layer: string, what: string): void {
  if (shape.length !== 3) throw new Error(`${layer}: the ${what} must have shape [batch, time, features]; got [${shape.join(', ')}] (only attention over one time axis is supported).`);
}

/** The dropout rate to apply to the weights: the layer's rate while training, else none. */
function dropoutRate(rate: number, kwargs: Kwargs): number {
  return rate > 0 && rate < 1 && kwargs.training === true ? rate : 0;
}

/** Runs `f` in a tf.tidy and hands back what it read out (tf.tidy itself returns only tensors). */
function readOut<T>(f: () => T): T {
  let out!: T;
  tf.tidy(() => {
    out = f();
  });
  return out;
}

/** The first batch element of a tensor, as numbers. */
const first = (t: tf.Tensor): Float32Array => f32(tf.slice(t, 0, 1));

/** The record of what a layer computed, from its tensors (first batch element) and its own facts. */
function recordOf(
  a: LayerAttention,
  inputs: { query: tf.Tensor; value: tf.Tensor; key: tf.Tensor },
  facts: Pick<AttentionLayerRecord, 'layer' | 'className' | 'heads' | 'keyDim' | 'valueDim' | 'outputDim' | 'causal' | 'scoreMode' | 'scale' | 'concatScoreWeight'>,
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
function qvk(inputs: tf.Tensor | tf.Tensor[]): { list: tf.Tensor[]; query: tf.Tensor; value: tf.Tensor; key: tf.Tensor } {
  const list = asList(inputs);
  const query = list[0]!;
  const value = list[1] ?? query;
  return { list, query, value, key: list[2] ?? value };
}

// ---------------------------------------------------------------------------------------------
// MultiHeadAttention

export interface MultiHeadAttentionArgs extends LayerArgs {
  numHeads: number;
  keyDim: number;
  valueDim?: number | null;
  dropout?: number;
  useBias?: boolean;
  outputShape?: number | number[] | null;
  attentionAxes?: number | number[] | null;
  /**
   * Not a Keras config key (Keras passes use_causal_mask when calling the layer), but tfjs's
   * predict and fit drop call arguments, so the causal mask lives in the config here; the loader
   * moves a Keras model's call argument into it.
   */
  useCausalMask?: boolean;
  kernelInitializer?: unknown;
  biasInitializer?: unknown;
  /** Written by Keras 2 (and by this class) so the layer can build before it is called. */
  queryShape?: tf.Shape | null;
  keyShape?: tf.Shape | null;
  valueShape?: tf.Shape | null;
}

export class MultiHeadAttention extends tf.layers.Layer {
  static readonly className = 'MultiHeadAttention';
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly dropout: number;
  readonly useBias: boolean;
  readonly outputDimArg: number | undefined;
  readonly attentionAxes: number[] | null;
  readonly useCausalMask: boolean;
  private readonly kernelInit: Init;
  private readonly biasInit: Init;
  private shapes: { query: tf.Shape; key: tf.Shape; value: tf.Shape } | undefined;
  private w: Record<'qk' | 'qb' | 'kk' | 'kb' | 'vk' | 'vb' | 'ok' | 'ob', tf.LayerVariable | undefined> = {
    qk: undefined,
    qb: undefined,
    kk: undefined,
    kb: undefined,
    vk: undefined,
    vb: undefined,
    ok: undefined,
    ob: undefined,
  };

  constructor(args: MultiHeadAttentionArgs) {
    super(args);
    const posInt = (v: unknown, what: string): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`MultiHeadAttention: ${what} must be a positive integer, not ${JSON.stringify(v)}.`);
      return v;
    };
    this.numHeads = posInt(args.numHeads, 'num_heads');
    this.keyDim = posInt(args.keyDim, 'key_dim');
    this.valueDim = args.valueDim === undefined || args.valueDim === null ? this.keyDim : posInt(args.valueDim, 'value_dim');
    this.dropout = args.dropout ?? 0;
    this.useBias = args.useBias ?? true;
    this.useCausalMask = args.useCausalMask ?? false;
    const os = args.outputShape;
    if (os === undefined || os === null) this.outputDimArg = undefined;
    else if (typeof os === 'number') this.outputDimArg = posInt(os, 'output_shape');
    else if (Array.isArray(os) && os.length === 1) this.outputDimArg = posInt(os[0], 'output_shape');
    else throw new Error(`MultiHeadAttention: output_shape ${JSON.stringify(os)} is not supported; give one number (the output feature size).`);
    const axes = args.attentionAxes;
    this.attentionAxes = axes === undefined || axes === null ? null : Array.isArray(axes) ? axes.slice() : [axes];
    if (this.attentionAxes && !(this.attentionAxes.length === 1 && (this.attentionAxes[0] === 1 || this.attentionAxes[0] === -2))) {
      throw new Error(`MultiHeadAttention: attention_axes ${JSON.stringify(axes)} is not supported; only attention over the time axis of [batch, time, features] inputs (attention_axes null or [1]).`);
    }
    this.kernelInit = initializerFrom(args.kernelInitializer, () => tf.initializers.glorotUniform({}));
    this.biasInit = initializerFrom(args.biasInitializer, () => tf.initializers.zeros());
    this.supportsMasking = true;
    // Keras 2 builds from the saved shapes in from_config; here the weights are made when the layer is
    // first applied (inside its name scope, so they get Keras's names "<layer>/query/kernel", …).
    const { queryShape, keyShape, valueShape } = args;
    if (queryShape && valueShape) this.savedShapes = { query: queryShape, value: valueShape, key: keyShape ?? valueShape };
  }

  private savedShapes: { query: tf.Shape; key: tf.Shape; value: tf.Shape } | undefined;

  get outputDim(): number {
    return this.outputDimArg ?? (this.shapes?.query[2] as number);
  }

  private buildFromSignature(query: tf.Shape, value: tf.Shape, key: tf.Shape): void {
    if (this.shapes) return;
    requireRank3(query, this.name, 'query');
    requireRank3(value, this.name, 'value');
    requireRank3(key, this.name, 'key');
    const dq = query[2];
    const dk = key[2];
    const dv = value[2];
    if (typeof dq !== 'number' || typeof dk !== 'number' || typeof dv !== 'number') throw new Error(`${this.name}: the feature sizes of query, key and value must be known.`);
    this.shapes = { query, key, value };
    const H = this.numHeads;
    const dOut = this.outputDimArg ?? dq;
    this.w.qk = this.addWeight('query/kernel', [dq, H, this.keyDim], 'float32', this.kernelInit);
    this.w.kk = this.addWeight('key/kernel', [dk, H, this.keyDim], 'float32', this.kernelInit);
    this.w.vk = this.addWeight('value/kernel', [dv, H, this.valueDim], 'float32', this.kernelInit);
    this.w.ok = this.addWeight('attention_output/kernel', [H, this.valueDim, dOut], 'float32', this.kernelInit);
    if (this.useBias) {
      this.w.qb = this.addWeight('query/bias', [H, this.keyDim], 'float32', this.biasInit);
      this.w.kb = this.addWeight('key/bias', [H, this.keyDim], 'float32', this.biasInit);
      this.w.vb = this.addWeight('value/bias', [H, this.valueDim], 'float32', this.biasInit);
      this.w.ob = this.addWeight('attention_output/bias', [dOut], 'float32', this.biasInit);
    }
    this.built = true;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = shapeList(inputShape);
    const query = s[0]!;
    const value = s[1] ?? query;
    const key = s[2] ?? value;
    const saved = this.savedShapes;
    if (saved && (saved.query[2] !== query[2] || saved.value[2] !== value[2] || saved.key[2] !== key[2])) {
      throw new Error(
        `${this.name}: its config says query/value/key have ${saved.query[2]}/${saved.value[2]}/${saved.key[2]} features, but it is applied to ${query[2]}/${value[2]}/${key[2]}.`,
      );
    }
    this.buildFromSignature(query, value, key);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const q = shapeList(inputShape)[0]!;
    return [q[0]!, q[1]!, this.outputDimArg ?? q[2]!];
  }

  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return maskList(mask)[0] as tf.Tensor;
  }

  /** [B, T, d] × [d, H, n] (+ [H, n]) → [B, H, T, n]. */
  private project(x: tf.Tensor, kernel: tf.LayerVariable, bias: tf.LayerVariable | undefined, n: number): tf.Tensor4D {
    const [B, T, d] = x.shape as [number, number, number];
    const H = this.numHeads;
    let y = tf.matMul(x.reshape([B * T, d]), kernel.read().reshape([d, H * n]));
    if (bias) y = tf.add(y, bias.read().reshape([H * n]));
    return tf.transpose(y.reshape([B, T, H, n]), [0, 2, 1, 3]) as tf.Tensor4D;
  }

  /** [B, H, T, n] → [B·H, T, n]: the core's leading axis is batch × head. */
  private static flatHeads(x: tf.Tensor): tf.Tensor3D {
    const [B, H, T, n] = x.shape as [number, number, number, number];
    return tf.reshape(x, [B * H, T, n]);
  }

  /** Q, K, V, scores, mask, weights, context and output of one call (inside the caller's tf.tidy). */
  computeAttention(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): LayerAttention {
    const { list, query, value, key } = qvk(inputs);
    const masks = maskList(kwargs.mask);
    const H = this.numHeads;
    const kd = this.keyDim;
    const vd = this.valueDim;
    const [B, Tq] = query.shape as [number, number, number];
    const Tk = key.shape[1]!;
    const w = this.w;
    const q = this.project(query, w.qk!, w.qb, kd); // [B, Tq, d_q] → [B, H, Tq, kd]
    const k = this.project(key, w.kk!, w.kb, kd); // [B, Tk, d_k] → [B, H, Tk, kd]
    const v = this.project(value, w.vk!, w.vb, vd); // [B, Tk, d_v] → [B, H, Tk, vd]
    const causal = this.useCausalMask || causalFlag(kwargs);
    const mask = combinedMask(B, Tq, Tk, causal, masks[0], masks[2] ?? masks[1] ?? (list.length === 1 ? masks[0] : undefined)); // [B, Tq, Tk]
    // The core's leading axis is B·H, so each batch element's mask is repeated for its H heads.
    const maskBH = mask && (B === 1 ? mask : tf.reshape(tf.tile(tf.expandDims(mask, 1), [1, H, 1, 1]), [B * H, Tq, Tk])); // [B, Tq, Tk] → [B·H, Tq, Tk]
    const a: AttendOutput = attend({
      q: MultiHeadAttention.flatHeads(q),
      k: MultiHeadAttention.flatHeads(k),
      v: MultiHeadAttention.flatHeads(v),
      score: 'scaled-dot', // Keras: (q / √key_dim) · k
      normaliser: largeNegativeSoftmax,
      ...(maskBH ? { mask: maskBH } : {}),
      dropout: dropoutRate(this.dropout, kwargs),
    });
    const context = tf.reshape(a.context, [B, H, Tq, vd]); // [B·H, Tq, vd] → [B, H, Tq, vd]
    const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [B * Tq, H * vd]); // → [B, Tq, H, vd] → [B·Tq, H·vd]
    const dOut = this.outputDim;
    let out = tf.matMul(merged, w.ok!.read().reshape([H * vd, dOut])); // [B·Tq, H·vd] → [B·Tq, d_out]
    if (w.ob) out = tf.add(out, w.ob.read());
    return {
      q,
      k,
      v,
      scores: tf.reshape(a.scores, [B, H, Tq, Tk]), // [B·H, Tq, Tk] → [B, H, Tq, Tk]
      weights: tf.reshape(a.weights, [B, H, Tq, Tk]),
      ...(mask ? { mask } : {}),
      context,
      output: out.reshape([B, Tq, dOut]), // [B·Tq, d_out] → [B, Tq, d_out]
    };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => this.computeAttention(inputs, kwargs).output);
  }

  /** The same computation as call(), read out for the trace (first batch element). */
  callAndReturnAttention(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): AttentionLayerRecord {
    return readOut(() => {
      const a = this.computeAttention(inputs, kwargs);
      const causal = this.useCausalMask || causalFlag(kwargs);
      return recordOf(a, qvk(inputs), { layer: this.name, className: 'MultiHeadAttention', heads: this.numHeads, keyDim: this.keyDim, valueDim: this.valueDim, outputDim: this.outputDim, causal, scoreMode: 'scaled-dot' });
    });
  }

  override getConfig(): ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      dropout: this.dropout,
      useBias: this.useBias,
      outputShape: this.outputDimArg ?? null,
      attentionAxes: this.attentionAxes,
      ...(this.useCausalMask ? { useCausalMask: true } : {}),
      kernelInitializer: serializeInit(this.kernelInit),
      biasInitializer: serializeInit(this.biasInit),
      kernelRegularizer: null,
      biasRegularizer: null,
      activityRegularizer: null,
      kernelConstraint: null,
      biasConstraint: null,
      queryShape: this.shapes ? this.shapes.query : null,
      keyShape: this.shapes ? this.shapes.key : null,
      valueShape: this.shapes ? this.shapes.value : null,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Attention (Luong) and AdditiveAttention (Bahdanau): Keras's BaseDenseAttention family

interface DenseAttentionArgs extends LayerArgs {
  useScale?: boolean;
  dropout?: number;
  causal?: boolean;
}

export interface LuongAttentionArgs extends DenseAttentionArgs {
  scoreMode?: 'dot' | 'concat';
}

abstract class DenseAttention extends tf.layers.Layer {
  readonly useScale: boolean;
  readonly dropout: number;
  readonly causal: boolean;

  constructor(args: DenseAttentionArgs, useScaleDefault: boolean) {
    super(args);
    this.useScale = args.useScale ?? useScaleDefault;
    this.dropout = args.dropout ?? 0;
    this.causal = args.causal ?? false;
    this.supportsMasking = true;
  }

  /** The layer's score function over [B, Tq, d] queries and [B, Tk, d] keys (B is the core's leading axis). */
  protected abstract readonly score: ScoreFn;
  protected abstract describe(): Pick<AttentionLayerRecord, 'className' | 'scale' | 'concatScoreWeight' | 'scoreMode'>;

  protected inputList(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    const list = asList(inputs);
    // One tensor is self-attention (query = value = key), as the loader writes it for [x, x].
    if (list.length > 3) throw new Error(`${this.name}: expects a list [query, value] or [query, value, key]; got ${list.length} inputs.`);
    return list;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = shapeList(inputShape);
    const q = s[0]!;
    const v = s[1] ?? q;
    return [q[0]!, q[1]!, v[2]!];
  }

  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return maskList(mask)[0] as tf.Tensor;
  }

  /** Scores, mask, weights, context and output of one call (inside the caller's tf.tidy); heads = 1. */
  computeAttention(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): LayerAttention {
    const { list, query, value, key } = qvk(this.inputList(inputs));
    const masks = maskList(kwargs.mask);
    if (list.length === 1) masks[1] = masks[0];
    const [B, Tq] = query.shape as [number, number, number];
    const Tk = value.shape[1]!;
    const causal = this.causal || causalFlag(kwargs);
    // Keras: scores −= 1e9·(1 − mask) over the value mask and the causal mask; the query mask zeroes output rows.
    const mask = combinedMask(B, Tq, Tk, causal, undefined, masks[1]); // [B, Tq, Tk]
    const a = attend({ q: query, k: key, v: value, score: this.score, normaliser: largeNegativeSoftmax, ...(mask ? { mask } : {}), dropout: dropoutRate(this.dropout, kwargs) }); // [B, Tq, Tk], [B, Tq, d_v]
    const output = masks[0] ? tf.mul(a.context, tf.cast(masks[0], 'float32').reshape([B, Tq, 1])) : a.context; // query mask [B, Tq] → [B, Tq, 1]
    const one = (t: tf.Tensor): tf.Tensor => tf.expandDims(t, 1); // [B, …] → [B, 1, …]: one head
    return { q: one(query), k: one(key), v: one(value), scores: one(a.scores), weights: one(a.weights), ...(mask ? { mask } : {}), context: one(a.context), output };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => this.computeAttention(inputs, kwargs).output);
  }

  /** The same computation as call(), read out for the trace (first batch element). */
  callAndReturnAttention(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): AttentionLayerRecord {
    return readOut(() => {
      const a = this.computeAttention(inputs, kwargs);
      const { query, value } = qvk(this.inputList(inputs));
      const dq = query.shape[2]!;
      const dv = value.shape[2]!;
      return recordOf(a, qvk(this.inputList(inputs)), { layer: this.name, heads: 1, keyDim: dq, valueDim: dv, outputDim: dv, causal: this.causal || causalFlag(kwargs), ...this.describe() });
    });
  }

  override getConfig(): ConfigDict {
    return { ...super.getConfig(), useScale: this.useScale, dropout: this.dropout, causal: this.causal };
  }
}

export class Attention extends DenseAttention {
  static readonly className = 'Attention';
  readonly scoreMode: 'dot' | 'concat';
  private scale: tf.LayerVariable | undefined;
  private concatScoreWeight: tf.LayerVariable | undefined;

  constructor(args: LuongAttentionArgs = {}) {
    super(args, false);
    const mode = args.scoreMode ?? 'dot';
    if (mode !== 'dot' && mode !== 'concat') throw new Error(`Attention: score_mode must be "dot" or "concat", not ${JSON.stringify(mode)}.`);
    this.scoreMode = mode;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = shapeList(inputShape);
    for (const [i, x] of s.entries()) requireRank3(x, this.name, ['query', 'value', 'key'][i] ?? 'input');
    const k = s[2] ?? s[1] ?? s[0]!;
    if (s[0]![2] !== k[2]) throw new Error(`${this.name}: query and key must have the same feature size for a dot product; got ${s[0]![2]} and ${k[2]}.`);
    if (this.useScale) this.scale = this.addWeight('scale', [], 'float32', tf.initializers.ones());
    if (this.scoreMode === 'concat') this.concatScoreWeight = this.addWeight('concat_score_weight', [], 'float32', tf.initializers.ones());
    this.built = true;
  }

  protected readonly score: ScoreFn = (q, k) => {
    if (this.scoreMode === 'dot') return this.scale ? (tf.mul(dotScores(q, k), this.scale.read()) as tf.Tensor3D) : dotScores(q, k); // s · q·k
    return tanhSumScores(q, k, { weights: this.concatScoreWeight!.read(), ...(this.scale ? { inner: this.scale.read() } : {}) }); // c · Σ_d tanh(s·(q_d + k_d))
  };

  protected describe(): Pick<AttentionLayerRecord, 'className' | 'scale' | 'concatScoreWeight' | 'scoreMode'> {
    return {
      className: 'Attention',
      scoreMode: this.scoreMode,
      ...(this.scale ? { scale: f32(this.scale.read()) } : {}),
      ...(this.concatScoreWeight ? { concatScoreWeight: f32(this.concatScoreWeight.read())[0]! } : {}),
    };
  }

  override getConfig(): ConfigDict {
    return { ...super.getConfig(), scoreMode: this.scoreMode };
  }
}

export class AdditiveAttention extends DenseAttention {
  static readonly className = 'AdditiveAttention';
  private scale: tf.LayerVariable | undefined;

  constructor(args: DenseAttentionArgs = {}) {
    super(args, true);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = shapeList(inputShape);
    for (const [i, x] of s.entries()) requireRank3(x, this.name, ['query', 'value', 'key'][i] ?? 'input');
    const dim = (s[1] ?? s[0]!)[2];
    const k = s[2] ?? s[1] ?? s[0]!;
    if (s[0]![2] !== k[2]) throw new Error(`${this.name}: query and key must have the same feature size to be added; got ${s[0]![2]} and ${k[2]}.`);
    if (this.useScale) this.scale = this.addWeight('scale', [dim as number], 'float32', tf.initializers.glorotUniform({}));
    this.built = true;
  }

  protected readonly score: ScoreFn = (q, k) => tanhSumScores(q, k, this.scale ? { weights: this.scale.read() } : {}); // Σ_d v_d · tanh(q_d + k_d)

  protected describe(): Pick<AttentionLayerRecord, 'className' | 'scale' | 'concatScoreWeight' | 'scoreMode'> {
    return { className: 'AdditiveAttention', scoreMode: 'additive', ...(this.scale ? { scale: f32(this.scale.read()) } : {}) };
  }
}

// The three classes in tfjs's serialization map, so tf.loadLayersModel finds them (on import).
tf.serialization.registerClass(MultiHeadAttention);
tf.serialization.registerClass(Attention);
tf.serialization.registerClass(AdditiveAttention);

export type KerasAttentionLayer = MultiHeadAttention | Attention | AdditiveAttention;

export function isKerasAttentionLayer(layer: unknown): layer is KerasAttentionLayer {
  return layer instanceof MultiHeadAttention || layer instanceof Attention || layer instanceof AdditiveAttention;
}

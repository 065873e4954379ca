// Keras's MultiHeadAttention (Keras 2's EinsumDense weight layout, config keys and weight names),
// computing through the shared attention core: heads split into the core's leading axis (B·H),
// scaled-dot scores, Keras's −10⁹ softmax, weights returned with the output.
import { tf } from '../../runtime/backend';
import { attend, type AttendOutput } from '../../attention/attend';
import { largeNegativeSoftmax } from '../../attention/normalisers';
import {
  type AttentionLayerRecord,
  type ConfigDict,
  type Init,
  type Kwargs,
  type LayerArgs,
  type LayerAttention,
  causalFlag,
  combinedMask,
  dropoutRate,
  initializerFrom,
  maskList,
  qvk,
  recordOf,
  requireRank3,
  serializeInit,
  shapeList,
} from './kerasParts';
import { readOut } from '../../runtime/read';

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
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
        throw new Error(`MultiHeadAttention: ${what} must be a positive integer, not ${JSON.stringify(v)}.`);
      return v;
    };
    this.numHeads = posInt(args.numHeads, 'num_heads');
    this.keyDim = posInt(args.keyDim, 'key_dim');
    this.valueDim =
      args.valueDim === undefined || args.valueDim === null ? this.keyDim : posInt(args.valueDim, 'value_dim');
    this.dropout = args.dropout ?? 0;
    this.useBias = args.useBias ?? true;
    this.useCausalMask = args.useCausalMask ?? false;
    const os = args.outputShape;
    if (os === undefined || os === null) this.outputDimArg = undefined;
    else if (typeof os === 'number') this.outputDimArg = posInt(os, 'output_shape');
    else if (Array.isArray(os) && os.length === 1) this.outputDimArg = posInt(os[0], 'output_shape');
    else
      throw new Error(
        `MultiHeadAttention: output_shape ${JSON.stringify(os)} is not supported; give one number (the output feature size).`,
      );
    const axes = args.attentionAxes;
    this.attentionAxes = axes === undefined || axes === null ? null : Array.isArray(axes) ? axes.slice() : [axes];
    if (
      this.attentionAxes &&
      !(this.attentionAxes.length === 1 && (this.attentionAxes[0] === 1 || this.attentionAxes[0] === -2))
    ) {
      throw new Error(
        `MultiHeadAttention: attention_axes ${JSON.stringify(axes)} is not supported; only attention over the time axis of [batch, time, features] inputs (attention_axes null or [1]).`,
      );
    }
    this.kernelInit = initializerFrom(args.kernelInitializer, () => tf.initializers.glorotUniform({}));
    this.biasInit = initializerFrom(args.biasInitializer, () => tf.initializers.zeros());
    this.supportsMasking = true;
    // Keras 2 builds from the saved shapes in from_config; here the weights are made when the layer is
    // first applied (inside its name scope, so they get Keras's names "<layer>/query/kernel", …).
    const { queryShape, keyShape, valueShape } = args;
    if (queryShape && valueShape)
      this.savedShapes = { query: queryShape, value: valueShape, key: keyShape ?? valueShape };
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
    if (typeof dq !== 'number' || typeof dk !== 'number' || typeof dv !== 'number')
      throw new Error(`${this.name}: the feature sizes of query, key and value must be known.`);
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
    const mask = combinedMask(
      B,
      Tq,
      Tk,
      causal,
      masks[0],
      masks[2] ?? masks[1] ?? (list.length === 1 ? masks[0] : undefined),
    ); // [B, Tq, Tk]
    // The core's leading axis is B·H, so each batch element's mask is repeated for its H heads.
    const maskBH =
      mask && (B === 1 ? mask : tf.reshape(tf.tile(tf.expandDims(mask, 1), [1, H, 1, 1]), [B * H, Tq, Tk])); // [B, Tq, Tk] → [B·H, Tq, Tk]
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
      return recordOf(a, qvk(inputs), {
        layer: this.name,
        className: 'MultiHeadAttention',
        heads: this.numHeads,
        keyDim: this.keyDim,
        valueDim: this.valueDim,
        outputDim: this.outputDim,
        causal,
        scoreMode: 'scaled-dot',
      });
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

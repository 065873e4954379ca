// Keras's Attention (Luong: dot or "concat" scores, scalar scale) and AdditiveAttention (Bahdanau:
// Σ scale·tanh(q + k)), its BaseDenseAttention family: no projections of their own, one head,
// computing through the shared attention core with the layer's own score function.
import { tf } from '../../runtime/backend';
import { attend } from '../../attention/attend';
import { largeNegativeSoftmax } from '../../attention/normalisers';
import { dotScores, tanhSumScores, type ScoreFn } from '../../attention/scores';
import { f32 } from '../../runtime/read';
import {
  type AttentionLayerRecord,
  type ConfigDict,
  type Kwargs,
  type LayerArgs,
  type LayerAttention,
  asList,
  causalFlag,
  combinedMask,
  dropoutRate,
  maskList,
  qvk,
  recordOf,
  requireRank3,
  shapeList,
} from './kerasParts';
import { readOut } from '../../runtime/read';

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
    if (list.length > 3)
      throw new Error(`${this.name}: expects a list [query, value] or [query, value, key]; got ${list.length} inputs.`);
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
    const a = attend({
      q: query,
      k: key,
      v: value,
      score: this.score,
      normaliser: largeNegativeSoftmax,
      ...(mask ? { mask } : {}),
      dropout: dropoutRate(this.dropout, kwargs),
    }); // [B, Tq, Tk], [B, Tq, d_v]
    const output = masks[0] ? tf.mul(a.context, tf.cast(masks[0], 'float32').reshape([B, Tq, 1])) : a.context; // query mask [B, Tq] → [B, Tq, 1]
    const one = (t: tf.Tensor): tf.Tensor => tf.expandDims(t, 1); // [B, …] → [B, 1, …]: one head
    return {
      q: one(query),
      k: one(key),
      v: one(value),
      scores: one(a.scores),
      weights: one(a.weights),
      ...(mask ? { mask } : {}),
      context: one(a.context),
      output,
    };
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
      return recordOf(a, qvk(this.inputList(inputs)), {
        layer: this.name,
        heads: 1,
        keyDim: dq,
        valueDim: dv,
        outputDim: dv,
        causal: this.causal || causalFlag(kwargs),
        ...this.describe(),
      });
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
    if (mode !== 'dot' && mode !== 'concat')
      throw new Error(`Attention: score_mode must be "dot" or "concat", not ${JSON.stringify(mode)}.`);
    this.scoreMode = mode;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = shapeList(inputShape);
    for (const [i, x] of s.entries()) requireRank3(x, this.name, ['query', 'value', 'key'][i] ?? 'input');
    const k = s[2] ?? s[1] ?? s[0]!;
    if (s[0]![2] !== k[2])
      throw new Error(
        `${this.name}: query and key must have the same feature size for a dot product; got ${s[0]![2]} and ${k[2]}.`,
      );
    if (this.useScale) this.scale = this.addWeight('scale', [], 'float32', tf.initializers.ones());
    if (this.scoreMode === 'concat')
      this.concatScoreWeight = this.addWeight('concat_score_weight', [], 'float32', tf.initializers.ones());
    this.built = true;
  }

  protected readonly score: ScoreFn = (q, k) => {
    if (this.scoreMode === 'dot')
      return this.scale ? (tf.mul(dotScores(q, k), this.scale.read()) as tf.Tensor3D) : dotScores(q, k); // s · q·k
    return tanhSumScores(q, k, {
      weights: this.concatScoreWeight!.read(),
      ...(this.scale ? { inner: this.scale.read() } : {}),
    }); // c · Σ_d tanh(s·(q_d + k_d))
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
    if (s[0]![2] !== k[2])
      throw new Error(
        `${this.name}: query and key must have the same feature size to be added; got ${s[0]![2]} and ${k[2]}.`,
      );
    if (this.useScale)
      this.scale = this.addWeight('scale', [dim as number], 'float32', tf.initializers.glorotUniform({}));
    this.built = true;
  }

  protected readonly score: ScoreFn = (q, k) => tanhSumScores(q, k, this.scale ? { weights: this.scale.read() } : {}); // Σ_d v_d · tanh(q_d + k_d)

  protected describe(): Pick<AttentionLayerRecord, 'className' | 'scale' | 'concatScoreWeight' | 'scoreMode'> {
    return {
      className: 'AdditiveAttention',
      scoreMode: 'additive',
      ...(this.scale ? { scale: f32(this.scale.read()) } : {}),
    };
  }
}

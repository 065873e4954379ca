// The fast multi-head softmax attention every Transformer family runs: heads split by one reshape +
// transpose, one 2-D product per head (tfjs-wasm's batched and transposeB matMuls are several times
// slower than its plain 2-D one: npm run bench), grouped-query heads by kvHeadOf, heads merged by
// the native transpose. Returns its weights with its output, as tfjs-layers'
// callAndReturnAttentionScores does. Call inside tf.tidy.
import { tf } from '../runtime/backend';
import { f32, READ_ALL, type Reader } from '../runtime/read';

/** kvHeadOf[h]: the key/value head query head h reads when `heads` query heads share `kvHeads` (GQA). */
export function groupedKvHeadOf(heads: number, kvHeads: number): number[] {
  if (heads % kvHeads !== 0) throw new Error(`${heads} query heads cannot share ${kvHeads} key/value heads evenly`);
  const group = heads / kvHeads;
  return Array.from({ length: heads }, (_, h) => Math.floor(h / group));
}

/** [T, H·hd] → [H, T, hd] */
export function splitHeads(x: tf.Tensor2D, heads: number, headDim: number): tf.Tensor3D {
  const [T, width] = x.shape;
  if (width !== heads * headDim) throw new Error(`splitHeads: input is ${T}×${width}, not T×${heads}·${headDim}`);
  return tf.transpose(tf.reshape(x, [T, heads, headDim]), [1, 0, 2]); // [T, H, hd] → [H, T, hd]
}

/** The tensors of one multi-head attention block, still on the tf side (inside a tidy). */
export interface MultiHeadTensors {
  /** [H, Tq, hd], [KV, Tk, hd], [KV, Tk, hd] (KV = H without grouped-query attention). */
  readonly q: tf.Tensor3D;
  readonly k: tf.Tensor3D;
  readonly v: tf.Tensor3D;
  /** Per head: [Tq, Tk] scaled scores (before any mask) and weights; read out without stacking. */
  readonly scores: readonly tf.Tensor2D[];
  readonly weights: readonly tf.Tensor2D[];
  /** [H, Tq, hd] contexts. */
  readonly context: tf.Tensor3D;
  /** [Tq, H·hd]: the heads' contexts side by side (before the output projection). */
  readonly merged: tf.Tensor2D;
}

export interface MultiHeadOptions {
  /** Scores are (q·k)·scale: 1/√hd for scaled dot, 1 for plain dot, or GPT-2's per-layer variants. */
  readonly scale: number;
  /** [Tq, Tk] of 0 or −∞, added to the scores before softmax (attention/mask.ts's additiveMask). */
  readonly mask?: tf.Tensor2D;
  /** Grouped-query attention: query head h reads key/value head kvHeadOf[h]; default h. */
  readonly kvHeadOf?: readonly number[];
  /** Soft-capping (Gemma 2): the scores become c·tanh(s/c) after scale and bias, before the mask; the recorded scores are capped. */
  readonly softCap?: number;
  /** [H, Tq, Tk] added to the scaled scores before the mask (T5's relative position bias); the recorded scores include it. */
  readonly bias?: tf.Tensor3D;
}

/**
 * Softmax attention of H query heads over KV key/value heads: q [H, Tq, hd], k and v [KV, Tk, hd]
 * (projections and positions already applied). Must be called inside tf.tidy.
 */
export function multiHead(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: MultiHeadOptions): MultiHeadTensors {
  const [H, Tq, hd] = q.shape;
  const [KV, Tk] = k.shape;
  if (k.shape[2] !== hd || v.shape[0] !== KV || v.shape[1] !== Tk) {
    throw new Error(
      `multiHead: q is ${q.shape.join('×')}, k ${k.shape.join('×')}, v ${v.shape.join('×')}; want [H, Tq, hd], [KV, Tk, hd], [KV, Tk, hd_v]`,
    );
  }
  const kvHeadOf = opts.kvHeadOf ?? Array.from({ length: H }, (_, h) => h);
  if (kvHeadOf.length !== H || kvHeadOf.some((g) => g < 0 || g >= KV))
    throw new Error(
      `multiHead: kvHeadOf ${JSON.stringify(kvHeadOf)} does not map ${H} query heads onto ${KV} key/value heads`,
    );
  const { scale, mask, bias, softCap } = opts;
  if (bias && (bias.shape[0] !== H || bias.shape[1] !== Tq || bias.shape[2] !== Tk))
    throw new Error(`multiHead: bias is ${bias.shape.join('×')}, expected ${H}×${Tq}×${Tk} [H, Tq, Tk]`);
  const biases = bias ? (tf.unstack(bias) as tf.Tensor2D[]) : undefined; // H × [Tq, Tk]
  // When the scale is a power of two (1/√d for d = 4, 16, 64, 256) it is exact, so it can go on the
  // queries ([Tq, hd] per head) instead of the scores ([Tq, Tk]): fewer multiplications, the same
  // bits. Otherwise the scores are scaled, as the references do.
  const exact = scale === 1 || Number.isInteger(Math.log2(scale));
  const qs = tf.unstack(exact && scale !== 1 ? tf.mul(q, scale) : q) as tf.Tensor2D[]; // H × [Tq, hd]
  const kTs = tf.unstack(tf.transpose(k, [0, 2, 1])) as tf.Tensor2D[]; // KV × [hd, Tk]
  const vs = tf.unstack(v) as tf.Tensor2D[]; // KV × [Tk, hd_v]
  const scores: tf.Tensor2D[] = [];
  const weights: tf.Tensor2D[] = [];
  const contexts: tf.Tensor2D[] = [];
  for (let h = 0; h < H; h++) {
    const g = kvHeadOf[h]!;
    const product = tf.matMul(qs[h]!, kTs[g]!) as tf.Tensor2D; // [Tq, Tk]
    const scaled = exact ? product : tf.mul<tf.Tensor2D>(product, scale);
    const biased = biases ? tf.add<tf.Tensor2D>(scaled, biases[h]!) : scaled;
    // Gemma 2's soft-capping, c·tanh(s/c), before the mask (as HF does): scores stay inside ±c.
    const s = softCap !== undefined ? tf.mul<tf.Tensor2D>(tf.tanh(tf.div(biased, softCap)), softCap) : biased;
    const a = tf.softmax(mask ? tf.add(s, mask) : s, -1) as tf.Tensor2D; // [Tq, Tk]
    scores.push(s);
    weights.push(a);
    contexts.push(tf.matMul(a, vs[g]!)); // [Tq, hd_v]
  }
  const context = tf.stack(contexts) as tf.Tensor3D; // H × [Tq, hd_v] → [H, Tq, hd_v]
  const dv = context.shape[2];
  // Heads side by side with the native transpose: tfjs-wasm's Concat along axis 1 copies row by row in JS.
  const merged = tf.reshape(tf.transpose(context, [1, 0, 2]), [Tq, H * dv]) as tf.Tensor2D; // [H, Tq, hd] → [Tq, H·hd]
  return { q, k, v, scores, weights, context, merged };
}

/** One attention block's numbers, pulled out of tf. */
export interface AttentionRecord {
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  readonly scores: Float32Array;
  readonly weights: Float32Array;
  readonly context: Float32Array;
  /** [Tq, d_model]: concat(heads) W_O + b_O, what attention adds to the residual stream. */
  readonly output: Float32Array;
  /** [H, Tq, Tk]: ‖αᵢⱼ vⱼ W_Oʰ‖ (Kobayashi et al., 2020), where the block has an output projection. */
  readonly valueNorms?: Float32Array;
}

/**
 * Value-weighted attention norms (Kobayashi et al., 2020, "Attention is Not Only a Weight"): per head
 * h, query i and key j, ‖αᵢⱼ^h · (vⱼ^h W_Oʰ)‖₂, where W_Oʰ is the rows [h·dv, (h+1)·dv) of the output
 * projection that head h's context occupies, and vⱼ^h the value of the K/V head h reads (grouped-query
 * attention shares it). W_O's bias is not part of it. Softmax weights are ≥ 0, so it is
 * αᵢⱼ·‖vⱼ^h W_Oʰ‖: this returns the lengths ‖vⱼ^h W_Oʰ‖ as [H, Tk] (one [Tk, dv]·[dv, D] product per
 * head), and `scaleByLengths` multiplies the weights read out of tf by them. Call inside tf.tidy.
 * `wo` is the output projection's kernel, [H·dv, D].
 */
export function valueLengths(m: MultiHeadTensors, wo: tf.Tensor2D, kvHeadOf?: readonly number[]): tf.Tensor2D {
  const H = m.weights.length;
  const dv = m.v.shape[2];
  if (wo.shape[0] !== H * dv)
    throw new Error(`valueLengths: W_O is ${wo.shape.join('×')}, expected ${H}·${dv} rows ([H·dv, D])`);
  const vs = tf.unstack(m.v) as tf.Tensor2D[]; // KV × [Tk, dv]
  const wos = tf.split(wo, H, 0) as tf.Tensor2D[]; // H × [dv, D]
  const vo = tf.stack(wos.map((w, h) => tf.matMul(vs[kvHeadOf?.[h] ?? h]!, w))); // H × [Tk, D] → [H, Tk, D]
  return tf.sqrt(tf.sum(tf.square(vo), 2)) as tf.Tensor2D; // [H, Tk]
}

/** weights [H, Tq, Tk] (read out) × lengths [H, Tk] along the keys → the norms ‖αᵢⱼ vⱼ W_Oʰ‖, [H, Tq, Tk]. */
export function scaleByLengths(
  weights: Float32Array,
  lengths: Float32Array,
  H: number,
  out: Float32Array = new Float32Array(weights.length),
): Float32Array {
  const Tk = lengths.length / H;
  const Tq = weights.length / (H * Tk);
  for (let h = 0; h < H; h++)
    for (let i = 0; i < Tq; i++) {
      const at = (h * Tq + i) * Tk;
      for (let j = 0; j < Tk; j++) out[at + j] = weights[at + j]! * lengths[h * Tk + j]!;
    }
  return out;
}

/**
 * The block's numbers read out of tf (by `read`: all, or light mode's small ones); with `wo` (the
 * output projection's kernel, [H·dv, D]) its value-weighted norms too.
 */
export function recordAttention(
  m: MultiHeadTensors,
  output: tf.Tensor2D,
  wo?: tf.Tensor2D,
  kvHeadOf?: readonly number[],
  read: Reader = READ_ALL,
): AttentionRecord {
  const weights = read.pooling ? read.pooling.weights(m.weights) : read.concat(m.weights);
  const H = m.weights.length;
  const norms = (): Float32Array =>
    read.reads(weights.length)
      ? scaleByLengths(weights, f32(valueLengths(m, wo!, kvHeadOf)), H)
      : read.pooling
        ? scaleByLengths(weights, f32(valueLengths(m, wo!, kvHeadOf)), H, read.pooling.norms(weights.length))
        : new Float32Array(weights.length);
  return {
    q: read.one(m.q),
    k: read.one(m.k),
    v: read.one(m.v),
    scores: read.concat(m.scores),
    weights,
    context: read.one(m.context),
    output: read.one(output),
    ...(wo ? { valueNorms: norms() } : {}),
  };
}

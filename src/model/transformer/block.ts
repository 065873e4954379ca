// One encoder/decoder layer for every Transformer family: norm kind and placement, rotary or no
// positions inside attention, grouped-query heads, biases where the weights have them, plain or
// gated MLP, causal or bidirectional self-attention and cross-attention, all from a BlockConfig.
// Returns the attention numbers with the output (no recorder side effects). Call inside tf.tidy.
import { tf } from '../runtime/backend';
import { f32, READ_ALL, type Reader } from '../runtime/read';
import { activate } from '../layers/activations';
import { dense, type Dense } from '../layers/linear';
import { norm, type NormConfig, type NormWeights } from '../layers/norms';
import { applyRope, type RopeTensors } from '../layers/positions';
import { groupedKvHeadOf, multiHead, recordAttention, splitHeads, type AttentionRecord } from '../attention/multiHead';
import { checkImplemented, type AttentionConfig, type BlockConfig } from './config';

export interface AttentionWeights {
  readonly q: Dense;
  readonly k: Dense;
  readonly v: Dense;
  readonly o: Dense;
  /** QK-norm (AttentionConfig.qkNorm): gains over head_dim, shared by all heads. */
  readonly qNorm?: NormWeights;
  readonly kNorm?: NormWeights;
}

export interface MlpWeights {
  /** Plain: W₁; gated: W_up. */
  readonly up: Dense;
  /** Gated MLP only. */
  readonly gate?: Dense;
  readonly down: Dense;
}

/** One layer's weights. The three norms sit before (pre-norm) or after (post-norm) their sub-block. */
export interface BlockWeights {
  readonly self: AttentionWeights;
  readonly selfNorm: NormWeights;
  readonly cross?: AttentionWeights;
  readonly crossNorm?: NormWeights;
  readonly mlp: MlpWeights;
  readonly mlpNorm: NormWeights;
  /** BlockConfig.postNorms (Gemma 2/3): the norms of attention's and the MLP's outputs. */
  readonly selfPostNorm?: NormWeights;
  readonly mlpPostNorm?: NormWeights;
}

/** What a layer needs besides its weights, shared by all layers of one forward pass. */
export interface BlockInputs {
  readonly layer: number;
  /** [T, T] additive mask for self-attention (attention/mask.ts), or none. */
  readonly selfMask?: tf.Tensor2D;
  /** The sliding window `selfMask` was built with (attention/mask.ts's `window`), if any. */
  readonly selfWindow?: number;
  /** Rotary tables for T positions when the config has rope. */
  readonly rope?: RopeTensors;
  /** [S, D]: the encoder's output, for cross-attention. */
  readonly memory?: tf.Tensor2D;
  /** [H, T, T] added to the self-attention scores before the mask (T5's relative position bias, shared by every layer). */
  readonly selfBias?: tf.Tensor3D;
  /** A decoding step (transformer/kvCache.ts): self-attention's keys and values of the earlier positions, put before this pass's. */
  readonly selfCache?: LayerKv;
}

/** One layer's key/value cache: `past` K and V ([KV, P, hd], after QK-norm and RoPE); `keep` stores the grown ones. */
export interface LayerKv {
  readonly past: { readonly k: tf.Tensor3D; readonly v: tf.Tensor3D } | undefined;
  keep(k: tf.Tensor3D, v: tf.Tensor3D): void;
}

/** A layer's numbers for the trace. Pre-norm: x → h = norm(x) → x₁ = x + attn(h) → … ; post-norm: x₁ = norm(x + attn(x)). */
export interface BlockRecord {
  /** x: the residual stream entering the layer. */
  readonly residual: Float32Array;
  /** What self-attention read: norm(x) (pre-norm) or x itself (post-norm). */
  readonly attnInput: Float32Array;
  readonly self: AttentionRecord;
  /** After self-attention: x + attn (pre-norm) or norm(x + attn) (post-norm). */
  readonly afterSelf: Float32Array;
  readonly cross?: AttentionRecord;
  readonly afterCross?: Float32Array;
  /** What the MLP read: norm(x₁) (pre-norm) or x₁ (post-norm). */
  readonly mlpInput: Float32Array;
  readonly output: Float32Array;
}

/** kvHeadOf for an attention config (identity without grouped-query attention). */
export function kvHeadOf(a: AttentionConfig): number[] {
  return groupedKvHeadOf(a.heads, a.kvHeads);
}

/** The norm of every head's vectors over head_dim: [H, T, hd] → [H, T, hd]. */
function headNorm(cfg: NormConfig, x: tf.Tensor3D, g: NormWeights | undefined, what: string): tf.Tensor3D {
  if (!g) throw new Error(`QK-norm needs ${what} weights`);
  const [H, T, hd] = x.shape;
  return tf.reshape(norm(cfg, tf.reshape(x, [H * T, hd]), g), [H, T, hd]); // [H·T, hd] → [H, T, hd]
}

/** Projections, positions and multi-head attention of `hq` over `hkv`; the output projection applied. */
function attention(
  hq: tf.Tensor2D,
  hkv: tf.Tensor2D,
  w: AttentionWeights,
  a: AttentionConfig,
  n: NormConfig,
  inputs: BlockInputs,
  mask: tf.Tensor2D | undefined,
  rope: RopeTensors | undefined,
  bias?: tf.Tensor3D,
  cache?: LayerKv,
) {
  let q = splitHeads(dense(hq, w.q), a.heads, a.headDim); // [Tq, H·hd] → [H, Tq, hd]
  let k = splitHeads(dense(hkv, w.k), a.kvHeads, a.headDim); // [Tk, KV·hd] → [KV, Tk, hd]
  let v = splitHeads(dense(hkv, w.v), a.kvHeads, a.headDim); // [Tk, KV·hd] → [KV, Tk, hd]
  if (a.qkNorm) {
    q = headNorm(n, q, w.qNorm, 'q_norm');
    k = headNorm(n, k, w.kNorm, 'k_norm');
  }
  if (rope) {
    q = applyRope(q, rope);
    k = applyRope(k, rope);
  }
  if (cache) {
    if (cache.past) {
      k = tf.concat([cache.past.k, k], 1); // [KV, P, hd] + [KV, Tk, hd] → [KV, P + Tk, hd]
      v = tf.concat([cache.past.v, v], 1);
    }
    cache.keep(k, v);
  }
  const m = multiHead(q, k, v, {
    scale: a.scale(inputs.layer),
    ...(mask ? { mask } : {}),
    ...(bias ? { bias } : {}),
    ...(a.softCap !== undefined ? { softCap: a.softCap } : {}),
    ...(a.kvHeads !== a.heads ? { kvHeadOf: kvHeadOf(a) } : {}),
  });
  const out = dense(m.merged, w.o); // [Tq, H·hd] → [Tq, D]
  return { m, out };
}

function mlp(h: tf.Tensor2D, w: MlpWeights, cfg: BlockConfig): tf.Tensor2D {
  const up = dense(h, w.up); // [T, D] → [T, inner]
  if (cfg.mlp.kind === 'plain') return dense(activate(cfg.mlp.activation, up), w.down); // [T, inner] → [T, D]
  if (!w.gate) throw new Error('a gated MLP needs gate weights');
  const gate = dense(h, w.gate); // [T, D] → [T, inner]
  return dense(tf.mul(activate(cfg.mlp.activation, gate), up) as tf.Tensor2D, w.down); // [T, inner] → [T, D]
}

/**
 * One layer: x [T, D] → [T, D], with its record when `record`, read by `read` (the residual x
 * always whole: light mode recomputes the layer from it). Must be called inside tf.tidy.
 */
export function transformerBlock(
  x: tf.Tensor2D,
  w: BlockWeights,
  cfg: BlockConfig,
  inputs: BlockInputs,
  record: boolean,
  read: Reader = READ_ALL,
): { out: tf.Tensor2D; record?: BlockRecord } {
  if (x.shape[1] !== cfg.dModel)
    throw new Error(`layer ${inputs.layer}: input is ${x.shape.join('×')}, expected T×${cfg.dModel}`);
  checkImplemented(cfg);
  const pre = cfg.placement === 'pre';
  const n = (v: tf.Tensor2D, g: NormWeights): tf.Tensor2D => norm(cfg.norm, v, g);
  const rope = cfg.self.rope ? inputs.rope : undefined;
  if (cfg.self.rope && !rope) throw new Error(`layer ${inputs.layer}: rotary positions need their tables`);
  const window = cfg.self.slidingWindow;
  if (window !== inputs.selfWindow) {
    throw new Error(
      window !== undefined
        ? `layer ${inputs.layer}: the Transformer block does not implement sliding-window attention without a mask built for its window ${window} (the mask's is ${inputs.selfWindow ?? 'none'})`
        : `layer ${inputs.layer}: the mask was built for a sliding window of ${inputs.selfWindow}, but this layer has none`,
    );
  }

  // Gemma 2/3: a sub-block's output is normalised before it joins the stream.
  const post = (v: tf.Tensor2D, g: NormWeights | undefined, what: string): tf.Tensor2D => {
    if (!cfg.postNorms) return v;
    if (!g) throw new Error(`layer ${inputs.layer}: post-norms need ${what} weights`);
    return n(v, g);
  };

  const h = pre ? n(x, w.selfNorm) : x;
  const self = attention(
    h,
    h,
    w.self,
    cfg.self,
    cfg.norm,
    inputs,
    inputs.selfMask,
    rope,
    inputs.selfBias,
    inputs.selfCache,
  );
  const x1 = pre
    ? (tf.add(x, post(self.out, w.selfPostNorm, 'selfPostNorm')) as tf.Tensor2D)
    : n(tf.add(x, self.out) as tf.Tensor2D, w.selfNorm);

  let x2 = x1;
  let cross: ReturnType<typeof attention> | undefined;
  if (cfg.cross) {
    if (!w.cross || !w.crossNorm || !inputs.memory)
      throw new Error(`layer ${inputs.layer}: cross-attention needs its weights and the encoder's output`);
    const hc = pre ? n(x1, w.crossNorm) : x1;
    cross = attention(hc, inputs.memory, w.cross, cfg.cross, cfg.norm, inputs, undefined, undefined);
    x2 = pre ? (tf.add(x1, cross.out) as tf.Tensor2D) : n(tf.add(x1, cross.out) as tf.Tensor2D, w.crossNorm);
  }

  // GPT-NeoX's parallel residual: the MLP reads the layer's input, not x + attention.
  const parallel = cfg.mlpInput === 'layer-input';
  if (parallel && (!pre || cfg.cross || cfg.postNorms))
    throw new Error(
      `layer ${inputs.layer}: an MLP reading the layer's input needs a pre-norm layer without cross-attention or post-norms`,
    );
  const hm = parallel ? n(x, w.mlpNorm) : pre ? n(x2, w.mlpNorm) : x2;
  const ff = mlp(hm, w.mlp, cfg);
  const out = parallel
    ? (tf.add(x1, ff) as tf.Tensor2D)
    : pre
      ? (tf.add(x2, post(ff, w.mlpPostNorm, 'mlpPostNorm')) as tf.Tensor2D)
      : n(tf.add(x2, ff) as tf.Tensor2D, w.mlpNorm);
  if (!record) return { out };
  const residual = f32(x);
  const afterSelf = read.one(x1);
  const afterCross = cross ? read.one(x2) : undefined;
  return {
    out,
    record: {
      residual,
      attnInput: pre ? read.one(h) : residual,
      self: recordAttention(self.m, self.out, w.self.o.w, kvHeadOf(cfg.self), read),
      afterSelf,
      ...(cross
        ? { cross: recordAttention(cross.m, cross.out, w.cross!.o.w, kvHeadOf(cfg.cross!), read), afterCross }
        : {}),
      mlpInput: pre ? read.one(hm) : (afterCross ?? afterSelf),
      output: read.one(out),
    },
  };
}

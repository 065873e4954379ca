// The one parameterised Transformer block's configuration: what distinguishes Llama, Qwen2, GPT-2,
// the BERT family and Marian's encoder and decoder is a value of these types (plus a weight map),
// as in TransformerLens's HookedTransformerConfig. Layers may differ (Gemma's local and global
// layers, SmolLM3's layers without RoPE, Qwen2/Mistral's sliding layers): a stack takes one config
// per layer (LayerConfigs). Fields named for families not yet done are refused by the block.
import type { Activation } from '../layers/activations';
import type { NormConfig } from '../layers/norms';
import type { RopeConfig } from '../layers/positions';

export type NormPlacement =
  /** Llama, GPT-2: x + f(norm(x)); the stream itself is never normalised inside a layer. */
  | 'pre'
  /** BERT, Marian: norm(x + f(x)), after each sub-block (the original Transformer). */
  | 'post';

export interface AttentionConfig {
  readonly heads: number;
  /** Key/value heads: fewer than `heads` for grouped-query attention (query head h reads kvHeadOf[h]). */
  readonly kvHeads: number;
  readonly headDim: number;
  /** Self-attention over the past only (decoders); cross-attention is never causal. */
  readonly causal: boolean;
  /** The factor the scores of layer `l` are multiplied by: 1/√head_dim, or GPT-2's variants. */
  readonly scale: (layer: number) => number;
  /** Rotary positions on Q and K (self-attention only). */
  readonly rope?: RopeConfig;
  /**
   * Sliding window (Mistral, Qwen2's upper layers, Gemma's local layers): query i sees key j only
   * when i − w < j ≤ i. Applied through the mask (attention/mask.ts's `window`), which the block
   * checks was built for this window.
   */
  readonly slidingWindow?: number;
  /** Gemma 2 (attn_logit_softcapping): the scores become c·tanh(s/c) after scaling, before the mask. */
  readonly softCap?: number;
  /**
   * Qwen3, Gemma 3: each head's query and key vector is normalised (the block's norm kind, over
   * head_dim, weights qNorm and kNorm) after the projection and before RoPE.
   */
  readonly qkNorm?: boolean;
}

export interface MlpConfig {
  /** 'plain': W₂ act(W₁h); 'gated': W_down(act(W_gate h) ⊙ W_up h) (Llama's SwiGLU). */
  readonly kind: 'plain' | 'gated';
  readonly activation: Activation;
  readonly inner: number;
}

export interface BlockConfig {
  readonly dModel: number;
  readonly norm: NormConfig;
  readonly placement: NormPlacement;
  readonly self: AttentionConfig;
  /** An encoder–decoder's decoder layer: attention from the decoder's stream to the encoder's output. */
  readonly cross?: AttentionConfig;
  readonly mlp: MlpConfig;
  /**
   * What the MLP of a pre-norm layer reads: 'after-attention' (default), mlpNorm(x + attn(x)); or
   * 'layer-input' (GPT-NeoX's use_parallel_residual), mlpNorm(x), so out = x + attn(selfNorm(x)) + mlp(mlpNorm(x)).
   */
  readonly mlpInput?: 'after-attention' | 'layer-input';
  /** Room: GPT-J's parallel layer, where attention and the MLP read one shared norm (NeoX's own-norm form is mlpInput 'layer-input'). */
  readonly parallelResidual?: boolean;
  /**
   * Gemma 2/3, pre-norm only: each sub-block's output is normalised again before it joins the stream,
   * x + norm(f(norm(x))) (BlockWeights.selfPostNorm, mlpPostNorm).
   */
  readonly postNorms?: boolean;
}

/** One config for every layer, or one per layer (index = layer). */
export type LayerConfigs = BlockConfig | readonly BlockConfig[];

/** Layer `layer`'s config. */
export function configOfLayer(cfgs: LayerConfigs, layer: number): BlockConfig {
  if (!Array.isArray(cfgs)) return cfgs as BlockConfig;
  const c = (cfgs as readonly BlockConfig[])[layer];
  if (!c) throw new Error(`no block config for layer ${layer} (${(cfgs as readonly BlockConfig[]).length} given)`);
  return c;
}

/** The standard 1/√head_dim for every layer. */
export const scaledDot =
  (headDim: number): ((layer: number) => number) =>
  () =>
    1 / Math.sqrt(headDim);

/** Refuses the fields named for later families, so a config that sets one fails loudly instead of computing something else. */
export function checkImplemented(cfg: BlockConfig): void {
  const later: string[] = [];
  if (cfg.parallelResidual) later.push('parallel residual');
  if (cfg.postNorms && cfg.placement !== 'pre') later.push('post-sub-block norms in a post-norm layer');
  if (later.length) throw new Error(`The Transformer block does not implement ${later.join(', ')} yet.`);
}

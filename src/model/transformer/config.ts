// The one parameterised Transformer block's configuration: what distinguishes Llama, Qwen2, GPT-2,
// the BERT family and Marian's encoder and decoder is a value of these types (plus a weight map),
// as in TransformerLens's HookedTransformerConfig. Fields the next families need are named here
// and refused by the block until they are implemented.
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
  /** Room for the families issue: Mistral/Gemma sliding window (keys within this many positions). */
  readonly slidingWindow?: number;
  /** Room: Gemma 2's tanh soft-capping of the scores. */
  readonly softCap?: number;
  /** Room: Qwen3/OLMo's norm on queries and keys. */
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
  /** Room: GPT-J/NeoX's attention and MLP reading the same input in parallel. */
  readonly parallelResidual?: boolean;
  /** Room: Gemma 2's extra norms after each sub-block in a pre-norm layer. */
  readonly postNorms?: boolean;
}

/** The standard 1/√head_dim for every layer. */
export const scaledDot =
  (headDim: number): ((layer: number) => number) =>
  () =>
    1 / Math.sqrt(headDim);

/** Refuses the fields named for later families, so a config that sets one fails loudly instead of computing something else. */
export function checkImplemented(cfg: BlockConfig): void {
  const later: string[] = [];
  for (const a of [cfg.self, cfg.cross]) {
    if (a?.slidingWindow !== undefined) later.push('sliding-window attention');
    if (a?.softCap !== undefined) later.push('score soft-capping');
    if (a?.qkNorm) later.push('QK-norm');
  }
  if (cfg.parallelResidual) later.push('parallel residual');
  if (cfg.postNorms) later.push('post-sub-block norms');
  if (later.length) throw new Error(`The Transformer block does not implement ${later.join(', ')} yet.`);
}

// GPT-NeoX / Pythia's config.json (model_type "gpt_neox") → the Transformer block: pre-LayerNorm
// with biases, rotary positions on the first rotary_pct of each head (Pythia: 0.25), a plain GELU
// MLP with biases, and with use_parallel_residual (the default) attention and the MLP reading the
// same layer input through their own norms: out = x + attn(ln₁(x)) + mlp(ln₂(x)).
import { configReader } from '../../formats/hfFolder';
import { ACTIVATIONS, type Activation } from '../../layers/activations';
import { scaledDot, type BlockConfig } from '../../transformer/config';
import { AttentionInputError } from '../../../../shared/trace';

export interface NeoxConfig {
  readonly hiddenSize: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly numLayers: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly layerNormEps: number;
  /** Dimensions of each head RoPE turns: head_dim × rotary_pct. */
  readonly rotaryDim: number;
  readonly ropeTheta: number;
  readonly parallelResidual: boolean;
  readonly activation: Activation;
  /** Biases on query_key_value and dense (attention_bias, default true). */
  readonly attentionBias: boolean;
  readonly tieEmbeddings: boolean;
  readonly eosId: number | undefined;
}

/** Validates a Hugging Face GPT-NeoX config.json; clear errors naming the field. */
export function parseNeoxConfig(raw: unknown, where = 'config.json'): NeoxConfig {
  const { c, int, num, bool, optInt, fail, architectures } = configReader(raw, where);
  const type = c['model_type'];
  if (type !== undefined && type !== 'gpt_neox' && !architectures.includes('GPTNeoXForCausalLM')) {
    throw new AttentionInputError(
      'unsupported',
      `${where} describes a "${String(type)}" model; this loader reads GPT-NeoX models (model_type "gpt_neox").`,
    );
  }
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  if (hiddenSize % numHeads !== 0)
    fail(`${where}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}.`);
  const headDim = hiddenSize / numHeads;
  const pct = num('rotary_pct', 0.25);
  // GPTNeoXAttention: rotary_ndims = int(head_size * rotary_pct).
  const rotaryDim = Math.floor(headDim * pct);
  if (pct > 1 || rotaryDim < 2 || rotaryDim % 2 !== 0)
    fail(
      `${where}: rotary_pct ${pct} of head size ${headDim} gives ${rotaryDim} rotary dimensions; it must be an even number from 2 to the head size.`,
    );
  const act = c['hidden_act'] ?? 'gelu';
  if (!ACTIVATIONS.includes(act as Activation))
    throw new AttentionInputError(
      'unsupported',
      `${where}: hidden_act "${String(act)}" is not supported; supported: ${ACTIVATIONS.join(', ')}.`,
    );
  if (c['rope_scaling'] != null)
    throw new AttentionInputError(
      'unsupported',
      `${where}: rope_scaling ${JSON.stringify(c['rope_scaling'])} is not supported for GPT-NeoX; only plain RoPE is.`,
    );
  return {
    hiddenSize,
    numHeads,
    headDim,
    numLayers: int('num_hidden_layers'),
    intermediateSize: int('intermediate_size', 4 * hiddenSize),
    vocabSize: int('vocab_size'),
    maxPositions: int('max_position_embeddings', 2048),
    layerNormEps: num('layer_norm_eps', 1e-5),
    rotaryDim,
    ropeTheta: c['rope_theta'] != null ? num('rope_theta') : num('rotary_emb_base', 10000),
    parallelResidual: bool('use_parallel_residual', true),
    activation: act as Activation,
    attentionBias: bool('attention_bias', true),
    tieEmbeddings: bool('tie_word_embeddings', false),
    eosId: optInt('eos_token_id'),
  };
}

/** The block a GPT-NeoX config describes. */
export function neoxBlock(cfg: NeoxConfig): BlockConfig {
  return {
    dModel: cfg.hiddenSize,
    norm: { kind: 'layer', eps: cfg.layerNormEps },
    placement: 'pre',
    self: {
      heads: cfg.numHeads,
      kvHeads: cfg.numHeads,
      headDim: cfg.headDim,
      causal: true,
      scale: scaledDot(cfg.headDim),
      rope: { theta: cfg.ropeTheta, rotaryDim: cfg.rotaryDim },
    },
    mlp: { kind: 'plain', activation: cfg.activation, inner: cfg.intermediateSize },
    ...(cfg.parallelResidual ? { mlpInput: 'layer-input' } : {}),
  };
}

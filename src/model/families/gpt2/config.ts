// GPT-2's config.json (GPT2Config's keys, aliases and defaults) → the Transformer block: pre-
// LayerNorm, learned absolute positions, one fused Q|K|V projection (split at load), a plain MLP
// with gelu_new, and scores scaled by 1/√head_dim and optionally by 1/(layer + 1).
import { ACTIVATIONS, type Activation } from '../../layers/activations';
import { configReader, SUPPORTED_HF_FAMILIES } from '../../formats/hfFolder';
import type { BlockConfig } from '../../transformer/config';
import { AttentionInputError } from '../../../../shared/trace';

export interface Gpt2Config {
  /** n_embd (alias hidden_size). */
  readonly hiddenSize: number;
  /** n_head (alias num_attention_heads). */
  readonly numHeads: number;
  readonly headDim: number;
  /** n_layer (alias num_hidden_layers). */
  readonly numLayers: number;
  /** n_inner, 4·n_embd when null or absent. */
  readonly innerSize: number;
  readonly vocabSize: number;
  /** n_positions (alias max_position_embeddings): rows of the learned position table. */
  readonly maxPositions: number;
  /** layer_norm_epsilon. */
  readonly eps: number;
  /** The MLP's nonlinearity (gelu_pytorch_tanh is the same function as gelu_new). */
  readonly activation: Activation;
  /** Divide scores by √head_dim (scale_attn_weights, default true). */
  readonly scaleAttnWeights: boolean;
  /** Also divide layer l's scores by l + 1 (scale_attn_by_inverse_layer_idx, default false). */
  readonly scaleByInverseLayerIdx: boolean;
  /** Output projection = the token-embedding matrix (tie_word_embeddings, default true). */
  readonly tieEmbeddings: boolean;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
}

/** Validates a Hugging Face GPT-2 config.json with clear messages. */
export function parseGpt2Config(raw: unknown, where = 'config.json'): Gpt2Config {
  const { c, int, num, bool, optInt, fail, architectures: arch } = configReader(raw, where);
  const type = c['model_type'];
  if (type === undefined || type === null) {
    if (!arch.some((a) => a.startsWith('GPT2'))) {
      fail(
        `${where} has no "model_type" (and no GPT2… architecture); a GPT-2 config.json says "model_type": "gpt2". Supported families: ${SUPPORTED_HF_FAMILIES}.`,
      );
    }
  } else if (type !== 'gpt2') {
    throw new AttentionInputError(
      'unsupported',
      `${where} describes a "${String(type)}" model, not GPT-2 ("gpt2"). Supported model_type values: ${SUPPORTED_HF_FAMILIES}.`,
    );
  }
  // GPT2Config's attribute_map: hidden_size → n_embd, num_attention_heads → n_head, ... When both
  // spellings are present, Hugging Face keeps the alias's value; a disagreement is almost surely a mistake.
  const aliased = (key: string, alias: string, fallback: number): number => {
    if (c[alias] !== undefined && c[alias] !== null) {
      const v = int(alias);
      if (c[key] !== undefined && c[key] !== null && c[key] !== v)
        fail(`${where}: "${key}" is ${JSON.stringify(c[key])} but its alias "${alias}" is ${v}; give one value.`);
      return v;
    }
    return int(key, fallback);
  };
  // Defaults are GPT2Config's own (the 124M "gpt2" checkpoint's sizes).
  const hiddenSize = aliased('n_embd', 'hidden_size', 768);
  const numHeads = aliased('n_head', 'num_attention_heads', 12);
  const numLayers = aliased('n_layer', 'num_hidden_layers', 12);
  const maxPositions = aliased('n_positions', 'max_position_embeddings', 1024);
  const vocabSize = int('vocab_size', 50257);
  const innerSize = c['n_inner'] == null ? 4 * hiddenSize : int('n_inner');
  const eps = num('layer_norm_epsilon', 1e-5);
  if (hiddenSize % numHeads !== 0)
    fail(`${where}: n_embd ${hiddenSize} is not divisible by n_head ${numHeads}, so the heads cannot split it evenly.`);
  const actRaw = c['activation_function'] ?? 'gelu_new';
  const act = actRaw === 'gelu_pytorch_tanh' ? 'gelu_new' : actRaw;
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act)) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: activation_function ${JSON.stringify(actRaw)} is not supported (supported: ${ACTIVATIONS.join(', ')}, gelu_pytorch_tanh).`,
    );
  }
  const scaleAttnWeights = bool('scale_attn_weights', true);
  const scaleByInverseLayerIdx = bool('scale_attn_by_inverse_layer_idx', false);
  const tieEmbeddings = bool('tie_word_embeddings', true);
  bool('reorder_and_upcast_attn', false); // same maths, computed in float32 either way
  if (bool('add_cross_attention', false)) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: add_cross_attention is true (a GPT-2 used as the decoder of an encoder–decoder); only plain GPT-2 language models are supported.`,
    );
  }
  return {
    hiddenSize,
    numHeads,
    headDim: hiddenSize / numHeads,
    numLayers,
    innerSize,
    vocabSize,
    maxPositions,
    eps,
    activation: act as Activation,
    scaleAttnWeights,
    scaleByInverseLayerIdx,
    tieEmbeddings,
    bosId: optInt('bos_token_id'),
    eosId: optInt('eos_token_id'),
  };
}

/** The factor layer `l`'s scores are multiplied by: 1/√head_dim and/or 1/(l+1), per the config. */
export function gpt2ScoreScale(cfg: Gpt2Config, l: number): number {
  const base = cfg.scaleAttnWeights ? 1 / Math.sqrt(cfg.headDim) : 1;
  return cfg.scaleByInverseLayerIdx ? base / (l + 1) : base;
}

export function gpt2Block(cfg: Gpt2Config): BlockConfig {
  return {
    dModel: cfg.hiddenSize,
    norm: { kind: 'layer', eps: cfg.eps },
    placement: 'pre',
    self: {
      heads: cfg.numHeads,
      kvHeads: cfg.numHeads,
      headDim: cfg.headDim,
      causal: true,
      scale: (l) => gpt2ScoreScale(cfg, l),
    },
    mlp: { kind: 'plain', activation: cfg.activation, inner: cfg.innerSize },
  };
}

// T5 and Flan-T5's config.json (model_type "t5", T5ForConditionalGeneration) → the encoder's and
// the decoder's block configs: pre-norm with T5's RMS "LayerNorm" (no mean, no bias), no 1/√d on
// the scores (T5 folds it into its initialisation), a relative position bias instead of position
// embeddings, ReLU or gated MLP (T5Config: "gated-gelu" means gelu_new), no biases anywhere.
import { ACTIVATIONS, type Activation } from '../../layers/activations';
import { configReader } from '../../formats/hfFolder';
import type { AttentionConfig, BlockConfig } from '../../transformer/config';
import { generationNotFollowed, type DecodingRules } from '../../transformer/encoderDecoder';
import { AttentionInputError } from '../../../../shared/trace';

export interface T5Config extends DecodingRules {
  readonly dModel: number;
  /** Per-head width d_kv (t5-small: 64 = d_model / heads, but it need not be). */
  readonly dKv: number;
  readonly dFf: number;
  readonly heads: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  readonly numBuckets: number;
  readonly maxDistance: number;
  readonly eps: number;
  readonly feedForwardProj: string;
  readonly gated: boolean;
  readonly activation: Activation;
  /** tie_word_embeddings: the head is the shared embedding, and the decoder output is scaled by d_model^-0.5 first. */
  readonly tied: boolean;
  readonly padId: number;
  /** n_positions: how long an input the model was trained for (relative positions have no hard limit). */
  readonly positions: number;
}

/** Validates a Hugging Face T5 config.json with messages that name the field. */
export function parseT5Config(raw: unknown, where = 'config.json'): T5Config {
  const { c, int, num, bool, fail } = configReader(raw, where);
  if (c['model_type'] !== 't5') {
    throw new AttentionInputError(
      'unsupported',
      `${where} describes a ${JSON.stringify(c['model_type'])} model; this loader reads T5 encoder–decoders (model_type "t5").`,
    );
  }
  const dModel = int('d_model');
  const heads = int('num_heads');
  const encoderLayers = int('num_layers');
  const vocabSize = int('vocab_size');
  const proj = c['feed_forward_proj'] ?? 'relu';
  if (typeof proj !== 'string')
    return fail(
      `${where}: "feed_forward_proj" must be a string such as "relu" or "gated-gelu", not ${JSON.stringify(proj)}.`,
    );
  const parts = proj.split('-');
  const gated = parts[0] === 'gated';
  // As T5Config: "gated-gelu" is gelu_new; otherwise the last part names the activation.
  const act = proj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1]!;
  if ((parts.length > 1 && !gated) || parts.length > 2 || !(ACTIVATIONS as readonly string[]).includes(act)) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: feed_forward_proj ${JSON.stringify(proj)} is not supported (an activation, or "gated-" and one: ${ACTIVATIONS.join(', ')}).`,
    );
  }
  const padId = int('pad_token_id', 0, 0);
  const eosId = int('eos_token_id', 1, 0);
  const decoderStartId = int('decoder_start_token_id', padId, 0);
  for (const [k, v] of [
    ['pad_token_id', padId],
    ['eos_token_id', eosId],
    ['decoder_start_token_id', decoderStartId],
  ] as const) {
    if (v >= vocabSize) fail(`${where}: ${k} ${v} is outside the vocabulary (vocab_size ${vocabSize}).`);
  }
  const maxLength = int('max_length', 20);
  if (maxLength < 2) fail(`${where}: "max_length" must be at least 2 (the start token and one generated token).`);
  const numBuckets = int('relative_attention_num_buckets', 32);
  if (numBuckets < 4)
    fail(
      `${where}: "relative_attention_num_buckets" must be at least 4 (two directions, exact and log-spaced buckets), not ${numBuckets}.`,
    );
  return {
    dModel,
    dKv: int('d_kv', dModel / heads),
    dFf: int('d_ff'),
    heads,
    encoderLayers,
    decoderLayers: int('num_decoder_layers', encoderLayers),
    numBuckets,
    maxDistance: int('relative_attention_max_distance', 128),
    eps: num('layer_norm_epsilon', 1e-6),
    feedForwardProj: proj,
    gated,
    activation: act as Activation,
    tied: bool('tie_word_embeddings', true),
    vocabSize,
    padId,
    eosId,
    decoderStartId,
    maxLength,
    notFollowed: generationNotFollowed(c),
    positions: int('n_positions', 512),
  };
}

function attention(cfg: T5Config, causal: boolean): AttentionConfig {
  return { heads: cfg.heads, kvHeads: cfg.heads, headDim: cfg.dKv, causal, scale: () => 1 };
}

function block(cfg: T5Config, decoder: boolean): BlockConfig {
  return {
    dModel: cfg.dModel,
    norm: { kind: 'rms', eps: cfg.eps },
    placement: 'pre',
    self: attention(cfg, decoder),
    ...(decoder ? { cross: attention(cfg, false) } : {}),
    mlp: { kind: cfg.gated ? 'gated' : 'plain', activation: cfg.activation, inner: cfg.dFf },
  };
}

export const t5EncoderBlock = (cfg: T5Config): BlockConfig => block(cfg, false);
export const t5DecoderBlock = (cfg: T5Config): BlockConfig => block(cfg, true);

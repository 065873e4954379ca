// BART and mBART's config.json (model_type "bart" / "mbart") → the encoder's and decoder's block
// configs. Both: learned positions read at i + 2, embeddings × √d_model when scale_embedding,
// layernorm_embedding, biases everywhere, a tied head plus final_logits_bias. BART's layers are
// post-norm; mBART's are pre-norm with a final layer norm after each stack. Generation follows
// generate's greedy rules: decoder_start_token_id, forced_bos_token_id, forced_eos_token_id.
import { ACTIVATIONS, type Activation } from '../../layers/activations';
import { configReader } from '../../formats/hfFolder';
import { scaledDot, type AttentionConfig, type BlockConfig } from '../../transformer/config';
import { generationNotFollowed, type DecodingRules } from '../../transformer/encoderDecoder';
import { AttentionInputError } from '../../../../shared/trace';

export type BartFamily = 'bart' | 'mbart';

export interface BartConfig extends DecodingRules {
  readonly family: BartFamily;
  readonly dModel: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  readonly encoderHeads: number;
  readonly decoderHeads: number;
  readonly encoderFfn: number;
  readonly decoderFfn: number;
  readonly maxPositions: number;
  readonly activation: Activation;
  readonly scaleEmbedding: boolean;
  readonly padId: number;
  readonly bosId: number | undefined;
}

/** BartLearnedPositionalEmbedding: position i is row i + 2 (fairseq's padding offset). */
export const BART_POSITION_OFFSET = 2;
const LN_EPS = 1e-5; // torch.nn.LayerNorm's default

/** Validates a Hugging Face BART / mBART config.json with messages that name the field. */
export function parseBartConfig(raw: unknown, where = 'config.json'): BartConfig {
  const { c, int, fail, optInt } = configReader(raw, where);
  const family = c['model_type'];
  if (family !== 'bart' && family !== 'mbart') {
    throw new AttentionInputError(
      'unsupported',
      `${where} describes a ${JSON.stringify(family)} model; this loader reads BART and mBART (model_type "bart" or "mbart").`,
    );
  }
  const dModel = int('d_model');
  const vocabSize = int('vocab_size');
  const heads = (k: string): number => {
    const h = int(k);
    if (dModel % h !== 0) fail(`${where}: d_model ${dModel} is not divisible by ${k} ${h}.`);
    return h;
  };
  const act = c['activation_function'] ?? 'gelu';
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act)) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: activation_function ${JSON.stringify(act)} is not supported (supported: ${ACTIVATIONS.join(', ')}).`,
    );
  }
  const id = (k: string, fallback?: number): number => {
    const v = int(k, fallback, 0);
    if (v >= vocabSize) fail(`${where}: ${k} ${v} is outside the vocabulary (vocab_size ${vocabSize}).`);
    return v;
  };
  const eosId = id('eos_token_id', 2);
  const optional = (k: string): number | undefined => (c[k] === undefined || c[k] === null ? undefined : id(k));
  const maxPositions = int('max_position_embeddings', 1024);
  const maxLength = int('max_length', 20);
  if (maxLength < 2) fail(`${where}: "max_length" must be at least 2 (the start token and one generated token).`);
  if (maxLength > maxPositions)
    fail(`${where}: max_length ${maxLength} exceeds max_position_embeddings ${maxPositions}.`);
  const forcedBosId = optional('forced_bos_token_id');
  const forcedEosId = optional('forced_eos_token_id');
  return {
    family,
    dModel,
    encoderLayers: int('encoder_layers'),
    decoderLayers: int('decoder_layers'),
    encoderHeads: heads('encoder_attention_heads'),
    decoderHeads: heads('decoder_attention_heads'),
    encoderFfn: int('encoder_ffn_dim'),
    decoderFfn: int('decoder_ffn_dim'),
    vocabSize,
    maxPositions,
    activation: act as Activation,
    scaleEmbedding: c['scale_embedding'] === true,
    padId: id('pad_token_id', 1),
    bosId: optInt('bos_token_id'),
    eosId,
    // generate(): decoder_start_token_id, else bos_token_id.
    decoderStartId: optional('decoder_start_token_id') ?? id('bos_token_id', 0),
    maxLength,
    notFollowed: generationNotFollowed(c),
    ...(forcedBosId !== undefined ? { forcedBosId } : {}),
    ...(forcedEosId !== undefined ? { forcedEosId } : {}),
  };
}

const attention = (D: number, heads: number, causal: boolean): AttentionConfig => ({
  heads,
  kvHeads: heads,
  headDim: D / heads,
  causal,
  scale: scaledDot(D / heads),
});

export function bartBlock(cfg: BartConfig, decoder: boolean): BlockConfig {
  const D = cfg.dModel;
  const heads = decoder ? cfg.decoderHeads : cfg.encoderHeads;
  return {
    dModel: D,
    norm: { kind: 'layer', eps: LN_EPS },
    placement: cfg.family === 'mbart' ? 'pre' : 'post',
    self: attention(D, heads, decoder),
    ...(decoder ? { cross: attention(D, heads, false) } : {}),
    mlp: { kind: 'plain', activation: cfg.activation, inner: decoder ? cfg.decoderFfn : cfg.encoderFfn },
  };
}

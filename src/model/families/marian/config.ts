// Marian's config.json → two configurations of the Transformer block: the encoder's (post-
// LayerNorm, bidirectional) and the decoder's (post-LayerNorm, causal self-attention, cross-
// attention over the encoder's output); sinusoidal positions, scaled embeddings.
import { ACTIVATIONS, type Activation } from '../../layers/activations';
import { configReader } from '../../formats/hfFolder';
import { scaledDot, type BlockConfig } from '../../transformer/config';
import { AttentionInputError } from '../../../../shared/trace';

export interface MarianConfig {
  readonly dModel: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  readonly encoderHeads: number;
  readonly decoderHeads: number;
  readonly encoderFfn: number;
  readonly decoderFfn: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly activation: Activation;
  readonly scaleEmbedding: boolean;
  readonly padId: number;
  /** Single-token entries of bad_words_ids (real Marian configs ban <pad>): never chosen by greedy decoding, as in HF generate. */
  readonly bannedIds: readonly number[];
  readonly eosId: number;
  readonly decoderStartId: number;
  /** HF generation's max_length: the decoder start token plus at most max_length − 1 generated tokens. */
  readonly maxLength: number;
  /** Longest input seen in training (characters), when the config records it. */
  readonly trainedMaxInput: number | undefined;
}

const LN_EPS = 1e-5; // torch.nn.LayerNorm's default, which Marian uses

/** Validates a Hugging Face Marian config.json with clear messages. */
export function parseMarianConfig(raw: unknown, where = 'config.json'): MarianConfig {
  const { c, int, fail, optInt } = configReader(raw, where);
  const type = c['model_type'];
  if (type !== 'marian') {
    throw new AttentionInputError(
      'unsupported',
      type === undefined
        ? `${where} has no "model_type"; this loader reads Marian encoder–decoders (model_type "marian").`
        : `${where} describes a "${String(type)}" model; this loader reads Marian encoder–decoders (model_type "marian")` +
          (type === 'bart' || type === 't5'
            ? `; ${String(type)} differs in its positions and layer norms and is not supported.`
            : '.'),
    );
  }
  const dModel = int('d_model');
  const encoderLayers = int('encoder_layers');
  const decoderLayers = int('decoder_layers');
  const encoderHeads = int('encoder_attention_heads');
  const decoderHeads = int('decoder_attention_heads');
  const encoderFfn = int('encoder_ffn_dim');
  const decoderFfn = int('decoder_ffn_dim');
  const vocabSize = int('vocab_size');
  const maxPositions = int('max_position_embeddings', 512);
  if (dModel % encoderHeads !== 0)
    fail(`${where}: d_model ${dModel} is not divisible by encoder_attention_heads ${encoderHeads}.`);
  if (dModel % decoderHeads !== 0)
    fail(`${where}: d_model ${dModel} is not divisible by decoder_attention_heads ${decoderHeads}.`);
  if (dModel % 2 !== 0)
    fail(`${where}: d_model ${dModel} must be even for sinusoidal positions (sine half, cosine half).`);
  const act = c['activation_function'] ?? 'gelu';
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act)) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: activation_function ${JSON.stringify(act)} is not supported (supported: ${ACTIVATIONS.join(', ')}).`,
    );
  }
  if (c['normalize_before'] === true)
    throw new AttentionInputError(
      'unsupported',
      `${where}: pre-norm layers (normalize_before) are not supported; Marian is post-norm.`,
    );
  const padId = int('pad_token_id', undefined, 0);
  const eosId = int('eos_token_id', undefined, 0);
  const decoderStartId = int('decoder_start_token_id', padId, 0);
  for (const [k, v] of [
    ['pad_token_id', padId],
    ['eos_token_id', eosId],
    ['decoder_start_token_id', decoderStartId],
  ] as const) {
    if (v >= vocabSize) fail(`${where}: ${k} ${v} is outside the vocabulary (vocab_size ${vocabSize}).`);
  }
  const bad = c['bad_words_ids'];
  const bannedIds = Array.isArray(bad)
    ? bad
        .filter(
          (w): w is [number] =>
            Array.isArray(w) && w.length === 1 && Number.isInteger(w[0]) && w[0] >= 0 && w[0] < vocabSize,
        )
        .map((w) => w[0])
    : [];
  const maxLength = int('max_length', 64);
  if (maxLength < 2) fail(`${where}: "max_length" must be at least 2 (the start token and one generated token).`);
  if (maxLength > maxPositions)
    fail(`${where}: max_length ${maxLength} exceeds max_position_embeddings ${maxPositions}.`);
  return {
    dModel,
    encoderLayers,
    decoderLayers,
    encoderHeads,
    decoderHeads,
    encoderFfn,
    decoderFfn,
    vocabSize,
    maxPositions,
    activation: act as Activation,
    scaleEmbedding: c['scale_embedding'] === true,
    padId,
    bannedIds,
    eosId,
    decoderStartId,
    maxLength,
    trainedMaxInput: optInt('trained_max_input'),
  };
}

const attention = (D: number, heads: number, causal: boolean) => ({
  heads,
  kvHeads: heads,
  headDim: D / heads,
  causal,
  scale: scaledDot(D / heads),
});

export function marianEncoderBlock(cfg: MarianConfig): BlockConfig {
  const D = cfg.dModel;
  return {
    dModel: D,
    norm: { kind: 'layer', eps: LN_EPS },
    placement: 'post',
    self: attention(D, cfg.encoderHeads, false),
    mlp: { kind: 'plain', activation: cfg.activation, inner: cfg.encoderFfn },
  };
}

export function marianDecoderBlock(cfg: MarianConfig): BlockConfig {
  const D = cfg.dModel;
  return {
    dModel: D,
    norm: { kind: 'layer', eps: LN_EPS },
    placement: 'post',
    self: attention(D, cfg.decoderHeads, true),
    cross: attention(D, cfg.decoderHeads, false),
    mlp: { kind: 'plain', activation: cfg.activation, inner: cfg.decoderFfn },
  };
}

// Llama's config.json → the Transformer block (pre-RMSNorm, RoPE on Q and K, grouped-query
// attention, SwiGLU MLP, no biases). Qwen2 reads the same keys with its own defaults and q/k/v
// biases (families/qwen2/config.ts), so the reader takes the layout's differences as a value.
import { configReader } from '../../formats/hfFolder';
import { scaledDot, type BlockConfig } from '../../transformer/config';
import { AttentionInputError } from '../../../../shared/trace';

export interface LlamaConfig {
  readonly hiddenSize: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly numLayers: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly rmsEps: number;
  readonly ropeTheta: number;
  readonly tieEmbeddings: boolean;
  /** Biases on the q, k and v projections (Qwen2); Llama has none. */
  readonly qkvBias: boolean;
  /** Every input starts with the BOS token (Llama); otherwise the tokenizer decides (Qwen2 adds none). */
  readonly startToken: boolean;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
}

/** What differs between the families read in the Llama layout. */
export interface RopeDecoderLayout {
  readonly modelType: string;
  readonly name: string;
  readonly architecture: string;
  readonly maxPositions: number;
  readonly ropeTheta: number;
  readonly qkvBias: boolean;
  readonly startToken: boolean;
}

export const LLAMA_LAYOUT: RopeDecoderLayout = { modelType: 'llama', name: 'Llama', architecture: 'LlamaForCausalLM', maxPositions: 2048, ropeTheta: 10000, qkvBias: false, startToken: true };

/** Validates a config.json in the Llama layout; clear errors for missing or inconsistent fields. */
export function parseRopeDecoderConfig(raw: unknown, where: string, layout: RopeDecoderLayout): LlamaConfig {
  const { c, int, num, optInt, fail, architectures } = configReader(raw, where);
  const type = c['model_type'];
  if (type !== undefined && type !== layout.modelType && !architectures.includes(layout.architecture)) {
    throw new AttentionInputError('unsupported', `${where} describes a "${String(type)}" model; this loader reads ${layout.name} models (model_type "${layout.modelType}").`);
  }
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  const numLayers = int('num_hidden_layers');
  const intermediateSize = int('intermediate_size');
  const vocabSize = int('vocab_size');
  const maxPositions = int('max_position_embeddings', layout.maxPositions);
  const rmsEps = num('rms_norm_eps', 1e-6);
  const ropeTheta = num('rope_theta', layout.ropeTheta);
  if (c['head_dim'] == null && hiddenSize % numHeads !== 0) {
    fail(`${where}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads} (and no head_dim is given).`);
  }
  const headDim = c['head_dim'] == null ? hiddenSize / numHeads : int('head_dim');
  if (headDim % 2 !== 0) fail(`${where}: head_dim ${headDim} must be even for rotary position embeddings.`);
  if (numHeads % numKvHeads !== 0) {
    fail(`${where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}, so query heads cannot share key/value heads evenly.`);
  }
  const act = c['hidden_act'] ?? 'silu';
  if (act !== 'silu') throw new AttentionInputError('unsupported', `${where}: hidden_act "${String(act)}" is not supported; ${layout.name} uses "silu".`);
  if (c['rope_scaling'] != null) {
    throw new AttentionInputError('unsupported', `${where}: rope_scaling ${JSON.stringify(c['rope_scaling'])} is not supported; only plain RoPE is.`);
  }
  if (c['attention_bias'] === true || c['mlp_bias'] === true) {
    throw new AttentionInputError('unsupported', `${where}: attention_bias / mlp_bias are not supported (${layout.name} has ${layout.qkvBias ? 'biases on q, k and v only' : 'no biases'}).`);
  }
  return {
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    numLayers,
    intermediateSize,
    vocabSize,
    maxPositions,
    rmsEps,
    ropeTheta,
    tieEmbeddings: c['tie_word_embeddings'] === true,
    qkvBias: layout.qkvBias,
    startToken: layout.startToken,
    bosId: optInt('bos_token_id'),
    eosId: optInt('eos_token_id'),
  };
}

/** Validates a Hugging Face Llama config.json. */
export function parseLlamaConfig(raw: unknown, where = 'config.json'): LlamaConfig {
  return parseRopeDecoderConfig(raw, where, LLAMA_LAYOUT);
}

/** The block a Llama-layout config describes. */
export function llamaBlock(cfg: LlamaConfig): BlockConfig {
  return {
    dModel: cfg.hiddenSize,
    norm: { kind: 'rms', eps: cfg.rmsEps },
    placement: 'pre',
    self: {
      heads: cfg.numHeads,
      kvHeads: cfg.numKvHeads,
      headDim: cfg.headDim,
      causal: true,
      scale: scaledDot(cfg.headDim),
      rope: { theta: cfg.ropeTheta, rotaryDim: cfg.headDim },
    },
    mlp: { kind: 'gated', activation: 'silu', inner: cfg.intermediateSize },
  };
}

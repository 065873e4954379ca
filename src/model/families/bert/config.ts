// The BERT family's config.json (BERT, DistilBERT, RoBERTa, XLM-RoBERTa) → the Transformer block:
// post-LayerNorm, bidirectional attention, a plain MLP, biases everywhere, learned positions
// (RoBERTa's numbered from padding_idx + 1).
import { ACTIVATIONS, type Activation } from '../../layers/activations';
import { configReader, SUPPORTED_MODEL_TYPES } from '../../formats/hfFolder';
import { scaledDot, type BlockConfig } from '../../transformer/config';
import { AttentionInputError } from '../../../../shared/trace';

export type BertFamily = 'bert' | 'distilbert' | 'roberta' | 'xlm-roberta';

export const FAMILY_NAME: Record<BertFamily, string> = {
  bert: 'BERT',
  distilbert: 'DistilBERT',
  roberta: 'RoBERTa',
  'xlm-roberta': 'XLM-RoBERTa',
};

export interface BertConfig {
  readonly family: BertFamily;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  /** How many tokens fit: positionTable − positionOffset. */
  readonly maxPositions: number;
  /** Rows of the position table (max_position_embeddings). */
  readonly positionTable: number;
  /** RoBERTa: padding_idx + 1, the position of the first token; 0 for BERT and DistilBERT. */
  readonly positionOffset: number;
  /** RoBERTa's padding_idx (pad_token_id): pad tokens take this position and do not advance the count. */
  readonly padId: number | undefined;
  /** 0 for DistilBERT (no segment embeddings). */
  readonly typeVocabSize: number;
  readonly eps: number;
  readonly activation: Activation;
  /** The MLM head's activation: hidden_act for BERT / DistilBERT, always exact GELU for RoBERTa. */
  readonly mlmActivation: Activation;
}

const ENCODERS =
  'BERT ("bert"), DistilBERT ("distilbert"), RoBERTa ("roberta") and XLM-RoBERTa ("xlm-roberta") encoders';

export const isRoberta = (f: BertFamily): boolean => f === 'roberta' || f === 'xlm-roberta';

/** Validates a Hugging Face BERT, DistilBERT, RoBERTa or XLM-RoBERTa config.json with clear messages. */
export function parseBertConfig(raw: unknown, where = 'config.json'): BertConfig {
  const { c, int, num, fail, architectures: arch } = configReader(raw, where);
  const type = c['model_type'];
  const byArch = (prefix: string): boolean => type === undefined && arch.some((a) => a.startsWith(prefix));
  let family: BertFamily;
  if (type === 'bert' || byArch('Bert')) family = 'bert';
  else if (type === 'distilbert' || byArch('DistilBert')) family = 'distilbert';
  else if (type === 'roberta' || byArch('Roberta')) family = 'roberta';
  else if (type === 'xlm-roberta' || byArch('XLMRoberta')) family = 'xlm-roberta';
  else if (type === undefined) return fail(`${where} has no "model_type"; this loader reads ${ENCODERS}.`);
  else
    throw new AttentionInputError(
      'unsupported',
      `${where} describes a "${String(type)}" model; this loader reads ${ENCODERS}. Supported model_type values: ${SUPPORTED_MODEL_TYPES}.`,
    );
  const bertKeys = family !== 'distilbert';
  const hiddenSize = bertKeys ? int('hidden_size') : int('dim');
  const numLayers = bertKeys ? int('num_hidden_layers') : int('n_layers');
  const numHeads = bertKeys ? int('num_attention_heads') : int('n_heads');
  const intermediateSize = bertKeys ? int('intermediate_size') : int('hidden_dim');
  const vocabSize = int('vocab_size');
  const positionTable = int('max_position_embeddings', 512);
  // RoBERTa numbers positions from padding_idx + 1 (position padding_idx belongs to <pad>).
  const padId = isRoberta(family) ? int('pad_token_id', 1, 0) : undefined;
  const positionOffset = padId === undefined ? 0 : padId + 1;
  if (positionOffset >= positionTable) {
    fail(
      `${where}: max_position_embeddings ${positionTable} leaves no positions after the padding offset (pad_token_id ${padId} + 1); it must be more than ${positionOffset}.`,
    );
  }
  const typeVocabSize = bertKeys ? int('type_vocab_size', 2) : 0;
  const eps = bertKeys ? num('layer_norm_eps', 1e-12) : 1e-12;
  if (hiddenSize % numHeads !== 0)
    fail(
      `${where}: the hidden size ${hiddenSize} is not divisible by the ${numHeads} attention heads, so the heads cannot split it evenly.`,
    );
  const act = (bertKeys ? c['hidden_act'] : c['activation']) ?? 'gelu';
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act)) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: activation ${JSON.stringify(act)} is not supported (supported: ${ACTIVATIONS.join(', ')}).`,
    );
  }
  const posType = c['position_embedding_type'] ?? 'absolute';
  if (posType !== 'absolute')
    throw new AttentionInputError(
      'unsupported',
      `${where}: position_embedding_type "${String(posType)}" is not supported; only "absolute" is.`,
    );
  // DistilBERT's sinusoidal_pos_embds still stores its table as position_embeddings.weight: nothing changes.
  return {
    family,
    hiddenSize,
    numLayers,
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize,
    vocabSize,
    maxPositions: positionTable - positionOffset,
    positionTable,
    positionOffset,
    padId,
    typeVocabSize,
    eps,
    activation: act as Activation,
    mlmActivation: isRoberta(family) ? 'gelu' : (act as Activation),
  };
}

export function bertBlock(cfg: BertConfig): BlockConfig {
  return {
    dModel: cfg.hiddenSize,
    norm: { kind: 'layer', eps: cfg.eps },
    placement: 'post',
    self: {
      heads: cfg.numHeads,
      kvHeads: cfg.numHeads,
      headDim: cfg.headDim,
      causal: false,
      scale: scaledDot(cfg.headDim),
    },
    mlp: { kind: 'plain', activation: cfg.activation, inner: cfg.intermediateSize },
  };
}

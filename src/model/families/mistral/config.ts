// Mistral (model_type "mistral") is the Llama layout with sliding-window attention on every layer
// when config.json's sliding_window is set (Mistral-7B-v0.1: 4096; v0.3: null, full attention),
// head_dim given or hidden_size / heads, and a start token as its tokenizer adds one.
import { parseRopeDecoderConfig, type LlamaConfig, type RopeDecoderLayout } from '../llama/config';

export const MISTRAL_LAYOUT: RopeDecoderLayout = {
  modelType: 'mistral',
  name: 'Mistral',
  architecture: 'MistralForCausalLM',
  maxPositions: 131072,
  ropeTheta: 10000,
  qkvBias: false,
  startToken: 'tokenizer',
  sliding: 'all',
};

/** Validates a Hugging Face Mistral config.json. */
export function parseMistralConfig(raw: unknown, where = 'config.json'): LlamaConfig {
  return parseRopeDecoderConfig(raw, where, MISTRAL_LAYOUT);
}

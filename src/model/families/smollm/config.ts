// SmolLM2 is model_type "llama" (families/llama reads it: tied embeddings, a start token only when
// its tokenizer adds one). SmolLM3 (model_type "smollm3") is the Llama layout where every
// no_rope_layer_interval-th layer (or each layer marked 0 in no_rope_layers) has no RoPE, with
// SmolLM3Config's defaults (rope_theta 2e6, tied embeddings) and its sliding-window rule
// (use_sliding_window: the layers without RoPE slide).
import { parseRopeDecoderConfig, type LlamaConfig, type RopeDecoderLayout } from '../llama/config';

export const SMOLLM3_LAYOUT: RopeDecoderLayout = {
  modelType: 'smollm3',
  name: 'SmolLM3',
  architecture: 'SmolLM3ForCausalLM',
  maxPositions: 32768,
  ropeTheta: 2000000,
  qkvBias: false,
  startToken: 'tokenizer',
  noRopeLayers: true,
  sliding: 'nope',
};

/** Validates a Hugging Face SmolLM3 config.json (tie_word_embeddings defaults to true, as SmolLM3Config's). */
export function parseSmolLm3Config(raw: unknown, where = 'config.json'): LlamaConfig {
  const cfg = parseRopeDecoderConfig(raw, where, SMOLLM3_LAYOUT);
  const c = raw as Record<string, unknown>;
  return c['tie_word_embeddings'] == null ? { ...cfg, tieEmbeddings: true } : cfg;
}

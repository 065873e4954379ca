// Qwen2 (model_type "qwen2") is the Llama layout with biases on q_proj, k_proj and v_proj, no start
// token, and its own defaults (Qwen2Config: 32768 positions, rope_theta 10000; real checkpoints set 1e6).
// Sliding-window attention follows Qwen2Config: with use_sliding_window, layers ≥ max_window_layers
// see only the last sliding_window keys (or as layer_types says).
import { parseRopeDecoderConfig, type LlamaConfig, type RopeDecoderLayout } from '../llama/config';

export const QWEN2_LAYOUT: RopeDecoderLayout = {
  modelType: 'qwen2',
  name: 'Qwen2',
  architecture: 'Qwen2ForCausalLM',
  maxPositions: 32768,
  ropeTheta: 10000,
  qkvBias: true,
  startToken: false,
  sliding: 'upper',
};

/** Validates a Hugging Face Qwen2 config.json. */
export function parseQwen2Config(raw: unknown, where = 'config.json'): LlamaConfig {
  return parseRopeDecoderConfig(raw, where, QWEN2_LAYOUT);
}

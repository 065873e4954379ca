// Qwen3 (model_type "qwen3") is the Llama layout with RMSNorm on each head's query and key
// (q_norm, k_norm, before RoPE), head_dim given explicitly (Qwen3Config's default 128, not
// hidden_size / heads), no biases (attention_bias false), no start token, and Qwen2's sliding-window
// rule (use_sliding_window: layers ≥ max_window_layers, or layer_types).
import { parseRopeDecoderConfig, type LlamaConfig, type RopeDecoderLayout } from '../llama/config';

export const QWEN3_LAYOUT: RopeDecoderLayout = {
  modelType: 'qwen3',
  name: 'Qwen3',
  architecture: 'Qwen3ForCausalLM',
  maxPositions: 32768,
  ropeTheta: 10000,
  qkvBias: false,
  startToken: false,
  qkNorm: true,
  sliding: 'upper',
};

/** Validates a Hugging Face Qwen3 config.json (head_dim defaults to 128, as Qwen3Config's). */
export function parseQwen3Config(raw: unknown, where = 'config.json'): LlamaConfig {
  const c =
    raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  return parseRopeDecoderConfig(c && c['head_dim'] == null ? { ...c, head_dim: 128 } : raw, where, QWEN3_LAYOUT);
}

// Phi-3 and Phi-4-mini (model_type "phi3") are the Llama layout with q, k and v in one qkv_proj and
// gate and up in one gate_up_proj (cut apart at load), partial_rotary_factor (Phi-4-mini: 0.75),
// a sliding window on every layer when sliding_window is set (Phi3Model is MistralModel's), and
// rope_scaling "longrope" (also "su", its old name), with Phi3Config's defaults.
import { parseRopeDecoderConfig, type LlamaConfig, type RopeDecoderLayout } from '../llama/config';

export const PHI3_LAYOUT: RopeDecoderLayout = {
  modelType: 'phi3',
  name: 'Phi-3',
  architecture: 'Phi3ForCausalLM',
  maxPositions: 4096,
  ropeTheta: 10000,
  qkvBias: false,
  startToken: 'tokenizer',
  ropeScalings: ['longrope'],
  sliding: 'all',
  partialRotary: true,
  fused: true,
  originalMaxPositions: 4096,
};

/** Validates a Hugging Face Phi-3 / Phi-4-mini config.json. */
export function parsePhi3Config(raw: unknown, where = 'config.json'): LlamaConfig {
  return parseRopeDecoderConfig(raw, where, PHI3_LAYOUT);
}

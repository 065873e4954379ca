// Gemma 3's text models (model_type "gemma3_text", Gemma3ForCausalLM) are Gemma 2's configuration
// plus QK-norm, a local/global pattern (sliding_window_pattern or layer_types) and two RoPE bases
// (families/gemma/config.ts reads them all); only its layout and Gemma3TextConfig's defaults are here.
import { parseGemmaFamilyConfig, type GemmaConfig, type GemmaLayout } from '../gemma/config';

export const GEMMA3_LAYOUT: GemmaLayout = {
  generation: 3,
  modelType: 'gemma3_text',
  name: 'Gemma 3',
  architecture: 'Gemma3ForCausalLM',
  maxPositions: 131072,
  ropeTheta: 1000000,
};

/** Validates a Hugging Face Gemma 3 text config.json. */
export function parseGemma3Config(raw: unknown, where = 'config.json'): GemmaConfig {
  return parseGemmaFamilyConfig(raw, where, GEMMA3_LAYOUT);
}

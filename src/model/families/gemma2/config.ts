// Gemma 2 (model_type "gemma2") is Gemma's configuration with post-norms, soft-capped scores and
// logits, query_pre_attn_scalar and local layers alternating with global ones (families/gemma/config.ts
// reads them all); only its layout and Gemma2Config's defaults are here.
import { parseGemmaFamilyConfig, type GemmaConfig, type GemmaLayout } from '../gemma/config';

export const GEMMA2_LAYOUT: GemmaLayout = {
  generation: 2,
  modelType: 'gemma2',
  name: 'Gemma 2',
  architecture: 'Gemma2ForCausalLM',
  maxPositions: 8192,
  ropeTheta: 10000,
  attnSoftCap: 50,
  finalSoftCap: 30,
};

/** Validates a Hugging Face Gemma 2 config.json. */
export function parseGemma2Config(raw: unknown, where = 'config.json'): GemmaConfig {
  return parseGemmaFamilyConfig(raw, where, GEMMA2_LAYOUT);
}

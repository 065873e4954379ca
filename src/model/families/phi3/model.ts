// Phi-3 / Phi-4-mini causal language models from a Hugging Face folder: the Llama model with
// Phi-3's config, the Llama weight map in its fused form (qkv_proj and gate_up_proj split at load)
// and its lesson.
import { loadRopeDecoder, type LlamaModel } from '../llama/model';
import type { LoadOptions } from '../../transformer/load';
import { parsePhi3Config, PHI3_LAYOUT } from './config';
import { phi3Lesson } from './lesson';

export { parsePhi3Config } from './config';

/** Loads a Phi-3 folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadPhi3(dir: string, options: LoadOptions = {}): Promise<LlamaModel> {
  return loadRopeDecoder(dir, options, PHI3_LAYOUT, parsePhi3Config, phi3Lesson);
}

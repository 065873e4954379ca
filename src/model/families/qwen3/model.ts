// Qwen3 causal language models from a Hugging Face folder: the Llama model with Qwen3's config
// (QK-norm, explicit head_dim), the same weight map (which adds q_norm and k_norm) and its lesson.
import { loadRopeDecoder, type LlamaModel } from '../llama/model';
import type { LoadOptions } from '../../transformer/load';
import { parseQwen3Config, QWEN3_LAYOUT } from './config';
import { qwen3Lesson } from './lesson';

export { parseQwen3Config } from './config';

/** Loads a Qwen3 folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadQwen3(dir: string, options: LoadOptions = {}): Promise<LlamaModel> {
  return loadRopeDecoder(dir, options, QWEN3_LAYOUT, parseQwen3Config, qwen3Lesson);
}

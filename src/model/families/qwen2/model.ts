// Qwen2 causal language models from a Hugging Face folder: the Llama model with Qwen2's config
// (q/k/v biases, its defaults), the same weight map (which adds the three biases) and its lesson.
// Nothing else is Qwen2's own.
import { loadRopeDecoder, type LlamaModel } from '../llama/model';
import type { LoadOptions } from '../../transformer/load';
import { parseQwen2Config, QWEN2_LAYOUT } from './config';
import { qwen2Lesson } from './lesson';

export { parseQwen2Config } from './config';

/** Loads a Qwen2 folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadQwen2(dir: string, options: LoadOptions = {}): Promise<LlamaModel> {
  return loadRopeDecoder(dir, options, QWEN2_LAYOUT, parseQwen2Config, qwen2Lesson);
}

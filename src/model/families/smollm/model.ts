// SmolLM3 causal language models from a Hugging Face folder: the Llama model with SmolLM3's config
// (layers without RoPE), Llama's weight map and its lesson. SmolLM2 loads as a Llama.
import { loadRopeDecoder, type LlamaModel } from '../llama/model';
import type { LoadOptions } from '../../transformer/load';
import { parseSmolLm3Config, SMOLLM3_LAYOUT } from './config';
import { smolLm3Lesson } from './lesson';

export { parseSmolLm3Config } from './config';

/** Loads a SmolLM3 folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadSmolLm3(dir: string, options: LoadOptions = {}): Promise<LlamaModel> {
  return loadRopeDecoder(dir, options, SMOLLM3_LAYOUT, parseSmolLm3Config, smolLm3Lesson);
}

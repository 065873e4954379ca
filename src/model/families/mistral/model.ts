// Mistral causal language models from a Hugging Face folder: the Llama model with Mistral's config
// (a sliding window on every layer, drawn as the mask), Llama's weight map and its lesson.
import { loadRopeDecoder, type LlamaModel } from '../llama/model';
import type { LoadOptions } from '../../transformer/load';
import { MISTRAL_LAYOUT, parseMistralConfig } from './config';
import { mistralLesson } from './lesson';

export { parseMistralConfig } from './config';

/** Loads a Mistral folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadMistral(dir: string, options: LoadOptions = {}): Promise<LlamaModel> {
  return loadRopeDecoder(dir, options, MISTRAL_LAYOUT, parseMistralConfig, mistralLesson);
}

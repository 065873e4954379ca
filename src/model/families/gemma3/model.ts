// Gemma 3 text causal language models from a Hugging Face folder: the Gemma model with Gemma 3's config.
import { loadGemmaFamily, type GemmaModel } from '../gemma/model';
import type { LoadOptions } from '../../transformer/load';
import { GEMMA3_LAYOUT } from './config';

export { parseGemma3Config } from './config';

/** Loads a Gemma 3 text folder (model_type "gemma3_text"): config.json, model.safetensors (or shards), tokenizer.json. */
export function loadGemma3(dir: string, options: LoadOptions = {}): Promise<GemmaModel> {
  return loadGemmaFamily(dir, options, GEMMA3_LAYOUT);
}

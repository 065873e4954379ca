// Gemma 2 causal language models from a Hugging Face folder: the Gemma model with Gemma 2's config.
import { loadGemmaFamily, type GemmaModel } from '../gemma/model';
import type { LoadOptions } from '../../transformer/load';
import { GEMMA2_LAYOUT } from './config';

export { parseGemma2Config } from './config';

/** Loads a Gemma 2 folder: config.json, model.safetensors (or shards), tokenizer.json. */
export function loadGemma2(dir: string, options: LoadOptions = {}): Promise<GemmaModel> {
  return loadGemmaFamily(dir, options, GEMMA2_LAYOUT);
}

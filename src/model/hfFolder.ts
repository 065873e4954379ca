// Reading a Hugging Face checkpoint folder: config.json, tokenizer.json (+ tokenizer_config.json)
// and model.safetensors, with the checks every family needs. Each family parses its own config.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { HfTokenizer } from './hfTokenizer';
import { throwIfCancelled } from './model';
import { readSafetensorsFile, type SafeTensor } from './safetensors';
import { AttentionInputError } from './trace';

export async function readJsonFile(file: string, code: 'config' | 'file'): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new AttentionInputError(code, `Cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AttentionInputError(code, `${file} is not valid JSON: ${(err as Error).message}`);
  }
}

export interface HfFolderOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

export interface HfFolder<C> {
  readonly config: C;
  readonly tokenizer: HfTokenizer;
  readonly tensors: Map<string, SafeTensor>;
  readonly weightsPath: string;
}

/** Config, tokenizer (no larger than the config's vocabulary) and weights, with progress and cancel. */
export async function readHfFolder<C extends { readonly vocabSize: number }>(dir: string, parseConfig: (raw: unknown, where: string) => C, options: HfFolderOptions = {}): Promise<HfFolder<C>> {
  const { signal, onProgress } = options;
  throwIfCancelled(signal);
  const configPath = path.join(dir, 'config.json');
  const config = parseConfig(await readJsonFile(configPath, 'config'), configPath);
  onProgress?.(0, 'Reading tokenizer');
  const tokenizer = await HfTokenizer.load(dir);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new AttentionInputError('shape', `The tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocabSize}.`);
  }
  const weightsPath = path.join(dir, 'model.safetensors');
  const tensors = await readSafetensorsFile(weightsPath, { signal, onProgress: (f, m) => onProgress?.(0.05 + 0.9 * f, m) });
  throwIfCancelled(signal);
  return { config, tokenizer, tensors, weightsPath };
}

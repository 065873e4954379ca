// The one head and tail of every Hugging Face loader: read the folder (config → family config,
// tokenizer, safetensors), build the weights from the checked tensors, name the model, and free
// the weights if anything after that throws. Plus the base class every loaded model extends.
import * as path from 'node:path';
import { readTextInside } from '../formats/files';
import { locateWeights, readHfFolder, readJsonFile } from '../formats/hfFolder';
import { folderDetails } from '../open/modelDetails';
import { readSafetensorsHeader, type SafeTensor } from '../formats/safetensors';
import type { HfTokenizer } from '../tokenizers/hfTokenizer';
import { throwIfCancelled } from '../model';
import { disposeTensorsIn } from './weights';
import { streamThreshold } from './streamedWeights';
import type { ModelInfo } from '../../../shared/trace';

/** What every loader takes. */
export interface LoadOptions {
  readonly id?: string;
  readonly name?: string;
  readonly description?: string;
  readonly licence?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

/** What every loaded Hugging Face model shares: config, tokenizer, info, and weights freed once. */
export abstract class LoadedModel<C, W extends object> {
  #weights: W | undefined;

  constructor(
    readonly config: C,
    readonly tokenizer: HfTokenizer,
    weights: W,
    readonly info: ModelInfo,
  ) {
    this.#weights = weights;
  }

  dispose(): void {
    const w = this.#weights;
    this.#weights = undefined;
    if (w) disposeTensorsIn(w);
  }

  /** The weights, or a clear error after dispose(). */
  protected live(): W {
    if (!this.#weights) throw new Error(`${this.info.name} has been disposed.`);
    return this.#weights;
  }
}

/** A built-in model's own folder name and identity. */
export interface BuiltinIdentity {
  readonly folder: string;
  readonly id: string;
  readonly name: string;
}

/** id, name and whether `dir` is a built-in's own folder; other folders are "<family>:<folder>", named after the folder. */
export function folderIdentity(
  dir: string,
  family: string,
  options: { readonly id?: string; readonly name?: string },
  builtin?: BuiltinIdentity,
): { id: string; name: string; builtin: boolean } {
  const resolved = path.resolve(dir);
  // A Hugging Face cache snapshot (models--org--name/snapshots/<commit>) is named after its repo, not its commit.
  const snapshot = /(?:^|[\\/])models--([^\\/]+)[\\/]snapshots[\\/][^\\/]+$/.exec(resolved);
  const base = snapshot ? snapshot[1]!.split('--').join('/') : path.basename(resolved);
  const own = builtin && base === builtin.folder ? builtin : undefined;
  return {
    id: options.id ?? own?.id ?? `${family}:${base}`,
    name: options.name ?? own?.name ?? base,
    builtin: own !== undefined,
  };
}

/** The licence a folder's LICENSE file states, when it is one we recognise. */
export async function detectLicence(dir: string): Promise<string | undefined> {
  try {
    // Through the safe file layer: a LICENSE that is a FIFO, a device or a link out of the folder is not read.
    const text = (await readTextInside(dir, 'LICENSE', { kind: 'text', optional: true })) ?? '';
    if (/Apache License[\s\S]{0,200}Version 2\.0/.test(text)) return 'Apache-2.0';
    if (/MIT License/.test(text)) return 'MIT';
  } catch {
    // no licence file
  }
  return undefined;
}

/** What a family tells the one loader. */
export interface FamilyLoader<C extends { readonly vocabSize: number }, W extends object, M> {
  readonly family: (config: C) => string;
  readonly parseConfig: (raw: unknown, where: string) => C;
  /** Checks every tensor (before allocating any) and builds the weights; `parameters` counts what the model uses. */
  readonly buildWeights: (
    tensors: Map<string, SafeTensor>,
    config: C,
    where: string,
  ) => { weights: W; parameters: number };
  readonly builtin?: BuiltinIdentity;
  readonly describe: (config: C, builtin: boolean) => string;
  /** Layers, heads, kvHeads and dModel for ModelInfo. */
  readonly shape: (config: C) => Pick<ModelInfo, 'layers' | 'heads' | 'kvHeads' | 'dModel'>;
  /** The licence when the caller gives none. */
  readonly licence?: (dir: string, builtin: boolean) => Promise<string | undefined> | string | undefined;
  readonly make: (config: C, tokenizer: HfTokenizer, weights: W, info: ModelInfo) => M;
}

/** Sum of the element counts of `tensors` (each once), from their shapes: a compact tensor's data is not converted. */
export function countParameters(tensors: Iterable<Pick<SafeTensor, 'shape'>>): number {
  let n = 0;
  for (const t of tensors) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * Whether a single-file checkpoint's float32 weights exceed the stream threshold (from its header):
 * then its tensors are read compactly and its layers streamed. Any problem is left to the real read.
 */
async function overThreshold(dir: string): Promise<boolean> {
  try {
    const where = await locateWeights(dir);
    if (where.kind !== 'single') return false;
    const { tensors } = await readSafetensorsHeader(where.file, dir);
    return countParameters(tensors) * 4 > streamThreshold();
  } catch {
    return false;
  }
}

/** Loads a Hugging Face folder through a family's config map and weight map. */
export async function loadHfFolder<C extends { readonly vocabSize: number }, W extends object, M>(
  dir: string,
  options: LoadOptions,
  f: FamilyLoader<C, W, M>,
): Promise<M> {
  const compact = await overThreshold(dir);
  const { config, tokenizer, tensors, weightsPath } = await readHfFolder(dir, f.parseConfig, {
    ...options,
    ...(compact ? { compact } : {}),
  });
  const { weights, parameters } = f.buildWeights(tensors, config, weightsPath);
  try {
    throwIfCancelled(options.signal);
    const family = f.family(config);
    const { id, name, builtin } = folderIdentity(dir, family, options, f.builtin);
    const licence = options.licence ?? (await f.licence?.(dir, builtin));
    const raw = await readJsonFile(path.join(dir, 'config.json'), 'config');
    const details = await folderDetails(dir, raw, config.vocabSize);
    const info: ModelInfo = {
      id,
      name,
      family,
      description: options.description ?? f.describe(config, builtin),
      ...f.shape(config),
      parameters,
      ...(licence ? { licence } : {}),
      details,
    };
    options.onProgress?.(1, 'Model ready');
    return f.make(config, tokenizer, weights, info);
  } catch (err) {
    disposeTensorsIn(weights);
    throw err;
  }
}

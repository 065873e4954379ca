// Users' own models from disk: a Hugging Face checkpoint folder (its config.json) or a
// TensorFlow.js layers model (its model.json). Picks the loader from the file itself and keeps
// the last loaded model, reloading it when its files change.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { hfFamilyOf, readJsonFile, type HfFamily } from '../formats/hfFolder';
import { loadLlama } from '../families/llama/model';
import { loadQwen2 } from '../families/qwen2/model';
import { loadQwen3 } from '../families/qwen3/model';
import { loadMistral } from '../families/mistral/model';
import { loadSmolLm3 } from '../families/smollm/model';
import { loadGptNeox } from '../families/gptneox/model';
import { loadPhi3 } from '../families/phi3/model';
import { loadGemma } from '../families/gemma/model';
import { loadGemma2 } from '../families/gemma2/model';
import { loadGemma3 } from '../families/gemma3/model';
import { loadGpt2 } from '../families/gpt2/model';
import { loadBert } from '../families/bert/model';
import { loadEncoderDecoder } from '../families/marian/model';
import { loadT5 } from '../families/t5/model';
import { loadBart } from '../families/bart/model';
import { loadTfjsLayersModel } from '../families/tfjsLayers/model';
import type { AttentionModel } from '../model';
import { AttentionInputError } from '../../../shared/trace';

export { HF_FAMILIES, hfFamilyOf, type HfFamily, type ModelRole } from '../formats/hfFolder';

export interface LoadFileOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

/** Each family of the one list (formats/hfFolder.ts) and its loader. */
const LOADERS: Readonly<Record<HfFamily, (dir: string, options: LoadFileOptions) => Promise<AttentionModel>>> = {
  llama: loadLlama,
  qwen2: loadQwen2,
  qwen3: loadQwen3,
  mistral: loadMistral,
  smollm3: loadSmolLm3,
  phi3: loadPhi3,
  gpt_neox: loadGptNeox,
  gemma: loadGemma,
  gemma2: loadGemma2,
  gemma3_text: loadGemma3,
  gpt2: loadGpt2,
  bert: loadBert,
  distilbert: loadBert,
  roberta: loadBert,
  'xlm-roberta': loadBert,
  marian: loadEncoderDecoder,
  t5: loadT5,
  bart: loadBart,
  mbart: loadBart,
};

/** A Hugging Face checkpoint folder through its family's loader. */
export async function loadHfModel(dir: string, options: LoadFileOptions = {}): Promise<AttentionModel> {
  const configPath = path.join(dir, 'config.json');
  const family = hfFamilyOf(await readJsonFile(configPath, 'config'), configPath);
  return LOADERS[family](dir, options);
}

export type ModelFileKind = 'hf-config' | 'tfjs-layers';

/** What a model file is, from its name and contents; an error says what was expected. */
export async function modelFileKind(file: string): Promise<ModelFileKind> {
  const raw = await readJsonFile(file, 'file');
  const o = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  if ('modelTopology' in o || 'weightsManifest' in o) return 'tfjs-layers';
  if ('model_type' in o || 'architectures' in o) return 'hf-config';
  throw new AttentionInputError(
    'file',
    `${file} is neither a Hugging Face config.json (it has no "model_type") nor a TensorFlow.js model.json (it has no "modelTopology"). ` +
      'Open the config.json beside model.safetensors, or the model.json beside its weight shards.',
  );
}

export async function loadModelFile(file: string, options: LoadFileOptions = {}): Promise<AttentionModel> {
  const kind = await modelFileKind(file);
  return kind === 'tfjs-layers' ? loadTfjsLayersModel(file, options) : loadHfModel(path.dirname(file), options);
}

/** Newest modification time among a model folder's files: a re-saved checkpoint reloads. */
async function stamp(file: string): Promise<number> {
  const dir = path.dirname(file);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  let newest = 0;
  for (const n of names) {
    const st = await fs.stat(path.join(dir, n)).catch(() => undefined);
    if (st?.isFile()) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

/** Keeps the last user model loaded (a worker runs one at a time; weights can be large). */
export class ModelFileCache {
  private current: { file: string; stamp: number; model: Promise<AttentionModel> } | undefined;

  async get(file: string, options: LoadFileOptions = {}): Promise<AttentionModel> {
    const s = await stamp(file);
    if (this.current && this.current.file === file && this.current.stamp === s) return this.current.model;
    this.dispose();
    const model = loadModelFile(file, options);
    this.current = { file, stamp: s, model };
    // A failed or cancelled load is not kept: the next request tries again.
    model.catch(() => {
      if (this.current?.model === model) this.current = undefined;
    });
    return model;
  }

  dispose(): void {
    const old = this.current;
    this.current = undefined;
    void old?.model.then((m) => m.dispose(), () => undefined);
  }
}

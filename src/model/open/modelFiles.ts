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

/** A cached model in use by one run; release() when the run is over (the model may then be freed). */
export interface ModelLease {
  readonly model: AttentionModel;
  release(): void;
}

interface Entry {
  readonly file: string;
  readonly stamp: number;
  readonly model: Promise<AttentionModel>;
  /** Aborts the shared load: only when every run waiting for it has cancelled. */
  readonly load: AbortController;
  /** Runs holding or awaiting this model. */
  users: number;
  lastUsed: number;
}

/** `promise`, or a 'cancelled' rejection as soon as `signal` aborts (the promise itself runs on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AttentionInputError('cancelled', 'The run was cancelled.'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Users' models, reference-counted: a model in use by a run is never disposed under it (two runs
 * of two model files at once both finish), and a run's cancel stops only its own wait: a load
 * shared by several runs is aborted only when all of them have cancelled. Of the models no run
 * holds, the most recently used `keepIdle` stay loaded (weights can be large).
 */
export class ModelFileCache {
  private readonly entries = new Set<Entry>();

  constructor(private readonly keepIdle = 1) {}

  /** The model of `file` (loaded once for every run that asks while it is current) for one run. */
  async acquire(file: string, options: LoadFileOptions = {}): Promise<ModelLease> {
    const s = await stamp(file);
    let entry = [...this.entries].find((e) => e.file === file && e.stamp === s);
    if (!entry) {
      const load = new AbortController();
      const model = loadModelFile(file, { signal: load.signal, onProgress: options.onProgress });
      entry = { file, stamp: s, model, load, users: 0, lastUsed: Date.now() };
      const added = entry;
      this.entries.add(added);
      // A failed or cancelled load is not kept: the next request tries again.
      model.catch(() => this.entries.delete(added));
    }
    const e = entry;
    e.users++;
    e.lastUsed = Date.now();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      e.users--;
      e.lastUsed = Date.now();
      this.evict();
    };
    try {
      const model = await untilAborted(e.model, options.signal);
      return { model, release };
    } catch (err) {
      // Nobody else waits for this load: stop it, and let a later request start its own.
      if (e.users === 1) {
        e.load.abort();
        this.entries.delete(e);
      }
      release();
      throw err;
    }
  }

  /** The model for a use that needs no lease (it may be replaced by a later request). */
  async get(file: string, options: LoadFileOptions = {}): Promise<AttentionModel> {
    const lease = await this.acquire(file, options);
    lease.release();
    return lease.model;
  }

  /** Frees models no run holds beyond the newest `keepIdle`, and every stale one (its files changed). */
  private evict(): void {
    const idle = [...this.entries].filter((e) => e.users === 0).sort((a, b) => b.lastUsed - a.lastUsed);
    const newest = new Map<string, number>();
    for (const e of this.entries) newest.set(e.file, Math.max(newest.get(e.file) ?? 0, e.stamp));
    idle.forEach((e, i) => {
      if (i >= this.keepIdle || e.stamp < newest.get(e.file)!) this.drop(e);
    });
  }

  private drop(e: Entry): void {
    this.entries.delete(e);
    void e.model.then(
      (m) => m.dispose(),
      () => undefined,
    );
  }

  /** Frees every model no run holds; held ones are freed when released. */
  dispose(): void {
    for (const e of [...this.entries]) if (e.users === 0) this.drop(e);
  }
}

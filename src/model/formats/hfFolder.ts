// Reading a Hugging Face checkpoint folder: config.json, the tokenizer (tokenizer.json, or vocab.txt /
// vocab.json + merges.txt) and the weights (model.safetensors, or shards listed by
// model.safetensors.index.json), with the checks every family needs: the one list of supported
// families, one config reader, one weight-spec checker. Each family maps its own config.
// Only safetensors are read: pickled PyTorch files and other frameworks' formats are refused by name,
// without opening them. Over 400 lines because refusing other formats well takes words.
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { HfTokenizer } from '../tokenizers/hfTokenizer';
import { throwIfCancelled } from '../model';
import {
  nonFiniteMessage,
  readSafetensorsCompact,
  readSafetensorsFile,
  readSafetensorsHeader,
  type SafeTensor,
} from './safetensors';
import { readJsonInside, resolveInside, splitPath, type FileKind } from './files';
import { AttentionInputError } from '../../../shared/trace';

/** The kind (and so the size cap) of a JSON file, from its name. */
function jsonKind(name: string): FileKind {
  if (name === 'model.json') return 'model-json';
  if (name.endsWith('.index.json')) return 'index';
  if (name.endsWith('.attention.json')) return 'attention-json';
  if (/^(tokenizer|vocab|special_tokens_map|added_tokens)/.test(name)) return 'tokenizer';
  return 'config';
}

/** A JSON file read through the safe file layer as a file of its own folder (contained, regular, capped, nesting-bounded). */
export async function readJsonFile(file: string, code: 'config' | 'file', kind?: FileKind): Promise<unknown> {
  const [folder, rel] = splitPath(file);
  return readJsonInside(folder, rel, { kind: kind ?? jsonKind(rel), code });
}

/** Walks up from `startDir` to the first folder containing `rel/config.json` (a built-in model's folder). */
export function findBuiltinDir(rel: string, startDir: string = __dirname): string {
  let dir = path.resolve(startDir);
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, rel);
    if (existsSync(path.join(candidate, 'config.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new AttentionInputError('file', `The built-in model folder ${rel} was not found above ${startDir}.`);
}

// ---------------------------------------------------------------------------------------------
// The one list of Hugging Face families

export type HfFamily =
  | 'llama'
  | 'gpt2'
  | 'bert'
  | 'distilbert'
  | 'roberta'
  | 'xlm-roberta'
  | 'marian'
  | 'qwen2'
  | 'gemma'
  | 'gemma2'
  | 'gemma3_text'
  | 'qwen3'
  | 'mistral'
  | 'smollm3'
  | 'phi3'
  | 'gpt_neox'
  | 't5'
  | 'bart'
  | 'mbart';
export type ModelRole = 'decoder' | 'encoder' | 'encoder-decoder';

export interface HfFamilyInfo {
  readonly role: ModelRole;
  readonly label: string;
  /** config.json's architectures start with this when model_type is absent (older checkpoints). */
  readonly architecture: string;
  /** The same network under another name: listed beside it, "roberta (and xlm-roberta)". */
  readonly sameNetworkAs?: HfFamily;
  /** Read in another family's layout, differing only in configuration (Qwen2: Llama with q/k/v biases). */
  readonly layoutOf?: HfFamily;
}

/** Every family the loaders read, keyed by config.json's model_type, in the order messages list them. */
export const HF_FAMILIES: Readonly<Record<HfFamily, HfFamilyInfo>> = {
  llama: { role: 'decoder', label: 'Llama (causal, RoPE, grouped-query attention)', architecture: 'Llama' },
  gpt2: { role: 'decoder', label: 'GPT-2 (causal, learned positions)', architecture: 'GPT2' },
  bert: { role: 'encoder', label: 'BERT (bidirectional encoder)', architecture: 'Bert' },
  distilbert: { role: 'encoder', label: 'DistilBERT (bidirectional encoder)', architecture: 'DistilBert' },
  roberta: { role: 'encoder', label: 'RoBERTa (bidirectional encoder)', architecture: 'Roberta' },
  'xlm-roberta': {
    role: 'encoder',
    label: 'XLM-RoBERTa (bidirectional encoder)',
    architecture: 'XLMRoberta',
    sameNetworkAs: 'roberta',
  },
  marian: { role: 'encoder-decoder', label: 'Marian (encoder–decoder with cross-attention)', architecture: 'Marian' },
  t5: {
    role: 'encoder-decoder',
    label: 'T5 / Flan-T5 (encoder–decoder, relative position bias, no 1/√d)',
    architecture: 'T5',
  },
  bart: {
    role: 'encoder-decoder',
    label: 'BART (encoder–decoder, learned positions, post-norm)',
    architecture: 'Bart',
    layoutOf: 'marian',
  },
  mbart: {
    role: 'encoder-decoder',
    label: 'mBART (multilingual BART, pre-norm, final layer norms)',
    architecture: 'MBart',
    layoutOf: 'marian',
  },
  qwen2: {
    role: 'decoder',
    label: 'Qwen2 (causal, RoPE, grouped-query attention, q/k/v biases)',
    architecture: 'Qwen2',
    layoutOf: 'llama',
  },
  // Llama's tensor names and block, configured: GeGLU, (1 + w) norms, √d embeddings; Gemma 2/3 add norms, soft-capping, local layers.
  gemma: {
    role: 'decoder',
    label: 'Gemma (causal, RoPE, GeGLU, RMSNorm gains 1 + w)',
    architecture: 'Gemma',
    layoutOf: 'llama',
  },
  gemma2: {
    role: 'decoder',
    label: 'Gemma 2 (causal, local/global layers, soft-capped scores and logits)',
    architecture: 'Gemma2',
    layoutOf: 'llama',
  },
  gemma3_text: {
    role: 'decoder',
    label: 'Gemma 3 text (causal, local/global layers, QK-norm, two RoPE bases)',
    architecture: 'Gemma3ForCausalLM',
    layoutOf: 'llama',
  },
  qwen3: {
    role: 'decoder',
    label: 'Qwen3 (causal, RoPE, grouped-query attention, QK-norm)',
    architecture: 'Qwen3',
    layoutOf: 'llama',
  },
  mistral: {
    role: 'decoder',
    label: 'Mistral (causal, RoPE, grouped-query attention, sliding window)',
    architecture: 'Mistral',
    layoutOf: 'llama',
  },
  smollm3: {
    role: 'decoder',
    label: 'SmolLM3 (causal, grouped-query attention, every 4th layer without RoPE)',
    architecture: 'SmolLM3',
    layoutOf: 'llama',
  },
  phi3: {
    role: 'decoder',
    label: 'Phi-3 / Phi-4-mini (causal, fused projections, partial RoPE, longrope)',
    architecture: 'Phi3',
    layoutOf: 'llama',
  },
  gpt_neox: {
    role: 'decoder',
    label: 'GPT-NeoX / Pythia (causal, partial RoPE, attention and MLP in parallel)',
    architecture: 'GPTNeoX',
  },
};

const FAMILY_NAMES = Object.keys(HF_FAMILIES) as HfFamily[];

/** "llama, gpt2, bert, distilbert, roberta, xlm-roberta, marian, qwen2" */
export const SUPPORTED_MODEL_TYPES = FAMILY_NAMES.join(', ');

/** The list grouped by network: "llama, gpt2, …, roberta (and xlm-roberta), marian. Also in the Llama layout: qwen2." */
export const SUPPORTED_HF_FAMILIES = ((): string => {
  const own = FAMILY_NAMES.filter((f) => !HF_FAMILIES[f].sameNetworkAs && !HF_FAMILIES[f].layoutOf);
  const named = own.map((f) => {
    const same = FAMILY_NAMES.filter((g) => HF_FAMILIES[g].sameNetworkAs === f);
    return same.length ? `${f} (and ${same.join(', ')})` : f;
  });
  const layouts = own
    .map((f) => ({ f, variants: FAMILY_NAMES.filter((g) => HF_FAMILIES[g].layoutOf === f) }))
    .filter((x) => x.variants.length > 0)
    .map((x) => ` Also in the ${HF_FAMILIES[x.f].label.split(' ')[0]} layout: ${x.variants.join(', ')}.`);
  return `${named.join(', ')}.${layouts.join('')}`.replace(/\.$/, '');
})();

/** The family a config.json names (model_type, else its architectures), or a clear error listing what is supported. */
export function hfFamilyOf(raw: unknown, where: string): HfFamily {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new AttentionInputError('config', `${where} is not a JSON object.`);
  const c = raw as Record<string, unknown>;
  const type = c['model_type'];
  const archs = Array.isArray(c['architectures']) ? c['architectures'].map(String) : [];
  if (typeof type === 'string' && type in HF_FAMILIES) return type as HfFamily;
  // Older decoder checkpoints name only their architecture (encoders always say model_type).
  const byArch = (['llama', 'gpt2', 'qwen2'] as const).find(
    (f) => type === undefined && archs.some((a) => a.startsWith(HF_FAMILIES[f].architecture)),
  );
  if (byArch) return byArch;
  const named =
    type === undefined
      ? archs.length
        ? `architectures ${archs.join(', ')} and no "model_type"`
        : 'no "model_type"'
      : `model_type "${String(type)}"`;
  throw new AttentionInputError(
    'unsupported',
    `${where} has ${named}. Supported Hugging Face families: ${SUPPORTED_MODEL_TYPES}. TensorFlow.js layers models load from their model.json.`,
  );
}

// ---------------------------------------------------------------------------------------------
// config.json values

/**
 * Upper bounds on config.json's counts and sizes, far above any real checkpoint (the largest have
 * ~130 layers, 128 heads, 262k tokens): a config's number alone never sizes an allocation or a
 * loop; a count within bounds must still agree with the tensors present (checkWeights).
 */
const CONFIG_BOUNDS: readonly { readonly keys: RegExp; readonly max: number; readonly what: string }[] = [
  {
    keys: /^(num_hidden_layers|n_layers?|num_layers|(en|de)coder_layers|num_decoder_layers)$/,
    max: 1024,
    what: 'a layer count',
  },
  {
    keys: /^(num_attention_heads|num_key_value_heads|n_heads?|num_heads|(en|de)coder_attention_heads|n_kv_heads)$/,
    max: 1024,
    what: 'a head count',
  },
  { keys: /^vocab_size$/, max: 1 << 22, what: 'a vocabulary size' },
  { keys: /_token_id$/, max: 1 << 22, what: 'a token id' },
  {
    keys: /^(max_position_embeddings|n_positions|n_ctx|max_seq_len|sliding_window)$/,
    max: 1 << 24,
    what: 'a position count',
  },
  {
    keys: /^(hidden_size|n_embd|d_model|dim|intermediate_size|n_inner|d_ff|ffn_dim|(en|de)coder_ffn_dim|head_dim|d_kv|hidden_dim)$/,
    max: 1 << 18,
    what: 'a width',
  },
];
/** Any other integer field. */
const MAX_CONFIG_INT = 2 ** 31 - 1;

export function configBound(key: string): { readonly max: number; readonly what: string } {
  return CONFIG_BOUNDS.find((b) => b.keys.test(key)) ?? { max: MAX_CONFIG_INT, what: 'an integer' };
}

/** Reads positive integers / numbers from a config object with clear AttentionInputError('config') messages. */
export function configReader(raw: unknown, where: string) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new AttentionInputError('config', `${where} is not a JSON object.`);
  const c = raw as Record<string, unknown>;
  const fail = (message: string): never => {
    throw new AttentionInputError('config', message);
  };
  const bounded = (key: string, v: number): number => {
    const b = configBound(key);
    if (v > b.max)
      fail(
        `${where}: "${key}" is ${v}, but at most ${b.max} is accepted for ${b.what} (far above any real checkpoint): the config is corrupted or hand-edited.`,
      );
    return v;
  };
  const int = (key: string, fallback?: number, min = 1): number => {
    const v = c[key] ?? fallback;
    if (v === undefined || v === null) fail(`${where} is missing "${key}".`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      fail(
        `${where}: "${key}" must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, not ${JSON.stringify(v)}.`,
      );
    }
    return bounded(key, v as number);
  };
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (v === undefined || v === null) fail(`${where} is missing "${key}".`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      fail(`${where}: "${key}" must be a positive number, not ${JSON.stringify(v)}.`);
    return v as number;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'boolean') fail(`${where}: "${key}" must be true or false, not ${JSON.stringify(v)}.`);
    return v as boolean;
  };
  const optInt = (key: string): number | undefined =>
    typeof c[key] === 'number' && Number.isInteger(c[key]) && (c[key] as number) >= 0
      ? bounded(key, c[key] as number)
      : undefined;
  const architectures = Array.isArray(c['architectures']) ? (c['architectures'] as unknown[]).map(String) : [];
  return { c, int, num, bool, optInt, fail, architectures };
}

// ---------------------------------------------------------------------------------------------
// The one weight-spec checker

/** A tensor a family needs: its name, the shape config.json implies, and what that shape means. */
export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** e.g. 'kv_heads·head_dim × hidden_size': printed beside the shapes when they differ. */
  readonly meaning: string;
  /** Names tried in the file, in order (default: the check's candidates, else the name). */
  readonly keys?: readonly string[];
  readonly optional?: boolean;
  /** Said after a missing tensor's shape, e.g. 'config.json says n_layer = 2'. */
  readonly context?: string;
}

export interface WeightCheck {
  /** The weights file, named in messages. */
  readonly where: string;
  /** Names a spec may have in the file, in order: e.g. with and without "transformer.". */
  readonly candidates?: (name: string) => readonly string[];
  /** How a shape error names the tensor (default: the key found in the file). */
  readonly shown?: (key: string) => string;
  /** Said after every missing tensor's shape. */
  readonly context?: string;
}

const fmtShape = (shape: readonly number[]): string => shape.join('×');

/**
 * Finds and shape-checks every tensor a family needs before anything is allocated: a missing tensor
 * is AttentionInputError('file'), a wrong shape ('shape') with the received and expected shapes.
 * Returns the tensors found, keyed by spec name (optional ones that are absent are left out).
 */
export function checkWeights(
  tensors: ReadonlyMap<string, SafeTensor>,
  specs: readonly WeightSpec[],
  check: WeightCheck,
): Map<string, SafeTensor> {
  const found = new Map<string, SafeTensor>();
  for (const s of specs) {
    const keys = s.keys ?? check.candidates?.(s.name) ?? [s.name];
    const key = keys.find((k) => tensors.has(k));
    if (key === undefined) {
      if (s.optional) continue;
      const context = s.context ?? check.context;
      throw new AttentionInputError(
        'file',
        `${check.where} has no tensor "${keys.join('" or "')}" (${s.meaning}, ${fmtShape(s.shape)}${context ? `; ${context}` : ''}).`,
      );
    }
    const t = tensors.get(key)!;
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new AttentionInputError(
        'shape',
        `${check.shown?.(key) ?? key} is ${fmtShape(t.shape)} but ${s.meaning} is ${fmtShape(s.shape)} (from config.json).`,
      );
    }
    if (t.nonFinite) throw nonFiniteError(check.shown?.(key) ?? key, t, check.where);
    found.set(s.name, t);
  }
  return found;
}

/** The refusal of a tensor with NaN, ±Inf or overflowing values, naming it and the first bad value's position. */
function nonFiniteError(name: string, t: SafeTensor, where: string): AttentionInputError {
  return new AttentionInputError('file', `${where}: ${nonFiniteMessage(name, t.shape, t.nonFinite!)}`);
}

/** Whether any of a spec name's candidate keys is in the file. */
export function hasWeight(
  tensors: ReadonlyMap<string, SafeTensor>,
  name: string,
  check: Pick<WeightCheck, 'candidates'>,
): boolean {
  return (check.candidates?.(name) ?? [name]).some((k) => tensors.has(k));
}

// ---------------------------------------------------------------------------------------------

export interface HfFolderOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
  /** Keep each tensor's stored bytes and convert on use (readSafetensorsCompact): checkpoints too big to hold as float32. */
  readonly compact?: boolean;
}

export interface HfFolder<C> {
  readonly config: C;
  readonly tokenizer: HfTokenizer;
  readonly tensors: Map<string, SafeTensor>;
  /** model.safetensors, or model.safetensors.index.json for a sharded checkpoint (named in messages). */
  readonly weightsPath: string;
  /** Every safetensors file read, in reading order. */
  readonly weightFiles: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Finding the weights (by file name only) and refusing formats that are not safetensors

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
/** Most tensors and shard files an index may list (real ones: a few thousand tensors, a few hundred shards). */
const MAX_INDEX_TENSORS = 1 << 18;
const MAX_SHARDS = 8192;

export type WeightsLocation =
  | { readonly kind: 'single'; readonly file: string }
  | { readonly kind: 'sharded'; readonly index: string };

interface Refused {
  readonly test: (name: string) => boolean;
  readonly what: string;
  /** Why it is not read. */
  readonly why: string;
  /** transformers' from_pretrained flag for converting it, if transformers can. */
  readonly flag?: string;
}

const PICKLE_WHY = 'is a Python pickle, and unpickling can run any code hidden in the file, so it is never opened';
const REFUSED: readonly Refused[] = [
  {
    test: (n) => /^pytorch_model(-\d+-of-\d+)?\.bin(\.index\.json)?$/.test(n),
    what: 'PyTorch weights',
    why: PICKLE_WHY,
    flag: '',
  },
  {
    test: (n) => /\.(pt|pth|bin)$/.test(n) && !/^(training_args|optimizer|scheduler|rng_state)/.test(n),
    what: 'PyTorch weights',
    why: PICKLE_WHY,
    flag: '',
  },
  {
    test: (n) => /^tf_model(-\d+-of-\d+)?\.h5(\.index\.json)?$/.test(n) || /\.(h5|keras)$/.test(n),
    what: 'TensorFlow/Keras weights',
    why: 'needs TensorFlow to read',
    flag: 'from_tf=True',
  },
  {
    test: (n) => /^model\.ckpt(\.index|\.meta|\.data-\d+-of-\d+)?$/.test(n),
    what: 'a TensorFlow checkpoint',
    why: 'needs TensorFlow to read',
    flag: 'from_tf=True',
  },
  { test: (n) => /\.ckpt$/.test(n), what: 'a PyTorch (Lightning) checkpoint', why: PICKLE_WHY },
  {
    test: (n) => /^flax_model(-\d+-of-\d+)?\.msgpack(\.index\.json)?$/.test(n),
    what: 'Flax weights',
    why: 'needs JAX/Flax to read',
    flag: 'from_flax=True',
  },
  {
    test: (n) => /\.gguf$/.test(n),
    what: 'GGUF weights (llama.cpp)',
    why: 'is a quantised llama.cpp format, not a Hugging Face checkpoint',
  },
  { test: (n) => /\.onnx$/.test(n), what: 'an ONNX graph', why: 'is a compiled graph, not a Hugging Face checkpoint' },
];

/**
 * A Python string literal safe inside the one-liner's single shell quotes: JSON's escapes (valid
 * Python), and a quote, control, line-separator or bidi character written as \uXXXX, so no folder
 * name can end the shell quote, start a new line or reorder what the reader sees.
 */
export function pythonString(s: string): string {
  return JSON.stringify(s).replace(
    /['\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The class to name in the conversion one-liner: config.json's architectures[0], else AutoModel. */
async function architectureOf(dir: string): Promise<string> {
  try {
    const raw = (await readJsonInside(dir, 'config.json', { kind: 'config', optional: true })) as
      | { architectures?: unknown }
      | undefined;
    const arch = Array.isArray(raw?.architectures) ? raw.architectures[0] : undefined;
    if (typeof arch === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(arch)) return arch;
  } catch {
    // no usable config.json: fall back to AutoModel
  }
  return 'AutoModel';
}

/**
 * Where a folder's safetensors weights are, from the file names alone (no file is opened except,
 * for a refusal message, config.json). Throws AttentionInputError('unsupported') for folders whose
 * weights are only in pickled or other frameworks' formats, and ('file') when there are no weights.
 */
export async function locateWeights(dir: string): Promise<WeightsLocation> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch (err) {
    throw new AttentionInputError('file', `Cannot list the model folder ${dir}: ${(err as Error).message}`);
  }
  if (names.includes(SINGLE)) return { kind: 'single', file: path.join(dir, SINGLE) };
  if (names.includes(INDEX)) return { kind: 'sharded', index: path.join(dir, INDEX) };
  const found = new Map<Refused, string[]>();
  for (const n of names) {
    const r = REFUSED.find((x) => x.test(n));
    if (r) found.set(r, [...(found.get(r) ?? []), n]);
  }
  if (found.size > 0) {
    const [r, files] = [...found.entries()][0]!;
    const list = files.slice(0, 4).join(', ') + (files.length > 4 ? `, … (${files.length} files)` : '');
    let how: string;
    if (r.flag !== undefined) {
      const arch = await architectureOf(dir);
      const d = pythonString(path.resolve(dir));
      const from = r.flag ? `${d}, ${r.flag}` : d;
      how =
        ` To convert it once to safetensors, run this where Python has torch and transformers (pip install torch transformers)${r.flag ? ` (and ${r.flag === 'from_tf=True' ? 'tensorflow' : 'jax/flax'})` : ''}:\n` +
        `python -c 'from transformers import ${arch} as M; M.from_pretrained(${from}).save_pretrained(${d}, safe_serialization=True)'\n` +
        `This writes model.safetensors (or shards with ${INDEX}) into the same folder.` +
        (r.why === PICKLE_WHY ? ' Only convert files you trust: the conversion itself unpickles them.' : '');
    } else {
      how = " Use the model's original Hugging Face checkpoint in safetensors format (model.safetensors) instead.";
    }
    throw new AttentionInputError(
      'unsupported',
      `${dir} has ${r.what} (${list}) but no ${SINGLE}. This format ${r.why}: Attention Lens loads safetensors only.${how}`,
    );
  }
  const otherSafetensors = names.filter((n) => n.endsWith('.safetensors'));
  if (otherSafetensors.length > 0) {
    const shards = otherSafetensors.some((n) => /-\d+-of-\d+\.safetensors$/.test(n));
    throw new AttentionInputError(
      'file',
      `${dir} has ${otherSafetensors.slice(0, 4).join(', ')} but neither ${SINGLE} nor ${INDEX}. ` +
        (shards
          ? `These look like shards: the index file ${INDEX} that lists which tensor is in which shard is missing.`
          : `Rename the weights file to ${SINGLE}.`),
    );
  }
  throw new AttentionInputError(
    'file',
    `${dir} has no model weights. Looked for ${SINGLE}, or ${INDEX} with its shards (safetensors); ` +
      'also recognised, and refused with advice: pytorch_model.bin (+ shards and index), *.pt/*.pth, tf_model.h5, model.ckpt, flax_model.msgpack, *.gguf, *.onnx.',
  );
}

// ---------------------------------------------------------------------------------------------
// Sharded checkpoints

interface Shard {
  /** As the index names it. */
  readonly name: string;
  readonly file: string;
  /** Tensors the index puts in this shard. */
  readonly tensors: Set<string>;
}

/** Rejects shard names that are not plain relative paths inside the folder. */
function checkShardName(name: string, dir: string, where: string): string {
  const show = JSON.stringify(name.length > 100 ? name.slice(0, 100) + '…' : name);
  if (name.length === 0 || name.includes('\0'))
    throw new AttentionInputError('file', `${where} names an empty or invalid shard file ${show}.`);
  if (path.posix.isAbsolute(name) || path.win32.isAbsolute(name) || /^[A-Za-z]:/.test(name)) {
    throw new AttentionInputError(
      'file',
      `${where} names the shard ${show} by an absolute path; shards must be files inside the model folder.`,
    );
  }
  if (name.split(/[/\\]/).some((part) => part === '..')) {
    throw new AttentionInputError(
      'file',
      `${where} names the shard ${show}, which points outside the model folder ("..").`,
    );
  }
  if (!name.endsWith('.safetensors'))
    throw new AttentionInputError('file', `${where} names the shard ${show}, which is not a .safetensors file.`);
  const root = path.resolve(dir);
  const file = path.resolve(root, name);
  const rel = path.relative(root, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
    throw new AttentionInputError('file', `${where} names the shard ${show}, which is not inside the model folder.`);
  return file;
}

async function readIndex(indexPath: string, dir: string): Promise<Shard[]> {
  // Contained, a regular file, at most MAX_BYTES.index (files.ts), before it is parsed.
  const json = await readJsonFile(indexPath, 'file', 'index');
  const map =
    json && typeof json === 'object' && !Array.isArray(json)
      ? (json as Record<string, unknown>)['weight_map']
      : undefined;
  if (!map || typeof map !== 'object' || Array.isArray(map)) {
    throw new AttentionInputError(
      'file',
      `${indexPath} has no "weight_map" object (expected {"weight_map": {"tensor.name": "model-00001-of-00002.safetensors", …}}).`,
    );
  }
  const entries = Object.entries(map as Record<string, unknown>);
  if (entries.length > MAX_INDEX_TENSORS)
    throw new AttentionInputError(
      'file',
      `${indexPath} lists ${entries.length} tensors, more than the ${MAX_INDEX_TENSORS} accepted (corrupted or crafted).`,
    );
  // Keyed by the file a name resolves to, so "a.safetensors" and "./a.safetensors" are one shard, read once.
  const shards = new Map<string, Shard>();
  for (const [tensor, shardName] of entries) {
    if (typeof shardName !== 'string')
      throw new AttentionInputError(
        'file',
        `${indexPath}: the shard for tensor ${JSON.stringify(tensor.slice(0, 80))} is not a file name.`,
      );
    const file = checkShardName(shardName, dir, indexPath);
    let shard = shards.get(file);
    if (!shard) {
      if (shards.size >= MAX_SHARDS)
        throw new AttentionInputError(
          'file',
          `${indexPath} names more than ${MAX_SHARDS} shard files (corrupted or crafted).`,
        );
      shard = { name: shardName, file, tensors: new Set() };
      shards.set(file, shard);
    }
    shard.tensors.add(tensor);
  }
  if (shards.size === 0)
    throw new AttentionInputError('file', `${indexPath} has an empty weight_map: it lists no tensors.`);
  return [...shards.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Checks every shard's header against the index before any tensor data is read; returns the file sizes. */
async function checkShards(shards: readonly Shard[], indexPath: string, dir: string): Promise<number[]> {
  const sizes: number[] = [];
  const holders = new Map<string, string[]>();
  for (const s of shards) {
    const rel = path.relative(dir, s.file);
    if ((await resolveInside(dir, rel, { what: 'The shard', optional: true })) === undefined) {
      throw new AttentionInputError(
        'file',
        `The shard ${s.name} named in ${indexPath} is missing from the model folder (${s.file}).`,
      );
    }
    const header = await readSafetensorsHeader(s.file, dir);
    sizes.push(header.fileSize);
    for (const t of header.tensors) holders.set(t.name, [...(holders.get(t.name) ?? []), s.name]);
  }
  const show = (name: string): string => JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name);
  const listed = new Map<string, string>();
  for (const s of shards) for (const t of s.tensors) listed.set(t, s.name);
  for (const [name, held] of holders) {
    if (held.length > 1)
      throw new AttentionInputError(
        'file',
        `Tensor ${show(name)} is stored in more than one shard (${held.join(', ')}); each tensor must be in exactly one.`,
      );
    const want = listed.get(name);
    if (want === undefined)
      throw new AttentionInputError('file', `${held[0]} holds tensor ${show(name)}, which ${indexPath} does not list.`);
    if (want !== held[0])
      throw new AttentionInputError(
        'file',
        `Tensor ${show(name)} is in ${held[0]}, but ${indexPath} puts it in ${want}.`,
      );
  }
  for (const [name, want] of listed) {
    if (!holders.has(name))
      throw new AttentionInputError(
        'file',
        `${indexPath} puts tensor ${show(name)} in ${want}, but that shard does not hold it.`,
      );
  }
  return sizes;
}

export interface CheckpointTensors {
  readonly tensors: Map<string, SafeTensor>;
  /** model.safetensors, or the index for a sharded checkpoint. */
  readonly weightsPath: string;
  /** Every safetensors file read, in reading order. */
  readonly files: readonly string[];
}

/**
 * All tensors of a folder's checkpoint: model.safetensors, or every shard listed by
 * model.safetensors.index.json (each read once, after checking that every tensor is in the shard the
 * index names and in no other, that shard names stay inside the folder and that every shard exists).
 * Progress is by bytes across all files; cancel is honoured between 4 MB chunks. Refuses pickled
 * and other frameworks' formats without reading them (see locateWeights).
 */
export async function readCheckpointTensors(
  dir: string,
  options: HfFolderOptions = {},
  location?: WeightsLocation,
): Promise<CheckpointTensors> {
  const { signal, onProgress } = options;
  throwIfCancelled(signal);
  const where = location ?? (await locateWeights(dir));
  const read = options.compact ? readSafetensorsCompact : readSafetensorsFile;
  if (where.kind === 'single') {
    const tensors = await read(where.file, { signal, onProgress, folder: dir });
    return { tensors, weightsPath: where.file, files: [where.file] };
  }
  const shards = await readIndex(where.index, dir);
  const sizes = await checkShards(shards, where.index, dir);
  const total = Math.max(
    1,
    sizes.reduce((a, b) => a + b, 0),
  );
  const tensors = new Map<string, SafeTensor>();
  let before = 0;
  for (const [i, s] of shards.entries()) {
    throwIfCancelled(signal);
    const label = `shard ${i + 1} of ${shards.length}`;
    const part = await read(s.file, {
      signal,
      folder: dir,
      onProgress: (f, m) => onProgress?.((before + f * sizes[i]!) / total, `${label}: ${m}`),
    });
    // The header was checked above; a file replaced in between must still match the index.
    for (const [name, t] of part) {
      if (!s.tensors.has(name) || tensors.has(name))
        throw new AttentionInputError(
          'file',
          `${s.name} changed while it was being read: tensor ${JSON.stringify(name)} does not match ${where.index}.`,
        );
      tensors.set(name, t);
    }
    if (part.size !== s.tensors.size)
      throw new AttentionInputError(
        'file',
        `${s.name} changed while it was being read: it no longer holds the tensors ${where.index} lists.`,
      );
    before += sizes[i]!;
  }
  onProgress?.(1, `Read ${tensors.size} tensors from ${shards.length} shards`);
  return { tensors, weightsPath: where.index, files: shards.map((s) => s.file) };
}

// ---------------------------------------------------------------------------------------------

/** Config, tokenizer (no larger than the config's vocabulary) and weights, with progress and cancel. */
export async function readHfFolder<C extends { readonly vocabSize: number }>(
  dir: string,
  parseConfig: (raw: unknown, where: string) => C,
  options: HfFolderOptions = {},
): Promise<HfFolder<C>> {
  const { signal, onProgress } = options;
  throwIfCancelled(signal);
  const configPath = path.join(dir, 'config.json');
  const config = parseConfig(await readJsonFile(configPath, 'config'), configPath);
  // By file names only: refuses pickles before anything else is read.
  const location = await locateWeights(dir);
  onProgress?.(0, 'Reading tokenizer');
  const tokenizer = await HfTokenizer.load(dir);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new AttentionInputError(
      'shape',
      `The tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocabSize}.`,
    );
  }
  const { tensors, weightsPath, files } = await readCheckpointTensors(
    dir,
    { signal, onProgress: (f, m) => onProgress?.(0.05 + 0.9 * f, m), ...(options.compact ? { compact: true } : {}) },
    location,
  );
  throwIfCancelled(signal);
  return { config, tokenizer, tensors, weightsPath, weightFiles: files };
}

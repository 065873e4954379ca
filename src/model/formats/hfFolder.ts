// Reading a Hugging Face checkpoint folder: config.json, the tokenizer (tokenizer.json, or vocab.txt /
// vocab.json + merges.txt) and the weights (model.safetensors, or shards listed by
// model.safetensors.index.json), with the checks every family needs. Each family parses its own config.
// Only safetensors are read: pickled PyTorch files and other frameworks' formats are refused by name,
// without opening them.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { HfTokenizer } from '../tokenizers/hfTokenizer';
import { throwIfCancelled } from '../model';
import { readSafetensorsFile, readSafetensorsHeader, type SafeTensor } from './safetensors';
import { AttentionInputError } from '../../../shared/trace';

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
  /** model.safetensors, or model.safetensors.index.json for a sharded checkpoint (named in messages). */
  readonly weightsPath: string;
  /** Every safetensors file read, in reading order. */
  readonly weightFiles: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Finding the weights (by file name only) and refusing formats that are not safetensors

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
/** Largest index file accepted (real ones are tens of kB). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export type WeightsLocation = { readonly kind: 'single'; readonly file: string } | { readonly kind: 'sharded'; readonly index: string };

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
  { test: (n) => /^pytorch_model(-\d+-of-\d+)?\.bin(\.index\.json)?$/.test(n), what: 'PyTorch weights', why: PICKLE_WHY, flag: '' },
  { test: (n) => /\.(pt|pth|bin)$/.test(n) && !/^(training_args|optimizer|scheduler|rng_state)/.test(n), what: 'PyTorch weights', why: PICKLE_WHY, flag: '' },
  { test: (n) => /^tf_model(-\d+-of-\d+)?\.h5(\.index\.json)?$/.test(n) || /\.(h5|keras)$/.test(n), what: 'TensorFlow/Keras weights', why: 'needs TensorFlow to read', flag: 'from_tf=True' },
  { test: (n) => /^model\.ckpt(\.index|\.meta|\.data-\d+-of-\d+)?$/.test(n), what: 'a TensorFlow checkpoint', why: 'needs TensorFlow to read', flag: 'from_tf=True' },
  { test: (n) => /\.ckpt$/.test(n), what: 'a PyTorch (Lightning) checkpoint', why: PICKLE_WHY },
  { test: (n) => /^flax_model(-\d+-of-\d+)?\.msgpack(\.index\.json)?$/.test(n), what: 'Flax weights', why: 'needs JAX/Flax to read', flag: 'from_flax=True' },
  { test: (n) => /\.gguf$/.test(n), what: 'GGUF weights (llama.cpp)', why: 'is a quantised llama.cpp format, not a Hugging Face checkpoint' },
  { test: (n) => /\.onnx$/.test(n), what: 'an ONNX graph', why: 'is a compiled graph, not a Hugging Face checkpoint' },
];

/** The class to name in the conversion one-liner: config.json's architectures[0], else AutoModel. */
async function architectureOf(dir: string): Promise<string> {
  try {
    const raw = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')) as { architectures?: unknown };
    const arch = Array.isArray(raw.architectures) ? raw.architectures[0] : undefined;
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
      const d = JSON.stringify(path.resolve(dir));
      const from = r.flag ? `${d}, ${r.flag}` : d;
      how =
        ` To convert it once to safetensors, run this where Python has torch and transformers (pip install torch transformers)${r.flag ? ` (and ${r.flag === 'from_tf=True' ? 'tensorflow' : 'jax/flax'})` : ''}:\n` +
        `python -c 'from transformers import ${arch} as M; M.from_pretrained(${from}).save_pretrained(${d}, safe_serialization=True)'\n` +
        `This writes model.safetensors (or shards with ${INDEX}) into the same folder.` +
        (r.why === PICKLE_WHY ? ' Only convert files you trust: the conversion itself unpickles them.' : '');
    } else {
      how = ' Use the model\'s original Hugging Face checkpoint in safetensors format (model.safetensors) instead.';
    }
    throw new AttentionInputError('unsupported', `${dir} has ${r.what} (${list}) but no ${SINGLE}. This format ${r.why}: Attention Lens loads safetensors only.${how}`);
  }
  const otherSafetensors = names.filter((n) => n.endsWith('.safetensors'));
  if (otherSafetensors.length > 0) {
    const shards = otherSafetensors.some((n) => /-\d+-of-\d+\.safetensors$/.test(n));
    throw new AttentionInputError(
      'file',
      `${dir} has ${otherSafetensors.slice(0, 4).join(', ')} but neither ${SINGLE} nor ${INDEX}. ` +
        (shards ? `These look like shards: the index file ${INDEX} that lists which tensor is in which shard is missing.` : `Rename the weights file to ${SINGLE}.`),
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
  if (name.length === 0 || name.includes('\0')) throw new AttentionInputError('file', `${where} names an empty or invalid shard file ${show}.`);
  if (path.posix.isAbsolute(name) || path.win32.isAbsolute(name) || /^[A-Za-z]:/.test(name)) {
    throw new AttentionInputError('file', `${where} names the shard ${show} by an absolute path; shards must be files inside the model folder.`);
  }
  if (name.split(/[/\\]/).some((part) => part === '..')) {
    throw new AttentionInputError('file', `${where} names the shard ${show}, which points outside the model folder ("..").`);
  }
  if (!name.endsWith('.safetensors')) throw new AttentionInputError('file', `${where} names the shard ${show}, which is not a .safetensors file.`);
  const root = path.resolve(dir);
  const file = path.resolve(root, name);
  const rel = path.relative(root, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new AttentionInputError('file', `${where} names the shard ${show}, which is not inside the model folder.`);
  return file;
}

async function readIndex(indexPath: string, dir: string): Promise<Shard[]> {
  let size: number;
  try {
    size = (await fs.stat(indexPath)).size;
  } catch (err) {
    throw new AttentionInputError('file', `Cannot read ${indexPath}: ${(err as Error).message}`);
  }
  if (size > MAX_INDEX_BYTES) throw new AttentionInputError('file', `${indexPath} is ${size} bytes, more than the ${MAX_INDEX_BYTES}-byte limit for a shard index.`);
  const json = await readJsonFile(indexPath, 'file');
  const map = json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>)['weight_map'] : undefined;
  if (!map || typeof map !== 'object' || Array.isArray(map)) {
    throw new AttentionInputError('file', `${indexPath} has no "weight_map" object (expected {"weight_map": {"tensor.name": "model-00001-of-00002.safetensors", …}}).`);
  }
  const shards = new Map<string, Shard>();
  for (const [tensor, shardName] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shardName !== 'string') throw new AttentionInputError('file', `${indexPath}: the shard for tensor ${JSON.stringify(tensor.slice(0, 80))} is not a file name.`);
    let shard = shards.get(shardName);
    if (!shard) {
      shard = { name: shardName, file: checkShardName(shardName, dir, indexPath), tensors: new Set() };
      shards.set(shardName, shard);
    }
    shard.tensors.add(tensor);
  }
  if (shards.size === 0) throw new AttentionInputError('file', `${indexPath} has an empty weight_map: it lists no tensors.`);
  return [...shards.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Checks every shard's header against the index before any tensor data is read; returns the file sizes. */
async function checkShards(shards: readonly Shard[], indexPath: string): Promise<number[]> {
  const sizes: number[] = [];
  const holders = new Map<string, string[]>();
  for (const s of shards) {
    try {
      const st = await fs.stat(s.file);
      if (!st.isFile()) throw new Error('not a file');
      sizes.push(st.size);
    } catch {
      throw new AttentionInputError('file', `The shard ${s.name} named in ${indexPath} is missing from the model folder (${s.file}).`);
    }
    for (const t of (await readSafetensorsHeader(s.file)).tensors) holders.set(t.name, [...(holders.get(t.name) ?? []), s.name]);
  }
  const show = (name: string): string => JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name);
  const listed = new Map<string, string>();
  for (const s of shards) for (const t of s.tensors) listed.set(t, s.name);
  for (const [name, held] of holders) {
    if (held.length > 1) throw new AttentionInputError('file', `Tensor ${show(name)} is stored in more than one shard (${held.join(', ')}); each tensor must be in exactly one.`);
    const want = listed.get(name);
    if (want === undefined) throw new AttentionInputError('file', `${held[0]} holds tensor ${show(name)}, which ${indexPath} does not list.`);
    if (want !== held[0]) throw new AttentionInputError('file', `Tensor ${show(name)} is in ${held[0]}, but ${indexPath} puts it in ${want}.`);
  }
  for (const [name, want] of listed) {
    if (!holders.has(name)) throw new AttentionInputError('file', `${indexPath} puts tensor ${show(name)} in ${want}, but that shard does not hold it.`);
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
export async function readCheckpointTensors(dir: string, options: HfFolderOptions = {}, location?: WeightsLocation): Promise<CheckpointTensors> {
  const { signal, onProgress } = options;
  throwIfCancelled(signal);
  const where = location ?? (await locateWeights(dir));
  if (where.kind === 'single') {
    const tensors = await readSafetensorsFile(where.file, { signal, onProgress });
    return { tensors, weightsPath: where.file, files: [where.file] };
  }
  const shards = await readIndex(where.index, dir);
  const sizes = await checkShards(shards, where.index);
  const total = Math.max(1, sizes.reduce((a, b) => a + b, 0));
  const tensors = new Map<string, SafeTensor>();
  let before = 0;
  for (const [i, s] of shards.entries()) {
    throwIfCancelled(signal);
    const label = `shard ${i + 1} of ${shards.length}`;
    const part = await readSafetensorsFile(s.file, { signal, onProgress: (f, m) => onProgress?.((before + f * sizes[i]!) / total, `${label}: ${m}`) });
    // The header was checked above; a file replaced in between must still match the index.
    for (const [name, t] of part) {
      if (!s.tensors.has(name) || tensors.has(name)) throw new AttentionInputError('file', `${s.name} changed while it was being read: tensor ${JSON.stringify(name)} does not match ${where.index}.`);
      tensors.set(name, t);
    }
    if (part.size !== s.tensors.size) throw new AttentionInputError('file', `${s.name} changed while it was being read: it no longer holds the tensors ${where.index} lists.`);
    before += sizes[i]!;
  }
  onProgress?.(1, `Read ${tensors.size} tensors from ${shards.length} shards`);
  return { tensors, weightsPath: where.index, files: shards.map((s) => s.file) };
}

// ---------------------------------------------------------------------------------------------

/** Config, tokenizer (no larger than the config's vocabulary) and weights, with progress and cancel. */
export async function readHfFolder<C extends { readonly vocabSize: number }>(dir: string, parseConfig: (raw: unknown, where: string) => C, options: HfFolderOptions = {}): Promise<HfFolder<C>> {
  const { signal, onProgress } = options;
  throwIfCancelled(signal);
  const configPath = path.join(dir, 'config.json');
  const config = parseConfig(await readJsonFile(configPath, 'config'), configPath);
  // By file names only: refuses pickles before anything else is read.
  const location = await locateWeights(dir);
  onProgress?.(0, 'Reading tokenizer');
  const tokenizer = await HfTokenizer.load(dir);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new AttentionInputError('shape', `The tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocabSize}.`);
  }
  const { tensors, weightsPath, files } = await readCheckpointTensors(dir, { signal, onProgress: (f, m) => onProgress?.(0.05 + 0.9 * f, m) }, location);
  throwIfCancelled(signal);
  return { config, tokenizer, tensors, weightsPath, weightFiles: files };
}

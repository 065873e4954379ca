// Reading and checking a TensorFlow.js layers model's files: model.json's format, its weight shards
// (inside the folder, present, long enough), the Keras topology prepared for tfjs, and the
// character vocabulary this project writes into userDefinedMetadata. Every problem is a typed error.
import * as path from 'node:path';
import { throwIfCancelled } from '../../model';
import { openInside, readFully, type InsideFile } from '../../formats/files';
import { findNonFinite, nonFiniteMessage } from '../../formats/safetensors';
import { KERAS_ATTENTION_CLASSES } from './kerasAttention';
import { AttentionInputError } from '../../../../shared/trace';

/** The char-vocabulary metadata this project writes into model.json's userDefinedMetadata. */
export interface TfjsCharMetadata {
  readonly description?: string;
  readonly vocab: readonly string[];
  readonly unkId: number;
  readonly padId?: number;
  readonly lowercase: boolean;
  readonly maxLength?: number;
  readonly positionsInput?: string;
  readonly output?: 'next-token' | 'classes';
  readonly labels?: readonly string[];
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

export interface ManifestSpec {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: string;
  readonly quantization?: { readonly dtype?: string };
}

export function within(dir: string, rel: string, what: string): string {
  const full = path.resolve(dir, rel);
  const back = path.relative(dir, full);
  if (back === '' || back.startsWith('..') || path.isAbsolute(back)) {
    throw new AttentionInputError(
      'file',
      `${what} "${rel}" points outside the model's folder (${dir}); weight shards must sit beside model.json.`,
    );
  }
  return full;
}

export function describeFormat(j: Record<string, unknown>, file: string): void {
  const topo = j.modelTopology as Record<string, unknown> | undefined;
  const graph =
    j.format === 'graph-model' || (topo !== undefined && typeof topo === 'object' && Array.isArray(topo.node));
  if (graph) {
    throw new AttentionInputError(
      'unsupported',
      `${file} is a TensorFlow.js graph model (format "graph-model", converted from a SavedModel or frozen graph). Only layers models ` +
        `(format "layers-model", converted from Keras or saved by tfjs's model.save) can be inspected: a graph model is a list of ` +
        `low-level ops with no attention layers to find. Convert the Keras model with tensorflowjs_converter --input_format keras.`,
    );
  }
  if (j.format !== undefined && j.format !== 'layers-model') {
    throw new AttentionInputError(
      'unsupported',
      `${file} has format ${JSON.stringify(j.format)}; only "layers-model" TensorFlow.js models can be inspected.`,
    );
  }
  if (!topo || typeof topo !== 'object')
    throw new AttentionInputError(
      'file',
      `${file} has no "modelTopology" object, so it is not a TensorFlow.js layers model.json.`,
    );
  const cfg = (topo.model_config ?? topo) as Record<string, unknown>;
  if (typeof cfg.class_name !== 'string' || !cfg.config) {
    throw new AttentionInputError(
      'file',
      `${file}: modelTopology has no "class_name"/"config" (a Keras model description was expected).`,
    );
  }
}

/** Every weight group's specs with its shard files read and checked against the bytes the specs need. */
export async function readShards(
  dir: string,
  file: string,
  manifest: unknown,
  signal?: AbortSignal,
): Promise<{ specs: ManifestSpec[]; data: ArrayBuffer; warnings: string[] }> {
  if (!Array.isArray(manifest) || manifest.length === 0)
    throw new AttentionInputError('file', `${file} has no "weightsManifest" list, so there are no weights to load.`);
  const specs: ManifestSpec[] = [];
  const parts: Uint8Array[] = [];
  const warnings: string[] = [];
  for (const [g, group] of manifest.entries()) {
    const grp = group as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(grp.paths) || !grp.paths.every((p) => typeof p === 'string') || !Array.isArray(grp.weights)) {
      throw new AttentionInputError(
        'file',
        `${file}: weightsManifest[${g}] needs "paths" (a list of file names) and "weights" (a list of specs).`,
      );
    }
    let need = 0;
    for (const w of grp.weights as ManifestSpec[]) {
      if (
        !w ||
        typeof w.name !== 'string' ||
        !Array.isArray(w.shape) ||
        !w.shape.every((d) => Number.isInteger(d) && d >= 0)
      ) {
        throw new AttentionInputError(
          'file',
          `${file}: a weight spec in weightsManifest[${g}] has no valid "name" and "shape".`,
        );
      }
      const dtype = w.quantization?.dtype ?? w.dtype;
      const bytes = BYTES[dtype];
      if (bytes === undefined)
        throw new AttentionInputError(
          'unsupported',
          `${file}: weight "${w.name}" has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(BYTES).join(', ')}.`,
        );
      need += w.shape.reduce((a, b) => a * b, 1) * bytes;
      specs.push(w);
    }
    // Opened (contained, regular, capped) and sized before any byte is read: a group whose files are too short is refused unread.
    const files: { name: string; size: number; file: InsideFile }[] = [];
    try {
      for (const rel of grp.paths as string[]) {
        throwIfCancelled(signal);
        const full = within(dir, rel, 'The weight shard');
        const opened = await openInside(dir, path.relative(dir, full), { kind: 'tfjs-shard' }).catch((err: Error) => {
          throw new AttentionInputError('file', `Weight shard ${rel} listed in ${file} cannot be read: ${err.message}`);
        });
        files.push({ name: rel, size: opened!.size, file: opened! });
      }
      const have = files.reduce((a, f) => a + f.size, 0);
      if (have < need) {
        const last = files[files.length - 1];
        throw new AttentionInputError(
          'file',
          `Weight shard ${last ? last.name : '(none)'} is truncated: the ${grp.weights.length} weights of weightsManifest[${g}] need ${need} bytes, ` +
            `but its shard file${files.length === 1 ? '' : 's'} hold only ${have} (${files.map((f) => `${f.name}: ${f.size} bytes`).join(', ')}).`,
        );
      }
      // Only the bytes the specs declare are read.
      let left = need;
      for (const f of files) {
        const part = new Uint8Array(Math.min(f.size, left));
        await readFully(
          f.file.handle,
          part,
          0,
          `Weight shard ${f.name} listed in ${file} became shorter while it was read.`,
        );
        parts.push(part);
        left -= part.length;
      }
      checkFinite(grp.weights as ManifestSpec[], parts.slice(parts.length - files.length), file);
      if (have > need)
        warnings.push(
          `weightsManifest[${g}]'s shards hold ${have} bytes, more than the ${need} its weights need; the extra bytes are ignored.`,
        );
    } finally {
      for (const f of files) await f.file.handle.close().catch(() => undefined);
    }
  }
  const data = concat(parts);
  return { specs, data: data.buffer as ArrayBuffer, warnings };
}

/** Refuses a float32 weight with NaN, ±Inf or overflowing values, naming it (the bytes of one group, in spec order). */
function checkFinite(specs: readonly ManifestSpec[], parts: readonly Uint8Array[], file: string): void {
  const bytes = parts.length === 1 ? parts[0]! : concat(parts);
  let at = 0;
  for (const w of specs) {
    const dtype = w.quantization?.dtype ?? w.dtype;
    const n = w.shape.reduce((a, b) => a * b, 1);
    const len = n * BYTES[dtype]!;
    if (dtype === 'float32') {
      // A copy when unaligned (after uint8/bool weights); Float32Array needs 4-byte alignment.
      const slice =
        (bytes.byteOffset + at) % 4 === 0
          ? new Float32Array(bytes.buffer, bytes.byteOffset + at, n)
          : new Float32Array(bytes.slice(at, at + len).buffer);
      const bad = findNonFinite(slice);
      if (bad)
        throw new AttentionInputError(
          'file',
          `${file}: weight ${nonFiniteMessage(JSON.stringify(w.name), w.shape, bad).replace(/^tensor /, '')}`,
        );
    }
    at += len;
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const INIT_KEY = /_initializer$/;

/**
 * Prepares the Keras topology for tfjs: Keras 2 calls MultiHeadAttention as mha(query, value=…, key=…),
 * serialised as one inbound tensor plus {"value": [layer, node, tensor]} kwargs, which tfjs cannot
 * resolve; those become the positional list [query, value, key]. Initializers become Zeros (every
 * weight is then overwritten from the shards, and loadWeights checks that none is missing).
 */
export function prepareTopology(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(prepareTopology);
  if (!node || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (INIT_KEY.test(k) && v && typeof v === 'object') out[k] = { class_name: 'Zeros', config: {} };
    else out[k] = prepareTopology(v);
  }
  positionalMhaNodes(o, out);
  if ((KERAS_ATTENTION_CLASSES as readonly unknown[]).includes(o.class_name) && Array.isArray(out.inbound_nodes)) {
    // tfjs's executor frees a tensor too early when one layer takes it twice ([x, x]); self-attention
    // is the same computation with the tensor given once, which these layers read as query = value = key.
    out.inbound_nodes = (out.inbound_nodes as unknown[]).map((nodeData) => {
      if (!Array.isArray(nodeData)) return nodeData;
      const key = (ref: unknown): string => JSON.stringify(Array.isArray(ref) ? ref.slice(0, 3) : ref);
      let refs = nodeData.slice();
      if (refs.length === 3 && key(refs[2]) === key(refs[1])) refs = refs.slice(0, 2);
      if (refs.length === 2 && key(refs[1]) === key(refs[0])) refs = refs.slice(0, 1);
      return refs;
    });
    // tfjs's predict drops call arguments, so Keras's mha(..., use_causal_mask=True) becomes config.
    const causalCall = (out.inbound_nodes as unknown[]).some(
      (nd) =>
        Array.isArray(nd) &&
        nd.some(
          (ref) =>
            Array.isArray(ref) &&
            ref[3] &&
            typeof ref[3] === 'object' &&
            (ref[3] as Record<string, unknown>).use_causal_mask === true,
        ),
    );
    if (causalCall && out.config && typeof out.config === 'object') {
      out.config = {
        ...(out.config as object),
        ...(o.class_name === 'MultiHeadAttention' ? { use_causal_mask: true } : { causal: true }),
      };
    }
  }
  return out;
}

/** Keras 2's mha(query, value=…, key=…) node → a positional list [query, value, key]. */
function positionalMhaNodes(o: Record<string, unknown>, out: Record<string, unknown>): void {
  if (o.class_name === 'MultiHeadAttention' && Array.isArray(o.inbound_nodes)) {
    out.inbound_nodes = (o.inbound_nodes as unknown[]).map((nodeData) => {
      if (!Array.isArray(nodeData) || nodeData.length !== 1 || !Array.isArray(nodeData[0])) return nodeData;
      const [name, ni, ti, kwargs] = nodeData[0] as [string, number, number, Record<string, unknown> | undefined];
      if (!kwargs || !Array.isArray(kwargs.value)) return nodeData;
      const rest: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(kwargs)) {
        if (k === 'value' || k === 'key') continue;
        if (Array.isArray(v))
          throw new AttentionInputError(
            'unsupported',
            `MultiHeadAttention layer "${String(o.name)}" is called with a tensor argument "${k}", which this loader does not support (only value and key).`,
          );
        rest[k] = v;
      }
      const refs: unknown[] = [
        [name, ni, ti, rest],
        [...(kwargs.value as unknown[]).slice(0, 3), rest],
      ];
      if (Array.isArray(kwargs.key)) refs.push([...(kwargs.key as unknown[]).slice(0, 3), rest]);
      return refs;
    });
  }
}

export function layerClassList(topology: unknown): string[] {
  const found: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      const cfg = o.config as Record<string, unknown> | undefined;
      if (
        typeof o.class_name === 'string' &&
        cfg &&
        typeof cfg === 'object' &&
        'name' in cfg &&
        o.class_name !== 'Model' &&
        o.class_name !== 'Functional' &&
        o.class_name !== 'Sequential'
      )
        found.push(o.class_name);
      for (const v of Object.values(o)) walk(v);
    }
  };
  walk(topology);
  return found;
}

export function countList(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].map(([n, c]) => (c > 1 ? `${n} ×${c}` : n)).join(', ');
}

export function parseCharMetadata(meta: unknown, file: string): TfjsCharMetadata | undefined {
  const m = meta && typeof meta === 'object' ? (meta as Record<string, unknown>).attentionLens : undefined;
  if (!m || typeof m !== 'object') return undefined;
  const r = m as Record<string, unknown>;
  const bad = (why: string): never => {
    throw new AttentionInputError('config', `${file}: userDefinedMetadata.attentionLens ${why}`);
  };
  if (r.tokenizer !== undefined && r.tokenizer !== 'chars')
    bad(`"tokenizer" must be "chars", not ${JSON.stringify(r.tokenizer)}.`);
  if (!Array.isArray(r.vocab) || r.vocab.length < 2 || !r.vocab.every((s) => typeof s === 'string'))
    bad('needs "vocab": a list of at least 2 strings (one per id).');
  const vocab = r.vocab as string[];
  const idx = (k: string, required: boolean): number | undefined => {
    const v = r[k];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocab.length)
      bad(`"${k}" must be an index into "vocab".`);
    return v as number;
  };
  const unkId = idx('unkId', true)!;
  const padId = idx('padId', false);
  const maxLength =
    r.maxLength === undefined
      ? undefined
      : typeof r.maxLength === 'number' && Number.isInteger(r.maxLength) && r.maxLength > 0
        ? r.maxLength
        : bad('"maxLength" must be a positive integer.');
  const output =
    r.output === undefined
      ? undefined
      : r.output === 'next-token' || r.output === 'classes'
        ? r.output
        : bad('"output" must be "next-token" or "classes".');
  const labels =
    Array.isArray(r.labels) && r.labels.every((s) => typeof s === 'string') ? (r.labels as string[]) : undefined;
  return {
    vocab,
    unkId,
    lowercase: r.lowercase === true,
    ...(padId !== undefined ? { padId } : {}),
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...(typeof r.positionsInput === 'string' ? { positionsInput: r.positionsInput } : {}),
    ...(output ? { output } : {}),
    ...(labels ? { labels } : {}),
    ...(typeof r.description === 'string' ? { description: r.description } : {}),
  };
}

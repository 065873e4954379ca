// TensorFlow.js layers models (model.json in "layers-model" format + binary weight shards): load with
// tfjs's own deserialiser, find the Keras attention layers (MultiHeadAttention, Attention,
// AdditiveAttention — src/model/kerasAttention.ts), and run the model with those layers in inspect
// mode so the trace shows their Q, K, V, scores, mask, weights and context.
//
// Input. A layers model takes tensors, not text. The text becomes token ids, in this order of preference:
//   1. userDefinedMetadata.attentionLens in model.json: { tokenizer: "chars", vocab: [...], unkId, padId,
//      lowercase?, maxLength?, positionsInput?, output?: "next-token" | "classes", labels? }
//      (what scripts/train/tfjs_attention_models.ts writes): one id per character;
//   2. a Hugging Face tokenizer beside model.json (tokenizer.json, or vocab.txt / vocab.json + merges.txt).
// The model must have one int input of shape [batch, time] (the ids); a second input whose name
// contains "pos" gets the positions 0…T−1. The output is shown as next-token predictions per
// position when it is [batch, time, vocab] probabilities, as top classes when it is [batch, classes].
// No vscode import. Every tensor is disposed: load (also a failed one), run and dispose leave
// tf.memory().numTensors where they found it.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { backendLabel, tf } from '../../runtime/backend';
import { HfTokenizer } from '../../tokenizers/hfTokenizer';
import { KERAS_ATTENTION_CLASSES, isKerasAttentionLayer, type AttentionLayerRecord, type KerasAttentionLayer } from './kerasAttention';
import { throwIfCancelled, type AttentionModel, type RunOptions } from '../../model';
import { attentionStages, f32, readJsonFile, topKRows, topKTensors } from '../../trace/transformerStages';
import { AttentionInputError, tensor, type AttentionInfo, type ModelInfo, type Prediction, type Stage, type TensorData, type Token, type Trace } from '../../../../shared/trace';

export interface LoadTfjsOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

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

interface ManifestSpec {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: string;
  readonly quantization?: { readonly dtype?: string };
}

// ---------------------------------------------------------------------------------------------
// Reading and checking the files

function within(dir: string, rel: string, what: string): string {
  const full = path.resolve(dir, rel);
  const back = path.relative(dir, full);
  if (back === '' || back.startsWith('..') || path.isAbsolute(back)) {
    throw new AttentionInputError('file', `${what} "${rel}" points outside the model's folder (${dir}); weight shards must sit beside model.json.`);
  }
  return full;
}

function describeFormat(j: Record<string, unknown>, file: string): void {
  const topo = j.modelTopology as Record<string, unknown> | undefined;
  const graph = j.format === 'graph-model' || (topo !== undefined && typeof topo === 'object' && Array.isArray(topo.node));
  if (graph) {
    throw new AttentionInputError(
      'unsupported',
      `${file} is a TensorFlow.js graph model (format "graph-model", converted from a SavedModel or frozen graph). Only layers models ` +
        `(format "layers-model", converted from Keras or saved by tfjs's model.save) can be inspected: a graph model is a list of ` +
        `low-level ops with no attention layers to find. Convert the Keras model with tensorflowjs_converter --input_format keras.`,
    );
  }
  if (j.format !== undefined && j.format !== 'layers-model') {
    throw new AttentionInputError('unsupported', `${file} has format ${JSON.stringify(j.format)}; only "layers-model" TensorFlow.js models can be inspected.`);
  }
  if (!topo || typeof topo !== 'object') throw new AttentionInputError('file', `${file} has no "modelTopology" object, so it is not a TensorFlow.js layers model.json.`);
  const cfg = (topo.model_config ?? topo) as Record<string, unknown>;
  if (typeof cfg.class_name !== 'string' || !cfg.config) {
    throw new AttentionInputError('file', `${file}: modelTopology has no "class_name"/"config" (a Keras model description was expected).`);
  }
}

/** Every weight group's specs with its shard files read and checked against the bytes the specs need. */
async function readShards(dir: string, file: string, manifest: unknown, signal?: AbortSignal): Promise<{ specs: ManifestSpec[]; data: ArrayBuffer; warnings: string[] }> {
  if (!Array.isArray(manifest) || manifest.length === 0) throw new AttentionInputError('file', `${file} has no "weightsManifest" list, so there are no weights to load.`);
  const specs: ManifestSpec[] = [];
  const parts: Uint8Array[] = [];
  const warnings: string[] = [];
  for (const [g, group] of manifest.entries()) {
    const grp = group as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(grp.paths) || !grp.paths.every((p) => typeof p === 'string') || !Array.isArray(grp.weights)) {
      throw new AttentionInputError('file', `${file}: weightsManifest[${g}] needs "paths" (a list of file names) and "weights" (a list of specs).`);
    }
    let need = 0;
    for (const w of grp.weights as ManifestSpec[]) {
      if (!w || typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new AttentionInputError('file', `${file}: a weight spec in weightsManifest[${g}] has no valid "name" and "shape".`);
      }
      const dtype = w.quantization?.dtype ?? w.dtype;
      const bytes = BYTES[dtype];
      if (bytes === undefined) throw new AttentionInputError('unsupported', `${file}: weight "${w.name}" has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(BYTES).join(', ')}.`);
      need += w.shape.reduce((a, b) => a * b, 1) * bytes;
      specs.push(w);
    }
    const files: { name: string; size: number }[] = [];
    for (const rel of grp.paths as string[]) {
      throwIfCancelled(signal);
      const full = within(dir, rel, 'The weight shard');
      let buf: Buffer;
      try {
        buf = await fs.readFile(full);
      } catch (err) {
        throw new AttentionInputError('file', `Weight shard ${rel} listed in ${file} cannot be read: ${(err as Error).message}`);
      }
      files.push({ name: rel, size: buf.length });
      parts.push(new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
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
    if (have > need) {
      warnings.push(`weightsManifest[${g}]'s shards hold ${have} bytes, more than the ${need} its weights need; the extra bytes are ignored.`);
      // Keep only the bytes that belong to this group so later groups start where tfjs expects.
      let excess = have - need;
      for (let i = parts.length - 1; excess > 0 && i >= parts.length - files.length; i--) {
        const p = parts[i]!;
        const cut = Math.min(excess, p.length);
        parts[i] = p.subarray(0, p.length - cut);
        excess -= cut;
      }
    }
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { specs, data: data.buffer, warnings };
}

const INIT_KEY = /_initializer$/;

/**
 * Prepares the Keras topology for tfjs: Keras 2 calls MultiHeadAttention as mha(query, value=…, key=…),
 * serialised as one inbound tensor plus {"value": [layer, node, tensor]} kwargs, which tfjs cannot
 * resolve; those become the positional list [query, value, key]. Initializers become Zeros (every
 * weight is then overwritten from the shards, and loadWeights checks that none is missing).
 */
function prepareTopology(node: unknown): unknown {
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
      (nd) => Array.isArray(nd) && nd.some((ref) => Array.isArray(ref) && ref[3] && typeof ref[3] === 'object' && (ref[3] as Record<string, unknown>).use_causal_mask === true),
    );
    if (causalCall && out.config && typeof out.config === 'object') {
      out.config = { ...(out.config as object), ...(o.class_name === 'MultiHeadAttention' ? { use_causal_mask: true } : { causal: true }) };
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
        if (Array.isArray(v)) throw new AttentionInputError('unsupported', `MultiHeadAttention layer "${String(o.name)}" is called with a tensor argument "${k}", which this loader does not support (only value and key).`);
        rest[k] = v;
      }
      const refs: unknown[] = [[name, ni, ti, rest], [...(kwargs.value as unknown[]).slice(0, 3), rest]];
      if (Array.isArray(kwargs.key)) refs.push([...(kwargs.key as unknown[]).slice(0, 3), rest]);
      return refs;
    });
  }
}

function layerClassList(topology: unknown): string[] {
  const found: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      const cfg = o.config as Record<string, unknown> | undefined;
      if (typeof o.class_name === 'string' && cfg && typeof cfg === 'object' && 'name' in cfg && o.class_name !== 'Model' && o.class_name !== 'Functional' && o.class_name !== 'Sequential') found.push(o.class_name);
      for (const v of Object.values(o)) walk(v);
    }
  };
  walk(topology);
  return found;
}

function countList(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].map(([n, c]) => (c > 1 ? `${n} ×${c}` : n)).join(', ');
}

function parseCharMetadata(meta: unknown, file: string): TfjsCharMetadata | undefined {
  const m = meta && typeof meta === 'object' ? (meta as Record<string, unknown>).attentionLens : undefined;
  if (!m || typeof m !== 'object') return undefined;
  const r = m as Record<string, unknown>;
  const bad = (why: string): never => {
    throw new AttentionInputError('config', `${file}: userDefinedMetadata.attentionLens ${why}`);
  };
  if (r.tokenizer !== undefined && r.tokenizer !== 'chars') bad(`"tokenizer" must be "chars", not ${JSON.stringify(r.tokenizer)}.`);
  if (!Array.isArray(r.vocab) || r.vocab.length < 2 || !r.vocab.every((s) => typeof s === 'string')) bad('needs "vocab": a list of at least 2 strings (one per id).');
  const vocab = r.vocab as string[];
  const idx = (k: string, required: boolean): number | undefined => {
    const v = r[k];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocab.length) bad(`"${k}" must be an index into "vocab".`);
    return v as number;
  };
  const unkId = idx('unkId', true)!;
  const padId = idx('padId', false);
  const maxLength = r.maxLength === undefined ? undefined : typeof r.maxLength === 'number' && Number.isInteger(r.maxLength) && r.maxLength > 0 ? r.maxLength : bad('"maxLength" must be a positive integer.');
  const output = r.output === undefined ? undefined : r.output === 'next-token' || r.output === 'classes' ? r.output : bad('"output" must be "next-token" or "classes".');
  const labels = Array.isArray(r.labels) && r.labels.every((s) => typeof s === 'string') ? (r.labels as string[]) : undefined;
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

// ---------------------------------------------------------------------------------------------
// Tokenisers

interface Encoded {
  readonly tokens: Token[];
  readonly truncated: boolean;
  readonly covered: number;
  readonly unknown: number;
}

interface TextEncoderLike {
  readonly kind: string;
  readonly vocabSize: number;
  encode(text: string, maxTokens: number): Encoded;
  piece(id: number): string;
}

function charEncoder(meta: TfjsCharMetadata): TextEncoderLike {
  const index = new Map<string, number>();
  meta.vocab.forEach((c, i) => {
    if (i !== meta.unkId && i !== meta.padId && !index.has(c)) index.set(c, i);
  });
  return {
    kind: 'characters',
    vocabSize: meta.vocab.length,
    piece: (id) => meta.vocab[id] ?? `<${id}>`,
    encode(text, maxTokens) {
      const tokens: Token[] = [];
      let offset = 0;
      let unknown = 0;
      let truncated = false;
      for (const ch of text) {
        if (tokens.length >= maxTokens) {
          truncated = true;
          break;
        }
        const key = meta.lowercase ? ch.toLowerCase() : ch;
        const id = index.get(key) ?? (/^\s$/u.test(ch) ? index.get(' ') : undefined);
        if (id === undefined) unknown++;
        tokens.push({ text: ch, id: id ?? meta.unkId, start: offset, end: offset + ch.length, ...(id === undefined ? { unknown: true } : {}) });
        offset += ch.length;
      }
      return { tokens, truncated, covered: offset, unknown };
    },
  };
}

function hfEncoder(tok: HfTokenizer): TextEncoderLike {
  return {
    kind: 'the tokenizer beside model.json',
    vocabSize: tok.vocabSize,
    piece: (id) => tok.piece(id),
    encode(text, maxTokens) {
      const enc = tok.encode(text, { maxTokens });
      return { tokens: [...enc.tokens], truncated: enc.truncated, covered: enc.coveredLength, unknown: enc.tokens.filter((t) => t.unknown).length };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The model

interface Forward {
  readonly records: AttentionLayerRecord[];
  readonly output: Float32Array;
  readonly outputShape: number[];
}

const CLASS_TEXT: Record<string, string> = {
  MultiHeadAttention: 'MultiHeadAttention',
  Attention: 'Attention (Luong)',
  AdditiveAttention: 'AdditiveAttention (Bahdanau)',
};

export class TfjsLayersModel implements AttentionModel {
  readonly info: ModelInfo;
  private model: tf.LayersModel | undefined;
  readonly attentionLayers: readonly KerasAttentionLayer[];

  constructor(
    model: tf.LayersModel,
    private readonly encoder: TextEncoderLike,
    private readonly meta: TfjsCharMetadata | undefined,
    private readonly positionsIndex: number | undefined,
    info: ModelInfo,
    readonly loadWarnings: readonly string[],
  ) {
    this.model = model;
    this.info = info;
    this.attentionLayers = model.layers.filter(isKerasAttentionLayer);
  }

  dispose(): void {
    for (const l of this.attentionLayers) l.recorder = undefined;
    this.model?.dispose();
    this.model = undefined;
  }

  private live(): tf.LayersModel {
    if (!this.model) throw new Error(`${this.info.name} has been disposed.`);
    return this.model;
  }

  get maxTokens(): number {
    return this.meta?.maxLength ?? 512;
  }

  /** Token ids for `text` (the first maxTokens), as the run feeds them. */
  encode(text: string, maxTokens = this.maxTokens): Encoded {
    return this.encoder.encode(text, Math.min(maxTokens, this.maxTokens));
  }

  private inputs(ids: readonly number[]): tf.Tensor[] {
    const T = ids.length;
    const list: tf.Tensor[] = [];
    this.live().inputs.forEach((_, i) => {
      list.push(i === this.positionsIndex ? tf.range(0, T, 1, 'int32').reshape([1, T]) : tf.tensor2d(ids.slice(), [1, T], 'int32'));
    });
    return list;
  }

  /** Runs the model; with `inspect`, the attention layers record what they compute. */
  forward(ids: readonly number[], inspect: boolean): Forward {
    const model = this.live();
    const records: AttentionLayerRecord[] = [];
    if (inspect) for (const l of this.attentionLayers) l.recorder = (r) => records.push(r);
    try {
      let out: { output: Float32Array; shape: number[] } | undefined;
      tf.tidy(() => {
        const y = model.predict(this.inputs(ids)) as tf.Tensor | tf.Tensor[];
        const first = Array.isArray(y) ? y[0]! : y;
        out = { output: f32(first), shape: first.shape.slice() };
      });
      return { records, output: out!.output, outputShape: out!.shape };
    } finally {
      for (const l of this.attentionLayers) l.recorder = undefined;
    }
  }

  /**
   * The attention layers' outputs and the model's output from plain tfjs (no recorder): a second
   * tf.model over the same layers, so tests can check that inspect mode changes nothing.
   */
  plainOutputs(ids: readonly number[]): { layers: Map<string, Float32Array>; output: Float32Array } {
    const model = this.live();
    const probe = tf.model({ inputs: model.inputs, outputs: [...this.attentionLayers.map((l) => l.getOutputAt(0) as tf.SymbolicTensor), model.outputs[0]!] });
    const layers = new Map<string, Float32Array>();
    let output: Float32Array = new Float32Array(0);
    tf.tidy(() => {
      const ys = probe.predict(this.inputs(ids)) as tf.Tensor[];
      this.attentionLayers.forEach((l, i) => layers.set(l.name, f32(ys[i]!)));
      output = f32(ys[ys.length - 1]!);
    });
    return { layers, output };
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const started = performance.now();
    const { signal, onProgress } = options;
    throwIfCancelled(signal);
    if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to run: select some text first.');
    const warnings = [...this.loadWarnings];
    const requested = options.maxTokens !== undefined && Number.isFinite(options.maxTokens) ? Math.max(1, Math.floor(options.maxTokens)) : this.maxTokens;
    // The model's own position limit wins; a warning only when the text was actually cut.
    const maxTokens = Math.min(requested, this.maxTokens);
    const limit = requested > this.maxTokens ? `this model's ${this.maxTokens} positions` : `maxTokens ${maxTokens}`;
    onProgress?.(0, 'Tokenising');
    const enc = this.encode(text, maxTokens);
    if (enc.tokens.length === 0) throw new AttentionInputError('empty', 'The text gave no tokens.');
    if (enc.truncated) warnings.push(`The input was truncated to ${maxTokens} tokens (${limit}); the model saw the first ${enc.covered} of ${text.length} characters.`);
    if (enc.unknown > 0) warnings.push(`${enc.unknown} token${enc.unknown === 1 ? '' : 's'} are not in the model's vocabulary and were read as unknown.`);
    const ids = enc.tokens.map((t) => t.id);
    onProgress?.(0.2, 'Running the model with its attention layers in inspect mode');
    await Promise.resolve();
    throwIfCancelled(signal);
    let fwd: Forward;
    try {
      fwd = this.forward(ids, true);
    } catch (err) {
      if (err instanceof AttentionInputError) throw err;
      throw new AttentionInputError('shape', `The model could not run on ${ids.length} tokens: ${(err as Error).message}`);
    }
    throwIfCancelled(signal);
    const topK = Math.max(1, Math.floor(options.topK ?? 5));
    const { stages, predictions } = this.stages(enc.tokens, fwd, topK, warnings);
    onProgress?.(1, 'Done');
    return {
      version: 1,
      model: this.info,
      text: text.slice(0, enc.covered),
      tokens: enc.tokens,
      stages,
      ...(predictions ? { predictions } : {}),
      warnings,
      backend: backendLabel(),
      elapsedMs: performance.now() - started,
    };
  }

  private stages(tokens: readonly Token[], fwd: Forward, topK: number, warnings: string[]): { stages: Stage[]; predictions?: Prediction[] } {
    const T = tokens.length;
    const tok = { token: 'input' } as const;
    const stages: Stage[] = [
      {
        id: 'tokens',
        kind: 'tokens',
        title: 'Tokens',
        formula: this.meta ? 'text → one id per character' : 'text → token ids',
        explanation:
          `A TensorFlow.js layers model reads numbers, not text, so the text is first turned into ids using ${this.encoder.kind} ` +
          `(${this.encoder.vocabSize} entries). These ids are the model's input tensor of shape [1, ${T}]` +
          (this.positionsIndex !== undefined ? `; its second input gets the positions 0…${T - 1}.` : '.'),
        tensors: [tensor('ids', [T], ['token'], Float32Array.from(tokens, (t) => t.id), { tokenAxes: tok, description: 'Token ids fed to the model' })],
      },
    ];
    fwd.records.forEach((r, i) => {
      if (r.queryCount !== T || r.keyCount !== T) warnings.push(`Attention layer "${r.layer}" works on ${r.queryCount}×${r.keyCount} positions, not the ${T} tokens; its axes are labelled by position.`);
      stages.push(...layerStages(r, i));
    });
    const shape = fwd.outputShape;
    const V = shape[shape.length - 1]!;
    if (shape.length === 3 && shape[1] === T && (this.meta?.output ?? 'next-token') === 'next-token') {
      const k = Math.min(topK, V);
      let top: { p: Float32Array; id: Int32Array } | undefined;
      tf.tidy(() => {
        // The output is already probabilities (softmax layer): take logs so topKRows' softmax gives them back.
        const probs = tf.tensor2d(fwd.output, [T, V]);
        top = topKRows(tf.log(tf.maximum(probs, 1e-30)) as tf.Tensor2D, k);
      });
      const predictions: Prediction[] = [];
      for (let i = 0; i < T; i++) {
        const row = [];
        for (let r = 0; r < k; r++) {
          const id = top!.id[i * k + r]!;
          row.push({ id, text: this.encoder.piece(id), p: fwd.output[i * V + id]! });
        }
        predictions.push({ position: i, top: row });
      }
      stages.push({
        id: 'output',
        kind: 'output',
        title: 'Next-token predictions',
        formula: 'p(next token | tokens ≤ i) = the model\'s output row i',
        explanation:
          `The model's last layer gives, for every position, a probability for each of the ${V} vocabulary entries: its guess for the ` +
          `token that comes next. Shown: the ${k} most likely per position.`,
        tensors: [
          tensor('probabilities', [T, V], ['token', 'vocab'], fwd.output, { tokenAxes: tok, description: 'Output probabilities per position' }),
          ...topKTensors(T, k, Float32Array.from(predictions.flatMap((p) => p.top.map((x) => x.p))), top!.id, tok, 'tokens'),
        ],
      });
      return { stages, predictions };
    }
    if (shape.length === 2) {
      const order = [...fwd.output.keys()].sort((a, b) => fwd.output[b]! - fwd.output[a]!).slice(0, Math.min(topK, V));
      const label = (c: number): string => this.meta?.labels?.[c] ?? `class ${c}`;
      stages.push({
        id: 'output',
        kind: 'output',
        title: 'Output: classes',
        formula: 'p(class | text) = the model\'s output',
        explanation: `The model reduces the whole sequence to one vector of ${V} numbers. Most likely: ${order.map((c) => `${label(c)} (${fwd.output[c]!.toFixed(3)})`).join(', ')}.`,
        tensors: [tensor('output', [V], ['class'], fwd.output, { description: `Output for each class: ${[...Array(V).keys()].map(label).join(', ')}` })],
      });
      return { stages };
    }
    stages.push({
      id: 'output',
      kind: 'output',
      title: 'Model output',
      formula: 'y = model(ids)',
      explanation: `The model's output tensor, of shape [${shape.join(', ')}].`,
      tensors: [tensor('output', shape.slice(1), shape.slice(1).map((_, i) => (i === 0 && shape[1] === T ? 'token' : `axis${i + 1}`)), fwd.output, shape[1] === T ? { tokenAxes: tok } : {})],
    });
    return { stages };
  }
}

/** The four attention stages of one recorded layer, with formulas for its own score function. */
function layerStages(r: AttentionLayerRecord, index: number): Stage[] {
  const mha = r.className === 'MultiHeadAttention';
  const additive = r.scoreMode === 'additive' || r.scoreMode === 'concat';
  const attention: AttentionInfo = { queries: 'input', keys: 'input', causal: r.causal, score: additive ? 'additive' : mha ? 'scaled-dot' : 'dot', normaliser: 'softmax' };
  const H = r.heads;
  const kd = r.keyDim;
  const vd = r.valueDim;
  const scaleText = r.scale && r.scale.length === 1 ? r.scale[0]!.toPrecision(4) : undefined;
  let scoresFormula: string;
  let scoresText: string;
  if (mha) {
    scoresFormula = `S[h] = Q[h] K[h]ᵀ / √${kd}`;
    scoresText = `Each query is compared with every key by a dot product in each of the ${H} heads, divided by √${kd} (the key size) so the scores do not grow with it.`;
  } else if (r.scoreMode === 'dot') {
    scoresFormula = scaleText ? `S = s · Q Kᵀ  (learned s = ${scaleText})` : 'S = Q Kᵀ';
    scoresText = `Luong's dot-product score: how well each query vector lines up with each key vector` + (scaleText ? `, multiplied by one learned number s = ${scaleText} that sets how sharp the softmax will be.` : '.');
  } else if (r.scoreMode === 'concat') {
    scoresFormula = `Sᵢⱼ = c · Σ_d tanh(${scaleText ? 's·' : ''}(qᵢ + kⱼ)_d)  (c = ${r.concatScoreWeight?.toPrecision(4) ?? '1'}${scaleText ? `, s = ${scaleText}` : ''})`;
    scoresText = `Keras's "concat" score: the query and key are added feature by feature, squashed by tanh and summed, then scaled by the learned number c.`;
  } else {
    scoresFormula = r.scale ? 'Sᵢⱼ = Σ_d v_d · tanh(q_{i,d} + k_{j,d})' : 'Sᵢⱼ = Σ_d tanh(q_{i,d} + k_{j,d})';
    scoresText =
      `Bahdanau's additive score: the query and key vectors are added feature by feature, squashed by tanh, and the ${kd} results are ` +
      `summed` + (r.scale ? ', each weighted by a learned vector v (shown beside the scores).' : '.');
  }
  const qkvText = mha
    ? `The layer's query input (${r.queryInputDim} features per token) is multiplied by the kernel W_Q of shape [${r.queryInputDim}, ${H}, ${kd}], ` +
      `which gives every token a ${kd}-number query in each of the ${H} heads at once; keys and values are made the same way from the key ` +
      `and value inputs (W_K, W_V${r.keyDim !== r.valueDim ? `, values of ${vd} numbers` : ''}).`
    : `This layer has no projections of its own: Q is the query input, V the value input and K the key input (the value when no key is given). ` +
      `The layers before it (here ${r.queryInputDim}-feature vectors) did the projecting.`;
  const maskNote = r.mask ? ' Masked cells (the future, for a causal layer) get −10⁹ added first, so they become exact zeros.' : '';
  const stages = attentionStages({
    prefix: `L${index}`,
    layer: index,
    title: `Layer ${index} "${r.layer}" (${CLASS_TEXT[r.className]})`,
    attention,
    heads: H,
    headDim: kd,
    dModel: r.outputDim,
    queryCount: r.queryCount,
    keyCount: r.keyCount,
    record: { q: r.q, k: r.k, v: kd === vd ? r.v : new Float32Array(H * r.keyCount * kd), scores: r.scores, weights: r.weights, context: kd === vd ? r.context : new Float32Array(H * r.queryCount * kd), output: r.output },
    ...(r.mask ? { mask: r.mask } : {}),
    qkvFormula: mha ? 'Q[h] = X_q W_Q[:, h, :] + b_Q[h],  K[h] = X_k W_K[:, h, :] + b_K[h],  V[h] = X_v W_V[:, h, :] + b_V[h]' : 'Q = query,  K = key (or value),  V = value',
    qkvText,
    scoresText,
    weightsFormula: r.mask ? 'α = softmax(S − 10⁹·(1 − mask))  (each row sums to 1)' : 'α = softmax(S)  (each row sums to 1)',
    weightsText: `Softmax turns each query's row of scores into positive weights that sum to 1.${maskNote}`,
    contextText: mha
      ? `Each head blends the value vectors with its weights; the ${H} heads' contexts are laid side by side and the kernel W_O [${H}, ${vd}, ${r.outputDim}] maps them to the layer's output.`
      : `Each query's context is the weighted average of the value vectors; this is what the layer returns (Keras adds no output projection).`,
  });
  const qTok = { token: 'input' } as const;
  return stages.map((s): Stage => {
    const fix = (t: TensorData): TensorData => {
      if (kd === vd) return t;
      if (t.name === 'V') return tensor('V', [H, r.keyCount, vd], ['head', 'token', 'd_head'], r.v, { tokenAxes: qTok, description: t.description ?? '' });
      if (t.name === 'context') return tensor('context', [H, r.queryCount, vd], ['head', 'query', 'd_head'], r.context, { tokenAxes: { query: 'input' }, description: t.description ?? '' });
      return t;
    };
    let tensors = s.tensors.map(fix);
    let formula = s.formula;
    if (s.kind === 'qkv') {
      tensors = [tensor('query_input', [r.queryCount, r.queryInputDim], ['token', 'feature'], r.queryInput, { tokenAxes: qTok, description: 'The query input of the layer' }), ...tensors];
    } else if (s.kind === 'score') {
      formula = scoresFormula;
      if (r.scale && r.scale.length > 1) tensors = [...tensors, tensor('v', [r.scale.length], ['feature'], r.scale, { description: 'Learned scale vector v of the additive score' })];
    } else if (s.kind === 'context' && !mha) {
      formula = 'cᵢ = Σⱼ αᵢⱼ vⱼ  (the layer\'s output)';
      tensors = tensors.map((t) => (t.name === 'output' ? { ...t, description: 'The layer output: the context vectors (zeroed where a query mask says so)' } : t));
    }
    return { ...s, formula, tensors };
  });
}

// ---------------------------------------------------------------------------------------------
// Loading

function disposeNewVariables(before: ReadonlySet<string>): void {
  const vars = tf.engine().registeredVariables;
  for (const name of Object.keys(vars)) if (!before.has(name)) vars[name]!.dispose();
}

/**
 * Loads a TensorFlow.js layers model.json and its weight shards from disk. tf.loadLayersModel builds
 * the model (tfjs's own deserialiser, with the Keras attention classes registered); the shards are
 * checked (paths inside the folder, files present and long enough) and decoded with
 * tf.io.decodeWeights + model.loadWeights, the calls tfjs itself makes, so that any mismatch is
 * reported clearly and nothing leaks.
 */
export async function loadTfjsLayersModel(modelJsonPath: string, options: LoadTfjsOptions = {}): Promise<TfjsLayersModel> {
  const { signal, onProgress } = options;
  throwIfCancelled(signal);
  const file = path.resolve(modelJsonPath);
  const dir = path.dirname(file);
  onProgress?.(0, 'Reading model.json');
  const raw = await readJsonFile(file, 'file');
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new AttentionInputError('file', `${file} is not a JSON object, so it is not a TensorFlow.js model.json.`);
  const j = raw as Record<string, unknown>;
  describeFormat(j, file);
  const classes = layerClassList(j.modelTopology);
  if (!classes.some((c) => (KERAS_ATTENTION_CLASSES as readonly string[]).includes(c))) {
    throw new AttentionInputError(
      'unsupported',
      `${file} has no attention layer (MultiHeadAttention, Attention or AdditiveAttention), so there is no attention to show. Its layers are: ${countList(classes) || 'none'}.`,
    );
  }
  const meta = parseCharMetadata(j.userDefinedMetadata, file);
  onProgress?.(0.1, 'Reading weight shards');
  const { specs, data, warnings } = await readShards(dir, file, j.weightsManifest, signal);
  let encoder: TextEncoderLike;
  if (meta) encoder = charEncoder(meta);
  else {
    try {
      encoder = hfEncoder(await HfTokenizer.load(dir));
    } catch (err) {
      throw new AttentionInputError(
        'config',
        `${file} has no character vocabulary in userDefinedMetadata.attentionLens and no usable tokenizer beside it, so text cannot be turned into its input ids. ` +
          `(${(err as Error).message})`,
      );
    }
  }
  throwIfCancelled(signal);
  onProgress?.(0.5, 'Building the model');
  const topology = prepareTopology(j.modelTopology);
  const before = new Set(Object.keys(tf.engine().registeredVariables));
  let model: tf.LayersModel;
  try {
    const artifacts: tf.io.ModelArtifacts = { modelTopology: topology as tf.io.ModelArtifacts['modelTopology'], format: 'layers-model' };
    if (j.userDefinedMetadata && typeof j.userDefinedMetadata === 'object') artifacts.userDefinedMetadata = j.userDefinedMetadata as NonNullable<tf.io.ModelArtifacts['userDefinedMetadata']>;
    model = await tf.loadLayersModel({ load: async () => artifacts }, { strict: false });
  } catch (err) {
    disposeNewVariables(before);
    if (err instanceof AttentionInputError) throw err;
    const msg = (err as Error).message;
    throw new AttentionInputError(/Unknown layer/i.test(msg) ? 'unsupported' : 'file', `${file}: tfjs could not build the model: ${msg}`);
  }
  try {
    onProgress?.(0.8, 'Loading weights');
    const weights = tf.io.decodeWeights(data, specs as tf.io.WeightsManifestEntry[]);
    try {
      model.loadWeights(weights, true);
    } catch (err) {
      throw new AttentionInputError('file', `${file}: the weight shards do not match the model's layers: ${(err as Error).message}`);
    } finally {
      tf.dispose(Object.values(weights));
    }
    const inputs = model.inputs;
    let positionsIndex: number | undefined;
    if (inputs.length === 2) {
      positionsIndex = inputs.findIndex((t) => (meta?.positionsInput ? t.name.startsWith(meta.positionsInput) : /pos/i.test(t.name)));
      if (positionsIndex < 0) throw new AttentionInputError('unsupported', `${file}: the model has 2 inputs (${inputs.map((t) => t.name).join(', ')}); a second input is only understood when its name contains "pos" (positions 0…T−1).`);
    } else if (inputs.length !== 1) {
      throw new AttentionInputError('unsupported', `${file}: the model has ${inputs.length} inputs; this loader feeds one input of token ids (plus optionally positions).`);
    }
    for (const [i, t] of inputs.entries()) {
      if (t.shape.length !== 2) throw new AttentionInputError('unsupported', `${file}: input ${i} "${t.name}" has shape [${t.shape.map((d) => d ?? 'null').join(', ')}]; a [batch, time] tensor of ids was expected.`);
    }
    const attention = model.layers.filter(isKerasAttentionLayer);
    const first = attention.find((l) => l instanceof tf.layers.Layer && 'numHeads' in l) as { numHeads?: number; keyDim?: number } | undefined;
    const base = path.basename(dir);
    const info: ModelInfo = {
      id: `tfjs-layers:${base}`,
      name: base,
      family: 'tfjs-layers',
      description: meta?.description ?? `TensorFlow.js layers model with ${attention.length} attention layer${attention.length === 1 ? '' : 's'}: ${attention.map((l) => `${l.name} (${l.getClassName()})`).join(', ')}.`,
      layers: attention.length,
      heads: first?.numHeads ?? 1,
      dModel: (model.inputs[0] && model.layers.find((l) => l.getClassName() === 'Embedding')?.getConfig().outputDim) as number ?? 0,
      parameters: model.countParams(),
    };
    onProgress?.(1, 'Model ready');
    return new TfjsLayersModel(model, encoder, meta, positionsIndex, info, warnings);
  } catch (err) {
    model.dispose();
    disposeNewVariables(before);
    throw err;
  }
}

/** Class names of the layers in a parsed model.json topology (for messages and tools). */
export function tfjsLayerClasses(modelJson: unknown): string[] {
  return layerClassList((modelJson as Record<string, unknown> | undefined)?.modelTopology);
}

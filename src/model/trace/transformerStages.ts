// Shared pieces of the Transformer loaders (BERT encoder, Marian encoder–decoder): tf helpers for
// LayerNorm, activations and multi-head attention (one 2-D matmul per head: tfjs-wasm's batched
// matMul is much slower at these sizes), and the builders of the four attention stages every
// attention block shows: Q/K/V → scores → weights → context. No vscode import.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { tf } from '../runtime/backend';
import { GELU_ERF, hasKernel, LAYER_NORM, readConcatenated } from '../runtime/wasmKernels';
import type { HfTokenizer } from '../tokenizers/hfTokenizer';
import type { SafeTensor } from '../formats/safetensors';
import { throwIfCancelled, yieldToEventLoop } from '../model';
import { AttentionInputError, tensor, type AttentionInfo, type ModelInfo, type Stage, type TensorData } from '../../../shared/trace';

// ---------------------------------------------------------------------------------------------
// Files

/** Walks up from `startDir` to the first folder containing `rel/config.json`. */
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

export { readJsonFile } from '../formats/hfFolder';

/** Reads positive integers / numbers from a config object with clear AttentionInputError('config') messages. */
export function configReader(raw: unknown, where: string) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new AttentionInputError('config', `${where} is not a JSON object.`);
  const c = raw as Record<string, unknown>;
  const fail = (message: string): never => {
    throw new AttentionInputError('config', message);
  };
  const int = (key: string, fallback?: number, min = 1): number => {
    const v = c[key] ?? fallback;
    if (v === undefined || v === null) fail(`${where} is missing "${key}".`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      fail(`${where}: "${key}" must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, not ${JSON.stringify(v)}.`);
    }
    return v as number;
  };
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (v === undefined || v === null) fail(`${where} is missing "${key}".`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`${where}: "${key}" must be a positive number, not ${JSON.stringify(v)}.`);
    return v as number;
  };
  const optInt = (key: string): number | undefined => (typeof c[key] === 'number' && Number.isInteger(c[key]) && (c[key] as number) >= 0 ? (c[key] as number) : undefined);
  return { c, int, num, optInt, fail };
}

// ---------------------------------------------------------------------------------------------
// tf helpers (call inside tf.tidy)

export function f32(t: tf.Tensor): Float32Array {
  const d = t.dataSync();
  return d instanceof Float32Array ? d : new Float32Array(d);
}

export { yieldToEventLoop };

/** The SIMD kernel's inputs when it can take this norm (wasm backend, width a multiple of 4). */
function simdNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D | undefined, eps: number): tf.Tensor2D | undefined {
  const D = x.shape[1];
  if (D % 4 !== 0 || g.size !== D || (b && b.size !== D) || x.dtype !== 'float32' || !hasKernel(LAYER_NORM)) return undefined;
  return tf.engine().runKernel(LAYER_NORM, b ? { x, g, b } : { x, g }, { eps }) as tf.Tensor2D;
}

/** RMSNorm (Llama): x / √(mean(x²) + eps) · g, per row. */
export function rmsNorm(x: tf.Tensor2D, g: tf.Tensor1D, eps: number): tf.Tensor2D {
  return simdNorm(x, g, undefined, eps) ?? tf.tidy(() => tf.mul(tf.div(x, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), g) as tf.Tensor2D);
}

export function layerNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor2D {
  const fast = simdNorm(x, g, b, eps);
  if (fast) return fast;
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), -1, true);
    return tf.add(tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, eps))), g), b) as tf.Tensor2D;
  });
}

export type Activation = 'gelu' | 'gelu_new' | 'relu' | 'silu' | 'swish';
export const ACTIVATIONS: readonly Activation[] = ['gelu', 'gelu_new', 'relu', 'silu', 'swish'];

export function activate(name: Activation, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    switch (name) {
      case 'gelu':
        if (hasKernel(GELU_ERF) && x.dtype === 'float32') return tf.engine().runKernel(GELU_ERF, { x }) as tf.Tensor2D;
        return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))) as tf.Tensor2D;
      case 'gelu_new': {
        // ½x(1 + tanh u) = x·σ(2u): tfjs-wasm's Tanh and Pow are scalar code (~30 ns an element),
        // its Sigmoid is XNNPACK's vectorised one; and no 1 + tanh cancellation for negative x.
        const u2 = tf.mul(2 * Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))));
        return tf.mul(x, tf.sigmoid(u2)) as tf.Tensor2D;
      }
      case 'relu':
        return tf.relu(x);
      case 'silu':
      case 'swish':
        return tf.mul(x, tf.sigmoid(x)) as tf.Tensor2D;
    }
  });
}

export const ACTIVATION_FORMULA: Record<Activation, string> = {
  gelu: 'gelu(z) = z·Φ(z) = ½z(1 + erf(z/√2))',
  gelu_new: 'gelu(z) ≈ ½z(1 + tanh(√(2/π)(z + 0.044715z³)))',
  relu: 'relu(z) = max(0, z)',
  silu: 'silu(z) = z·σ(z)',
  swish: 'swish(z) = z·σ(z)',
};

/**
 * An embedding matrix kept in JS ([rows, dim] row-major) and looked up by copying rows:
 * tfjs-wasm's Gather costs ~30 ns per element (15 ms for 512 rows of 768), a row copy is
 * nearly free. The matrix lives only here (no second copy in the wasm heap).
 */
export class EmbeddingTable {
  readonly #data: Float32Array;

  constructor(
    data: Float32Array,
    readonly rows: number,
    readonly dim: number,
  ) {
    if (data.length !== rows * dim) throw new Error(`embedding data has ${data.length} values, not ${rows}×${dim}`);
    this.#data = data;
  }

  /** [ids.length, dim]; ids must be inside the table (callers check and report them). */
  lookup(ids: ArrayLike<number>): tf.Tensor2D {
    const D = this.dim;
    const out = new Float32Array(ids.length * D);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!(id >= 0 && id < this.rows)) throw new RangeError(`row ${id} is outside the ${this.rows}-row embedding table`);
      out.set(this.#data.subarray(id * D, (id + 1) * D), i * D);
    }
    return tf.tensor2d(out, [ids.length, D], 'float32');
  }

  /** The whole matrix as a tensor, transposed ([dim, rows]): a tied output projection. */
  transposed(): tf.Tensor2D {
    return tf.tidy(() => tf.transpose(tf.tensor2d(this.#data, [this.rows, this.dim], 'float32')) as tf.Tensor2D);
  }
}

/** Disposes every tensor reachable from a model's weight record (each once, however often shared). */
export function disposeTensorsIn(weights: object): void {
  const all = new Set<tf.Tensor>();
  const add = (x: unknown): void => {
    if (x instanceof tf.Tensor) all.add(x);
    else if (x && typeof x === 'object' && !ArrayBuffer.isView(x)) for (const v of Object.values(x)) add(v);
  };
  add(weights);
  for (const t of all) t.dispose();
}

/** id, name and whether `dir` is a built-in's own folder; other folders are "<family>:<folder>", named after the folder. */
export function folderIdentity(
  dir: string,
  family: string,
  options: { readonly id?: string; readonly name?: string },
  builtin?: { readonly folder: string; readonly id: string; readonly name: string },
): { id: string; name: string; builtin: boolean } {
  const base = path.basename(path.resolve(dir));
  const own = builtin && base === builtin.folder ? builtin : undefined;
  return { id: options.id ?? own?.id ?? `${family}:${base}`, name: options.name ?? own?.name ?? base, builtin: own !== undefined };
}

/** The model `make` builds from `weights`; if building it throws, the weights are freed first. */
export function modelOwning<W extends object, M>(weights: W, make: () => M): M {
  try {
    return make();
  } catch (err) {
    disposeTensorsIn(weights);
    throw err;
  }
}

/** Greedy decoding for causal LMs: up to `n` argmax tokens, stopping after `eos`. Returns the new ids. */
export async function greedyTokens(
  ids: readonly number[],
  n: number,
  step: {
    /** Logits ([vocab]) for the token after `context`. */
    readonly next: (context: number[]) => Promise<Float32Array>;
    /** The part of the sequence the model can see (its positions are limited). */
    readonly window: (sequence: number[]) => number[];
    readonly vocabSize: number;
    readonly eos: number | undefined;
    readonly signal?: AbortSignal;
  },
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    throwIfCancelled(step.signal);
    const logits = await step.next(step.window([...ids, ...out]));
    let best = 0;
    for (let v = 1; v < step.vocabSize; v++) if (logits[v]! > logits[best]!) best = v;
    out.push(best);
    if (best === step.eos) break;
  }
  return out;
}

/** The text that `added` ids append to `ids`: the decoded difference, so pieces that merge across the boundary read right. */
export function appendedText(tokenizer: HfTokenizer, ids: readonly number[], added: readonly number[]): string {
  const before = tokenizer.decode(ids);
  const after = tokenizer.decode([...ids, ...added]);
  return after.startsWith(before) ? after.slice(before.length) : tokenizer.decode(added);
}

/** The top-k predictions per position as the two tensors the panel's prediction views read. */
export function topKTensors(T: number, k: number, p: Float32Array, id: ArrayLike<number>, tokenAxes: Readonly<Record<string, 'input' | 'output'>>, what: string): TensorData[] {
  return [
    tensor('top_p', [T, k], ['token', 'rank'], p, { tokenAxes, description: `Probabilities of the top ${what}` }),
    tensor('top_id', [T, k], ['token', 'rank'], Float32Array.from(id), { tokenAxes, description: 'Their token ids' }),
  ];
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

/** Linear layer with weights stored pre-transposed ([in, out]) and a bias. */
export interface Dense {
  readonly w: tf.Tensor2D;
  readonly b: tf.Tensor1D;
}

/** LayerNorm's gain and bias. */
export interface LN {
  readonly g: tf.Tensor1D;
  readonly b: tf.Tensor1D;
}

/** Turns a checkpoint's (already shape-checked) tensors into the tfjs tensors a model keeps. */
export interface WeightMaker {
  keep<T extends tf.Tensor>(t: T): T;
  t1(name: string): tf.Tensor1D;
  /** As stored. */
  t2(name: string): tf.Tensor2D;
  /** Transposed: a torch Linear's [out, in] becomes the [in, out] that x·W wants. */
  t2T(name: string): tf.Tensor2D;
  /** `name.weight` (torch Linear, transposed) and `name.bias`. */
  linear(name: string): Dense;
  /** `name.weight` stored [in, out] (GPT-2's Conv1D) and `name.bias`. */
  conv1d(name: string): Dense;
  layerNorm(name: string): LN;
  table(name: string): EmbeddingTable;
  /** Disposes everything made so far (a load that failed half-way). */
  freeAll(): void;
}

export function weightMaker(tensors: ReadonlyMap<string, SafeTensor>): WeightMaker {
  const created: tf.Tensor[] = [];
  const get = (name: string): SafeTensor => {
    const t = tensors.get(name);
    if (!t) throw new Error(`weight ${name} was not checked before use`);
    return t;
  };
  const keep = <T extends tf.Tensor>(t: T): T => {
    created.push(t);
    return t;
  };
  const t1 = (name: string): tf.Tensor1D => keep(tf.tensor1d(get(name).data, 'float32'));
  const t2 = (name: string): tf.Tensor2D => {
    const w = get(name);
    return keep(tf.tensor2d(w.data, [w.shape[0]!, w.shape[1]!], 'float32'));
  };
  const t2T = (name: string): tf.Tensor2D => {
    const w = get(name);
    return keep(tf.tidy(() => tf.transpose(tf.tensor2d(w.data, [w.shape[0]!, w.shape[1]!], 'float32')) as tf.Tensor2D));
  };
  return {
    keep,
    t1,
    t2,
    t2T,
    linear: (name) => ({ w: t2T(name + '.weight'), b: t1(name + '.bias') }),
    conv1d: (name) => ({ w: t2(name + '.weight'), b: t1(name + '.bias') }),
    layerNorm: (name) => ({ g: t1(name + '.weight'), b: t1(name + '.bias') }),
    table: (name) => {
      const w = get(name);
      return new EmbeddingTable(w.data, w.shape[0]!, w.shape[1]!);
    },
    freeAll: () => {
      for (const t of created.splice(0)) t.dispose();
    },
  };
}

export function dense(x: tf.Tensor2D, d: Dense): tf.Tensor2D {
  // One fused kernel (product and bias) instead of a product and a separate Add pass.
  return tf.fused.matMul({ a: x, b: d.w, bias: d.b }) as tf.Tensor2D;
}

/** The tensors of one multi-head attention block, still on the tf side (inside a tidy). */
export interface MultiHeadTensors {
  /** [H, Tq, hd], [H, Tk, hd], [H, Tk, hd] */
  readonly q: tf.Tensor3D;
  readonly k: tf.Tensor3D;
  readonly v: tf.Tensor3D;
  /** Per head: [Tq, Tk] scaled scores (before any mask) and weights; read out by recordAttention without stacking. */
  readonly scores: readonly tf.Tensor2D[];
  readonly weights: readonly tf.Tensor2D[];
  /** [H, Tq, hd] contexts. */
  readonly context: tf.Tensor3D;
  /** [Tq, H·hd]: the heads' contexts side by side (before the output projection). */
  readonly merged: tf.Tensor2D;
}

/**
 * Scaled dot-product attention over H heads of size hd. `q2`: [Tq, H·hd], `k2`, `v2`: [Tk, H·hd]
 * (projections already applied). `maskAdd` ([Tq, Tk], 0 or −∞) is added to the scores before softmax.
 * Must be called inside tf.tidy.
 */
export function multiHead(q2: tf.Tensor2D, k2: tf.Tensor2D, v2: tf.Tensor2D, H: number, hd: number, maskAdd?: tf.Tensor2D): MultiHeadTensors {
  const Tq = q2.shape[0];
  const Tk = k2.shape[0];
  const scale = 1 / Math.sqrt(hd);
  const scoreList: tf.Tensor2D[] = [];
  const weightList: tf.Tensor2D[] = [];
  const contextList: tf.Tensor2D[] = [];
  // Heads apart with one reshape + transpose each (cheaper than H column slices), Kᵀ per head
  // directly, then one 2-D product per head: tfjs-wasm's matMul with transposeB, and its batched
  // (3-D) matMul, are several times slower than a plain 2-D product (npm run bench).
  const heads = (x: tf.Tensor2D, T: number, order: number[]): tf.Tensor3D => tf.transpose(tf.reshape(x, [T, H, hd]), order);
  const q = heads(q2, Tq, [1, 0, 2]);
  const k = heads(k2, Tk, [1, 0, 2]);
  const v = heads(v2, Tk, [1, 0, 2]);
  // When √d is a power of two (d = 4, 16, 64, 256) scaling is exact, so 1/√d can go on the
  // queries ([Tq, hd] per head) instead of the scores ([Tq, Tk]): fewer multiplications, the
  // same bits. Otherwise the scores are scaled, as the references do.
  const exact = Number.isInteger(Math.log2(scale));
  const qs = tf.unstack(exact ? tf.mul(q, scale) : q) as tf.Tensor2D[];
  const kTs = tf.unstack(heads(k2, Tk, [1, 2, 0])) as tf.Tensor2D[];
  const vs = tf.unstack(v) as tf.Tensor2D[];
  for (let h = 0; h < H; h++) {
    const product = tf.matMul(qs[h]!, kTs[h]!) as tf.Tensor2D;
    const s = exact ? product : tf.mul<tf.Tensor2D>(product, scale);
    const a = tf.softmax(maskAdd ? tf.add(s, maskAdd) : s, -1) as tf.Tensor2D;
    scoreList.push(s);
    weightList.push(a);
    contextList.push(tf.matMul(a, vs[h]!));
  }
  const context = tf.stack(contextList) as tf.Tensor3D;
  return {
    q,
    k,
    v,
    scores: scoreList,
    weights: weightList,
    context,
    // Heads side by side with the native transpose: tfjs-wasm's Concat along axis 1 copies row by row in JS.
    merged: tf.reshape(tf.transpose(context, [1, 0, 2]), [Tq, H * hd]),
  };
}

/** One attention block's numbers, pulled out of tf. */
export interface AttentionRecord {
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  readonly scores: Float32Array;
  readonly weights: Float32Array;
  readonly context: Float32Array;
  /** [Tq, d_model]: concat(heads) W_O + b_O, what attention adds to the residual stream. */
  readonly output: Float32Array;
}

export function recordAttention(m: MultiHeadTensors, output: tf.Tensor2D): AttentionRecord {
  return {
    q: f32(m.q),
    k: f32(m.k),
    v: f32(m.v),
    scores: readConcatenated(m.scores),
    weights: readConcatenated(m.weights),
    context: f32(m.context),
    output: f32(output),
  };
}

/** Softmax top-k per row of `logits` ([rows, vocab]); inside or outside a tidy. */
export function topKRows(logits: tf.Tensor2D, k: number): { p: Float32Array; id: Int32Array } {
  let out: { p: Float32Array; id: Int32Array } | undefined;
  tf.tidy(() => {
    const top = tf.topk(tf.softmax(logits, -1), k, true);
    const idx = top.indices.dataSync();
    out = { p: f32(top.values), id: idx instanceof Int32Array ? idx : Int32Array.from(idx) };
  });
  return out!;
}

// ---------------------------------------------------------------------------------------------
// Stages

export interface AttentionStageSpec {
  /** Stage id prefix, e.g. 'L0', 'enc1', 'dec0.self', 'dec1.cross'. */
  readonly prefix: string;
  readonly layer: number;
  /** Title prefix, e.g. 'Layer 0', 'Decoder layer 1, cross-attention'. */
  readonly title: string;
  readonly attention: AttentionInfo;
  readonly heads: number;
  readonly headDim: number;
  readonly dModel: number;
  readonly queryCount: number;
  readonly keyCount: number;
  readonly record: AttentionRecord;
  /** Stage kind for the weights (always 'normalise' here, kept explicit). */
  readonly qkvText: string;
  readonly scoresText: string;
  readonly weightsText: string;
  readonly contextText: string;
  /** Causal (or other) mask shown beside the scores: 1 = may attend, 0 = masked. */
  readonly mask?: Float32Array;
  readonly weightsFormula?: string;
  readonly qkvFormula?: string;
}

/** The four stages of one attention block: Q/K/V, scores, weights, context. */
export function attentionStages(s: AttentionSpecLike): Stage[] {
  const { prefix, layer, title, attention, heads: H, headDim: hd, dModel: D, queryCount: Tq, keyCount: Tk, record: r } = s;
  const qTok = { token: attention.queries } as const;
  const kTok = { token: attention.keys } as const;
  const qk = { query: attention.queries, key: attention.keys } as const;
  const scoreTensors = [tensor('scores', [H, Tq, Tk], ['head', 'query', 'key'], r.scores, { tokenAxes: qk, description: `QKᵀ/√${hd}${s.mask ? ' before masking' : ''}` })];
  if (s.mask) scoreTensors.push(tensor('mask', [Tq, Tk], ['query', 'key'], s.mask, { tokenAxes: qk, description: '1 = may attend, 0 = masked (future position)' }));
  return [
    {
      id: `${prefix}.qkv`,
      kind: 'qkv',
      layer,
      attention,
      title: `${title}: queries, keys, values`,
      formula: s.qkvFormula ?? 'Q = h W_Q + b_Q,  K = h W_K + b_K,  V = h W_V + b_V  (split into heads)',
      explanation: s.qkvText,
      tensors: [
        tensor('Q', [H, Tq, hd], ['head', 'token', 'd_head'], r.q, { tokenAxes: qTok, description: 'Queries, one row per query token and head' }),
        tensor('K', [H, Tk, hd], ['head', 'token', 'd_head'], r.k, { tokenAxes: kTok, description: 'Keys, one row per key token and head' }),
        tensor('V', [H, Tk, hd], ['head', 'token', 'd_head'], r.v, { tokenAxes: kTok, description: 'Values, one row per key token and head' }),
      ],
    },
    {
      id: `${prefix}.scores`,
      kind: 'score',
      layer,
      attention,
      title: `${title}: attention scores`,
      formula: `S[h] = Q[h] K[h]ᵀ / √${hd}`,
      explanation: s.scoresText,
      tensors: scoreTensors,
    },
    {
      id: `${prefix}.weights`,
      kind: 'normalise',
      layer,
      attention,
      title: `${title}: attention weights`,
      formula: s.weightsFormula ?? 'α[h] = softmax(S[h])  (each row sums to 1)',
      explanation: s.weightsText,
      tensors: [tensor('weights', [H, Tq, Tk], ['head', 'query', 'key'], r.weights, { tokenAxes: qk, description: 'Attention weights α' })],
    },
    {
      id: `${prefix}.context`,
      kind: 'context',
      layer,
      attention,
      title: `${title}: context vectors`,
      formula: 'cᵢ[h] = Σⱼ αᵢⱼ[h] Vⱼ[h];  out = concat_h(c) W_O + b_O',
      explanation: s.contextText,
      tensors: [
        tensor('context', [H, Tq, hd], ['head', 'query', 'd_head'], r.context, { tokenAxes: { query: attention.queries }, description: 'Per-head context vectors' }),
        tensor('output', [Tq, D], ['token', 'd_model'], r.output, { tokenAxes: qTok, description: 'concat(heads) W_O + b_O' }),
      ],
    },
  ];
}

type AttentionSpecLike = AttentionStageSpec;

// ---------------------------------------------------------------------------------------------
// Offsets for normalising tokenizers (BERT's lower-casing, accent stripping)

/** A token to place in the text: a vocabulary piece (normalised), a literal (special token typed
 * in the text, matched case-sensitively), an unknown word (the next whole word), or no text at all. */
export type AlignPiece = { readonly piece: string } | { readonly literal: string } | { readonly unknownWord: true } | null;

/**
 * Maps tokens back to UTF-16 spans of `text`. Each source code point is normalised on its own
 * (`norm`, e.g. lower-case + strip accents), the tokens are matched left to right against the
 * normalised stream, and every matched normalised character maps back to the code point it came
 * from. Tokens that cannot be matched get [-1, -1] and are counted in `issues`.
 */
export function alignNormalised(
  text: string,
  pieces: readonly AlignPiece[],
  norm: (ch: string) => string,
  isPunct: (ch: string) => boolean,
): { spans: [number, number][]; issues: number } {
  const chars: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    const ch = text.slice(i, i + n);
    for (const out of norm(ch)) {
      chars.push(out);
      from.push(i);
      to.push(i + n);
    }
    i += n;
  }
  const isSpace = (ch: string): boolean => /\s/u.test(ch);
  let cursor = 0;
  let issues = 0;
  const spans: [number, number][] = [];
  const miss = (): void => {
    issues++;
    spans.push([-1, -1]);
  };
  for (const p of pieces) {
    if (p === null) {
      spans.push([-1, -1]);
      continue;
    }
    let at = cursor;
    while (at < chars.length && isSpace(chars[at]!)) at++;
    if ('literal' in p) {
      let src = at < chars.length ? from[at]! : text.length;
      while (src < text.length && /\s/u.test(text[src]!)) src++;
      if (!text.startsWith(p.literal, src)) {
        miss();
        continue;
      }
      const end = src + p.literal.length;
      spans.push([src, end]);
      while (cursor < chars.length && from[cursor]! < end) cursor++;
      continue;
    }
    if ('unknownWord' in p) {
      if (at >= chars.length) {
        miss();
        continue;
      }
      let end = at + 1;
      if (!isPunct(chars[at]!)) while (end < chars.length && !isSpace(chars[end]!) && !isPunct(chars[end]!)) end++;
      spans.push([from[at]!, to[end - 1]!]);
      cursor = end;
      continue;
    }
    const want = [...p.piece];
    let ok = want.length > 0 && at + want.length <= chars.length;
    for (let k = 0; ok && k < want.length; k++) if (chars[at + k] !== want[k]) ok = false;
    if (!ok) {
      miss();
      continue;
    }
    spans.push([from[at]!, to[at + want.length - 1]!]);
    cursor = at + want.length;
  }
  return { spans, issues };
}

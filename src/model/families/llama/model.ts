// Llama-family causal language models from a Hugging Face folder (config.json, model.safetensors,
// tokenizer.json): the built-in default is the real pretrained TinyStories-656K. The forward pass
// runs in tfjs and records every step of attention for the views:
//   tokens → embedding → per layer: RMSNorm → Q,K,V (+RoPE) → scores → softmax weights → context
//   → MLP → … → final norm → next-token predictions.
// No vscode import. Every tf op is inside tf.tidy or disposed: a run leaves tf.memory() unchanged.
import { readHfFolder } from '../../formats/hfFolder';
import { readConcatenated } from '../../runtime/wasmKernels';
import { f32, findBuiltinDir, rmsNorm, EmbeddingTable, LoadedModel, weightMaker, folderIdentity, modelOwning, greedyTokens, appendedText, topKTensors } from '../../trace/transformerStages';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { backendLabel, tf } from '../../runtime/backend';
import { HfTokenizer, type HfToken } from '../../tokenizers/hfTokenizer';
import { throwIfCancelled, yieldToEventLoop, type AttentionModel, type RunOptions } from '../../model';
import type { SafeTensor } from '../../formats/safetensors';
import {
  AttentionInputError,
  tensor,
  type AttentionInfo,
  type ModelInfo,
  type Prediction,
  type Stage,
  type Token,
  type Trace,
} from '../../../../shared/trace';

export interface LlamaConfig {
  readonly hiddenSize: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly numLayers: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly rmsEps: number;
  readonly ropeTheta: number;
  readonly tieEmbeddings: boolean;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
}

export interface LoadLlamaOptions {
  readonly id?: string;
  readonly name?: string;
  readonly description?: string;
  readonly licence?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

const BUILTIN_DIR = path.join('models', 'tinystories-656k');

/**
 * The folder of the built-in TinyStories-656K weights: `models/tinystories-656k` in the repo or
 * beside the bundle. Walks up from `startDir` (dist/ when bundled, src/model/ from source).
 */
export function builtinTinyStoriesDir(startDir: string = __dirname): string {
  return findBuiltinDir(BUILTIN_DIR, startDir);
}

// ---------------------------------------------------------------------------------------------
// config.json

function configError(message: string): never {
  throw new AttentionInputError('config', message);
}

/** Validates a Hugging Face Llama config.json; clear errors for missing or inconsistent fields. */
export function parseLlamaConfig(raw: unknown, where = 'config.json'): LlamaConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) configError(`${where} is not a JSON object.`);
  const c = raw as Record<string, unknown>;
  const arch = Array.isArray(c['architectures']) ? (c['architectures'] as unknown[]) : [];
  if (c['model_type'] !== undefined && c['model_type'] !== 'llama' && !arch.includes('LlamaForCausalLM')) {
    throw new AttentionInputError('unsupported', `${where} describes a "${String(c['model_type'])}" model; this loader reads Llama models (model_type "llama").`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (v === undefined || v === null) configError(`${where} is missing "${key}".`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) configError(`${where}: "${key}" must be a positive integer, not ${JSON.stringify(v)}.`);
    return v;
  };
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (v === undefined || v === null) configError(`${where} is missing "${key}".`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) configError(`${where}: "${key}" must be a positive number, not ${JSON.stringify(v)}.`);
    return v;
  };
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  const numLayers = int('num_hidden_layers');
  const intermediateSize = int('intermediate_size');
  const vocabSize = int('vocab_size');
  const maxPositions = int('max_position_embeddings', 2048);
  const rmsEps = num('rms_norm_eps', 1e-6);
  const ropeTheta = num('rope_theta', 10000);
  if (c['head_dim'] === undefined && hiddenSize % numHeads !== 0) {
    configError(`${where}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads} (and no head_dim is given).`);
  }
  const headDim = c['head_dim'] === undefined || c['head_dim'] === null ? hiddenSize / numHeads : int('head_dim');
  if (headDim % 2 !== 0) configError(`${where}: head_dim ${headDim} must be even for rotary position embeddings.`);
  if (numHeads % numKvHeads !== 0) {
    configError(`${where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}, so query heads cannot share key/value heads evenly.`);
  }
  const act = c['hidden_act'] ?? 'silu';
  if (act !== 'silu') throw new AttentionInputError('unsupported', `${where}: hidden_act "${String(act)}" is not supported; Llama uses "silu".`);
  if (c['rope_scaling'] !== undefined && c['rope_scaling'] !== null) {
    throw new AttentionInputError('unsupported', `${where}: rope_scaling ${JSON.stringify(c['rope_scaling'])} is not supported; only plain RoPE is.`);
  }
  if (c['attention_bias'] === true || c['mlp_bias'] === true) {
    throw new AttentionInputError('unsupported', `${where}: attention_bias / mlp_bias are not supported (Llama has no biases).`);
  }
  const optId = (key: string): number | undefined => (typeof c[key] === 'number' && Number.isInteger(c[key]) ? (c[key] as number) : undefined);
  return {
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    numLayers,
    intermediateSize,
    vocabSize,
    maxPositions,
    rmsEps,
    ropeTheta,
    tieEmbeddings: c['tie_word_embeddings'] === true,
    bosId: optId('bos_token_id'),
    eosId: optId('eos_token_id'),
  };
}

// ---------------------------------------------------------------------------------------------
// Weights

/** Linear weights are stored transposed ([in, out]) so every product is a plain x·W (fast in tfjs-wasm). */
interface LayerWeights {
  readonly inputNorm: tf.Tensor1D;
  readonly q: tf.Tensor2D;
  readonly k: tf.Tensor2D;
  readonly v: tf.Tensor2D;
  readonly o: tf.Tensor2D;
  readonly postNorm: tf.Tensor1D;
  readonly gate: tf.Tensor2D;
  readonly up: tf.Tensor2D;
  readonly down: tf.Tensor2D;
}

interface Weights {
  /** [vocab, d_model], rows gathered for the input embedding. */
  readonly embed: EmbeddingTable;
  /** [d_model, vocab]: the output projection, transposed (a transposed copy of embed when tied). */
  readonly lmHead: tf.Tensor2D;
  readonly finalNorm: tf.Tensor1D;
  readonly layers: readonly LayerWeights[];
}

const fmt = (shape: readonly number[]): string => shape.join('×');

function takeWeight(
  map: Map<string, SafeTensor>,
  name: string,
  expected: readonly number[],
  meaning: string,
  where: string,
): SafeTensor {
  const t = map.get(name) ?? map.get(name.replace(/^model\./, ''));
  if (!t) throw new AttentionInputError('file', `${where} has no tensor "${name}".`);
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    const short = name.replace(/^model\./, '').replace(/\.weight$/, '');
    throw new AttentionInputError('shape', `${short} is ${fmt(t.shape)} but ${meaning} is ${fmt(expected)} (from config.json).`);
  }
  return t;
}

function buildWeights(map: Map<string, SafeTensor>, cfg: LlamaConfig, where: string): Weights {
  const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: hd, intermediateSize: I, vocabSize: V } = cfg;
  const has = (n: string): boolean => map.has(n) || map.has(n.replace(/^model\./, ''));
  // Tied embeddings: one matrix serves as the input embedding and the output projection.
  let embedName = 'model.embed_tokens.weight';
  let headName = 'lm_head.weight';
  if (!has(embedName) && has(headName) && cfg.tieEmbeddings) embedName = headName;
  if (!has(headName) || cfg.tieEmbeddings) headName = embedName;
  // Validate every shape first, so a bad file allocates no tensors at all.
  const spec: { name: string; shape: number[]; meaning: string }[] = [
    { name: embedName, shape: [V, D], meaning: 'vocab_size × hidden_size' },
    { name: headName, shape: [V, D], meaning: 'vocab_size × hidden_size' },
    { name: 'model.norm.weight', shape: [D], meaning: 'hidden_size' },
  ];
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}.`;
    spec.push(
      { name: p + 'input_layernorm.weight', shape: [D], meaning: 'hidden_size' },
      { name: p + 'self_attn.q_proj.weight', shape: [H * hd, D], meaning: 'heads·head_dim × hidden_size' },
      { name: p + 'self_attn.k_proj.weight', shape: [KV * hd, D], meaning: 'kv_heads·head_dim × hidden_size' },
      { name: p + 'self_attn.v_proj.weight', shape: [KV * hd, D], meaning: 'kv_heads·head_dim × hidden_size' },
      { name: p + 'self_attn.o_proj.weight', shape: [D, H * hd], meaning: 'hidden_size × heads·head_dim' },
      { name: p + 'post_attention_layernorm.weight', shape: [D], meaning: 'hidden_size' },
      { name: p + 'mlp.gate_proj.weight', shape: [I, D], meaning: 'intermediate_size × hidden_size' },
      { name: p + 'mlp.up_proj.weight', shape: [I, D], meaning: 'intermediate_size × hidden_size' },
      { name: p + 'mlp.down_proj.weight', shape: [D, I], meaning: 'hidden_size × intermediate_size' },
    );
  }
  const found = new Map<string, SafeTensor>();
  for (const s of spec) found.set(s.name, takeWeight(map, s.name, s.shape, s.meaning, where));
  const made = weightMaker(found);
  const { t1, t2T } = made;
  try {
    const embed = made.table(embedName);
    const lmHead = t2T(headName);
    const layers: LayerWeights[] = [];
    for (let l = 0; l < cfg.numLayers; l++) {
      const p = `model.layers.${l}.`;
      layers.push({
        inputNorm: t1(p + 'input_layernorm.weight'),
        q: t2T(p + 'self_attn.q_proj.weight'),
        k: t2T(p + 'self_attn.k_proj.weight'),
        v: t2T(p + 'self_attn.v_proj.weight'),
        o: t2T(p + 'self_attn.o_proj.weight'),
        postNorm: t1(p + 'post_attention_layernorm.weight'),
        gate: t2T(p + 'mlp.gate_proj.weight'),
        up: t2T(p + 'mlp.up_proj.weight'),
        down: t2T(p + 'mlp.down_proj.weight'),
      });
    }
    return { embed, lmHead, finalNorm: t1('model.norm.weight'), layers };
  } catch (err) {
    made.freeAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The model

/** What one layer's forward pass produced, as flat arrays. */
interface LayerRecord {
  readonly residual: Float32Array;
  readonly input: Float32Array;
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  readonly scores: Float32Array;
  readonly weights: Float32Array;
  readonly context: Float32Array;
  readonly attnOutput: Float32Array;
  readonly output: Float32Array;
}

export class LlamaModel extends LoadedModel<LlamaConfig, Weights> implements AttentionModel {
  /** kvHeadOf[h]: the key/value head query head h reads (grouped-query attention). */
  readonly kvHeadOf: readonly number[];
  private readonly bosId: number;

  constructor(config: LlamaConfig, tokenizer: HfTokenizer, weights: Weights, info: ModelInfo) {
    super(config, tokenizer, weights, info);
    const group = config.numHeads / config.numKvHeads;
    this.kvHeadOf = Array.from({ length: config.numHeads }, (_, h) => Math.floor(h / group));
    const bos = config.bosId ?? tokenizer.bosId;
    if (bos === undefined) throw new AttentionInputError('config', 'Neither config.json nor the tokenizer names a BOS token.');
    this.bosId = bos;
  }


  /** BOS + the text's tokens, truncated to `maxTokens` (BOS included). */
  tokenize(text: string, maxTokens: number): { tokens: HfToken[]; truncated: boolean; coveredLength: number; alignmentIssues: number } {
    const enc = this.tokenizer.encode(text, { addBos: false, maxTokens: maxTokens - 1 });
    const piece = this.tokenizer.piece(this.bosId);
    const bos: HfToken = { text: piece, piece, id: this.bosId, start: -1, end: -1, special: true };
    return { tokens: [bos, ...enc.tokens], truncated: enc.truncated, coveredLength: enc.coveredLength, alignmentIssues: enc.alignmentIssues };
  }

  /** RoPE tables for positions 0..T-1, computed in float64: [T, head_dim] each, HF's [θ, θ] layout. */
  private ropeTables(T: number): { cos: Float32Array; sin: Float32Array } {
    const hd = this.config.headDim;
    const half = hd / 2;
    const cos = new Float32Array(T * hd);
    const sin = new Float32Array(T * hd);
    for (let p = 0; p < T; p++) {
      for (let i = 0; i < half; i++) {
        const angle = p * Math.pow(this.config.ropeTheta, (-2 * i) / hd);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        cos[p * hd + i] = c;
        cos[p * hd + i + half] = c;
        sin[p * hd + i] = s;
        sin[p * hd + i + half] = s;
      }
    }
    return { cos, sin };
  }

  /**
   * The forward pass. With `record`, every layer's tensors are pulled out for the trace; without,
   * only the logits of `lastOnly` (the last position) or of all positions are returned.
   */
  private async forward(
    ids: readonly number[],
    opts: { record: boolean; lastOnly?: boolean; topK?: number; signal?: AbortSignal; onProgress?: (f: number, m: string) => void },
  ): Promise<{ embedding?: Float32Array; layers: LayerRecord[]; final?: Float32Array; logits?: Float32Array; topP?: Float32Array; topId?: Int32Array }> {
    const w = this.live();
    const cfg = this.config;
    const { numHeads: H, numKvHeads: KV, headDim: hd, hiddenSize: D, numLayers: L } = cfg;
    const T = ids.length;
    const { signal, onProgress, record } = opts;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) {
        throw new AttentionInputError('shape', `Token id ${id} is outside the embedding table (vocab_size ${cfg.vocabSize}).`);
      }
    }
    const layers: LayerRecord[] = [];
    const { cos, sin } = this.ropeTables(T);
    const maskAdd = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskAdd[i * T + j] = -Infinity;
    const cosT = tf.tensor2d(cos, [T, hd]);
    const sinT = tf.tensor2d(sin, [T, hd]);
    const maskT = tf.tensor2d(maskAdd, [T, T]);
    let x: tf.Tensor2D | undefined;
    let embedding: Float32Array | undefined;
    try {
      x = w.embed.lookup(ids);
      if (record) embedding = f32(x);
      const norm = (v: tf.Tensor2D, g: tf.Tensor1D): tf.Tensor2D => rmsNorm(v, g, cfg.rmsEps);
      const rope = (v: tf.Tensor3D): tf.Tensor3D =>
        tf.tidy(() => {
          const half = hd / 2;
          const first = tf.slice(v, [0, 0, 0], [-1, -1, half]);
          const second = tf.slice(v, [0, 0, half], [-1, -1, half]);
          const rotated = tf.concat([tf.neg(second), first], 2);
          return v.mul(cosT).add(rotated.mul(sinT)) as tf.Tensor3D;
        });
      for (let l = 0; l < L; l++) {
        throwIfCancelled(signal);
        onProgress?.(l / (L + 1), `Layer ${l + 1} of ${L}`);
        const lw = w.layers[l]!;
        const input = x;
        const next = tf.tidy(() => {
          const h = norm(input, lw.inputNorm);
          const q = rope(tf.matMul(h, lw.q).reshape([T, H, hd]).transpose([1, 0, 2]) as tf.Tensor3D);
          const k = rope(tf.matMul(h, lw.k).reshape([T, KV, hd]).transpose([1, 0, 2]) as tf.Tensor3D);
          const v = tf.matMul(h, lw.v).reshape([T, KV, hd]).transpose([1, 0, 2]) as tf.Tensor3D;
          // Grouped-query attention: query head h reads key/value head kvHeadOf[h]. One 2-D product
          // per head: tfjs-wasm's batched matMul is far slower than its 2-D one at these sizes.
          const head = (t: tf.Tensor3D, i: number): tf.Tensor2D => tf.reshape(tf.slice(t, [i, 0, 0], [1, T, hd]), [T, hd]);
          const kT = Array.from({ length: KV }, (_, g) => tf.transpose(head(k, g)));
          const vs = Array.from({ length: KV }, (_, g) => head(v, g));
          const scoreList: tf.Tensor2D[] = [];
          const weightList: tf.Tensor2D[] = [];
          const contextList: tf.Tensor2D[] = [];
          for (let hh = 0; hh < H; hh++) {
            const g = this.kvHeadOf[hh]!;
            const s = tf.mul(tf.matMul(head(q, hh), kT[g]!), 1 / Math.sqrt(hd)) as tf.Tensor2D;
            const a = tf.softmax(tf.add(s, maskT), -1) as tf.Tensor2D;
            scoreList.push(s);
            weightList.push(a);
            contextList.push(tf.matMul(a, vs[g]!));
          }
          const context = tf.stack(contextList) as tf.Tensor3D;
          // Heads side by side by the native transpose (tfjs-wasm's Concat on axis 1 is a JS row loop).
          const merged = tf.reshape(tf.transpose(context, [1, 0, 2]), [T, H * hd]) as tf.Tensor2D;
          const attnOut = tf.matMul(merged, lw.o);
          const x1 = input.add(attnOut) as tf.Tensor2D;
          const h2 = norm(x1, lw.postNorm);
          const gate = tf.matMul(h2, lw.gate);
          const up = tf.matMul(h2, lw.up);
          const mlp = tf.matMul(gate.mul(tf.sigmoid(gate)).mul(up), lw.down);
          const out = x1.add(mlp) as tf.Tensor2D;
          if (record) {
            layers.push({
              residual: f32(input),
              input: f32(h),
              q: f32(q),
              k: f32(k),
              v: f32(v),
              scores: readConcatenated(scoreList),
              weights: readConcatenated(weightList),
              context: f32(context),
              attnOutput: f32(attnOut),
              output: f32(out),
            });
          }
          return out;
        });
        x = next;
        input.dispose();
        await yieldToEventLoop();
      }
      throwIfCancelled(signal);
      onProgress?.(L / (L + 1), 'Next-token predictions');
      const last = x;
      const k = Math.max(1, Math.min(opts.topK ?? 5, cfg.vocabSize));
      const result: { final?: Float32Array; logits?: Float32Array; topP?: Float32Array; topId?: Int32Array } = {};
      tf.tidy(() => {
        const src = opts.lastOnly ? tf.slice(last, [T - 1, 0], [1, D]) : last;
        const final = norm(src as tf.Tensor2D, w.finalNorm);
        const logits = tf.matMul(final, w.lmHead);
        // A run keeps only the top-k: the full [T × vocab] logits can be many MB.
        if (!record) result.logits = f32(logits);
        else {
          result.final = f32(final);
          const top = tf.topk(tf.softmax(logits, -1), k, true);
          result.topP = f32(top.values);
          const idx = top.indices.dataSync();
          result.topId = idx instanceof Int32Array ? idx : Int32Array.from(idx);
        }
      });
      return { embedding, layers, ...result };
    } finally {
      x?.dispose();
      cosT.dispose();
      sinT.dispose();
      maskT.dispose();
    }
  }

  /** Logits for every position, [ids.length × vocab_size] row-major (for tests and tools). */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    return (await this.forward(ids, { record: false })).logits!;
  }

  /** Greedy decoding: appends up to `n` argmax tokens (stops after EOS). Returns the new ids. */
  async generate(ids: readonly number[], n: number, signal?: AbortSignal): Promise<number[]> {
    const P = this.config.maxPositions;
    return greedyTokens(ids, n, {
      next: async (context) => (await this.forward(context, { record: false, lastOnly: true, signal })).logits!,
      // Past max_position_embeddings the oldest tokens slide out, but BOS stays first.
      window: (seq) => (seq.length > P ? [seq[0]!, ...seq.slice(seq.length - P + 1)] : seq),
      vocabSize: this.config.vocabSize,
      eos: this.config.eosId,
      signal,
    });
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const started = performance.now();
    const { signal, onProgress } = options;
    throwIfCancelled(signal);
    if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to run: select some words first.');
    const cfg = this.config;
    const warnings: string[] = [];
    const requested = options.maxTokens;
    let maxTokens = requested !== undefined && Number.isFinite(requested) ? Math.floor(requested) : cfg.maxPositions;
    if (maxTokens < 2) maxTokens = 2;
    if (maxTokens > cfg.maxPositions) {
      warnings.push(`maxTokens ${maxTokens} is more than this model's ${cfg.maxPositions} positions (max_position_embeddings); using ${cfg.maxPositions}.`);
      maxTokens = cfg.maxPositions;
    }
    onProgress?.(0, 'Tokenising');
    const enc = this.tokenize(text, maxTokens);
    if (enc.truncated) {
      warnings.push(
        `The input was truncated to ${maxTokens} tokens (including the start token ${enc.tokens[0]!.piece}); ` +
          `the model saw the first ${enc.coveredLength} of ${text.length} characters.`,
      );
    }
    if (enc.alignmentIssues > 0) {
      warnings.push(`${enc.alignmentIssues} token${enc.alignmentIssues === 1 ? '' : 's'} could not be matched exactly with the text; their editor positions are approximate.`);
    }
    const unknown = enc.tokens.filter((t) => t.unknown).length;
    if (unknown > 0) warnings.push(`${unknown} token${unknown === 1 ? '' : 's'} fell outside the vocabulary and became ${this.tokenizer.unkToken ?? '<unk>'}.`);
    const tokens: Token[] = enc.tokens;
    const ids = tokens.map((t) => t.id);
    const topK = Math.max(1, Math.min(Math.floor(options.topK ?? 5), cfg.vocabSize));
    const out = await this.forward(ids, { record: true, topK, signal, onProgress });
    throwIfCancelled(signal);
    const stages = this.stages(tokens, out, topK);
    const predictions: Prediction[] = [];
    for (let i = 0; i < ids.length; i++) {
      const top = [];
      for (let r = 0; r < topK; r++) {
        const id = out.topId![i * topK + r]!;
        top.push({ id, text: this.tokenizer.piece(id), p: out.topP![i * topK + r]! });
      }
      predictions.push({ position: i, top });
    }
    onProgress?.(1, 'Done');
    return {
      version: 1,
      model: this.info,
      text: text.slice(0, enc.coveredLength),
      tokens,
      stages,
      predictions,
      warnings,
      backend: backendLabel(),
      elapsedMs: performance.now() - started,
    };
  }

  private tokensExplanation(T: number, bos: string): string {
    const tok = this.tokenizer;
    const mark = tok.replacement;
    let suffix = 0;
    let prefix = 0;
    for (let id = 0; id < tok.vocabSize; id++) {
      const p = tok.piece(id);
      if (p.length > 1 && p.endsWith(mark)) suffix++;
      if (p.length > 1 && p.startsWith(mark)) prefix++;
    }
    const glue =
      suffix > prefix
        ? `"${mark}" marks a space, and this vocabulary glues the space after a word onto the word's end ("the${mark}"), so a text that stops without a final space often ends in odd fragments.`
        : `"${mark}" marks a space, glued onto the start of the word that follows it.`;
    const story = this.info.id === 'tinystories-656k' ? 'story' : 'document';
    return (
      `The text is split into ${T - 1} pieces from a ${this.config.vocabSize}-entry byte-pair vocabulary: frequent character sequences ` +
      `became single tokens during training. ${glue}` +
      (tok.prependsSpace ? ` The tokenizer also puts one ${mark} before the text (shown without a position in the text).` : '') +
      ` The model always starts from ${bos}, the token it saw at the start of every training ${story}; characters missing from the ` +
      `vocabulary become ${tok.unkToken ?? '<unk>'}.`
    );
  }

  private stages(
    tokens: readonly Token[],
    out: { embedding?: Float32Array; layers: LayerRecord[]; final?: Float32Array; topP?: Float32Array; topId?: Int32Array },
    topK: number,
  ): Stage[] {
    const cfg = this.config;
    const T = tokens.length;
    const { numHeads: H, numKvHeads: KV, headDim: hd, hiddenSize: D } = cfg;
    const group = H / KV;
    const tok = { token: 'input' } as const;
    const qk = { query: 'input', key: 'input' } as const;
    const attention: AttentionInfo = {
      queries: 'input',
      keys: 'input',
      causal: true,
      score: 'scaled-dot',
      normaliser: 'softmax',
      kvHeadOf: this.kvHeadOf,
    };
    const sharing = Array.from({ length: KV }, (_, g) => {
      const qs = this.kvHeadOf.flatMap((kv, h) => (kv === g ? [h] : []));
      return `query heads ${qs.join(' and ')} → K/V head ${g}`;
    }).join('; ');
    const mask = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) mask[i * T + j] = 1;
    const stages: Stage[] = [
      {
        id: 'tokens',
        kind: 'tokens',
        title: 'Tokens',
        formula: 'text → [BOS, t₁, …, t_n]',
        explanation: this.tokensExplanation(T, tokens[0]!.text),
        tensors: [tensor('ids', [T], ['token'], Float32Array.from(tokens, (t) => t.id), { tokenAxes: tok, description: 'Token ids' })],
      },
      {
        id: 'embedding',
        kind: 'embedding',
        title: 'Token embeddings',
        formula: 'X[i] = E[tᵢ]',
        explanation:
          `Each token id picks one row of the ${cfg.vocabSize}×${D} embedding matrix E. Nothing here says where the token is: Llama adds ` +
          `no position vector; position enters later, inside attention, by rotating queries and keys (RoPE). ` +
          (cfg.tieEmbeddings ? 'The same matrix E is reused at the end to turn hidden states back into next-token scores (tied embeddings).' : ''),
        tensors: [tensor('X', [T, D], ['token', 'd_model'], out.embedding!, { tokenAxes: tok, description: 'Embedding rows' })],
      },
    ];
    out.layers.forEach((rec, l) => {
      const layer = l;
      stages.push(
        {
          id: `L${l}.input`,
          kind: 'encoder-layer',
          layer,
          title: `Layer ${l}: RMSNorm of the residual stream`,
          formula: 'h = x / √(mean(x²) + ε) ⊙ g',
          explanation:
            `Layer ${l} reads the residual stream x (one ${D}-vector per token) and rescales each token's vector to unit root-mean-square ` +
            `(ε = ${cfg.rmsEps.toExponential()}), then multiplies by a learned gain g per feature. Unlike LayerNorm there is no mean subtraction and no bias. ` +
            `The normalised h feeds attention; x itself is carried around the attention block and added back afterwards.`,
          tensors: [
            tensor('hidden', [T, D], ['token', 'd_model'], rec.input, { tokenAxes: tok, description: 'RMSNorm(x): the input to attention' }),
            tensor('residual', [T, D], ['token', 'd_model'], rec.residual, { tokenAxes: tok, description: 'x: the residual stream entering the layer' }),
          ],
        },
        {
          id: `L${l}.qkv`,
          kind: 'qkv',
          layer,
          attention,
          title: `Layer ${l}: queries, keys, values (GQA + RoPE)`,
          formula: 'Q = RoPE(h W_Qᵀ), K = RoPE(h W_Kᵀ), V = h W_Vᵀ',
          explanation:
            `h is projected to ${H} query heads but only ${KV} key/value heads of ${hd} dimensions each: grouped-query attention, where ` +
            `${group} query heads share one key/value head (${sharing}), which shrinks the key/value cache ${group}×. ` +
            `RoPE then rotates Q and K (not V) by an angle that grows with the token's position p: dimension pair (i, i+${hd / 2}) ` +
            `turns by p·θᵢ with θᵢ = ${cfg.ropeTheta}^(−2i/${hd}), fast for small i, slow for large i. Because rotations compose, ` +
            `the score between a query at position p and a key at position p′ depends on the positions only through p − p′, ` +
            `how far apart the two tokens are: that is how the model knows word order.`,
          tensors: [
            tensor('Q', [H, T, hd], ['head', 'token', 'd_head'], rec.q, { tokenAxes: tok, description: 'Queries after RoPE' }),
            tensor('K', [KV, T, hd], ['kv_head', 'token', 'd_head'], rec.k, { tokenAxes: tok, description: 'Keys after RoPE (shared by query-head groups)' }),
            tensor('V', [KV, T, hd], ['kv_head', 'token', 'd_head'], rec.v, { tokenAxes: tok, description: 'Values (not rotated)' }),
          ],
        },
        {
          id: `L${l}.scores`,
          kind: 'score',
          layer,
          attention,
          title: `Layer ${l}: attention scores`,
          formula: `S[h] = Q[h] K[g(h)]ᵀ / √${hd}`,
          explanation:
            `For every head, each query is compared with every key by a dot product, divided by √d_head = √${hd} so the scores ` +
            `stay in a range where softmax is not saturated. Query head h uses the keys of its shared head g(h). The mask shows ` +
            `which pairs are allowed: this is a causal language model, so a token may only look at itself and earlier tokens; ` +
            `scores for later tokens are computed here but will be discarded.`,
          tensors: [
            tensor('scores', [H, T, T], ['head', 'query', 'key'], rec.scores, { tokenAxes: qk, description: 'QKᵀ/√d before masking' }),
            tensor('mask', [T, T], ['query', 'key'], mask, { tokenAxes: qk, description: '1 = may attend, 0 = future token (masked)' }),
          ],
        },
        {
          id: `L${l}.weights`,
          kind: 'normalise',
          layer,
          attention,
          title: `Layer ${l}: attention weights`,
          formula: 'α = softmax(S + M),  M = 0 (allowed) or −∞ (future)',
          explanation:
            `Masked scores are set to −∞ and each query's row goes through softmax, so the weights over the allowed keys are positive ` +
            `and sum to 1 while future tokens get exactly 0. Trained language models often park much of a head's weight on the ` +
            `first token (here ${tokens[0]!.text}) when nothing else is relevant: look for a bright first column.`,
          tensors: [tensor('weights', [H, T, T], ['head', 'query', 'key'], rec.weights, { tokenAxes: qk, description: 'Attention weights α' })],
        },
        {
          id: `L${l}.context`,
          kind: 'context',
          layer,
          attention,
          title: `Layer ${l}: context vectors`,
          formula: 'cᵢ[h] = Σⱼ αᵢⱼ[h] V[g(h)]ⱼ;  out = concat_h(c) W_Oᵀ',
          explanation:
            `Each head mixes the value vectors of the tokens it attends to, weighted by α: a ${hd}-vector per head and token. The ` +
            `${H} heads' vectors are concatenated (${H * hd} numbers) and projected by W_O back to ${D} dimensions: that output is ` +
            `what attention adds to the residual stream.`,
          tensors: [
            tensor('context', [H, T, hd], ['head', 'query', 'd_head'], rec.context, { tokenAxes: { query: 'input' }, description: 'Per-head context vectors' }),
            tensor('output', [T, D], ['token', 'd_model'], rec.attnOutput, { tokenAxes: tok, description: 'concat(heads) W_Oᵀ' }),
          ],
        },
        {
          id: `L${l}.output`,
          kind: 'encoder-layer',
          layer,
          title: `Layer ${l}: residual + SwiGLU MLP`,
          formula: "x' = x + attn;  x'' = x' + W_down(silu(W_gate h') ⊙ W_up h'),  h' = RMSNorm(x')",
          explanation:
            `The attention output is added to the residual stream. Then each token, on its own, is normalised again and passed ` +
            `through a gated MLP: two ${cfg.intermediateSize}-wide projections, one squashed by silu(z) = z·σ(z) and used as a gate ` +
            `on the other, then projected back to ${D}. That is added to the stream too, giving the layer's output.`,
          tensors: [tensor('hidden', [T, D], ['token', 'd_model'], rec.output, { tokenAxes: tok, description: 'Residual stream after the layer' })],
        },
      );
    });
    stages.push({
      id: 'output',
      kind: 'decoder-step',
      title: 'Next-token predictions',
      formula: cfg.tieEmbeddings ? 'p(tᵢ₊₁ | t≤ᵢ) = softmax(RMSNorm(xᵢ) Eᵀ)' : 'p(tᵢ₊₁ | t≤ᵢ) = softmax(RMSNorm(xᵢ) W_outᵀ)',
      explanation:
        `After the last layer the stream is normalised once more and compared with every row of the ${cfg.tieEmbeddings ? 'embedding matrix E (the same one used at the input)' : 'output matrix'}, ` +
        `giving one score per vocabulary entry; softmax turns the scores into probabilities. Every position predicts the token ` +
        `that follows it, using only itself and the tokens before it. Shown: the ${topK} most likely next tokens per position.`,
      tensors: [
        tensor('hidden', [T, D], ['token', 'd_model'], out.final!, { tokenAxes: tok, description: 'Final RMSNorm of the residual stream' }),
        ...topKTensors(T, topK, out.topP!, out.topId!, tok, 'next tokens'),
      ],
    });
    return stages;
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

async function detectLicence(dir: string): Promise<string | undefined> {
  try {
    const text = await fs.readFile(path.join(dir, 'LICENSE'), 'utf8');
    if (/Apache License[\s\S]{0,200}Version 2\.0/.test(text)) return 'Apache-2.0';
    if (/MIT License/.test(text)) return 'MIT';
  } catch {
    // no licence file
  }
  return undefined;
}

/** Loads a Llama model folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export async function loadLlama(dir: string, options: LoadLlamaOptions = {}): Promise<LlamaModel> {
  const { config, tokenizer, tensors, weightsPath } = await readHfFolder(dir, parseLlamaConfig, options);
  const weights = buildWeights(tensors, config, weightsPath);
  let parameters = 0;
  for (const t of tensors.values()) parameters += t.data.length;
  const { id, name, builtin } = folderIdentity(dir, 'llama', options, { folder: 'tinystories-656k', id: 'tinystories-656k', name: 'TinyStories-656K' });
  const info: ModelInfo = {
    id,
    name,
    family: 'llama',
    description:
      options.description ??
      (builtin
        ? 'A real pretrained Llama-architecture language model trained on TinyStories (raincandy-u/TinyStories-656K): ' +
          `${config.numLayers} layers, ${config.numHeads} query heads sharing ${config.numKvHeads} key/value heads, RoPE, SwiGLU.`
        : `Llama causal LM: ${config.numLayers} layers, ${config.numHeads} query heads, ${config.numKvHeads} key/value heads, d_model ${config.hiddenSize}.`),
    layers: config.numLayers,
    heads: config.numHeads,
    kvHeads: config.numKvHeads,
    dModel: config.hiddenSize,
    parameters,
    licence: options.licence ?? (await detectLicence(dir)),
  };
  options.onProgress?.(1, 'Model ready');
  return modelOwning(weights, () => new LlamaModel(config, tokenizer, weights, info));
}

/** Greedy continuation of `text` by `n` tokens (fewer if the model ends the story); returns only the new text. */
export async function greedyContinue(model: LlamaModel, text: string, n: number, signal?: AbortSignal): Promise<string> {
  if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to continue.');
  const enc = model.tokenize(text, model.config.maxPositions);
  const ids = enc.tokens.map((t) => t.id);
  return appendedText(model.tokenizer, ids, await model.generate(ids, n, signal));
}

// Encoder–decoder Transformers in the Hugging Face **Marian** layout (MarianMTModel: sinusoidal
// positions, post-norm layers, scaled embeddings, tied embeddings + final_logits_bias), read from a
// folder with config.json, model.safetensors and tokenizer.json. The built-in model is a
// character-level date normaliser trained here (models/dates-transformer): "Monday 23rd of
// November 2026" → "2026-11-23".
//
// run(text) decodes greedily, then recomputes the whole decoder over the generated sequence
// (teacher-forced on its own output), so every decoder tensor covers every output step:
//   tokens → encoder embedding → enc{l}: Q,K,V → scores → weights → context → add&norm, FFN
//   → decoder embedding → dec{l}: causal self-attention, cross-attention over the encoder, FFN
//   → output: next-character probabilities per step.
// No vscode import. Every tf op is inside tf.tidy or disposed: a run leaves tf.memory() unchanged.
import { readHfFolder } from '../../formats/hfFolder';
import * as path from 'node:path';
import { backendLabel, tf } from '../../runtime/backend';
import { HfTokenizer } from '../../tokenizers/hfTokenizer';
import { throwIfCancelled, type AttentionModel, type RunOptions } from '../../model';
import type { SafeTensor } from '../../formats/safetensors';
import { ACTIVATION_FORMULA, ACTIVATIONS, activate, attentionStages, configReader, dense, f32, findBuiltinDir, layerNorm, multiHead, recordAttention, topKRows, yieldToEventLoop, type Activation, type AttentionRecord, type Dense, EmbeddingTable, LoadedModel, weightMaker, type LN, folderIdentity, modelOwning, topKTensors } from '../../trace/transformerStages';
import { AttentionInputError, tensor, type AttentionInfo, type ModelInfo, type Prediction, type Stage, type Token, type Trace } from '../../../../shared/trace';

export interface MarianConfig {
  readonly dModel: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  readonly encoderHeads: number;
  readonly decoderHeads: number;
  readonly encoderFfn: number;
  readonly decoderFfn: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly activation: Activation;
  readonly scaleEmbedding: boolean;
  readonly padId: number;
  /** Single-token entries of bad_words_ids (real Marian configs ban <pad>): never chosen by greedy decoding, as in HF generate. */
  readonly bannedIds: readonly number[];
  readonly eosId: number;
  readonly decoderStartId: number;
  /** HF generation's max_length: the decoder start token plus at most max_length − 1 generated tokens. */
  readonly maxLength: number;
  /** Longest input seen in training (characters), when the config records it. */
  readonly trainedMaxInput: number | undefined;
}

export interface LoadEncoderDecoderOptions {
  readonly id?: string;
  readonly name?: string;
  readonly description?: string;
  readonly licence?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

export const DATES_TRANSFORMER_DIR = path.join('models', 'dates-transformer');

/** The folder of the built-in date-normalisation Transformer (walks up from `startDir`). */
export function builtinDatesTransformerDir(startDir: string = __dirname): string {
  return findBuiltinDir(DATES_TRANSFORMER_DIR, startDir);
}

const LN_EPS = 1e-5; // torch.nn.LayerNorm's default, which Marian uses

/** Validates a Hugging Face Marian config.json with clear messages. */
export function parseMarianConfig(raw: unknown, where = 'config.json'): MarianConfig {
  const { c, int, fail, optInt } = configReader(raw, where);
  const type = c['model_type'];
  if (type !== 'marian') {
    throw new AttentionInputError(
      'unsupported',
      type === undefined
        ? `${where} has no "model_type"; this loader reads Marian encoder–decoders (model_type "marian").`
        : `${where} describes a "${String(type)}" model; this loader reads Marian encoder–decoders (model_type "marian")` +
          (type === 'bart' || type === 't5' ? `; ${String(type)} differs in its positions and layer norms and is not supported.` : '.'),
    );
  }
  const dModel = int('d_model');
  const encoderLayers = int('encoder_layers');
  const decoderLayers = int('decoder_layers');
  const encoderHeads = int('encoder_attention_heads');
  const decoderHeads = int('decoder_attention_heads');
  const encoderFfn = int('encoder_ffn_dim');
  const decoderFfn = int('decoder_ffn_dim');
  const vocabSize = int('vocab_size');
  const maxPositions = int('max_position_embeddings', 512);
  if (dModel % encoderHeads !== 0) fail(`${where}: d_model ${dModel} is not divisible by encoder_attention_heads ${encoderHeads}.`);
  if (dModel % decoderHeads !== 0) fail(`${where}: d_model ${dModel} is not divisible by decoder_attention_heads ${decoderHeads}.`);
  if (dModel % 2 !== 0) fail(`${where}: d_model ${dModel} must be even for sinusoidal positions (sine half, cosine half).`);
  const act = c['activation_function'] ?? 'gelu';
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act)) {
    throw new AttentionInputError('unsupported', `${where}: activation_function ${JSON.stringify(act)} is not supported (supported: ${ACTIVATIONS.join(', ')}).`);
  }
  if (c['normalize_before'] === true) throw new AttentionInputError('unsupported', `${where}: pre-norm layers (normalize_before) are not supported; Marian is post-norm.`);
  const padId = int('pad_token_id', undefined, 0);
  const eosId = int('eos_token_id', undefined, 0);
  const decoderStartId = int('decoder_start_token_id', padId, 0);
  for (const [k, v] of [['pad_token_id', padId], ['eos_token_id', eosId], ['decoder_start_token_id', decoderStartId]] as const) {
    if (v >= vocabSize) fail(`${where}: ${k} ${v} is outside the vocabulary (vocab_size ${vocabSize}).`);
  }
  const bad = c['bad_words_ids'];
  const bannedIds = Array.isArray(bad)
    ? bad.filter((w): w is [number] => Array.isArray(w) && w.length === 1 && Number.isInteger(w[0]) && w[0] >= 0 && w[0] < vocabSize).map((w) => w[0])
    : [];
  const maxLength = int('max_length', 64);
  if (maxLength < 2) fail(`${where}: "max_length" must be at least 2 (the start token and one generated token).`);
  if (maxLength > maxPositions) fail(`${where}: max_length ${maxLength} exceeds max_position_embeddings ${maxPositions}.`);
  return {
    dModel,
    encoderLayers,
    decoderLayers,
    encoderHeads,
    decoderHeads,
    encoderFfn,
    decoderFfn,
    vocabSize,
    maxPositions,
    activation: act as Activation,
    scaleEmbedding: c['scale_embedding'] === true,
    padId,
    bannedIds,
    eosId,
    decoderStartId,
    maxLength,
    trainedMaxInput: optInt('trained_max_input'),
  };
}

/** Marian's sinusoidal table, computed in float64: row p = [sin(p·ωᵢ)…, cos(p·ωᵢ)…], ωᵢ = 10000^(−2i/D). */
export function sinusoidalPositions(n: number, D: number): Float32Array {
  const out = new Float32Array(n * D);
  const half = D / 2;
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p / Math.pow(10000, (2 * i) / D);
      out[p * D + i] = Math.sin(angle);
      out[p * D + half + i] = Math.cos(angle);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Weights

interface Attn {
  readonly q: Dense;
  readonly k: Dense;
  readonly v: Dense;
  readonly o: Dense;
}
interface EncLayer {
  readonly self: Attn;
  readonly selfNorm: LN;
  readonly fc1: Dense;
  readonly fc2: Dense;
  readonly finalNorm: LN;
}
interface DecLayer extends EncLayer {
  readonly cross: Attn;
  readonly crossNorm: LN;
}
interface Weights {
  readonly embed: EmbeddingTable;
  readonly encPos: tf.Tensor2D;
  readonly decPos: tf.Tensor2D;
  /** [D, V] output projection (transposed), and the [V] final_logits_bias. */
  readonly lmHeadT: tf.Tensor2D;
  readonly logitsBias: tf.Tensor1D;
  readonly enc: readonly EncLayer[];
  readonly dec: readonly DecLayer[];
}


function buildWeights(map: Map<string, SafeTensor>, cfg: MarianConfig, where: string): Weights {
  const { dModel: D, vocabSize: V, maxPositions: P } = cfg;
  const checked = new Map<string, SafeTensor>();
  const need = (name: string, shape: number[], meaning: string, optional = false): boolean => {
    const t = map.get(name);
    if (!t) {
      if (optional) return false;
      throw new AttentionInputError('file', `${where} has no tensor "${name}" (${meaning}).`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new AttentionInputError('shape', `${name} is ${t.shape.join('×')} but ${meaning} is ${shape.join('×')} (from config.json).`);
    }
    checked.set(name, t);
    return true;
  };
  let embedName = 'model.shared.weight';
  if (!map.has(embedName)) embedName = 'model.encoder.embed_tokens.weight';
  need(embedName, [V, D], 'vocab_size × d_model');
  const hasHead = need('lm_head.weight', [V, D], 'vocab_size × d_model', true);
  const hasBias = need('final_logits_bias', [1, V], '1 × vocab_size', true);
  const hasEncPos = need('model.encoder.embed_positions.weight', [P, D], 'max_position_embeddings × d_model', true);
  const hasDecPos = need('model.decoder.embed_positions.weight', [P, D], 'max_position_embeddings × d_model', true);
  const attnSpec = (p: string): void => {
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      need(`${p}${n}.weight`, [D, D], 'd_model × d_model');
      need(`${p}${n}.bias`, [D], 'd_model');
    }
  };
  const lnSpec = (p: string): void => {
    need(`${p}.weight`, [D], 'd_model');
    need(`${p}.bias`, [D], 'd_model');
  };
  const ffnSpec = (p: string, F: number, side: string): void => {
    need(`${p}fc1.weight`, [F, D], `${side}_ffn_dim × d_model`);
    need(`${p}fc1.bias`, [F], `${side}_ffn_dim`);
    need(`${p}fc2.weight`, [D, F], `d_model × ${side}_ffn_dim`);
    need(`${p}fc2.bias`, [D], 'd_model');
  };
  for (let l = 0; l < cfg.encoderLayers; l++) {
    const p = `model.encoder.layers.${l}.`;
    attnSpec(p + 'self_attn.');
    lnSpec(p + 'self_attn_layer_norm');
    ffnSpec(p, cfg.encoderFfn, 'encoder');
    lnSpec(p + 'final_layer_norm');
  }
  for (let l = 0; l < cfg.decoderLayers; l++) {
    const p = `model.decoder.layers.${l}.`;
    attnSpec(p + 'self_attn.');
    lnSpec(p + 'self_attn_layer_norm');
    attnSpec(p + 'encoder_attn.');
    lnSpec(p + 'encoder_attn_layer_norm');
    ffnSpec(p, cfg.decoderFfn, 'decoder');
    lnSpec(p + 'final_layer_norm');
  }
  const made = weightMaker(checked);
  const { keep, t1, t2, t2T, linear: lin, layerNorm: ln } = made;
  const attn = (p: string): Attn => ({ q: lin(p + 'q_proj'), k: lin(p + 'k_proj'), v: lin(p + 'v_proj'), o: lin(p + 'out_proj') });
  try {
    const embed = made.table(embedName);
    const sinus = hasEncPos && hasDecPos ? undefined : sinusoidalPositions(P, D);
    const encPos = hasEncPos ? t2('model.encoder.embed_positions.weight') : keep(tf.tensor2d(sinus!, [P, D]));
    const decPos = hasDecPos ? t2('model.decoder.embed_positions.weight') : keep(tf.tensor2d(sinus!, [P, D]));
    const lmHeadT = hasHead ? t2T('lm_head.weight') : keep(embed.transposed());
    const logitsBias = hasBias ? t1('final_logits_bias') : keep(tf.zeros([V], 'float32') as tf.Tensor1D);
    const enc: EncLayer[] = [];
    for (let l = 0; l < cfg.encoderLayers; l++) {
      const p = `model.encoder.layers.${l}.`;
      enc.push({ self: attn(p + 'self_attn.'), selfNorm: ln(p + 'self_attn_layer_norm'), fc1: lin(p + 'fc1'), fc2: lin(p + 'fc2'), finalNorm: ln(p + 'final_layer_norm') });
    }
    const dec: DecLayer[] = [];
    for (let l = 0; l < cfg.decoderLayers; l++) {
      const p = `model.decoder.layers.${l}.`;
      dec.push({
        self: attn(p + 'self_attn.'),
        selfNorm: ln(p + 'self_attn_layer_norm'),
        cross: attn(p + 'encoder_attn.'),
        crossNorm: ln(p + 'encoder_attn_layer_norm'),
        fc1: lin(p + 'fc1'),
        fc2: lin(p + 'fc2'),
        finalNorm: ln(p + 'final_layer_norm'),
      });
    }
    return { embed, encPos, decPos, lmHeadT, logitsBias, enc, dec };
  } catch (err) {
    made.freeAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The model

interface EncRecord {
  readonly attention: AttentionRecord;
  readonly attnHidden: Float32Array;
  readonly output: Float32Array;
}
interface DecRecord {
  readonly self: AttentionRecord;
  readonly cross: AttentionRecord;
  readonly selfHidden: Float32Array;
  readonly crossHidden: Float32Array;
  readonly output: Float32Array;
}

export class EncoderDecoderModel extends LoadedModel<MarianConfig, Weights> implements AttentionModel {

  constructor(config: MarianConfig, tokenizer: HfTokenizer, weights: Weights, info: ModelInfo) {
    super(config, tokenizer, weights, info);
  }


  private checkIds(ids: readonly number[], what: string): void {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new AttentionInputError('shape', `${what} token id ${id} is outside the embedding table (vocab_size ${this.config.vocabSize}).`);
      }
    }
  }

  /** √D·E[t] + PE[p] (inside a tidy). */
  private embed(ids: readonly number[], pos: tf.Tensor2D): tf.Tensor2D {
    const w = this.live();
    const D = this.config.dModel;
    const scale = this.config.scaleEmbedding ? Math.sqrt(D) : 1;
    return tf.add(tf.mul(w.embed.lookup(ids), scale), tf.slice(pos, [0, 0], [ids.length, D])) as tf.Tensor2D;
  }

  /** Runs the encoder; returns the memory tensor (caller disposes) and, with `record`, every layer's numbers. */
  private async encode(src: readonly number[], record: boolean, signal?: AbortSignal): Promise<{ memory: tf.Tensor2D; embedding?: Float32Array; layers: EncRecord[] }> {
    const w = this.live();
    const cfg = this.config;
    const H = cfg.encoderHeads;
    const hd = cfg.dModel / H;
    const layers: EncRecord[] = [];
    let x = tf.tidy(() => this.embed(src, w.encPos));
    try {
      const embedding = record ? f32(x) : undefined;
      for (const lw of w.enc) {
        throwIfCancelled(signal);
        const input = x;
        x = tf.tidy(() => {
          const m = multiHead(dense(input, lw.self.q), dense(input, lw.self.k), dense(input, lw.self.v), H, hd);
          const attnOut = dense(m.merged, lw.self.o);
          const h = layerNorm(tf.add(input, attnOut) as tf.Tensor2D, lw.selfNorm.g, lw.selfNorm.b, LN_EPS);
          const ff = dense(activate(cfg.activation, dense(h, lw.fc1)), lw.fc2);
          const out = layerNorm(tf.add(h, ff) as tf.Tensor2D, lw.finalNorm.g, lw.finalNorm.b, LN_EPS);
          if (record) layers.push({ attention: recordAttention(m, attnOut), attnHidden: f32(h), output: f32(out) });
          return out;
        });
        input.dispose();
        if (record) await yieldToEventLoop();
      }
      return { memory: x, ...(embedding ? { embedding } : {}), layers };
    } catch (err) {
      x.dispose();
      throw err;
    }
  }

  /** The decoder over `decIn` (start token + tokens so far); logits for every position. Inside a tidy. */
  private decodeIn(decIn: readonly number[], memory: tf.Tensor2D, record: boolean): { logits: tf.Tensor2D; embedding?: Float32Array; layers: DecRecord[] } {
    const w = this.live();
    const cfg = this.config;
    const H = cfg.decoderHeads;
    const hd = cfg.dModel / H;
    const T = decIn.length;
    const maskData = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskData[i * T + j] = -Infinity;
    const mask = tf.tensor2d(maskData, [T, T]);
    let y = this.embed(decIn, w.decPos);
    const embedding = record ? f32(y) : undefined;
    const layers: DecRecord[] = [];
    for (const lw of w.dec) {
      const s = multiHead(dense(y, lw.self.q), dense(y, lw.self.k), dense(y, lw.self.v), H, hd, mask);
      const sOut = dense(s.merged, lw.self.o);
      const h1 = layerNorm(tf.add(y, sOut) as tf.Tensor2D, lw.selfNorm.g, lw.selfNorm.b, LN_EPS);
      const c = multiHead(dense(h1, lw.cross.q), dense(memory, lw.cross.k), dense(memory, lw.cross.v), H, hd);
      const cOut = dense(c.merged, lw.cross.o);
      const h2 = layerNorm(tf.add(h1, cOut) as tf.Tensor2D, lw.crossNorm.g, lw.crossNorm.b, LN_EPS);
      const ff = dense(activate(cfg.activation, dense(h2, lw.fc1)), lw.fc2);
      y = layerNorm(tf.add(h2, ff) as tf.Tensor2D, lw.finalNorm.g, lw.finalNorm.b, LN_EPS);
      if (record) layers.push({ self: recordAttention(s, sOut), cross: recordAttention(c, cOut), selfHidden: f32(h1), crossHidden: f32(h2), output: f32(y) });
    }
    const logits = tf.add(tf.matMul(y, w.lmHeadT), w.logitsBias) as tf.Tensor2D;
    return { logits, ...(embedding ? { embedding } : {}), layers };
  }

  /** Greedy decoding of source ids: at most max_length − 1 tokens, stopping after </s>. */
  async generate(src: readonly number[], signal?: AbortSignal): Promise<number[]> {
    this.checkIds(src, 'Input');
    const { memory } = await this.encode(src, false, signal);
    try {
      return await this.greedy(memory, signal);
    } finally {
      memory.dispose();
    }
  }

  private async greedy(memory: tf.Tensor2D, signal?: AbortSignal, onStep?: (n: number) => void): Promise<number[]> {
    const cfg = this.config;
    const out: number[] = [];
    const ban = new Float32Array(cfg.vocabSize);
    for (const id of cfg.bannedIds) ban[id] = -Infinity;
    const banT = cfg.bannedIds.length ? tf.tensor2d(ban, [1, cfg.vocabSize]) : undefined;
    try {
      for (let step = 0; step < cfg.maxLength - 1; step++) {
        throwIfCancelled(signal);
        const next = tf.tidy(() => {
          const { logits } = this.decodeIn([cfg.decoderStartId, ...out], memory, false);
          const last = tf.slice(logits, [out.length, 0], [1, cfg.vocabSize]);
          return tf.argMax(banT ? tf.add(last, banT) : last, -1).dataSync()[0]!;
        });
        out.push(next);
        onStep?.(out.length);
        if (next === cfg.eosId) break;
        await yieldToEventLoop();
      }
    } finally {
      banT?.dispose();
    }
    return out;
  }

  /** The generated text (without </s>) for `text`. */
  async translate(text: string, signal?: AbortSignal): Promise<string> {
    const src = this.tokenize(text, this.config.maxPositions).ids;
    const out = await this.generate(src, signal);
    return this.tokenizer.decode(out.filter((id) => id !== this.config.eosId));
  }

  /** The text's tokens + </s>, at most `maxTokens` in all. */
  tokenize(text: string, maxTokens: number): { tokens: Token[]; ids: number[]; truncated: boolean; coveredLength: number; alignmentIssues: number } {
    const enc = this.tokenizer.encode(text, { addBos: false, maxTokens: Math.max(0, maxTokens - 1) });
    const eos = this.config.eosId;
    const tokens: Token[] = enc.tokens.map((t) => ({ text: t.text, id: t.id, start: t.start, end: t.end, ...(t.special ? { special: true } : {}), ...(t.unknown ? { unknown: true } : {}) }));
    tokens.push({ text: this.tokenizer.piece(eos), id: eos, start: -1, end: -1, special: true });
    return { tokens, ids: tokens.map((t) => t.id), truncated: enc.truncated, coveredLength: enc.coveredLength, alignmentIssues: enc.alignmentIssues };
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const started = performance.now();
    const { signal, onProgress } = options;
    throwIfCancelled(signal);
    if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to run: select a date first.');
    const cfg = this.config;
    const warnings: string[] = [];
    let maxTokens = options.maxTokens !== undefined && Number.isFinite(options.maxTokens) ? Math.floor(options.maxTokens) : cfg.maxPositions;
    if (maxTokens < 2) maxTokens = 2;
    if (maxTokens > cfg.maxPositions) {
      warnings.push(`maxTokens ${maxTokens} is more than this model's ${cfg.maxPositions} positions (max_position_embeddings); using ${cfg.maxPositions}.`);
      maxTokens = cfg.maxPositions;
    }
    onProgress?.(0, 'Tokenising');
    const enc = this.tokenize(text, maxTokens);
    if (enc.truncated) {
      warnings.push(`The input was truncated to ${maxTokens} tokens (including the end marker ${this.tokenizer.piece(cfg.eosId)}); the model saw the first ${enc.coveredLength} of ${text.length} characters.`);
    }
    if (cfg.trainedMaxInput !== undefined && enc.tokens.length - 1 > cfg.trainedMaxInput) {
      warnings.push(`The input has ${enc.tokens.length - 1} characters, more than the ${cfg.trainedMaxInput} this model saw in training; expect mistakes.`);
    }
    const unknown = enc.tokens.filter((t) => t.unknown).length;
    if (unknown > 0) warnings.push(`${unknown} character${unknown === 1 ? '' : 's'} outside the vocabulary became ${this.tokenizer.unkToken ?? '<unk>'}.`);
    if (enc.alignmentIssues > 0) warnings.push(`${enc.alignmentIssues} token(s) could not be matched with the text; their editor positions are approximate.`);
    const src = enc.ids;
    this.checkIds(src, 'Input');
    const topK = Math.max(1, Math.min(Math.floor(options.topK ?? 5), cfg.vocabSize));
    onProgress?.(0.05, 'Encoder');
    const encoded = await this.encode(src, true, signal);
    let decoded: { out: number[]; decIn: number[]; embedding: Float32Array; layers: DecRecord[]; logits: Float32Array; topP: Float32Array; topId: Int32Array };
    try {
      onProgress?.(0.3, 'Greedy decoding');
      const steps = cfg.maxLength - 1;
      const out = await this.greedy(encoded.memory, signal, (n) => onProgress?.(0.3 + (0.6 * n) / steps, `Decoding step ${n}`));
      throwIfCancelled(signal);
      onProgress?.(0.9, 'Recording the decoder over every step');
      const decIn = [cfg.decoderStartId, ...out.slice(0, -1)];
      const memory = encoded.memory;
      let result: typeof decoded | undefined;
      tf.tidy(() => {
        // Results leave the tidy through `result` (returning typed arrays would make tidy walk every element).
        const r = this.decodeIn(decIn, memory, true);
        const top = topKRows(r.logits, topK);
        result = { out, decIn, embedding: r.embedding!, layers: r.layers, logits: f32(r.logits), topP: top.p, topId: top.id };
      });
      decoded = result!;
    } finally {
      encoded.memory.dispose();
    }
    throwIfCancelled(signal);
    const outputTokens: Token[] = decoded.out.map((id) => ({
      text: this.tokenizer.piece(id),
      id,
      start: -1,
      end: -1,
      ...(this.tokenizer.isSpecial(id) ? { special: true } : {}),
    }));
    const predictions: Prediction[] = decoded.out.map((_, i) => ({
      position: i,
      top: Array.from({ length: topK }, (_, r) => {
        const id = decoded.topId[i * topK + r]!;
        return { id, text: this.tokenizer.piece(id), p: decoded.topP[i * topK + r]! };
      }),
    }));
    if (decoded.out.at(-1) !== cfg.eosId) warnings.push(`The decoder stopped at max_length ${cfg.maxLength} without producing ${this.tokenizer.piece(cfg.eosId)}.`);
    const stages = this.stages(enc.tokens, outputTokens, encoded, decoded, topK);
    onProgress?.(1, 'Done');
    return {
      version: 1,
      model: this.info,
      text: text.slice(0, enc.coveredLength),
      tokens: enc.tokens,
      outputTokens,
      stages,
      predictions,
      warnings,
      backend: backendLabel(),
      elapsedMs: performance.now() - started,
    };
  }

  private stages(
    tokens: readonly Token[],
    outputTokens: readonly Token[],
    encoded: { embedding?: Float32Array; layers: EncRecord[] },
    decoded: { decIn: number[]; embedding: Float32Array; layers: DecRecord[]; topP: Float32Array; topId: Int32Array },
    topK: number,
  ): Stage[] {
    const cfg = this.config;
    const D = cfg.dModel;
    const S = tokens.length;
    const T = outputTokens.length;
    const He = cfg.encoderHeads;
    const Hd = cfg.decoderHeads;
    const inTok = { token: 'input' } as const;
    const outTok = { token: 'output' } as const;
    const eos = this.tokenizer.piece(cfg.eosId);
    const start = this.tokenizer.piece(cfg.decoderStartId);
    const scale = cfg.scaleEmbedding ? `√${D}·` : '';
    const encAttn: AttentionInfo = { queries: 'input', keys: 'input', causal: false, score: 'scaled-dot', normaliser: 'softmax' };
    const selfAttn: AttentionInfo = { queries: 'output', keys: 'output', causal: true, score: 'scaled-dot', normaliser: 'softmax' };
    const crossAttn: AttentionInfo = { queries: 'output', keys: 'input', causal: false, score: 'scaled-dot', normaliser: 'softmax' };
    const causalMask = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) causalMask[i * T + j] = 1;
    const stages: Stage[] = [
      {
        id: 'tokens',
        kind: 'tokens',
        title: 'Tokens: one per character',
        formula: `text → c₁ c₂ … cₙ ${eos}`,
        explanation:
          `This model reads characters, not words: every character of the text (spaces and punctuation included) is one token from a ` +
          `${cfg.vocabSize}-symbol vocabulary, and ${eos} marks the end of the input. Characters it never saw in training become ` +
          `${this.tokenizer.unkToken ?? '<unk>'}. The output is written one character at a time too.`,
        tensors: [tensor('ids', [S], ['token'], Float32Array.from(tokens, (t) => t.id), { tokenAxes: inTok, description: 'Input token ids' })],
      },
      {
        id: 'embedding',
        kind: 'embedding',
        title: 'Encoder embeddings + sinusoidal positions',
        formula: `X[p] = ${scale}E[c_p] + PE[p],  PE[p] = [sin(p·ωᵢ) …, cos(p·ωᵢ) …],  ωᵢ = 10000^(−2i/${D})`,
        explanation:
          `Each character picks a row of the embedding matrix E${cfg.scaleEmbedding ? `, multiplied by √${D} so it is not drowned by the position signal` : ''}. ` +
          `Attention by itself ignores order, so a fixed (not learned) position vector is added: the first half of its ${D} numbers are sines and ` +
          `the second half cosines of the position at ${D / 2} frequencies, from one cycle every 2π characters down to very slow ones. ` +
          `Nearby positions get similar vectors, and a shift by k positions is the same rotation everywhere.`,
        tensors: [tensor('X', [S, D], ['token', 'd_model'], encoded.embedding!, { tokenAxes: inTok, description: 'Input to encoder layer 0' })],
      },
    ];
    const ffnText = (F: number): string =>
      `then every position on its own goes through a feed-forward network (${D} → ${F} → ${D}, ${ACTIVATION_FORMULA[cfg.activation]}), added and normalised again.`;
    encoded.layers.forEach((rec, l) => {
      stages.push(
        ...attentionStages({
          prefix: `enc${l}`,
          layer: l,
          title: `Encoder layer ${l}`,
          attention: encAttn,
          heads: He,
          headDim: D / He,
          dModel: D,
          queryCount: S,
          keyCount: S,
          record: rec.attention,
          qkvText:
            `Each input character's ${D}-vector is projected to a query, a key and a value (learned matrices with biases), split into ${He} heads ` +
            `of ${D / He}. In the encoder every character attends to every other one: this is how a digit learns whether it belongs to a day, ` +
            `a month or a year, from the characters around it.`,
          scoresText: `Query–key dot products divided by √${D / He}. The encoder has no mask: each character sees the whole input, before and after it.`,
          weightsText: `Softmax over each row: positive weights summing to 1 over all ${S} input tokens.`,
          contextText: `Each head averages the value vectors with its weights; the ${He} heads are concatenated and projected back to ${D} dimensions.`,
        }),
        {
          id: `enc${l}.output`,
          kind: 'encoder-layer',
          layer: l,
          title: `Encoder layer ${l}: add & norm, feed-forward, add & norm`,
          formula: `h = LN(x + attn);  x' = LN(h + fc₂(${cfg.activation}(fc₁ h)))`,
          explanation: `Marian normalises after each sub-block ("post-norm"): attention's output is added to the input and layer-normalised, ${ffnText(cfg.encoderFfn)}` +
            (l === cfg.encoderLayers - 1 ? ' The last layer\'s output is the memory the decoder\'s cross-attention reads.' : ''),
          tensors: [
            tensor('hidden', [S, D], ['token', 'd_model'], rec.output, { tokenAxes: inTok, description: 'Encoder layer output' }),
            tensor('attention_hidden', [S, D], ['token', 'd_model'], rec.attnHidden, { tokenAxes: inTok, description: 'LN(x + attention)' }),
          ],
        },
      );
    });
    stages.push({
      id: 'dec.embedding',
      kind: 'embedding',
      title: 'Decoder inputs: start token + the output so far',
      formula: `Y[i] = ${scale}E[y_{i−1}] + PE[i],  y₋₁ = ${start}`,
      explanation:
        `The decoder writes the answer one character per step. At step i its input is the character it wrote at step i − 1 (at step 0, ` +
        `the start token ${start}), embedded with the same matrix E and the same sinusoidal positions. Row i is labelled with the character ` +
        `step i produced. All ${T} steps are recomputed here together, fed with the model's own greedy output, so every step can be inspected.`,
      tensors: [tensor('Y', [T, D], ['token', 'd_model'], decoded.embedding, { tokenAxes: outTok, description: 'Decoder input embeddings' })],
    });
    decoded.layers.forEach((rec, l) => {
      stages.push(
        ...attentionStages({
          prefix: `dec${l}.self`,
          layer: l,
          title: `Decoder layer ${l}, masked self-attention`,
          attention: selfAttn,
          heads: Hd,
          headDim: D / Hd,
          dModel: D,
          queryCount: T,
          keyCount: T,
          record: rec.self,
          mask: causalMask,
          weightsFormula: 'α = softmax(S + M),  M = 0 (earlier or same step) or −∞ (later step)',
          qkvText: `The decoder's steps attend to each other: queries, keys and values from each step's vector, ${Hd} heads of ${D / Hd}.`,
          scoresText:
            `Dot products divided by √${D / Hd}, computed for every pair. The mask shows which are allowed: a step may only look at itself and ` +
            `earlier steps, because when the model generates step i the later characters do not exist yet.`,
          weightsText: 'Masked scores become −∞ before softmax, so later steps get exactly 0 weight; each row still sums to 1.',
          contextText: 'Weighted sums of the earlier steps\' values, heads concatenated and projected back: what the decoder already wrote, summarised.',
        }),
        ...attentionStages({
          prefix: `dec${l}.cross`,
          layer: l,
          title: `Decoder layer ${l}, cross-attention`,
          attention: crossAttn,
          heads: Hd,
          headDim: D / Hd,
          dModel: D,
          queryCount: T,
          keyCount: S,
          record: rec.cross,
          qkvFormula: 'Q = h W_Q + b_Q (decoder),  K = m W_K + b_K,  V = m W_V + b_V  (m = encoder output)',
          qkvText:
            `Here the queries come from the decoder (one per output step) while keys and values come from the encoder's final output, one per ` +
            `input character. This is the bridge between reading and writing.`,
          scoresText: `Each output step's query is compared with every input character's key, divided by √${D / Hd}. Nothing is masked: the whole input is available at every step.`,
          weightsText:
            `Softmax over the input characters: where each output step looks. In a trained date model you can often see alignment: while ` +
            `writing the year, a head looks at the year's digits in the input; while writing the month, at the month name or number.`,
          contextText: 'Each head blends the input characters\' values by its weights; the heads are concatenated and projected back to the model width.',
        }),
        {
          id: `dec${l}.output`,
          kind: 'decoder-step',
          layer: l,
          title: `Decoder layer ${l}: add & norm around each block`,
          formula: `h₁ = LN(y + self);  h₂ = LN(h₁ + cross);  y' = LN(h₂ + fc₂(${cfg.activation}(fc₁ h₂)))`,
          explanation: `Each sub-block's output is added to its input and layer-normalised (post-norm): after self-attention, after cross-attention, and ${ffnText(cfg.decoderFfn)}`,
          tensors: [
            tensor('hidden', [T, D], ['token', 'd_model'], rec.output, { tokenAxes: outTok, description: 'Decoder layer output' }),
            tensor('self_hidden', [T, D], ['token', 'd_model'], rec.selfHidden, { tokenAxes: outTok, description: 'LN(y + self-attention)' }),
            tensor('cross_hidden', [T, D], ['token', 'd_model'], rec.crossHidden, { tokenAxes: outTok, description: 'LN(h₁ + cross-attention)' }),
          ],
        },
      );
    });
    stages.push({
      id: 'output',
      kind: 'decoder-step',
      title: 'Output: next character at every step',
      formula: 'p(y_i | y_<i, x) = softmax(y′ᵢ Eᵀ + b)',
      explanation:
        `The decoder's final vector at each step is compared with every row of the embedding matrix E (the same one used for the inputs) ` +
        `plus a bias, and softmax gives a probability for every character. Greedy decoding takes the most likely one, feeds it back as the ` +
        `next step's input, and stops at ${eos}. Shown: the ${topK} most likely characters per step.`,
      tensors: [
        ...topKTensors(T, topK, decoded.topP, decoded.topId, outTok, 'characters'),
      ],
    });
    return stages;
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Loads a Marian folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export async function loadEncoderDecoder(dir: string, options: LoadEncoderDecoderOptions = {}): Promise<EncoderDecoderModel> {
  const { config, tokenizer, tensors, weightsPath } = await readHfFolder(dir, parseMarianConfig, options);
  const weights = buildWeights(tensors, config, weightsPath);
  let parameters = 0;
  for (const [name, t] of tensors) if (!name.includes('embed_positions') && name !== 'final_logits_bias') parameters += t.data.length;
  const { id, name, builtin } = folderIdentity(dir, 'marian', options, { folder: 'dates-transformer', id: 'dates-transformer', name: 'Date normaliser (Transformer)' });
  const info: ModelInfo = {
    id,
    name,
    family: 'marian',
    description:
      options.description ??
      (builtin
        ? `A character-level encoder–decoder Transformer in the Marian layout, trained here to rewrite human-written dates as YYYY-MM-DD: ` +
          `${config.encoderLayers} encoder and ${config.decoderLayers} decoder layers, ${config.encoderHeads} heads, d_model ${config.dModel}.`
        : `Marian encoder–decoder: ${config.encoderLayers}+${config.decoderLayers} layers, ${config.encoderHeads} heads, d_model ${config.dModel}.`),
    layers: Math.max(config.encoderLayers, config.decoderLayers),
    heads: config.encoderHeads,
    dModel: config.dModel,
    parameters,
    ...(options.licence ? { licence: options.licence } : {}),
  };
  options.onProgress?.(1, 'Model ready');
  return modelOwning(weights, () => new EncoderDecoderModel(config, tokenizer, weights, info));
}

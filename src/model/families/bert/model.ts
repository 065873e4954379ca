// Bidirectional Transformer encoders in Hugging Face layouts: BERT (model_type "bert", e.g.
// BertModel / BertForMaskedLM checkpoints), DistilBERT ("distilbert") and RoBERTa ("roberta", and
// XLM-RoBERTa, "xlm-roberta", the same network), read from a folder with config.json,
// model.safetensors and a tokenizer.json (WordPiece for BERT, byte-level BPE or SentencePiece for
// the RoBERTas). The built-in model is a small BERT
// trained here on WordNet's glosses (models/english-encoder). The forward pass runs in tfjs and
// records every step:
//   tokens → embedding (word + position + type, LayerNorm) → per layer: Q,K,V → scores → softmax
//   weights → context → residual + LayerNorm → GELU MLM → residual + LayerNorm → masked-token predictions.
// RoBERTa is BERT's network with positions numbered from padding_idx + 1, one segment, and an MLM
// head (lm_head.*) that always uses exact GELU.
// No vscode import. Every tf op is inside tf.tidy or disposed: a run leaves tf.memory() unchanged.
import { readHfFolder } from '../../formats/hfFolder';
import * as path from 'node:path';
import { backendLabel, tf } from '../../runtime/backend';
import type { HfTokenizer } from '../../tokenizers/hfTokenizer';
import { throwIfCancelled, type AttentionModel, type RunOptions } from '../../model';
import type { SafeTensor } from '../../formats/safetensors';
import { activate, ACTIVATION_FORMULA, ACTIVATIONS, alignNormalised, attentionStages, configReader, dense, EmbeddingTable, f32, findBuiltinDir, layerNorm, multiHead, recordAttention, topKRows, type Activation, type AlignPiece, type AttentionRecord, type Dense, yieldToEventLoop, LoadedModel, weightMaker, type LN, folderIdentity, modelOwning, topKTensors } from '../../trace/transformerStages';
import { AttentionInputError, tensor, type AttentionInfo, type ModelInfo, type Prediction, type Stage, type Token, type Trace } from '../../../../shared/trace';

export type BertFamily = 'bert' | 'distilbert' | 'roberta' | 'xlm-roberta';

const FAMILY_NAME: Record<BertFamily, string> = { bert: 'BERT', distilbert: 'DistilBERT', roberta: 'RoBERTa', 'xlm-roberta': 'XLM-RoBERTa' };

export interface BertConfig {
  readonly family: BertFamily;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  /** How many tokens fit: positionTable − positionOffset. */
  readonly maxPositions: number;
  /** Rows of the position table (max_position_embeddings). */
  readonly positionTable: number;
  /** RoBERTa: padding_idx + 1, the position of the first token; 0 for BERT and DistilBERT. */
  readonly positionOffset: number;
  /** RoBERTa's padding_idx (pad_token_id): pad tokens take this position and do not advance the count. */
  readonly padId: number | undefined;
  /** 0 for DistilBERT (no segment embeddings). */
  readonly typeVocabSize: number;
  readonly eps: number;
  readonly activation: Activation;
  /** The MLM head's activation: hidden_act for BERT / DistilBERT, always exact GELU for RoBERTa. */
  readonly mlmActivation: Activation;
}

export interface LoadBertOptions {
  readonly id?: string;
  readonly name?: string;
  readonly description?: string;
  readonly licence?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

export const ENGLISH_ENCODER_DIR = path.join('models', 'english-encoder');

/** The folder of the built-in English encoder (walks up from `startDir` to models/english-encoder). */
export function builtinEnglishEncoderDir(startDir: string = __dirname): string {
  return findBuiltinDir(ENGLISH_ENCODER_DIR, startDir);
}

// ---------------------------------------------------------------------------------------------
// config.json

const ENCODERS = 'BERT ("bert"), DistilBERT ("distilbert"), RoBERTa ("roberta") and XLM-RoBERTa ("xlm-roberta") encoders';
const SUPPORTED_TYPES = 'llama, gpt2, bert, distilbert, roberta, xlm-roberta, marian';

/** Validates a Hugging Face BERT, DistilBERT, RoBERTa or XLM-RoBERTa config.json with clear messages. */
export function parseBertConfig(raw: unknown, where = 'config.json'): BertConfig {
  const { c, int, num, fail } = configReader(raw, where);
  const type = c['model_type'];
  const arch = Array.isArray(c['architectures']) ? (c['architectures'] as unknown[]).map(String) : [];
  const byArch = (prefix: string): boolean => type === undefined && arch.some((a) => a.startsWith(prefix));
  let family: BertFamily;
  if (type === 'bert' || byArch('Bert')) family = 'bert';
  else if (type === 'distilbert' || byArch('DistilBert')) family = 'distilbert';
  else if (type === 'roberta' || byArch('Roberta')) family = 'roberta';
  else if (type === 'xlm-roberta' || byArch('XLMRoberta')) family = 'xlm-roberta';
  else if (type === undefined) return fail(`${where} has no "model_type"; this loader reads ${ENCODERS}.`);
  else {
    throw new AttentionInputError(
      'unsupported',
      `${where} describes a "${String(type)}" model; this loader reads ${ENCODERS}. Supported model_type values: ${SUPPORTED_TYPES}.`,
    );
  }
  const bertKeys = family !== 'distilbert';
  const roberta = family === 'roberta' || family === 'xlm-roberta';
  const hiddenSize = bertKeys ? int('hidden_size') : int('dim');
  const numLayers = bertKeys ? int('num_hidden_layers') : int('n_layers');
  const numHeads = bertKeys ? int('num_attention_heads') : int('n_heads');
  const intermediateSize = bertKeys ? int('intermediate_size') : int('hidden_dim');
  const vocabSize = int('vocab_size');
  const positionTable = int('max_position_embeddings', 512);
  // RoBERTa numbers positions from padding_idx + 1 (position padding_idx belongs to <pad>).
  const padId = roberta ? int('pad_token_id', 1, 0) : undefined;
  const positionOffset = padId === undefined ? 0 : padId + 1;
  if (positionOffset >= positionTable) {
    fail(`${where}: max_position_embeddings ${positionTable} leaves no positions after the padding offset (pad_token_id ${padId} + 1); it must be more than ${positionOffset}.`);
  }
  const typeVocabSize = bertKeys ? int('type_vocab_size', 2) : 0;
  const eps = bertKeys ? num('layer_norm_eps', 1e-12) : 1e-12;
  if (hiddenSize % numHeads !== 0) {
    fail(`${where}: the hidden size ${hiddenSize} is not divisible by the ${numHeads} attention heads, so the heads cannot split it evenly.`);
  }
  const act = (bertKeys ? c['hidden_act'] : c['activation']) ?? 'gelu';
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act)) {
    throw new AttentionInputError('unsupported', `${where}: activation ${JSON.stringify(act)} is not supported (supported: ${ACTIVATIONS.join(', ')}).`);
  }
  const posType = c['position_embedding_type'] ?? 'absolute';
  if (posType !== 'absolute') {
    throw new AttentionInputError('unsupported', `${where}: position_embedding_type "${String(posType)}" is not supported; only "absolute" is.`);
  }
  if (family === 'distilbert' && c['sinusoidal_pos_embds'] === true) {
    // The sinusoidal table is still stored as position_embeddings.weight; nothing else changes.
  }
  return {
    family,
    hiddenSize,
    numLayers,
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize,
    vocabSize,
    maxPositions: positionTable - positionOffset,
    positionTable,
    positionOffset,
    padId,
    typeVocabSize,
    eps,
    activation: act as Activation,
    mlmActivation: roberta ? 'gelu' : (act as Activation),
  };
}

// ---------------------------------------------------------------------------------------------
// Weights


interface LayerWeights {
  readonly q: Dense;
  readonly k: Dense;
  readonly v: Dense;
  readonly o: Dense;
  readonly attnNorm: LN;
  readonly up: Dense;
  readonly down: Dense;
  readonly outNorm: LN;
}

interface Weights {
  readonly word: EmbeddingTable;
  /** [positionTable, D] (position rows) and the segment-0 row (zeros for DistilBERT). */
  readonly position: EmbeddingTable;
  readonly type0: tf.Tensor1D;
  readonly embNorm: LN;
  readonly layers: readonly LayerWeights[];
  /** The masked-language-model head, when the checkpoint has one. */
  readonly mlm?: { readonly transform: Dense; readonly norm: LN; readonly decoderT: tf.Tensor2D; readonly bias: tf.Tensor1D };
}

/** Parameter names per family (HF's own names). */
function names(family: BertFamily, l: number) {
  if (family !== 'distilbert') {
    const p = `encoder.layer.${l}.`;
    return {
      q: p + 'attention.self.query',
      k: p + 'attention.self.key',
      v: p + 'attention.self.value',
      o: p + 'attention.output.dense',
      attnNorm: p + 'attention.output.LayerNorm',
      up: p + 'intermediate.dense',
      down: p + 'output.dense',
      outNorm: p + 'output.LayerNorm',
    };
  }
  const p = `transformer.layer.${l}.`;
  return {
    q: p + 'attention.q_lin',
    k: p + 'attention.k_lin',
    v: p + 'attention.v_lin',
    o: p + 'attention.out_lin',
    attnNorm: p + 'sa_layer_norm',
    up: p + 'ffn.lin1',
    down: p + 'ffn.lin2',
    outNorm: p + 'output_layer_norm',
  };
}


function buildWeights(map: Map<string, SafeTensor>, cfg: BertConfig, where: string): Weights {
  const { hiddenSize: D, intermediateSize: I, vocabSize: V, positionTable: P, family } = cfg;
  const base = family === 'bert' ? 'bert.' : family === 'distilbert' ? 'distilbert.' : 'roberta.';
  const find = (name: string): { key: string; t: SafeTensor } | undefined => {
    for (const key of [base + name, name]) {
      const t = map.get(key);
      if (t) return { key, t };
    }
    return undefined;
  };
  const checked = new Map<string, SafeTensor>();
  const need = (name: string, shape: number[], meaning: string, optional = false): string | undefined => {
    const hit = find(name);
    if (!hit) {
      if (optional) return undefined;
      throw new AttentionInputError('file', `${where} has no tensor "${base}${name}" (${meaning}).`);
    }
    const s = hit.t.shape;
    if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) {
      throw new AttentionInputError('shape', `${hit.key} is ${s.join('×')} but ${meaning} is ${shape.join('×')} (from config.json).`);
    }
    checked.set(name, hit.t);
    return name;
  };
  // Validate every shape first, so a bad file allocates no tensors.
  need('embeddings.word_embeddings.weight', [V, D], 'vocab_size × hidden_size');
  need('embeddings.position_embeddings.weight', [P, D], 'max_position_embeddings × hidden_size');
  if (family !== 'distilbert') need('embeddings.token_type_embeddings.weight', [cfg.typeVocabSize, D], 'type_vocab_size × hidden_size');
  need('embeddings.LayerNorm.weight', [D], 'hidden_size');
  need('embeddings.LayerNorm.bias', [D], 'hidden_size');
  const denseSpec = (name: string, out: number, inp: number, meaning: string): void => {
    need(name + '.weight', [out, inp], meaning);
    need(name + '.bias', [out], meaning.split(' × ')[0]!);
  };
  const lnSpec = (name: string): void => {
    need(name + '.weight', [D], 'hidden_size');
    need(name + '.bias', [D], 'hidden_size');
  };
  for (let l = 0; l < cfg.numLayers; l++) {
    const n = names(family, l);
    denseSpec(n.q, D, D, 'hidden_size × hidden_size');
    denseSpec(n.k, D, D, 'hidden_size × hidden_size');
    denseSpec(n.v, D, D, 'hidden_size × hidden_size');
    denseSpec(n.o, D, D, 'hidden_size × hidden_size');
    lnSpec(n.attnNorm);
    denseSpec(n.up, I, D, 'intermediate_size × hidden_size');
    denseSpec(n.down, D, I, 'hidden_size × intermediate_size');
    lnSpec(n.outNorm);
  }
  // MLM head (BertForMaskedLM: cls.predictions.*; DistilBertForMaskedLM: vocab_*; RobertaForMaskedLM:
  // lm_head.*, whose bias is saved as lm_head.bias or, tied, lm_head.decoder.bias), decoder tied when absent.
  const mlmNames =
    family === 'bert'
      ? { dense: 'cls.predictions.transform.dense', norm: 'cls.predictions.transform.LayerNorm', decoder: 'cls.predictions.decoder.weight', bias: 'cls.predictions.bias' }
      : family === 'distilbert'
        ? { dense: 'vocab_transform', norm: 'vocab_layer_norm', decoder: 'vocab_projector.weight', bias: 'vocab_projector.bias' }
        : { dense: 'lm_head.dense', norm: 'lm_head.layer_norm', decoder: 'lm_head.decoder.weight', bias: map.has('lm_head.bias') || !map.has('lm_head.decoder.bias') ? 'lm_head.bias' : 'lm_head.decoder.bias' };
  const hasMlm = map.has(mlmNames.dense + '.weight');
  if (hasMlm) {
    denseSpec(mlmNames.dense, D, D, 'hidden_size × hidden_size');
    lnSpec(mlmNames.norm);
    need(mlmNames.bias, [V], 'vocab_size');
    need(mlmNames.decoder, [V, D], 'vocab_size × hidden_size', true);
  }
  const made = weightMaker(checked);
  const { keep, t1, t2T, table, linear: lin, layerNorm: ln } = made;
  const get = (name: string): SafeTensor => checked.get(name)!;
  try {
    const word = table('embeddings.word_embeddings.weight');
    const position = table('embeddings.position_embeddings.weight');
    const type0 =
      family !== 'distilbert'
        ? keep(tf.tensor1d(get('embeddings.token_type_embeddings.weight').data.subarray(0, D), 'float32'))
        : keep(tf.zeros([D], 'float32') as tf.Tensor1D);
    const layers: LayerWeights[] = [];
    for (let l = 0; l < cfg.numLayers; l++) {
      const n = names(family, l);
      layers.push({ q: lin(n.q), k: lin(n.k), v: lin(n.v), o: lin(n.o), attnNorm: ln(n.attnNorm), up: lin(n.up), down: lin(n.down), outNorm: ln(n.outNorm) });
    }
    let mlm: Weights['mlm'];
    if (hasMlm) {
      const decoderT = checked.has(mlmNames.decoder) ? t2T(mlmNames.decoder) : keep(word.transposed());
      mlm = { transform: lin(mlmNames.dense), norm: ln(mlmNames.norm), decoderT, bias: t1(mlmNames.bias) };
    }
    return { word, position, type0, embNorm: ln('embeddings.LayerNorm'), layers, ...(mlm ? { mlm } : {}) };
  } catch (err) {
    made.freeAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Tokenisation helpers (BertNormalizer, one code point at a time, for offsets)

function bertNormChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp === 0 || cp === 0xfffd) return '';
  if (/\s/u.test(ch)) return ' ';
  if (/[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u.test(ch)) return '';
  return ch.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
}

function isBertPunct(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(ch);
}

interface LayerRecord {
  readonly attention: AttentionRecord;
  /** LayerNorm(x + attention output): the input to the feed-forward block. */
  readonly attnHidden: Float32Array;
  readonly output: Float32Array;
}

interface ForwardResult {
  readonly embedding: Float32Array;
  readonly layers: LayerRecord[];
  readonly mlmHidden?: Float32Array;
  readonly logits?: Float32Array;
  readonly topP?: Float32Array;
  readonly topId?: Int32Array;
}

export class BertModel extends LoadedModel<BertConfig, Weights> implements AttentionModel {
  readonly clsId: number;
  readonly sepId: number;
  /** The tokens put around the text: [CLS] … [SEP] for BERT and DistilBERT, <s> … </s> for the RoBERTas. */
  readonly clsToken: string;
  readonly sepToken: string;

  constructor(config: BertConfig, tokenizer: HfTokenizer, weights: Weights, info: ModelInfo) {
    super(config, tokenizer, weights, info);
    const id = (name: string): number => {
      const v = tokenizer.encodeIds(name, false);
      if (v.length !== 1 || tokenizer.piece(v[0]!) !== name) throw new AttentionInputError('config', `The tokenizer has no ${name} token.`);
      return v[0]!;
    };
    const roberta = config.family === 'roberta' || config.family === 'xlm-roberta';
    this.clsToken = roberta ? '<s>' : '[CLS]';
    this.sepToken = roberta ? '</s>' : '[SEP]';
    this.clsId = id(this.clsToken);
    this.sepId = id(this.sepToken);
  }

  get hasMlmHead(): boolean {
    return this.live().mlm !== undefined;
  }


  /** [CLS] + the text's tokens + [SEP] (<s> … </s> for RoBERTa), at most `maxTokens` in all, with UTF-16 offsets. */
  tokenize(text: string, maxTokens: number): { tokens: Token[]; truncated: boolean; coveredLength: number; alignmentIssues: number } {
    const budget = Math.max(0, maxTokens - 2);
    if (this.clsToken === '<s>') {
      // Byte-level BPE / SentencePiece: the tokenizer's own byte alignment gives the offsets.
      const enc = this.tokenizer.encode(text, { addBos: false, maxTokens: budget });
      const cls: Token = { text: this.clsToken, id: this.clsId, start: -1, end: -1, special: true };
      const sep: Token = { text: this.sepToken, id: this.sepId, start: -1, end: -1, special: true };
      return { tokens: [cls, ...enc.tokens, sep], truncated: enc.truncated, coveredLength: enc.coveredLength, alignmentIssues: enc.alignmentIssues };
    }
    // Long inputs: tokenise a prefix cut at whitespace, growing it until it has more than enough tokens.
    let source = text;
    let ids: number[];
    for (let limit = (budget + 16) * 8; ; limit *= 4) {
      if (text.length <= limit) {
        source = text;
        ids = this.tokenizer.encodeIds(text, false);
        break;
      }
      let cut = text.lastIndexOf(' ', limit);
      if (cut <= 0) cut = limit;
      source = text.slice(0, cut);
      ids = this.tokenizer.encodeIds(source, false);
      if (ids.length > budget) break;
    }
    const truncated = ids.length > budget || source !== text;
    const kept = ids.slice(0, budget);
    const unkId = this.tokenizer.unkId;
    const pieces: AlignPiece[] = kept.map((id) => {
      const p = this.tokenizer.piece(id);
      if (id === unkId && p === this.tokenizer.unkToken) return { unknownWord: true };
      if (this.tokenizer.isSpecial(id)) return { literal: p };
      return { piece: p.startsWith('##') ? p.slice(2) : p };
    });
    const { spans, issues } = alignNormalised(source, pieces, bertNormChar, isBertPunct);
    const tokens: Token[] = [{ text: this.clsToken, id: this.clsId, start: -1, end: -1, special: true }];
    kept.forEach((id, i) => {
      const [start, end] = spans[i]!;
      tokens.push({
        text: this.tokenizer.piece(id),
        id,
        start,
        end,
        ...(this.tokenizer.isSpecial(id) ? { special: true } : {}),
        ...(id === unkId ? { unknown: true } : {}),
      });
    });
    tokens.push({ text: this.sepToken, id: this.sepId, start: -1, end: -1, special: true });
    let covered = text.length;
    if (truncated) {
      covered = 0;
      for (const t of tokens) if (t.end > covered) covered = t.end;
    }
    return { tokens, truncated, coveredLength: covered, alignmentIssues: issues };
  }

  /** `keepLogits`: also return the full [T × vocab] MLM logits (a run keeps only the top-k). */
  private async forward(ids: readonly number[], topK: number, signal?: AbortSignal, onProgress?: (f: number, m: string) => void, keepLogits = false): Promise<ForwardResult> {
    const w = this.live();
    const cfg = this.config;
    const { numHeads: H, headDim: hd, numLayers: L } = cfg;
    const T = ids.length;
    if (T > cfg.maxPositions) throw new AttentionInputError('shape', `${T} tokens do not fit the ${cfg.maxPositions} positions of this model.`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new AttentionInputError('shape', `Token id ${id} is outside the embedding table (vocab_size ${cfg.vocabSize}).`);
    }
    const layers: LayerRecord[] = [];
    let x: tf.Tensor2D | undefined;
    try {
      const positions = this.positionIds(ids);
      x = tf.tidy(() => {
        const words = w.word.lookup(ids);
        const pos = w.position.lookup(positions);
        return layerNorm(tf.add(tf.add(words, pos), w.type0) as tf.Tensor2D, w.embNorm.g, w.embNorm.b, cfg.eps);
      });
      const embedding = f32(x);
      for (let l = 0; l < L; l++) {
        throwIfCancelled(signal);
        onProgress?.(l / (L + 1), `Layer ${l + 1} of ${L}`);
        const lw = w.layers[l]!;
        const input = x;
        const next = tf.tidy(() => {
          const m = multiHead(dense(input, lw.q), dense(input, lw.k), dense(input, lw.v), H, hd);
          const attnOut = dense(m.merged, lw.o);
          const h1 = layerNorm(tf.add(input, attnOut) as tf.Tensor2D, lw.attnNorm.g, lw.attnNorm.b, cfg.eps);
          const ff = dense(activate(cfg.activation, dense(h1, lw.up)), lw.down);
          const out = layerNorm(tf.add(h1, ff) as tf.Tensor2D, lw.outNorm.g, lw.outNorm.b, cfg.eps);
          layers.push({ attention: recordAttention(m, attnOut), attnHidden: f32(h1), output: f32(out) });
          return out;
        });
        x = next;
        input.dispose();
        await yieldToEventLoop();
      }
      throwIfCancelled(signal);
      if (!w.mlm) return { embedding, layers };
      onProgress?.(L / (L + 1), 'Masked-token predictions');
      const mlm = w.mlm;
      const last = x;
      let result: ForwardResult = { embedding, layers };
      tf.tidy(() => {
        const h = layerNorm(activate(cfg.mlmActivation, dense(last, mlm.transform)), mlm.norm.g, mlm.norm.b, cfg.eps);
        const logits = tf.add(tf.matMul(h, mlm.decoderT), mlm.bias) as tf.Tensor2D;
        const top = topKRows(logits, Math.max(1, Math.min(topK, cfg.vocabSize)));
        result = { embedding, layers, mlmHidden: f32(h), ...(keepLogits ? { logits: f32(logits) } : {}), topP: top.p, topId: top.id };
      });
      return result;
    } finally {
      x?.dispose();
    }
  }

  /**
   * The row of the position table each token reads. BERT: 0, 1, 2, …; RoBERTa (HF's
   * create_position_ids_from_input_ids): padding_idx + (number of non-pad tokens up to and including
   * this one), and padding_idx itself for a pad token, so without pads token i reads row i + padding_idx + 1.
   */
  positionIds(ids: readonly number[]): Int32Array {
    const out = new Int32Array(ids.length);
    const pad = this.config.padId;
    if (pad === undefined) {
      for (let i = 0; i < ids.length; i++) out[i] = i + this.config.positionOffset;
      return out;
    }
    let count = 0;
    ids.forEach((id, i) => {
      if (id !== pad) count++;
      out[i] = id === pad ? pad : pad + count;
    });
    return out;
  }

  /** MLM logits for every position of `ids` ([ids.length × vocab_size]), for tests and tools. */
  async logits(ids: readonly number[]): Promise<Float32Array | undefined> {
    return (await this.forward(ids, 1, undefined, undefined, true)).logits;
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const started = performance.now();
    const { signal, onProgress } = options;
    throwIfCancelled(signal);
    if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to run: select some words first.');
    const cfg = this.config;
    const warnings: string[] = [];
    let maxTokens = options.maxTokens !== undefined && Number.isFinite(options.maxTokens) ? Math.floor(options.maxTokens) : cfg.maxPositions;
    if (maxTokens < 3) maxTokens = 3;
    if (maxTokens > cfg.maxPositions) {
      const source =
        cfg.positionOffset === 0
          ? 'max_position_embeddings'
          : `max_position_embeddings ${cfg.positionTable} minus the ${cfg.positionOffset} rows before the first position, padding_idx + 1`;
      warnings.push(`maxTokens ${maxTokens} is more than this model's ${cfg.maxPositions} positions (${source}); using ${cfg.maxPositions}.`);
      maxTokens = cfg.maxPositions;
    }
    onProgress?.(0, 'Tokenising');
    const enc = this.tokenize(text, maxTokens);
    if (enc.truncated) {
      warnings.push(`The input was truncated to ${maxTokens} tokens (including ${this.clsToken} and ${this.sepToken}); the model saw the first ${enc.coveredLength} of ${text.length} characters.`);
    }
    if (enc.alignmentIssues > 0) {
      warnings.push(`${enc.alignmentIssues} token${enc.alignmentIssues === 1 ? '' : 's'} could not be matched exactly with the text; their editor positions are unknown.`);
    }
    const unknown = enc.tokens.filter((t) => t.unknown).length;
    if (unknown > 0) warnings.push(`${unknown} word${unknown === 1 ? '' : 's'} could not be spelled with the vocabulary and became ${this.tokenizer.unkToken ?? '[UNK]'}.`);
    const ids = enc.tokens.map((t) => t.id);
    const topK = Math.max(1, Math.min(Math.floor(options.topK ?? 5), cfg.vocabSize));
    const out = await this.forward(ids, topK, signal, onProgress);
    throwIfCancelled(signal);
    const stages = this.stages(enc.tokens, out, topK);
    let predictions: Prediction[] | undefined;
    if (out.topId && out.topP) {
      predictions = [];
      for (let i = 0; i < ids.length; i++) {
        const top = [];
        for (let r = 0; r < topK; r++) {
          const id = out.topId[i * topK + r]!;
          top.push({ id, text: this.tokenizer.piece(id), p: out.topP[i * topK + r]! });
        }
        predictions.push({ position: i, top });
      }
    }
    onProgress?.(1, 'Done');
    return {
      version: 1,
      model: this.info,
      text: text.slice(0, enc.coveredLength),
      tokens: enc.tokens,
      stages,
      ...(predictions ? { predictions } : {}),
      warnings,
      backend: backendLabel(),
      elapsedMs: performance.now() - started,
    };
  }

  private stages(tokens: readonly Token[], out: ForwardResult, topK: number): Stage[] {
    const cfg = this.config;
    const T = tokens.length;
    const { numHeads: H, headDim: hd, hiddenSize: D } = cfg;
    const tok = { token: 'input' } as const;
    const attention: AttentionInfo = { queries: 'input', keys: 'input', causal: false, score: 'scaled-dot', normaliser: 'softmax' };
    const distil = cfg.family === 'distilbert';
    const name = FAMILY_NAME[cfg.family];
    const { clsToken: cls, sepToken: sep } = this;
    const maskToken = cls === '<s>' ? '<mask>' : '[MASK]';
    const off = cfg.positionOffset;
    const posIndex = off === 0 ? 'i' : `i+${off}`;
    const wordsText =
      cfg.family === 'roberta'
        ? `The text is turned into UTF-8 bytes, each shown as one printable character (a space appears as "Ġ"), and frequent byte ` +
          `sequences are merged into tokens from a ${cfg.vocabSize}-entry byte-pair vocabulary, so no character is ever unknown. Nothing is ` +
          `lower-cased, and a space belongs to the word after it ("Ġcat"). `
        : cfg.family === 'xlm-roberta'
          ? `The text is split into pieces from a ${cfg.vocabSize}-entry SentencePiece vocabulary covering about a hundred languages; ` +
            `"▁" marks a space, glued onto the start of the word that follows it. `
          : `The text is lower-cased, accents are removed, and it is split at spaces and punctuation. Each word is then spelled with the ` +
            `${cfg.vocabSize}-entry WordPiece vocabulary, longest piece first: a word the vocabulary lacks becomes a stem plus continuation ` +
            `pieces marked "##". `;
    const stages: Stage[] = [
      {
        id: 'tokens',
        kind: 'tokens',
        title: 'Tokens',
        formula: `text → ${cls} w₁ … wₙ ${sep}`,
        explanation:
          wordsText +
          `${cls} is put in front and ${sep} at the end, as in training; they have no position in your text. ` +
          `Type ${maskToken} in the text to ask the model to fill in a word.`,
        tensors: [tensor('ids', [T], ['token'], Float32Array.from(tokens, (t) => t.id), { tokenAxes: tok, description: 'Token ids' })],
      },
      {
        id: 'embedding',
        kind: 'embedding',
        title: 'Embeddings: word + position' + (distil ? '' : ' + segment'),
        formula: distil ? 'X[i] = LayerNorm(E[tᵢ] + P[i])' : `X[i] = LayerNorm(E[tᵢ] + P[${posIndex}] + S[0])`,
        explanation:
          `Each token id picks a row of the ${cfg.vocabSize}×${D} word-embedding matrix E, and the row P[${posIndex}] of a learned position table is ` +
          `added so the model knows where the token stands (attention itself ignores order). ` +
          (off === 0
            ? ''
            : `${name} numbers positions from padding_idx + 1 = ${off} (row ${cfg.padId} belongs to the padding token), so the first token ` +
              `reads row ${off} and at most ${cfg.maxPositions} of the table's ${cfg.positionTable} rows are usable. `) +
          (distil ? '' : `${name} also adds a segment vector S (all tokens here are in segment 0, "sentence A"). `) +
          `The sum is layer-normalised: each token's vector is shifted to mean 0, scaled to variance 1, then given a learned gain and bias.`,
        tensors: [tensor('X', [T, D], ['token', 'd_model'], out.embedding, { tokenAxes: tok, description: 'Input to layer 0' })],
      },
    ];
    out.layers.forEach((rec, l) => {
      stages.push(
        ...attentionStages({
          prefix: `L${l}`,
          layer: l,
          title: `Layer ${l}`,
          attention,
          heads: H,
          headDim: hd,
          dModel: D,
          queryCount: T,
          keyCount: T,
          record: rec.attention,
          qkvText:
            `Every token's ${D}-vector is projected three ways, each by its own learned matrix and bias: a query (what this token looks for), ` +
            `a key (what it offers to be found by) and a value (what it passes on). The ${D} numbers are then cut into ${H} heads of ${hd}, ` +
            `and each head attends on its own.`,
          scoresText:
            `Each query is compared with every key by a dot product, divided by √${hd} to keep softmax out of saturation. This is an encoder: ` +
            `there is no causal mask, so every token may look at tokens before and after it. That two-sided view is what masked-language ` +
            `training rewards: to guess a hidden word, the words on both sides help.`,
          weightsText:
            `Softmax turns each query's row of scores into weights that are positive and sum to 1. Trained ${name === 'DistilBERT' ? 'BERT' : name}s often park weight on ` +
            `${cls}, ${sep} or punctuation when a head has nothing specific to find, and some heads look mostly at the previous or next word.`,
          contextText:
            `Each head blends the value vectors of all tokens using its weights, giving a ${hd}-vector per token. The ${H} heads are put side by ` +
            `side (${H * hd} numbers) and projected back to ${D} dimensions by W_O: that is what attention adds to the token's vector.`,
        }),
        {
          id: `L${l}.output`,
          kind: 'encoder-layer',
          layer: l,
          title: `Layer ${l}: add & norm, feed-forward, add & norm`,
          formula: `h = LayerNorm(x + attn);  x' = LayerNorm(h + W₂ ${cfg.activation}(W₁h + b₁) + b₂)`,
          explanation:
            `${name === 'DistilBERT' ? 'BERT' : name} normalises after each sub-block ("post-norm"): the attention output is added to the token's vector and the sum layer-normalised. ` +
            `Then every token, on its own, goes through a two-layer feed-forward network (${D} → ${cfg.intermediateSize} → ${D}, ` +
            `${ACTIVATION_FORMULA[cfg.activation]}), whose output is added and normalised again. The result is the layer's output and the next layer's input.`,
          tensors: [
            tensor('hidden', [T, D], ['token', 'd_model'], rec.output, { tokenAxes: tok, description: 'Layer output' }),
            tensor('attention_hidden', [T, D], ['token', 'd_model'], rec.attnHidden, { tokenAxes: tok, description: 'LayerNorm(x + attention): input to the feed-forward block' }),
          ],
        },
      );
    });
    if (out.mlmHidden && out.topP && out.topId) {
      stages.push({
        id: 'output',
        kind: 'output',
        title: 'Masked-token predictions',
        formula: `p(token at i) = softmax(LayerNorm(${cfg.mlmActivation}(W xᵢ + b)) Eᵀ + b_vocab)`,
        explanation:
          `The masked-language-model head reads each token's final vector, transforms and normalises it, and compares it with every row of ` +
          `the word-embedding matrix E (shared with the input), giving a probability for every vocabulary entry. In training, 15% of the ` +
          `tokens were hidden and this head had to name them; at a ${maskToken} the top guesses show what the model thinks fits, elsewhere it ` +
          `mostly reproduces the word that is there. Shown: the ${topK} most likely tokens per position.`,
        tensors: [
          tensor('hidden', [T, D], ['token', 'd_model'], out.mlmHidden, { tokenAxes: tok, description: 'Transformed final vectors' }),
          ...topKTensors(T, topK, out.topP, out.topId, tok, 'tokens'),
        ],
      });
    }
    return stages;
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Loads a BERT / DistilBERT / RoBERTa / XLM-RoBERTa folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export async function loadBert(dir: string, options: LoadBertOptions = {}): Promise<BertModel> {
  const { config, tokenizer, tensors, weightsPath } = await readHfFolder(dir, parseBertConfig, options);
  const weights = buildWeights(tensors, config, weightsPath);
  let parameters = 0;
  for (const t of tensors.values()) parameters += t.data.length;
  const { id, name, builtin } = folderIdentity(dir, config.family, options, { folder: 'english-encoder', id: 'english-encoder', name: 'English encoder (small BERT)' });
  const info: ModelInfo = {
    id,
    name,
    family: config.family,
    description:
      options.description ??
      (builtin
        ? `A small BERT trained here with masked-language modelling on WordNet's definitions and example sentences: ` +
          `${config.numLayers} layers × ${config.numHeads} heads, d_model ${config.hiddenSize}, ${config.vocabSize}-entry WordPiece vocabulary.`
        : `${FAMILY_NAME[config.family]} encoder: ${config.numLayers} layers, ${config.numHeads} heads, d_model ${config.hiddenSize}.`),
    layers: config.numLayers,
    heads: config.numHeads,
    dModel: config.hiddenSize,
    parameters,
    ...(options.licence ? { licence: options.licence } : builtin ? { licence: 'Apache-2.0 (weights; trained on WordNet 3.0, WordNet licence)' } : {}),
  };
  options.onProgress?.(1, 'Model ready');
  return modelOwning(weights, () => new BertModel(config, tokenizer, weights, info));
}

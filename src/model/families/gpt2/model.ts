// GPT-2-family causal language models from a Hugging Face folder (config.json, model.safetensors,
// tokenizer.json), in the layout GPT2Model / GPT2LMHeadModel save (tensor names with or without the
// "transformer." prefix). The forward pass runs in tfjs and records every step of attention:
//   tokens → token + position embedding → per layer: LayerNorm → fused Q|K|V projection split into
//   heads → scaled scores (causal mask) → softmax weights → context → residual → LayerNorm → MLP →
//   residual → … → final LayerNorm → next-token predictions.
// GPT-2's linear layers are Conv1D: the weight is stored [in, out] and applied as x·W + b, so no
// transpose is needed. No vscode import. Every tf op is inside tf.tidy or disposed: a run (and a load
// that fails or is cancelled) leaves tf.memory() unchanged.
import { backendLabel, tf } from '../../runtime/backend';
import { readHfFolder } from '../../formats/hfFolder';
import type { HfEncoding, HfTokenizer } from '../../tokenizers/hfTokenizer';
import { throwIfCancelled, type AttentionModel, type RunOptions } from '../../model';
import type { SafeTensor } from '../../formats/safetensors';
import { ACTIVATION_FORMULA, ACTIVATIONS, activate, attentionStages, configReader, dense, f32, layerNorm, multiHead, recordAttention, topKRows, yieldToEventLoop, type Activation, type AttentionRecord, type Dense, EmbeddingTable, LoadedModel, weightMaker, type LN, folderIdentity, modelOwning, greedyTokens, appendedText, topKTensors } from '../../trace/transformerStages';
import { AttentionInputError, tensor, type AttentionInfo, type ModelInfo, type Prediction, type Stage, type Token, type Trace } from '../../../../shared/trace';

/** Every Hugging Face family the model-folder loaders read (for "unsupported model_type" messages). */
export const SUPPORTED_HF_FAMILIES = 'llama, gpt2, bert, distilbert, roberta (and xlm-roberta), marian';

export interface Gpt2Config {
  /** n_embd (alias hidden_size). */
  readonly hiddenSize: number;
  /** n_head (alias num_attention_heads). */
  readonly numHeads: number;
  readonly headDim: number;
  /** n_layer (alias num_hidden_layers). */
  readonly numLayers: number;
  /** n_inner, 4·n_embd when null or absent. */
  readonly innerSize: number;
  readonly vocabSize: number;
  /** n_positions (alias max_position_embeddings): rows of the learned position table. */
  readonly maxPositions: number;
  /** layer_norm_epsilon. */
  readonly eps: number;
  /** The MLP's nonlinearity (gelu_pytorch_tanh is the same function as gelu_new). */
  readonly activation: Activation;
  /** Divide scores by √head_dim (scale_attn_weights, default true). */
  readonly scaleAttnWeights: boolean;
  /** Also divide layer l's scores by l + 1 (scale_attn_by_inverse_layer_idx, default false). */
  readonly scaleByInverseLayerIdx: boolean;
  /** Output projection = the token-embedding matrix (tie_word_embeddings, default true). */
  readonly tieEmbeddings: boolean;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
}

export interface LoadGpt2Options {
  readonly id?: string;
  readonly name?: string;
  readonly description?: string;
  readonly licence?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

// ---------------------------------------------------------------------------------------------
// config.json

/** Validates a Hugging Face GPT-2 config.json (GPT2Config's keys, aliases and defaults) with clear messages. */
export function parseGpt2Config(raw: unknown, where = 'config.json'): Gpt2Config {
  const { c, int, num, optInt, fail } = configReader(raw, where);
  const type = c['model_type'];
  const arch = Array.isArray(c['architectures']) ? (c['architectures'] as unknown[]).map(String) : [];
  if (type === undefined || type === null) {
    if (!arch.some((a) => a.startsWith('GPT2'))) {
      fail(`${where} has no "model_type" (and no GPT2… architecture); a GPT-2 config.json says "model_type": "gpt2". Supported families: ${SUPPORTED_HF_FAMILIES}.`);
    }
  } else if (type !== 'gpt2') {
    throw new AttentionInputError('unsupported', `${where} describes a "${String(type)}" model, not GPT-2 ("gpt2"). Supported model_type values: ${SUPPORTED_HF_FAMILIES}.`);
  }
  // GPT2Config's attribute_map: hidden_size → n_embd, num_attention_heads → n_head, ... When both
  // spellings are present, Hugging Face keeps the alias's value; a disagreement is almost surely a mistake.
  const aliased = (key: string, alias: string, fallback: number): number => {
    if (c[alias] !== undefined && c[alias] !== null) {
      const v = int(alias);
      if (c[key] !== undefined && c[key] !== null && c[key] !== v) fail(`${where}: "${key}" is ${JSON.stringify(c[key])} but its alias "${alias}" is ${v}; give one value.`);
      return v;
    }
    return int(key, fallback);
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'boolean') fail(`${where}: "${key}" must be true or false, not ${JSON.stringify(v)}.`);
    return v as boolean;
  };
  // Defaults are GPT2Config's own (the 124M "gpt2" checkpoint's sizes).
  const hiddenSize = aliased('n_embd', 'hidden_size', 768);
  const numHeads = aliased('n_head', 'num_attention_heads', 12);
  const numLayers = aliased('n_layer', 'num_hidden_layers', 12);
  const maxPositions = aliased('n_positions', 'max_position_embeddings', 1024);
  const vocabSize = int('vocab_size', 50257);
  const innerSize = c['n_inner'] === undefined || c['n_inner'] === null ? 4 * hiddenSize : int('n_inner');
  const eps = num('layer_norm_epsilon', 1e-5);
  if (hiddenSize % numHeads !== 0) {
    fail(`${where}: n_embd ${hiddenSize} is not divisible by n_head ${numHeads}, so the heads cannot split it evenly.`);
  }
  const actRaw = c['activation_function'] ?? 'gelu_new';
  const act = actRaw === 'gelu_pytorch_tanh' ? 'gelu_new' : actRaw;
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act)) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: activation_function ${JSON.stringify(actRaw)} is not supported (supported: ${ACTIVATIONS.join(', ')}, gelu_pytorch_tanh).`,
    );
  }
  const scaleAttnWeights = bool('scale_attn_weights', true);
  const scaleByInverseLayerIdx = bool('scale_attn_by_inverse_layer_idx', false);
  const tieEmbeddings = bool('tie_word_embeddings', true);
  bool('reorder_and_upcast_attn', false); // same maths, computed in float32 either way
  if (bool('add_cross_attention', false)) {
    throw new AttentionInputError('unsupported', `${where}: add_cross_attention is true (a GPT-2 used as the decoder of an encoder–decoder); only plain GPT-2 language models are supported.`);
  }
  return {
    hiddenSize,
    numHeads,
    headDim: hiddenSize / numHeads,
    numLayers,
    innerSize,
    vocabSize,
    maxPositions,
    eps,
    activation: act as Activation,
    scaleAttnWeights,
    scaleByInverseLayerIdx,
    tieEmbeddings,
    bosId: optInt('bos_token_id'),
    eosId: optInt('eos_token_id'),
  };
}

// ---------------------------------------------------------------------------------------------
// Weights


interface LayerWeights {
  readonly ln1: LN;
  /** c_attn: [D, 3D] (Conv1D, [in, out]); columns 0..D−1 make Q, D..2D−1 K, 2D..3D−1 V. */
  readonly attn: Dense;
  /** attn.c_proj: [D, D], the output projection W_O. */
  readonly proj: Dense;
  readonly ln2: LN;
  /** mlp.c_fc: [D, inner]; mlp.c_proj: [inner, D]. */
  readonly fc: Dense;
  readonly out: Dense;
}

interface Weights {
  /** wte: [vocab, D]. */
  readonly wte: EmbeddingTable;
  /** wpe: [n_positions, D]. */
  readonly wpe: tf.Tensor2D;
  readonly lnF: LN;
  /**
   * [D, vocab]: the output projection transposed (a transposed copy of wte when tied). tfjs-wasm's
   * matMul with transposeB is ~10× slower at GPT-2's vocabulary size (5.2 s vs 0.55 s for 64 tokens).
   */
  readonly lmHeadT: tf.Tensor2D;
  readonly layers: readonly LayerWeights[];
}


const fmt = (shape: readonly number[]): string => shape.join('×');

/**
 * Finds and shape-checks every tensor before allocating any, then builds the tf weights. Returns
 * the weights and how many parameters they hold (each tensor once, buffers such as attn.bias excluded).
 */
function buildWeights(map: Map<string, SafeTensor>, cfg: Gpt2Config, where: string): { weights: Weights; parameters: number } {
  const { hiddenSize: D, innerSize: I, vocabSize: V, maxPositions: P } = cfg;
  const checked = new Map<string, SafeTensor>();
  const need = (name: string, shape: number[], meaning: string, prefixed = true): void => {
    const keys = prefixed ? ['transformer.' + name, name] : [name];
    const key = keys.find((k) => map.has(k));
    if (key === undefined) {
      throw new AttentionInputError('file', `${where} has no tensor "${keys.join('" or "')}" (${meaning}, ${fmt(shape)}; config.json says n_layer = ${cfg.numLayers}).`);
    }
    const s = map.get(key)!.shape;
    if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) {
      throw new AttentionInputError('shape', `${key} is ${fmt(s)} but ${meaning} is ${fmt(shape)} (from config.json).`);
    }
    checked.set(name, map.get(key)!);
  };
  const ln = (name: string): void => {
    need(name + '.weight', [D], 'n_embd');
    need(name + '.bias', [D], 'n_embd');
  };
  need('wte.weight', [V, D], 'vocab_size × n_embd');
  need('wpe.weight', [P, D], 'n_positions × n_embd');
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `h.${l}.`;
    ln(p + 'ln_1');
    need(p + 'attn.c_attn.weight', [D, 3 * D], 'n_embd × 3·n_embd (Conv1D stores [in, out])');
    need(p + 'attn.c_attn.bias', [3 * D], '3·n_embd');
    need(p + 'attn.c_proj.weight', [D, D], 'n_embd × n_embd');
    need(p + 'attn.c_proj.bias', [D], 'n_embd');
    ln(p + 'ln_2');
    need(p + 'mlp.c_fc.weight', [D, I], 'n_embd × n_inner (Conv1D stores [in, out])');
    need(p + 'mlp.c_fc.bias', [I], 'n_inner');
    need(p + 'mlp.c_proj.weight', [I, D], 'n_inner × n_embd (Conv1D stores [in, out])');
    need(p + 'mlp.c_proj.bias', [D], 'n_embd');
  }
  ln('ln_f');
  // GPT2LMHeadModel's lm_head (a Linear without bias, [vocab, D]); tied to wte unless the config says otherwise.
  const headName = 'lm_head.weight';
  if (!cfg.tieEmbeddings) {
    if (!map.has(headName)) {
      throw new AttentionInputError('file', `${where} has no tensor "lm_head.weight", and config.json sets tie_word_embeddings to false, so the output projection cannot be the token embedding wte.`);
    }
    need(headName, [V, D], 'vocab_size × n_embd', false);
  }
  let parameters = 0;
  for (const t of checked.values()) parameters += t.data.length;

  const made = weightMaker(checked);
  const { keep, t2, conv1d: conv, layerNorm: norm } = made;
  const get = (name: string): SafeTensor => checked.get(name)!;
  try {
    const wte = made.table('wte.weight');
    const wpe = t2('wpe.weight');
    const lmHeadT = cfg.tieEmbeddings
      ? keep(wte.transposed())
      : keep(tf.tidy(() => tf.transpose(tf.tensor2d(get(headName).data, [V, D], 'float32')) as tf.Tensor2D));
    const layers: LayerWeights[] = [];
    for (let l = 0; l < cfg.numLayers; l++) {
      const p = `h.${l}.`;
      layers.push({
        ln1: norm(p + 'ln_1'),
        attn: conv(p + 'attn.c_attn'),
        proj: conv(p + 'attn.c_proj'),
        ln2: norm(p + 'ln_2'),
        fc: conv(p + 'mlp.c_fc'),
        out: conv(p + 'mlp.c_proj'),
      });
    }
    return { weights: { wte, wpe, lnF: norm('ln_f'), lmHeadT, layers }, parameters };
  } catch (err) {
    made.freeAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The model

interface LayerRecord {
  /** x: the residual stream entering the layer. */
  readonly residual: Float32Array;
  /** ln_1(x): what attention reads. */
  readonly input: Float32Array;
  readonly attention: AttentionRecord;
  /** x + attention output. */
  readonly attnResidual: Float32Array;
  /** ln_2(x + attention output): what the MLP reads. */
  readonly mlpInput: Float32Array;
  readonly output: Float32Array;
}

interface ForwardResult {
  readonly tokenRows?: Float32Array;
  readonly positionRows?: Float32Array;
  readonly embedding?: Float32Array;
  readonly layers: LayerRecord[];
  readonly final?: Float32Array;
  readonly logits?: Float32Array;
  readonly topP?: Float32Array;
  readonly topId?: Int32Array;
}

export class Gpt2Model extends LoadedModel<Gpt2Config, Weights> implements AttentionModel {

  constructor(config: Gpt2Config, tokenizer: HfTokenizer, weights: Weights, info: ModelInfo) {
    super(config, tokenizer, weights, info);
  }


  /** Whether scores are plain QKᵀ/√head_dim (GPT-2's default), as the shared attention helper computes them. */
  private get standardScale(): boolean {
    return this.config.scaleAttnWeights && !this.config.scaleByInverseLayerIdx;
  }

  /** The factor layer `l`'s scores are multiplied by: 1/√head_dim and/or 1/(l+1), per the config. */
  scoreScale(l: number): number {
    const base = this.config.scaleAttnWeights ? 1 / Math.sqrt(this.config.headDim) : 1;
    return this.config.scaleByInverseLayerIdx ? base / (l + 1) : base;
  }

  /** The text's byte-level BPE tokens (plus a start token only if the tokenizer adds one), at most `maxTokens`. */
  tokenize(text: string, maxTokens: number): HfEncoding {
    return this.tokenizer.encode(text, { maxTokens });
  }

  /** The forward pass; with `record`, every layer's tensors are pulled out for the trace. */
  private async forward(
    ids: readonly number[],
    opts: { record: boolean; lastOnly?: boolean; topK?: number; signal?: AbortSignal; onProgress?: (f: number, m: string) => void },
  ): Promise<ForwardResult> {
    const w = this.live();
    const cfg = this.config;
    const { numHeads: H, headDim: hd, hiddenSize: D, numLayers: L } = cfg;
    const T = ids.length;
    const { record, signal, onProgress } = opts;
    if (T === 0) throw new AttentionInputError('empty', 'There are no tokens to run.');
    if (T > cfg.maxPositions) throw new AttentionInputError('too-long', `${T} tokens do not fit the ${cfg.maxPositions} learned positions of this model (n_positions).`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new AttentionInputError('shape', `Token id ${id} is outside the embedding table (vocab_size ${cfg.vocabSize}).`);
    }
    const layers: LayerRecord[] = [];
    const maskAdd = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskAdd[i * T + j] = -Infinity;
    const maskT = tf.tensor2d(maskAdd, [T, T]);
    let x: tf.Tensor2D | undefined;
    const result: { -readonly [K in keyof ForwardResult]: ForwardResult[K] } = { layers };
    try {
      x = tf.tidy(() => {
        const tokRows = w.wte.lookup(ids);
        const posRows = tf.slice(w.wpe, [0, 0], [T, D]);
        const sum = tf.add(tokRows, posRows) as tf.Tensor2D;
        if (record) {
          result.tokenRows = f32(tokRows);
          result.positionRows = f32(posRows);
          result.embedding = f32(sum);
        }
        return sum;
      });
      for (let l = 0; l < L; l++) {
        throwIfCancelled(signal);
        onProgress?.(l / (L + 1), `Layer ${l + 1} of ${L}`);
        const lw = w.layers[l]!;
        const input = x;
        const standard = this.standardScale;
        const rescale = this.scoreScale(l) * Math.sqrt(hd);
        const next = tf.tidy(() => {
          const h = layerNorm(input, lw.ln1.g, lw.ln1.b, cfg.eps);
          // One fused projection, then split: columns [0, D) are Q, [D, 2D) K, [2D, 3D) V.
          const qkv = dense(h, lw.attn);
          const q2 = tf.slice(qkv, [0, 0], [T, D]);
          const k2 = tf.slice(qkv, [0, D], [T, D]);
          const v2 = tf.slice(qkv, [0, 2 * D], [T, D]);
          // multiHead scales scores by 1/√hd; any other scale is folded into the queries it is given.
          const m = multiHead(standard ? q2 : (tf.mul(q2, rescale) as tf.Tensor2D), k2, v2, H, hd, maskT);
          const attnOut = dense(m.merged, lw.proj);
          const x1 = tf.add(input, attnOut) as tf.Tensor2D;
          const h2 = layerNorm(x1, lw.ln2.g, lw.ln2.b, cfg.eps);
          const mlp = dense(activate(cfg.activation, dense(h2, lw.fc)), lw.out);
          const out = tf.add(x1, mlp) as tf.Tensor2D;
          if (record) {
            const attention = recordAttention(m, attnOut);
            const q = standard ? attention.q : f32(tf.transpose(tf.reshape(q2, [T, H, hd]), [1, 0, 2]));
            layers.push({
              residual: f32(input),
              input: f32(h),
              attention: { ...attention, q },
              attnResidual: f32(x1),
              mlpInput: f32(h2),
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
      tf.tidy(() => {
        const src = opts.lastOnly ? (tf.slice(last, [T - 1, 0], [1, D]) as tf.Tensor2D) : last;
        const final = layerNorm(src, w.lnF.g, w.lnF.b, cfg.eps);
        const logits = tf.matMul(final, w.lmHeadT) as tf.Tensor2D;
        // A run keeps only the top-k: the full [T × vocab] logits are ~100 MB at 512 tokens of GPT-2.
        if (!record) result.logits = f32(logits);
        else {
          result.final = f32(final);
          const top = topKRows(logits, Math.max(1, Math.min(opts.topK ?? 5, cfg.vocabSize)));
          result.topP = top.p;
          result.topId = top.id;
        }
      });
      return result;
    } finally {
      x?.dispose();
      maskT.dispose();
    }
  }

  /** Logits for every position, [ids.length × vocab_size] row-major (for tests and tools). */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    return (await this.forward(ids, { record: false })).logits!;
  }

  /**
   * Greedy decoding: appends up to `n` argmax tokens (stops after eos_token_id). When the context
   * outgrows n_positions, the oldest tokens slide out of it. Returns the new ids.
   */
  async generate(ids: readonly number[], n: number, signal?: AbortSignal): Promise<number[]> {
    return greedyTokens(ids, n, {
      next: async (context) => (await this.forward(context, { record: false, lastOnly: true, signal })).logits!,
      window: (seq) => seq.slice(-this.config.maxPositions),
      vocabSize: this.config.vocabSize,
      eos: this.config.eosId ?? this.tokenizer.eosId,
      signal,
    });
  }

  /** Greedy continuation of `text` by up to `n` tokens; returns only the new text. */
  async continueText(text: string, n: number, signal?: AbortSignal): Promise<string> {
    if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to continue.');
    const ids = this.tokenizer.encodeIds(text);
    return appendedText(this.tokenizer, ids, await this.generate(ids, n, signal));
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const started = performance.now();
    const { signal, onProgress } = options;
    throwIfCancelled(signal);
    if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to run: select some words first.');
    const cfg = this.config;
    const P = cfg.maxPositions;
    const warnings: string[] = [];
    const requested = options.maxTokens;
    let maxTokens = requested !== undefined && Number.isFinite(requested) ? Math.floor(requested) : P;
    if (maxTokens < 1) maxTokens = 1;
    if (maxTokens > P) {
      warnings.push(`maxTokens ${maxTokens} is more than this model's ${P} learned positions (n_positions); using ${P}.`);
      maxTokens = P;
    }
    onProgress?.(0, 'Tokenising');
    const enc = this.tokenize(text, maxTokens);
    if (enc.tokens.length === 0) throw new AttentionInputError('empty', 'The text produced no tokens.');
    if (enc.truncated) {
      const why = maxTokens === P ? `this model has ${P} learned positions (n_positions)` : `maxTokens is ${maxTokens}`;
      warnings.push(`The input was truncated to ${maxTokens} tokens (${why}); the model saw the first ${enc.coveredLength} of ${text.length} characters.`);
    }
    if (enc.alignmentIssues > 0) {
      warnings.push(`${enc.alignmentIssues} token${enc.alignmentIssues === 1 ? '' : 's'} could not be matched exactly with the text; their editor positions are approximate.`);
    }
    const unknown = enc.tokens.filter((t) => t.unknown).length;
    if (unknown > 0) warnings.push(`${unknown} token${unknown === 1 ? '' : 's'} fell outside the vocabulary and became ${this.tokenizer.unkToken ?? '<unk>'}.`);
    const tokens: readonly Token[] = enc.tokens;
    const ids = tokens.map((t) => t.id);
    const topK = Math.max(1, Math.min(Math.floor(options.topK ?? 5), cfg.vocabSize));
    const out = await this.forward(ids, { record: true, topK, signal, onProgress });
    throwIfCancelled(signal);
    const stages = this.stages(tokens, out, topK);
    const predictions: Prediction[] = ids.map((_, i) => ({
      position: i,
      top: Array.from({ length: topK }, (_, r) => {
        const id = out.topId![i * topK + r]!;
        return { id, text: this.tokenizer.piece(id), p: out.topP![i * topK + r]! };
      }),
    }));
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

  private stages(tokens: readonly Token[], out: ForwardResult, topK: number): Stage[] {
    const cfg = this.config;
    const T = tokens.length;
    const { numHeads: H, headDim: hd, hiddenSize: D, innerSize: I } = cfg;
    const tok = { token: 'input' } as const;
    const qk = { query: 'input', key: 'input' } as const;
    const attention: AttentionInfo = { queries: 'input', keys: 'input', causal: true, score: cfg.scaleAttnWeights ? 'scaled-dot' : 'dot', normaliser: 'softmax' };
    const mask = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) mask[i * T + j] = 1;
    const startsWithSpecial = tokens[0]?.special === true;
    const stages: Stage[] = [
      {
        id: 'tokens',
        kind: 'tokens',
        title: 'Tokens',
        formula: 'text → UTF-8 bytes → byte-pair merges → [t₁, …, t_n]',
        explanation:
          `The text is turned into UTF-8 bytes, each byte shown as one printable character (a space appears as "Ġ", a newline as "Ċ"), ` +
          `and frequent byte sequences are merged into ${T} tokens from a ${cfg.vocabSize}-entry byte-pair vocabulary. Because every byte ` +
          `has a token, nothing is ever unknown. A space belongs to the word after it ("Ġcat"), so " cat" and "cat" are different tokens. ` +
          (startsWithSpecial
            ? `The tokenizer puts ${tokens[0]!.text} in front.`
            : `GPT-2 adds no start token, so the first token has nothing before it to look at.`),
        tensors: [tensor('ids', [T], ['token'], Float32Array.from(tokens, (t) => t.id), { tokenAxes: tok, description: 'Token ids' })],
      },
      {
        id: 'embedding',
        kind: 'embedding',
        title: 'Embeddings: token + learned position',
        formula: 'X[i] = E[tᵢ] + P[i]',
        explanation:
          `Each token id picks a row of the ${cfg.vocabSize}×${D} token-embedding matrix E (wte), and row i of a learned position table P ` +
          `(wpe, ${cfg.maxPositions} rows, so at most ${cfg.maxPositions} tokens) is added so the model knows where each token stands: ` +
          `attention by itself ignores order. There is no normalisation here; each layer normalises its own input. ` +
          (cfg.tieEmbeddings ? 'E is used again at the very end to turn hidden states into next-token scores (tied embeddings).' : ''),
        tensors: [
          tensor('X', [T, D], ['token', 'd_model'], out.embedding!, { tokenAxes: tok, description: 'E[tᵢ] + P[i]: the residual stream entering layer 0' }),
          tensor('E', [T, D], ['token', 'd_model'], out.tokenRows!, { tokenAxes: tok, description: 'Token-embedding rows E[tᵢ] (wte)' }),
          tensor('P', [T, D], ['token', 'd_model'], out.positionRows!, { tokenAxes: tok, description: 'Position-embedding rows P[i] (wpe)' }),
        ],
      },
    ];
    out.layers.forEach((rec, l) => {
      const scaleText = cfg.scaleAttnWeights ? (cfg.scaleByInverseLayerIdx ? `√${hd}·${l + 1}` : `√${hd}`) : cfg.scaleByInverseLayerIdx ? `${l + 1}` : '';
      const scoreExpr = scaleText ? `Q[h] K[h]ᵀ / ${scaleText}` : 'Q[h] K[h]ᵀ';
      const scoreWhy = cfg.scaleAttnWeights
        ? `divided by √d_head = √${hd} so the scores stay in a range where softmax is not saturated` +
          (cfg.scaleByInverseLayerIdx ? ` and, as this config asks (scale_attn_by_inverse_layer_idx), also by the layer number l + 1 = ${l + 1}` : '')
        : `not divided by √d_head (this config sets scale_attn_weights to false)` + (cfg.scaleByInverseLayerIdx ? `, only by the layer number l + 1 = ${l + 1}` : '');
      const block = attentionStages({
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
        mask,
        qkvFormula: '[Q | K | V] = h W_attn + b_attn  (one n_embd × 3·n_embd matrix, split in three, then into heads)',
        weightsFormula: 'α = softmax(S + M),  M = 0 (same or earlier token) or −∞ (later token)',
        qkvText:
          `GPT-2 computes queries, keys and values with one fused projection (c_attn): h times a ${D}×${3 * D} matrix plus a bias gives ` +
          `${3 * D} numbers per token, cut into three blocks of ${D}: the first is the query (what this token looks for), the second ` +
          `the key (what it offers to be found by), the third the value (what it passes on). Each block is then cut into ${H} heads ` +
          `of ${hd} dimensions that attend independently. Fusing is only a speed-up: it equals three separate ${D}×${D} projections.`,
        scoresText:
          `Each query is compared with every key by a dot product, ${scoreWhy}. GPT-2 is a causal language model, trained to predict ` +
          `the next token, so a token may only look at itself and the tokens before it. The mask shows which pairs are allowed; the ` +
          `scores of later tokens are computed here but thrown away in the next step.`,
        weightsText:
          `Masked scores are replaced by −∞ before softmax, so every future token gets a weight of exactly 0 and the weights over the ` +
          `allowed tokens are positive and sum to 1. Row i therefore only mixes tokens 0…i. Trained GPT-2 heads often park weight on the ` +
          `first token when they have nothing specific to find; look for a bright first column.`,
        contextText:
          `Each head mixes the value vectors of the tokens it attends to, weighted by α: a ${hd}-vector per head and token. The ${H} ` +
          `heads' vectors are put side by side (${H * hd} numbers) and projected by W_O (attn.c_proj) back to ${D} dimensions: that is ` +
          `what attention adds to the residual stream.`,
      });
      if (!this.standardScale) {
        // The shared builder writes S = QKᵀ/√d; this config scales differently.
        const scores = block[1]!;
        block[1] = {
          ...scores,
          formula: `S[h] = ${scoreExpr}`,
          tensors: [
            tensor('scores', [H, T, T], ['head', 'query', 'key'], rec.attention.scores, { tokenAxes: qk, description: `${scoreExpr} before masking` }),
            ...scores.tensors.slice(1),
          ],
        };
      }
      stages.push(
        {
          id: `L${l}.input`,
          kind: 'encoder-layer',
          layer: l,
          title: `Layer ${l}: LayerNorm before attention (pre-norm)`,
          formula: 'h = (x − mean(x)) / √(var(x) + ε) ⊙ g + b',
          explanation:
            `Layer ${l} reads the residual stream x (one ${D}-vector per token) and layer-normalises each token's vector (ln_1): shift to ` +
            `mean 0, scale to variance 1 (ε = ${cfg.eps.toExponential()}), then apply a learned gain g and bias b per feature. GPT-2 ` +
            `normalises before each sub-block ("pre-norm"), unlike the original Transformer and BERT, which normalise after it; x itself ` +
            `is carried around attention unchanged and the attention output is added back to it.`,
          tensors: [
            tensor('hidden', [T, D], ['token', 'd_model'], rec.input, { tokenAxes: tok, description: 'ln_1(x): the input to attention' }),
            tensor('residual', [T, D], ['token', 'd_model'], rec.residual, { tokenAxes: tok, description: 'x: the residual stream entering the layer' }),
          ],
        },
        ...block,
        {
          id: `L${l}.output`,
          kind: 'encoder-layer',
          layer: l,
          title: `Layer ${l}: residual + LayerNorm + MLP + residual`,
          formula: `x' = x + attn;  x'' = x' + W₂ ${cfg.activation}(W₁ ln_2(x') + b₁) + b₂`,
          explanation:
            `The attention output is added to the residual stream, giving x'. Then each token, on its own, is layer-normalised again (ln_2) ` +
            `and passed through a two-layer MLP (${D} → ${I} → ${D}, ${ACTIVATION_FORMULA[cfg.activation]}); its output is added to the stream ` +
            `as well. The result is the layer's output and the next layer's input.`,
          tensors: [
            tensor('hidden', [T, D], ['token', 'd_model'], rec.output, { tokenAxes: tok, description: "x'': the residual stream after the layer" }),
            tensor('attention_residual', [T, D], ['token', 'd_model'], rec.attnResidual, { tokenAxes: tok, description: "x' = x + attention output" }),
            tensor('mlp_input', [T, D], ['token', 'd_model'], rec.mlpInput, { tokenAxes: tok, description: "ln_2(x'): the input to the MLP" }),
          ],
        },
      );
    });
    stages.push({
      id: 'output',
      kind: 'decoder-step',
      title: 'Next-token predictions',
      formula: cfg.tieEmbeddings ? 'p(tᵢ₊₁ | t≤ᵢ) = softmax(ln_f(xᵢ) Eᵀ)' : 'p(tᵢ₊₁ | t≤ᵢ) = softmax(ln_f(xᵢ) W_outᵀ)',
      explanation:
        `After the last layer the stream is layer-normalised once more (ln_f) and compared, by a dot product, with every row of the ` +
        `${cfg.tieEmbeddings ? 'token-embedding matrix E (the same one used at the input)' : 'output matrix (lm_head)'}, giving one score per ` +
        `vocabulary entry; softmax turns the scores into probabilities. Every position predicts the token that follows it from itself ` +
        `and the tokens before it, so one run gives ${T} predictions. Shown: the ${topK} most likely next tokens per position.`,
      tensors: [
        tensor('hidden', [T, D], ['token', 'd_model'], out.final!, { tokenAxes: tok, description: 'ln_f of the residual stream' }),
        ...topKTensors(T, topK, out.topP!, out.topId!, tok, 'next tokens'),
      ],
    });
    return stages;
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Loads a GPT-2 model folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export async function loadGpt2(dir: string, options: LoadGpt2Options = {}): Promise<Gpt2Model> {
  const { config, tokenizer, tensors, weightsPath } = await readHfFolder(dir, parseGpt2Config, options);
  const { weights, parameters } = buildWeights(tensors, config, weightsPath);
  return modelOwning(weights, () => {
    throwIfCancelled(options.signal);
    const { id, name } = folderIdentity(dir, 'gpt2', options);
    const info: ModelInfo = {
      id,
      name,
      family: 'gpt2',
      description:
        options.description ??
        `GPT-2 causal LM: ${config.numLayers} layers, ${config.numHeads} heads, d_model ${config.hiddenSize}, ${config.maxPositions} learned positions.`,
      layers: config.numLayers,
      heads: config.numHeads,
      dModel: config.hiddenSize,
      parameters,
      ...(options.licence ? { licence: options.licence } : {}),
    };
    options.onProgress?.(1, 'Model ready');
    return new Gpt2Model(config, tokenizer, weights, info);
  });
}

// Encoder–decoder Transformers in the Hugging Face **Marian** layout (MarianMTModel: sinusoidal
// positions, post-norm layers, scaled embeddings, tied embeddings + final_logits_bias), read from a
// folder with config.json, model.safetensors and tokenizer.json. The built-in model is a
// character-level date normaliser trained here (models/dates-transformer): "Monday 23rd of
// November 2026" → "2026-11-23". Encoder and decoder are two configurations of the shared
// Transformer block (config.ts); weights.ts maps the tensors, lesson.ts holds the words.
//
// run(text) decodes greedily, then recomputes the whole decoder over the generated sequence
// (teacher-forced on its own output), so every decoder tensor covers every output step:
//   tokens → encoder embedding → enc{l}: Q,K,V → scores → weights → context → add&norm, FFN
//   → decoder embedding → dec{l}: causal self-attention, cross-attention over the encoder, FFN
//   → output: next-character probabilities per step.
// What is Marian's own is here: √D-scaled embeddings, final_logits_bias and bad_words_ids decoding.
import * as path from 'node:path';
import { tf } from '../../runtime/backend';
import { f32 } from '../../runtime/read';
import { findBuiltinDir } from '../../formats/hfFolder';
import { additiveMask, allowedMask } from '../../attention/mask';
import type { EmbeddingTable } from '../../layers/embedding';
import type { HfTokenizer } from '../../tokenizers/hfTokenizer';
import { throwIfCancelled, yieldToEventLoop, type AttentionModel, type RunOptions } from '../../model';
import { transformerBlock, type BlockRecord } from '../../transformer/block';
import { LoadedModel, loadHfFolder, type BuiltinIdentity, type LoadOptions } from '../../transformer/load';
import { runStack } from '../../transformer/stack';
import { embedTokens } from '../../transformer/embedding';
import { Run, topKPredictions } from '../../trace/run';
import { attentionStages, topKRows, topKTensors } from '../../trace/stages';
import { marianDecoderBlock, marianEncoderBlock, parseMarianConfig, type MarianConfig } from './config';
import { marianWeights, type MarianWeights } from './weights';
import { marianLesson, type MarianLessonContext } from './lesson';
import { AttentionInputError, tensor, type AttentionInfo, type ModelInfo, type Stage, type Token, type Trace } from '../../../../shared/trace';

export { parseMarianConfig, type MarianConfig } from './config';
export { sinusoidalPositions } from '../../layers/positions';

const BUILTIN: BuiltinIdentity = { folder: 'dates-transformer', id: 'dates-transformer', name: 'Date normaliser (Transformer)' };
export const DATES_TRANSFORMER_DIR = path.join('models', BUILTIN.folder);

/** The folder of the built-in date-normalisation Transformer (walks up from `startDir`). */
export function builtinDatesTransformerDir(startDir: string = __dirname): string {
  return findBuiltinDir(DATES_TRANSFORMER_DIR, startDir);
}

interface Decoded {
  readonly out: number[];
  readonly embedding: Float32Array;
  readonly layers: BlockRecord[];
  readonly topP: Float32Array;
  readonly topId: Int32Array;
}

export class EncoderDecoderModel extends LoadedModel<MarianConfig, MarianWeights> implements AttentionModel {
  private readonly encBlock = marianEncoderBlock(this.config);
  private readonly decBlock = marianDecoderBlock(this.config);

  constructor(config: MarianConfig, tokenizer: HfTokenizer, weights: MarianWeights, info: ModelInfo) {
    super(config, tokenizer, weights, info);
  }

  private checkIds(ids: readonly number[], what: string): void {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new AttentionInputError('shape', `${what} token id ${id} is outside the embedding table (vocab_size ${this.config.vocabSize}).`);
      }
    }
  }

  /** √D·E[t] + PE[p]: [n] → [n, D] (inside a tidy). */
  private embed(ids: readonly number[], pos: EmbeddingTable): tf.Tensor2D {
    const scale = this.config.scaleEmbedding ? Math.sqrt(this.config.dModel) : 1;
    return embedTokens(ids, this.live().embed, { scale, positions: pos }).x;
  }

  /** Runs the encoder; returns the memory tensor ([S, D], caller disposes) and, with `record`, every layer's numbers. */
  private async encode(src: readonly number[], record: boolean, signal?: AbortSignal): Promise<{ memory: tf.Tensor2D; embedding?: Float32Array; layers: BlockRecord[] }> {
    const w = this.live();
    const x = tf.tidy(() => this.embed(src, w.encPos));
    const embedding = record ? f32(x) : undefined;
    const { out, records } = await runStack(x, w.enc, this.encBlock, {}, { record, signal, yieldEach: record });
    return { memory: out, ...(embedding ? { embedding } : {}), layers: records };
  }

  /** The decoder over `decIn` (start token + tokens so far): logits [T, V] for every position. Inside a tidy. */
  private decodeIn(decIn: readonly number[], memory: tf.Tensor2D, record: boolean): { logits: tf.Tensor2D; embedding?: Float32Array; layers: BlockRecord[] } {
    const w = this.live();
    const T = decIn.length;
    const selfMask = tf.tensor2d(additiveMask({ queries: T, keys: T, causal: true }), [T, T]);
    let y = this.embed(decIn, w.decPos);
    const embedding = record ? f32(y) : undefined;
    const layers: BlockRecord[] = [];
    w.dec.forEach((lw, l) => {
      const r = transformerBlock(y, lw, this.decBlock, { layer: l, selfMask, memory }, record);
      if (r.record) layers.push(r.record);
      y = r.out;
    });
    const logits = tf.add(tf.matMul(y, w.lmHeadT), w.logitsBias) as tf.Tensor2D; // [T, D] → [T, V]
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

  /** Argmax decoding that never picks a bad_words_ids token, as HF generate does. */
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
          const last = tf.slice(logits, [out.length, 0], [1, cfg.vocabSize]); // [T, V] → [1, V]
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
    const cfg = this.config;
    const eos = this.tokenizer.piece(cfg.eosId);
    const run = Run.begin(text, options, {
      limit: { positions: cfg.maxPositions, label: 'positions (max_position_embeddings)' },
      minTokens: 2,
      vocabSize: cfg.vocabSize,
      emptyMessage: 'There is no text to run: select a date first.',
    });
    run.progress(0, 'Tokenising');
    const enc = run.admit(this.tokenize(text, run.maxTokens), {
      truncatedWhy: () => `(including the end marker ${eos})`,
      unknown: (n) => `${n} character${n === 1 ? '' : 's'} outside the vocabulary became ${this.tokenizer.unkToken ?? '<unk>'}.`,
      alignment: (n) => `${n} token(s) could not be matched with the text; their editor positions are approximate.`,
    });
    if (cfg.trainedMaxInput !== undefined && enc.tokens.length - 1 > cfg.trainedMaxInput) {
      run.warnings.push(`The input has ${enc.tokens.length - 1} characters, more than the ${cfg.trainedMaxInput} this model saw in training; expect mistakes.`);
    }
    this.checkIds(enc.ids, 'Input');
    const topK = run.topK;
    run.progress(0.05, 'Encoder');
    const encoded = await this.encode(enc.ids, true, run.signal);
    let decoded: Decoded | undefined;
    try {
      run.progress(0.3, 'Greedy decoding');
      const steps = cfg.maxLength - 1;
      const out = await this.greedy(encoded.memory, run.signal, (n) => run.progress(0.3 + (0.6 * n) / steps, `Decoding step ${n}`));
      run.checkCancelled();
      run.progress(0.9, 'Recording the decoder over every step');
      const decIn = [cfg.decoderStartId, ...out.slice(0, -1)];
      const memory = encoded.memory;
      tf.tidy(() => {
        // Results leave the tidy through `decoded` (returning typed arrays would make tidy walk every element).
        const r = this.decodeIn(decIn, memory, true);
        const top = topKRows(r.logits, topK);
        decoded = { out, embedding: r.embedding!, layers: r.layers, topP: top.p, topId: top.id };
      });
    } finally {
      encoded.memory.dispose();
    }
    run.checkCancelled();
    const d = decoded!;
    const outputTokens: Token[] = d.out.map((id) => ({ text: this.tokenizer.piece(id), id, start: -1, end: -1, ...(this.tokenizer.isSpecial(id) ? { special: true } : {}) }));
    if (d.out.at(-1) !== cfg.eosId) run.warnings.push(`The decoder stopped at max_length ${cfg.maxLength} without producing ${eos}.`);
    return run.finish({
      model: this.info,
      coveredLength: enc.coveredLength,
      tokens: enc.tokens,
      outputTokens,
      stages: this.stages(enc.tokens, outputTokens, encoded, d, topK),
      predictions: topKPredictions(d.topId, d.topP, d.out.length, topK, (id) => this.tokenizer.piece(id)),
    });
  }

  private stages(tokens: readonly Token[], outputTokens: readonly Token[], encoded: { embedding?: Float32Array; layers: BlockRecord[] }, decoded: Decoded, topK: number): Stage[] {
    const cfg = this.config;
    const D = cfg.dModel;
    const S = tokens.length;
    const T = outputTokens.length;
    const { encoderHeads: He, decoderHeads: Hd } = cfg;
    const inTok = { token: 'input' } as const;
    const outTok = { token: 'output' } as const;
    const c: MarianLessonContext = { config: cfg, S, T, topK, eos: this.tokenizer.piece(cfg.eosId), start: this.tokenizer.piece(cfg.decoderStartId), unk: this.tokenizer.unkToken ?? '<unk>' };
    const L = marianLesson;
    const info = (queries: 'input' | 'output', keys: 'input' | 'output', causal: boolean): AttentionInfo => ({ queries, keys, causal, score: 'scaled-dot', normaliser: 'softmax' });
    const rows = (name: string, n: number, axes: typeof inTok | typeof outTok, data: Float32Array, description: string) => tensor(name, [n, D], ['token', 'd_model'], data, { tokenAxes: axes, description });
    const causalMask = allowedMask({ queries: T, keys: T, causal: true });
    const block = { dModel: D } as const;
    const stages: Stage[] = [
      { id: 'tokens', kind: 'tokens', ...L.tokens(c), tensors: [tensor('ids', [S], ['token'], Float32Array.from(tokens, (t) => t.id), { tokenAxes: inTok, description: 'Input token ids' })] },
      { id: 'embedding', kind: 'embedding', ...L.embedding(c), tensors: [rows('X', S, inTok, encoded.embedding!, 'Input to encoder layer 0')] },
    ];
    encoded.layers.forEach((rec, l) => {
      stages.push(
        ...attentionStages({ prefix: `enc${l}`, layer: l, title: `Encoder layer ${l}`, attention: info('input', 'input', false), heads: He, headDim: D / He, ...block, queryCount: S, keyCount: S, record: rec.self, ...L.encoderAttention(c) }),
        {
          id: `enc${l}.output`,
          kind: 'encoder-layer',
          layer: l,
          ...L.encoderOutput(c, l),
          tensors: [rows('hidden', S, inTok, rec.output, 'Encoder layer output'), rows('attention_hidden', S, inTok, rec.afterSelf, 'LN(x + attention)')],
        },
      );
    });
    stages.push({ id: 'dec.embedding', kind: 'embedding', ...L.decoderEmbedding(c), tensors: [rows('Y', T, outTok, decoded.embedding, 'Decoder input embeddings')] });
    decoded.layers.forEach((rec, l) => {
      stages.push(
        ...attentionStages({
          prefix: `dec${l}.self`,
          layer: l,
          title: `Decoder layer ${l}, masked self-attention`,
          attention: info('output', 'output', true),
          heads: Hd,
          headDim: D / Hd,
          ...block,
          queryCount: T,
          keyCount: T,
          record: rec.self,
          mask: causalMask,
          ...L.decoderSelf(c),
        }),
        ...attentionStages({ prefix: `dec${l}.cross`, layer: l, title: `Decoder layer ${l}, cross-attention`, attention: info('output', 'input', false), heads: Hd, headDim: D / Hd, ...block, queryCount: T, keyCount: S, record: rec.cross!, ...L.decoderCross(c) }),
        {
          id: `dec${l}.output`,
          kind: 'decoder-step',
          layer: l,
          ...L.decoderOutput(c, l),
          tensors: [
            rows('hidden', T, outTok, rec.output, 'Decoder layer output'),
            rows('self_hidden', T, outTok, rec.afterSelf, 'LN(y + self-attention)'),
            rows('cross_hidden', T, outTok, rec.afterCross!, 'LN(h₁ + cross-attention)'),
          ],
        },
      );
    });
    stages.push({ id: 'output', kind: 'decoder-step', ...L.output(c), tensors: [...topKTensors(T, topK, decoded.topP, decoded.topId, outTok, 'characters')] });
    return stages;
  }
}

/** Loads a Marian folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadEncoderDecoder(dir: string, options: LoadOptions = {}): Promise<EncoderDecoderModel> {
  return loadHfFolder(dir, options, {
    family: () => 'marian',
    parseConfig: parseMarianConfig,
    buildWeights: marianWeights,
    builtin: BUILTIN,
    describe: (c, builtin) =>
      builtin
        ? `A character-level encoder–decoder Transformer in the Marian layout, trained here to rewrite human-written dates as YYYY-MM-DD: ` +
          `${c.encoderLayers} encoder and ${c.decoderLayers} decoder layers, ${c.encoderHeads} heads, d_model ${c.dModel}.`
        : `Marian encoder–decoder: ${c.encoderLayers}+${c.decoderLayers} layers, ${c.encoderHeads} heads, d_model ${c.dModel}.`,
    shape: (c) => ({ layers: Math.max(c.encoderLayers, c.decoderLayers), heads: c.encoderHeads, dModel: c.dModel }),
    make: (c, tokenizer, weights, info) => new EncoderDecoderModel(c, tokenizer, weights, info),
  });
}

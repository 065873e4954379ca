// Bidirectional Transformer encoders in Hugging Face layouts: BERT (model_type "bert"), DistilBERT
// ("distilbert") and RoBERTa ("roberta", and XLM-RoBERTa, "xlm-roberta", the same network), read
// from a folder with config.json, model.safetensors and a tokenizer.json. The built-in model is a
// small BERT trained here on WordNet's glosses (models/english-encoder). An encoder is the shared
// Transformer block configured as post-LayerNorm and bidirectional (config.ts), its tensor names
// (weights.ts) and its words (lesson.ts):
//   tokens → embedding (word + position + type, LayerNorm) → per layer: Q,K,V → scores → softmax
//   weights → context → add & norm → MLP → add & norm → masked-token predictions.
// What is the family's own is here: [CLS]/[SEP] around the text with offsets through BERT's
// normaliser, RoBERTa's positions from padding_idx + 1, and the MLM head.
import * as path from 'node:path';
import { tf } from '../../runtime/backend';
import { f32 } from '../../runtime/read';
import { findBuiltinDir } from '../../formats/hfFolder';
import { activate } from '../../layers/activations';
import { dense } from '../../layers/linear';
import { layerNorm } from '../../layers/norms';
import type { HfTokenizer } from '../../tokenizers/hfTokenizer';
import type { AttentionModel, RunOptions } from '../../model';
import type { BlockRecord } from '../../transformer/block';
import { LoadedModel, loadHfFolder, type BuiltinIdentity, type LoadOptions } from '../../transformer/load';
import { runStack } from '../../transformer/stack';
import { embedTokens } from '../../transformer/embedding';
import { Run, topKPredictions } from '../../trace/run';
import { attentionStages, topKRows, topKTensors } from '../../trace/stages';
import { alignNormalised, bertNormChar, isBertPunct, type AlignPiece } from './align';
import { bertBlock, FAMILY_NAME, isRoberta, parseBertConfig, type BertConfig } from './config';
import { bertWeights, type BertWeights } from './weights';
import { bertLesson, type BertLessonContext } from './lesson';
import {
  AttentionInputError,
  tensor,
  type AttentionInfo,
  type ModelInfo,
  type Stage,
  type TensorData,
  type Token,
  type Trace,
} from '../../../../shared/trace';

export { parseBertConfig, type BertConfig, type BertFamily } from './config';

const BUILTIN: BuiltinIdentity = {
  folder: 'english-encoder',
  id: 'english-encoder',
  name: 'English encoder (small BERT)',
};
export const ENGLISH_ENCODER_DIR = path.join('models', BUILTIN.folder);

/** The folder of the built-in English encoder (walks up from `startDir` to models/english-encoder). */
export function builtinEnglishEncoderDir(startDir: string = __dirname): string {
  return findBuiltinDir(ENGLISH_ENCODER_DIR, startDir);
}

interface ForwardResult {
  readonly embedding: Float32Array;
  readonly layers: BlockRecord[];
  readonly mlmHidden?: Float32Array;
  readonly logits?: Float32Array;
  readonly topP?: Float32Array;
  readonly topId?: Int32Array;
}

export class BertModel extends LoadedModel<BertConfig, BertWeights> implements AttentionModel {
  readonly clsId: number;
  readonly sepId: number;
  /** The tokens put around the text: [CLS] … [SEP] for BERT and DistilBERT, <s> … </s> for the RoBERTas. */
  readonly clsToken: string;
  readonly sepToken: string;

  constructor(config: BertConfig, tokenizer: HfTokenizer, weights: BertWeights, info: ModelInfo) {
    super(config, tokenizer, weights, info);
    const id = (name: string): number => {
      const v = tokenizer.encodeIds(name, false);
      if (v.length !== 1 || tokenizer.piece(v[0]!) !== name)
        throw new AttentionInputError('config', `The tokenizer has no ${name} token.`);
      return v[0]!;
    };
    const roberta = isRoberta(config.family);
    this.clsToken = roberta ? '<s>' : '[CLS]';
    this.sepToken = roberta ? '</s>' : '[SEP]';
    this.clsId = id(this.clsToken);
    this.sepId = id(this.sepToken);
  }

  get hasMlmHead(): boolean {
    return this.live().mlm !== undefined;
  }

  /** [CLS] + the text's tokens + [SEP] (<s> … </s> for RoBERTa), at most `maxTokens` in all, with UTF-16 offsets. */
  tokenize(
    text: string,
    maxTokens: number,
  ): { tokens: Token[]; truncated: boolean; coveredLength: number; alignmentIssues: number } {
    const budget = Math.max(0, maxTokens - 2);
    const cls: Token = { text: this.clsToken, id: this.clsId, start: -1, end: -1, special: true };
    const sep: Token = { text: this.sepToken, id: this.sepId, start: -1, end: -1, special: true };
    if (this.clsToken === '<s>') {
      // Byte-level BPE / SentencePiece: the tokenizer's own byte alignment gives the offsets.
      const enc = this.tokenizer.encode(text, { addBos: false, maxTokens: budget });
      return {
        tokens: [cls, ...enc.tokens, sep],
        truncated: enc.truncated,
        coveredLength: enc.coveredLength,
        alignmentIssues: enc.alignmentIssues,
      };
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
    const tokens: Token[] = [cls];
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
    tokens.push(sep);
    let covered = text.length;
    if (truncated) {
      covered = 0;
      for (const t of tokens) if (t.end > covered) covered = t.end;
    }
    return { tokens, truncated, coveredLength: covered, alignmentIssues: issues };
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

  /** `keepLogits`: also return the full [T × vocab] MLM logits (a run keeps only the top-k). */
  /** `stream`: each layer's record (and first the embedding) handed over as it is made, instead of collected. */
  private async forward(
    ids: readonly number[],
    topK: number,
    run?: Run,
    keepLogits = false,
    stream?: { embedding(rows: Float32Array): void; layer(l: number, rec: BlockRecord): void },
  ): Promise<ForwardResult> {
    const w = this.live();
    const cfg = this.config;
    const L = cfg.numLayers;
    const T = ids.length;
    if (T > cfg.maxPositions)
      throw new AttentionInputError('shape', `${T} tokens do not fit the ${cfg.maxPositions} positions of this model.`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize)
        throw new AttentionInputError(
          'shape',
          `Token id ${id} is outside the embedding table (vocab_size ${cfg.vocabSize}).`,
        );
    }
    const positions = this.positionIds(ids);
    const x0 = tf.tidy(() => {
      const sum = tf.add(
        embedTokens(ids, w.word, { positions: w.position, positionIds: positions }).x,
        w.type0,
      ) as tf.Tensor2D; // [T] → [T, D]
      return layerNorm(sum, w.embNorm.g, w.embNorm.b, cfg.eps);
    });
    const embedding = f32(x0);
    stream?.embedding(embedding);
    const { out: last, records: layers } = await runStack(
      x0,
      w.layers,
      bertBlock(cfg),
      {},
      {
        record: true,
        signal: run?.signal,
        progress: (l) => run?.progress(l / (L + 1), `Running layer ${l} (layers 0–${L - 1})`),
        ...(stream ? { onRecord: (l: number, rec: BlockRecord) => stream.layer(l, rec) } : {}),
      },
    );
    try {
      run?.checkCancelled();
      if (!w.mlm) return { embedding, layers };
      run?.progress(L / (L + 1), 'Masked-token predictions');
      const mlm = w.mlm;
      let result: ForwardResult = { embedding, layers };
      tf.tidy(() => {
        const h = layerNorm(activate(cfg.mlmActivation, dense(last, mlm.transform)), mlm.norm.g, mlm.norm.b, cfg.eps); // [T, D]
        const logits = tf.add(tf.matMul(h, mlm.decoderT), mlm.bias) as tf.Tensor2D; // [T, D] → [T, vocab]
        const top = topKRows(logits, Math.max(1, Math.min(topK, cfg.vocabSize)));
        result = {
          embedding,
          layers,
          mlmHidden: f32(h),
          ...(keepLogits ? { logits: f32(logits) } : {}),
          topP: top.p,
          topId: top.id,
        };
      });
      return result;
    } finally {
      last.dispose();
    }
  }

  /** MLM logits for every position of `ids` ([ids.length × vocab_size]), for tests and tools. */
  async logits(ids: readonly number[]): Promise<Float32Array | undefined> {
    return (await this.forward(ids, 1, undefined, true)).logits;
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const cfg = this.config;
    const label =
      cfg.positionOffset === 0
        ? 'positions (max_position_embeddings)'
        : `positions (max_position_embeddings ${cfg.positionTable} minus the ${cfg.positionOffset} rows before the first position, padding_idx + 1)`;
    const run = Run.begin(text, options, {
      limit: { positions: cfg.maxPositions, label },
      minTokens: 3,
      vocabSize: cfg.vocabSize,
    });
    run.progress(0, 'Tokenising');
    const enc = run.admit(this.tokenize(text, run.maxTokens), {
      truncatedWhy: () => `(including ${this.clsToken} and ${this.sepToken})`,
      alignment: (n) =>
        `${n} token${n === 1 ? '' : 's'} could not be matched exactly with the text; their editor positions are unknown.`,
      unknown: (n) =>
        `${n} word${n === 1 ? '' : 's'} could not be spelled with the vocabulary and became ${this.tokenizer.unkToken ?? '[UNK]'}.`,
    });
    const ids = enc.tokens.map((t) => t.id);
    // Streaming: the tokens and embedding, then each layer's stages as it finishes; the final trace reuses them.
    const onStages = options.onStages;
    const kit = this.kit(enc.tokens, run.topK);
    const made: Stage[][] = [];
    let head: Stage[] = [];
    const emit = (): void =>
      onStages?.({
        trace: run.partial({
          model: this.info,
          coveredLength: enc.coveredLength,
          tokens: enc.tokens,
          stages: [...head, ...made.flat()],
        }),
        layersDone: made.length,
        layers: this.config.numLayers,
      });
    const stream = onStages
      ? {
          embedding: (rows: Float32Array) => {
            head = this.headStages(kit, enc.tokens, rows);
            emit();
          },
          layer: (l: number, rec: BlockRecord) => {
            made[l] = this.layerStages(kit, rec, l);
            emit();
          },
        }
      : undefined;
    const out = await this.forward(ids, run.topK, run, false, stream);
    run.checkCancelled();
    const piece = (id: number): string => this.tokenizer.piece(id);
    return run.finish({
      model: this.info,
      coveredLength: enc.coveredLength,
      tokens: enc.tokens,
      stages: this.stages(kit, enc.tokens, out, stream ? { head, made } : undefined),
      ...(out.topId && out.topP
        ? { predictions: topKPredictions(out.topId, out.topP, ids.length, run.topK, piece) }
        : {}),
    });
  }

  /** What every stage shares: the lesson's context, the row helper, the attention info. */
  private kit(tokens: readonly Token[], topK: number): BertKit {
    const cfg = this.config;
    const T = tokens.length;
    const D = cfg.hiddenSize;
    const tok = { token: 'input' } as const;
    const attention: AttentionInfo = {
      queries: 'input',
      keys: 'input',
      causal: false,
      score: 'scaled-dot',
      normaliser: 'softmax',
    };
    const c: BertLessonContext = { config: cfg, T, topK, cls: this.clsToken, sep: this.sepToken };
    const rows = (name: string, data: Float32Array, description: string) =>
      tensor(name, [T, D], ['token', 'd_model'], data, { tokenAxes: tok, description });
    return { c, T, D, tok, attention, rows, topK };
  }

  /** The tokens and embedding stages. */
  private headStages(k: BertKit, tokens: readonly Token[], embedding: Float32Array): Stage[] {
    const { c, T, tok, rows } = k;
    return [
      {
        id: 'tokens',
        kind: 'tokens',
        ...bertLesson.tokens(c),
        tensors: [
          tensor(
            'ids',
            [T],
            ['token'],
            Float32Array.from(tokens, (t) => t.id),
            { tokenAxes: tok, description: 'Token ids' },
          ),
        ],
      },
      {
        id: 'embedding',
        kind: 'embedding',
        ...bertLesson.embedding(c),
        tensors: [rows('X', embedding, 'Input to layer 0')],
      },
    ];
  }

  /** Layer l's stages from its record: its attention block, its output. */
  private layerStages(k: BertKit, rec: BlockRecord, l: number): Stage[] {
    const cfg = this.config;
    const { c, T, D, attention, rows } = k;
    return [
      ...attentionStages({
        prefix: `L${l}`,
        layer: l,
        title: `Layer ${l}`,
        attention,
        heads: cfg.numHeads,
        headDim: cfg.headDim,
        dModel: D,
        queryCount: T,
        keyCount: T,
        record: rec.self,
        ...bertLesson.attention(c),
      }),
      {
        id: `L${l}.output`,
        kind: 'encoder-layer',
        layer: l,
        ...bertLesson.layerOutput(c, l),
        tensors: [
          rows('hidden', rec.output, 'Layer output'),
          rows('attention_hidden', rec.afterSelf, 'LayerNorm(x + attention): input to the feed-forward block'),
        ],
      },
    ];
  }

  /** The trace's stages; `streamed`: those a streamed run already made (the same objects go into the trace). */
  private stages(
    k: BertKit,
    tokens: readonly Token[],
    out: ForwardResult,
    streamed?: { head: Stage[]; made: Stage[][] },
  ): Stage[] {
    const { c, T, tok, rows, topK } = k;
    const stages: Stage[] = [...(streamed?.head ?? this.headStages(k, tokens, out.embedding))];
    for (const layer of streamed?.made ?? out.layers.map((rec, l) => this.layerStages(k, rec, l)))
      stages.push(...layer);
    if (out.mlmHidden && out.topP && out.topId) {
      stages.push({
        id: 'output',
        kind: 'output',
        ...bertLesson.output(c),
        tensors: [
          rows('hidden', out.mlmHidden, 'Transformed final vectors'),
          ...topKTensors(T, topK, out.topP, out.topId, tok, 'tokens'),
        ],
      });
    }
    return stages;
  }
}

interface BertKit {
  readonly c: BertLessonContext;
  readonly T: number;
  readonly D: number;
  readonly tok: { readonly token: 'input' };
  readonly attention: AttentionInfo;
  readonly rows: (name: string, data: Float32Array, description: string) => TensorData;
  readonly topK: number;
}

/** Loads a BERT / DistilBERT / RoBERTa / XLM-RoBERTa folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadBert(dir: string, options: LoadOptions = {}): Promise<BertModel> {
  return loadHfFolder(dir, options, {
    family: (c) => c.family,
    parseConfig: parseBertConfig,
    buildWeights: bertWeights,
    builtin: BUILTIN,
    describe: (c, builtin) =>
      builtin
        ? `A small BERT trained here with masked-language modelling on WordNet's definitions and example sentences: ` +
          `${c.numLayers} layers × ${c.numHeads} heads, d_model ${c.hiddenSize}, ${c.vocabSize}-entry WordPiece vocabulary.`
        : `${FAMILY_NAME[c.family]} encoder: ${c.numLayers} layers, ${c.numHeads} heads, d_model ${c.hiddenSize}.`,
    shape: (c) => ({ layers: c.numLayers, heads: c.numHeads, dModel: c.hiddenSize }),
    licence: (_dir, builtin) => (builtin ? 'Apache-2.0 (weights; trained on WordNet 3.0, WordNet licence)' : undefined),
    make: (c, tokenizer, weights, info) => new BertModel(c, tokenizer, weights, info),
  });
}

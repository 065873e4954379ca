// BART and mBART (BartForConditionalGeneration, MBartForConditionalGeneration) read from a Hugging
// Face folder: config.json, model.safetensors and the tokenizer (BART: byte-level BPE; mBART:
// SentencePiece Unigram in tokenizer.json). Encoder and decoder are configurations of the shared
// block (post-norm BART, pre-norm mBART); what is theirs is the embedding (× √d, learned positions
// at i + 2, layernorm_embedding), mBART's final norms, final_logits_bias and the source's special
// tokens: BART's <s> … </s>, mBART's … </s> <source language>.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../runtime/backend';
import { embedTokens, positionIds } from '../../transformer/embedding';
import { layerNorm } from '../../layers/norms';
import type { EncoderDecoderNet } from '../../transformer/encoderDecoder';
import { EncoderDecoderLm, type EncoderDecoderShape } from '../../transformer/encoderDecoderModel';
import type { EncoderDecoderWords } from '../../transformer/encoderDecoderStages';
import { loadHfFolder, type LoadOptions } from '../../transformer/load';
import type { HfTokenizer } from '../../tokenizers/hfTokenizer';
import type { PositionLimit } from '../../trace/run';
import { BART_POSITION_OFFSET, bartBlock, parseBartConfig, type BartConfig } from './config';
import { bartWeights, type BartWeights } from './weights';
import { bartWords } from './lesson';
import { AttentionInputError, type ModelInfo } from '../../../../shared/trace';

export { parseBartConfig, type BartConfig } from './config';

const LN_EPS = 1e-5;

export class BartModel extends EncoderDecoderLm<BartConfig, BartWeights> {
  protected readonly shape: EncoderDecoderShape;
  protected readonly limit: PositionLimit;
  protected readonly prefixIds: readonly number[];
  protected readonly suffixIds: readonly number[];
  private readonly blocks = { encoder: bartBlock(this.config, false), decoder: bartBlock(this.config, true) };

  constructor(
    config: BartConfig,
    tokenizer: HfTokenizer,
    weights: BartWeights,
    info: ModelInfo,
    sourceLanguage: number | undefined,
  ) {
    super(config, tokenizer, weights, info);
    const c = config;
    this.shape = {
      dModel: c.dModel,
      encoderHeads: c.encoderHeads,
      decoderHeads: c.decoderHeads,
      encoderHeadDim: c.dModel / c.encoderHeads,
      decoderHeadDim: c.dModel / c.decoderHeads,
      placement: c.family === 'mbart' ? 'pre' : 'post',
      score: 'scaled-dot',
    };
    this.limit = { positions: c.maxPositions, label: 'learned positions (max_position_embeddings)' };
    // BART: <s> text </s> (RobertaProcessing); mBART: text </s> src_lang.
    if (c.family === 'bart') {
      this.prefixIds = [c.bosId ?? 0];
      this.suffixIds = [c.eosId];
    } else {
      this.prefixIds = [];
      this.suffixIds = sourceLanguage === undefined ? [c.eosId] : [c.eosId, sourceLanguage];
    }
  }

  protected net(): EncoderDecoderNet {
    const w = this.live();
    const cfg = this.config;
    const scale = cfg.scaleEmbedding ? Math.sqrt(cfg.dModel) : 1;
    const side = (s: 'encoder' | 'decoder') => (s === 'encoder' ? w.encoder : w.decoder);
    const final = (s: 'encoder' | 'decoder') => {
      const n = side(s).finalNorm;
      return n
        ? { [s === 'encoder' ? 'encoderOut' : 'decoderOut']: (x: tf.Tensor2D) => layerNorm(x, n.g, n.b, LN_EPS) }
        : {};
    };
    return {
      encoder: { layers: w.encoder.layers, config: this.blocks.encoder },
      decoder: { layers: w.decoder.layers, config: this.blocks.decoder },
      embed: (s, ids) => {
        const { positions, embedNorm } = side(s);
        const x = embedTokens(ids, w.embed, {
          scale,
          positions,
          positionIds: positionIds(ids.length, BART_POSITION_OFFSET),
        }).x; // [n, D]
        return layerNorm(x, embedNorm.g, embedNorm.b, LN_EPS);
      },
      ...final('encoder'),
      ...final('decoder'),
      head: (y) => tf.add(tf.matMul(y, w.lmHeadT), w.logitsBias) as tf.Tensor2D, // [T, D] → [T, V]
    };
  }

  protected words(S: number, T: number, topK: number): EncoderDecoderWords {
    const cfg = this.config;
    const piece = (id: number): string => this.tokenizer.piece(id);
    const frame = [...this.prefixIds.map(piece), 't₁ … tₙ', ...this.suffixIds.map(piece)].join(' ');
    return bartWords({
      config: cfg,
      S,
      T,
      topK,
      eos: piece(cfg.eosId),
      start: piece(cfg.decoderStartId),
      sourceFrame: frame,
      ...(cfg.forcedBosId !== undefined ? { forcedBos: piece(cfg.forcedBosId) } : {}),
    });
  }
}

/** mBART's source language: tokenizer_config.json's src_lang, as one token of the vocabulary (read once, at load). */
function sourceLanguage(dir: string, tokenizer: HfTokenizer, cfg: BartConfig): number | undefined {
  if (cfg.family !== 'mbart') return undefined;
  const file = path.join(dir, 'tokenizer_config.json');
  if (!existsSync(file)) return undefined;
  let lang: unknown;
  try {
    lang = (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)['src_lang'];
  } catch (err) {
    throw new AttentionInputError('file', `Cannot read ${file}: ${(err as Error).message}`);
  }
  if (lang === undefined || lang === null) return undefined;
  const ids = typeof lang === 'string' ? tokenizer.encodeIds(lang, false) : [];
  if (ids.length !== 1)
    throw new AttentionInputError(
      'config',
      `${file}: src_lang ${JSON.stringify(lang)} is not one token of the vocabulary.`,
    );
  return ids[0];
}

/** Loads a BART or mBART folder: config.json, model.safetensors and its tokenizer. */
export function loadBart(dir: string, options: LoadOptions = {}): Promise<BartModel> {
  return loadHfFolder(dir, options, {
    family: (c) => c.family,
    parseConfig: parseBartConfig,
    buildWeights: bartWeights,
    describe: (c) =>
      `${c.family === 'mbart' ? 'mBART (pre-norm)' : 'BART (post-norm)'} encoder–decoder: ${c.encoderLayers}+${c.decoderLayers} layers, ${c.encoderHeads} heads, d_model ${c.dModel}; learned positions with offset 2.`,
    shape: (c) => ({ layers: Math.max(c.encoderLayers, c.decoderLayers), heads: c.encoderHeads, dModel: c.dModel }),
    make: (c, tokenizer, weights, info) =>
      new BartModel(c, tokenizer, weights, info, sourceLanguage(dir, tokenizer, c)),
  });
}

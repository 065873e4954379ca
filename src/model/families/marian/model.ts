// Encoder–decoder Transformers in the Hugging Face **Marian** layout (MarianMTModel: sinusoidal
// positions, post-norm layers, scaled embeddings, tied embeddings + final_logits_bias), read from a
// folder with config.json, model.safetensors and tokenizer.json. The built-in model is a
// character-level date normaliser trained here (models/dates-transformer): "Monday 23rd of
// November 2026" → "2026-11-23". Encoder and decoder are two configurations of the shared
// Transformer block (config.ts); weights.ts maps the tensors, lesson.ts holds the words; the run
// (encoder, greedy decoding, the decoder recorded over every output step) and the stages are the
// one encoder–decoder runner's (transformer/encoderDecoder*.ts), as for T5 and BART.
// What is Marian's own is here: √D-scaled embeddings, final_logits_bias and bad_words_ids decoding.
import * as path from 'node:path';
import { tf } from '../../runtime/backend';
import { findBuiltinDir } from '../../formats/hfFolder';
import { embedTokens } from '../../transformer/embedding';
import type { EncoderDecoderNet } from '../../transformer/encoderDecoder';
import { EncoderDecoderLm, type EncoderDecoderShape, type SourceTokens } from '../../transformer/encoderDecoderModel';
import type { EncoderDecoderWords } from '../../transformer/encoderDecoderStages';
import { loadHfFolder, type BuiltinIdentity, type LoadOptions } from '../../transformer/load';
import type { AdmitWords, PositionLimit } from '../../trace/run';
import { marianDecoderBlock, marianEncoderBlock, parseMarianConfig, type MarianConfig } from './config';
import { marianWeights, type MarianWeights } from './weights';
import { marianLesson, type MarianLessonContext } from './lesson';

export { parseMarianConfig, type MarianConfig } from './config';
export { sinusoidalPositions } from '../../layers/positions';

const BUILTIN: BuiltinIdentity = {
  folder: 'dates-transformer',
  id: 'dates-transformer',
  name: 'Date normaliser (Transformer)',
};
export const DATES_TRANSFORMER_DIR = path.join('models', BUILTIN.folder);

/** The folder of the built-in date-normalisation Transformer (walks up from `startDir`). */
export function builtinDatesTransformerDir(startDir: string = __dirname): string {
  return findBuiltinDir(DATES_TRANSFORMER_DIR, startDir);
}

export class EncoderDecoderModel extends EncoderDecoderLm<MarianConfig, MarianWeights> {
  protected readonly shape: EncoderDecoderShape = {
    dModel: this.config.dModel,
    encoderHeads: this.config.encoderHeads,
    decoderHeads: this.config.decoderHeads,
    encoderHeadDim: this.config.dModel / this.config.encoderHeads,
    decoderHeadDim: this.config.dModel / this.config.decoderHeads,
    placement: 'post',
    score: 'scaled-dot',
  };
  protected readonly limit: PositionLimit = {
    positions: this.config.maxPositions,
    label: 'positions (max_position_embeddings)',
  };
  protected readonly prefixIds: readonly number[] = [];
  protected readonly suffixIds: readonly number[] = [this.config.eosId];
  protected override readonly outputWhat = 'characters';
  private readonly blocks = { encoder: marianEncoderBlock(this.config), decoder: marianDecoderBlock(this.config) };

  protected net(): EncoderDecoderNet {
    const w = this.live();
    const scale = this.config.scaleEmbedding ? Math.sqrt(this.config.dModel) : 1;
    return {
      encoder: { layers: w.enc, config: this.blocks.encoder },
      decoder: { layers: w.dec, config: this.blocks.decoder },
      // √D·E[t] + PE[p]: [n] → [n, D]
      embed: (side, ids) => embedTokens(ids, w.embed, { scale, positions: side === 'encoder' ? w.encPos : w.decPos }).x,
      head: (y) => tf.add(tf.matMul(y, w.lmHeadT), w.logitsBias) as tf.Tensor2D, // [T, D] → [T, V]
    };
  }

  protected override runWords(): AdmitWords & { readonly emptyMessage?: string } {
    const eos = this.tokenizer.piece(this.config.eosId);
    return {
      emptyMessage: 'There is no text to run: select a date first.',
      truncatedWhy: () => `(including the end marker ${eos})`,
      unknown: (n) =>
        `${n} character${n === 1 ? '' : 's'} outside the vocabulary became ${this.tokenizer.unkToken ?? '<unk>'}.`,
      alignment: (n) => `${n} token(s) could not be matched with the text; their editor positions are approximate.`,
    };
  }

  protected override checkInput(src: SourceTokens, warnings: string[]): void {
    const n = src.tokens.length - 1;
    const trained = this.config.trainedMaxInput;
    if (trained !== undefined && n > trained)
      warnings.push(
        `The input has ${n} characters, more than the ${trained} this model saw in training; expect mistakes.`,
      );
  }

  protected words(S: number, T: number, topK: number): EncoderDecoderWords {
    const piece = (id: number): string => this.tokenizer.piece(id);
    const c: MarianLessonContext = {
      config: this.config,
      S,
      T,
      topK,
      eos: piece(this.config.eosId),
      start: piece(this.config.decoderStartId),
      unk: this.tokenizer.unkToken ?? '<unk>',
    };
    const L = marianLesson;
    return {
      tokens: L.tokens(c),
      embedding: L.embedding(c),
      encoderAttention: L.encoderAttention(c),
      encoderOutput: (l) => L.encoderOutput(c, l),
      decoderEmbedding: L.decoderEmbedding(c),
      decoderSelf: L.decoderSelf(c),
      decoderCross: L.decoderCross(c),
      decoderOutput: (l) => L.decoderOutput(c, l),
      output: L.output(c),
    };
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

// What every Hugging Face encoder–decoder model (T5, BART, mBART) shares: the source tokens with
// the family's special tokens around them, greedy generation, and run() through the one run
// skeleton, the one encoder–decoder runner and the one stage builder. A family gives its network,
// its special tokens, its shape and its words.
import type { tf } from '../runtime/backend';
import type { AttentionModel, RunOptions } from '../model';
import { Run, topKPredictions, type AdmitWords, type PositionLimit } from '../trace/run';
import { topKRows } from '../trace/stages';
import { LoadedModel } from './load';
import { decodeIn, encode, generate, recordedRun, type DecodingRules, type EncoderDecoderNet } from './encoderDecoder';
import { f32, readOut } from '../runtime/read';
import { encoderDecoderStages, type EncoderDecoderStageSpec, type EncoderDecoderWords } from './encoderDecoderStages';
import { AttentionInputError, type Token, type Trace } from '../../../shared/trace';

/** The numbers the stage builder needs besides the run's own. */
export type EncoderDecoderShape = Pick<
  EncoderDecoderStageSpec,
  'dModel' | 'encoderHeads' | 'decoderHeads' | 'encoderHeadDim' | 'decoderHeadDim' | 'placement' | 'score'
>;

export interface SourceTokens {
  readonly tokens: Token[];
  readonly ids: number[];
  readonly truncated: boolean;
  readonly coveredLength: number;
  readonly alignmentIssues: number;
}

export abstract class EncoderDecoderLm<C extends DecodingRules, W extends object>
  extends LoadedModel<C, W>
  implements AttentionModel
{
  /** The network over the live weights (throws after dispose). */
  protected abstract net(): EncoderDecoderNet;
  protected abstract readonly shape: EncoderDecoderShape;
  /** The longest input, when the model has one (learned positions). */
  protected abstract readonly limit: PositionLimit | undefined;
  /** Special tokens before and after the text's own (BART: <s> … </s>; T5: … </s>; mBART: … </s> en_XX). */
  protected abstract readonly prefixIds: readonly number[];
  protected abstract readonly suffixIds: readonly number[];
  protected abstract words(S: number, T: number, topK: number): EncoderDecoderWords;
  /** What the top-k predictions are called ('tokens'; Marian's date model: 'characters'). */
  protected readonly outputWhat: string = 'tokens';
  /** The family's own words for the run's messages (defaults: the run skeleton's). */
  protected runWords(): AdmitWords & { readonly emptyMessage?: string } {
    return {};
  }
  /** Warnings of the family's own about the admitted input. */
  protected checkInput(_src: SourceTokens, _warnings: string[]): void {}
  /** T5's bucket grids for the trace, [S, S] and [T, T]. */
  protected buckets(_S: number, _T: number): EncoderDecoderStageSpec['buckets'] {
    return undefined;
  }

  /** A token's spelling; rows past the tokenizer's vocabulary (t5's padding of vocab_size to 32128) have none. */
  private pieceOf(id: number): string {
    return id < this.tokenizer.vocabSize ? this.tokenizer.piece(id) : `<row ${id}: no token>`;
  }

  private special(id: number): Token {
    return { text: this.tokenizer.piece(id), id, start: -1, end: -1, special: true };
  }

  /** The text's tokens between the family's special tokens, at most `maxTokens` in all. */
  tokenize(text: string, maxTokens: number): SourceTokens {
    const extra = this.prefixIds.length + this.suffixIds.length;
    const enc = this.tokenizer.encode(text, { addBos: false, maxTokens: Math.max(0, maxTokens - extra) });
    const body: Token[] = enc.tokens.map((t) => ({
      text: t.text,
      id: t.id,
      start: t.start,
      end: t.end,
      ...(t.special ? { special: true } : {}),
      ...(t.unknown ? { unknown: true } : {}),
    }));
    const tokens = [
      ...this.prefixIds.map((id) => this.special(id)),
      ...body,
      ...this.suffixIds.map((id) => this.special(id)),
    ];
    return {
      tokens,
      ids: tokens.map((t) => t.id),
      truncated: enc.truncated,
      coveredLength: enc.coveredLength,
      alignmentIssues: enc.alignmentIssues,
    };
  }

  protected checkIds(ids: readonly number[]): void {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new AttentionInputError(
          'shape',
          `Input token id ${id} is outside the embedding table (vocab_size ${this.config.vocabSize}).`,
        );
      }
    }
  }

  /** Greedy output ids for source ids. */
  async generate(src: readonly number[], signal?: AbortSignal): Promise<number[]> {
    this.checkIds(src);
    return generate(this.net(), this.config, src, signal);
  }

  /** The decoder's logits [T, V] (row-major) over `decoderInput` for source ids `src`: what greedy decoding reads. */
  async logits(src: readonly number[], decoderInput: readonly number[], signal?: AbortSignal): Promise<Float32Array> {
    this.checkIds(src);
    this.checkIds(decoderInput);
    const net = this.net();
    const { memory } = await encode(net, src, false, signal);
    try {
      return readOut(() => f32(decodeIn(net, decoderInput, memory, false).logits));
    } finally {
      memory.dispose();
    }
  }

  /** The generated text (special tokens left out) for `text`. */
  async translate(text: string, signal?: AbortSignal): Promise<string> {
    const out = await this.generate(this.tokenize(text, this.limit?.positions ?? Infinity).ids, signal);
    return this.tokenizer.decode(out.filter((id) => id !== this.config.eosId));
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const cfg = this.config;
    const eos = this.tokenizer.piece(cfg.eosId);
    const { emptyMessage, ...admitWords } = this.runWords();
    const run = Run.begin(text, options, {
      ...(this.limit ? { limit: this.limit } : {}),
      minTokens: this.prefixIds.length + this.suffixIds.length + 1,
      vocabSize: cfg.vocabSize,
      ...(emptyMessage ? { emptyMessage } : {}),
    });
    run.progress(0, 'Tokenising');
    const ends = [...this.prefixIds, ...this.suffixIds].map((id) => this.tokenizer.piece(id)).join(' ');
    const src = run.admit(this.tokenize(text, run.maxTokens), {
      truncatedWhy: () => `(including ${ends})`,
      unkToken: this.tokenizer.unkToken ?? '<unk>',
      ...admitWords,
    });
    this.checkInput(src, run.warnings);
    this.checkIds(src.ids);
    const topK = run.topK;
    let top: { p: Float32Array; id: Int32Array } | undefined;
    const r = await recordedRun(this.net(), cfg, src.ids, (logits: tf.Tensor2D) => (top = topKRows(logits, topK)), {
      signal: run.signal,
      progress: (f, m) => run.progress(f, m),
    });
    run.checkCancelled();
    const outputTokens: Token[] = r.out.map((id) => ({
      text: this.pieceOf(id),
      id,
      start: -1,
      end: -1,
      ...(this.tokenizer.isSpecial(id) ? { special: true } : {}),
    }));
    if (r.out.at(-1) !== cfg.eosId)
      run.warnings.push(`The decoder stopped at max_length ${cfg.maxLength} without producing ${eos}.`);
    if (cfg.notFollowed?.length)
      run.warnings.push(
        `The output is greedy decoding (one beam, no length or repetition rules); config.json also asks for ${cfg.notFollowed.join(', ')}, so Hugging Face generate() may write something else.`,
      );
    const S = src.tokens.length;
    const T = outputTokens.length;
    const buckets = this.buckets(S, T);
    return run.finish({
      model: this.info,
      coveredLength: src.coveredLength,
      tokens: src.tokens,
      outputTokens,
      stages: encoderDecoderStages({
        ...this.shape,
        words: this.words(S, T, topK),
        tokens: src.tokens,
        outputTokens,
        encoded: r.encoded,
        decoded: r.decoded,
        ...(buckets ? { buckets } : {}),
        topK,
        topP: top!.p,
        topId: top!.id,
        outputWhat: this.outputWhat,
      }),
      predictions: topKPredictions(top!.id, top!.p, T, topK, (id) => this.pieceOf(id)),
    });
  }
}

// The one run skeleton every model's run() goes through: cancel and empty checks, maxTokens and
// topK clamped to what the model can do (with a warning naming the limit), the tokenizer's
// truncation / alignment / unknown-token warnings, top-k predictions and the Trace literal.
// A model supplies only its tokenizer, its forward pass and its stages.
import { backendLabel } from '../runtime/backend';
import { throwIfCancelled, type RunOptions } from '../model';
import {
  AttentionInputError,
  type ModelInfo,
  type Prediction,
  type Stage,
  type Token,
  type Trace,
} from '../../../shared/trace';

/** The longest input a model takes, and how its warnings name that limit. */
export interface PositionLimit {
  readonly positions: number;
  /** e.g. 'positions (max_position_embeddings)' or 'learned positions (n_positions)'. */
  readonly label: string;
}

export interface RunLimits {
  /** The model's own context; undefined when it has none (the toy model). */
  readonly limit?: PositionLimit;
  /** maxTokens when the caller gives none (defaults to limit.positions). */
  readonly defaultMaxTokens?: number;
  /** The smallest maxTokens that still leaves room for the text (2 when a BOS token is added). */
  readonly minTokens?: number;
  /** topK is clamped to [1, vocabSize]. */
  readonly vocabSize?: number;
  /** The message for a selection that is only whitespace. */
  readonly emptyMessage?: string;
}

/** What a tokenizer hands back: the tokens the model will see and how much of the text they cover. */
export interface AdmittedInput {
  readonly tokens: readonly Token[];
  readonly truncated: boolean;
  readonly coveredLength: number;
  readonly alignmentIssues?: number;
}

/** The family's own words for the tokenizer's warnings; each has a sensible default. */
export interface AdmitWords {
  /** Why the input stopped where it did: '(including the start token <s>)', '(maxTokens is 5)'. */
  readonly truncatedWhy?: (maxTokens: number, atModelLimit: boolean) => string;
  /** The warning for `n` unknown tokens (undefined: the default names `unkToken`). */
  readonly unknown?: (n: number) => string;
  readonly unkToken?: string;
  readonly alignment?: (n: number) => string;
  /** The message when the text produced no tokens. */
  readonly noTokens?: string;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export class Run {
  readonly started = performance.now();
  readonly warnings: string[] = [];
  /** Facts about the run, not problems: shown in the header, not as notifications. */
  readonly notes: string[] = [];
  readonly maxTokens: number;
  readonly topK: number;
  readonly signal: AbortSignal | undefined;
  readonly #onProgress: RunOptions['onProgress'];
  readonly #limit: PositionLimit | undefined;

  private constructor(
    readonly text: string,
    readonly options: RunOptions,
    limits: RunLimits,
  ) {
    this.signal = options.signal;
    this.#onProgress = options.onProgress;
    this.#limit = limits.limit;
    const P = limits.limit?.positions;
    const requested = options.maxTokens;
    let maxTokens =
      requested !== undefined && Number.isFinite(requested)
        ? Math.floor(requested)
        : (limits.defaultMaxTokens ?? P ?? 256);
    maxTokens = Math.max(limits.minTokens ?? 1, maxTokens);
    if (P !== undefined && maxTokens > P) {
      // The model's own context, not a problem with the text: stated, not warned about.
      this.notes.push(`maxTokens ${maxTokens} is more than this model's ${P} ${limits.limit!.label}; using ${P}.`);
      maxTokens = P;
    }
    this.maxTokens = maxTokens;
    const vocab = limits.vocabSize ?? Number.MAX_SAFE_INTEGER;
    this.topK = Math.max(1, Math.min(Math.floor(options.topK ?? 5), vocab));
  }

  /** Starts a run: throws for a cancelled signal or a blank text before any work is done. */
  static begin(text: string, options: RunOptions, limits: RunLimits = {}): Run {
    throwIfCancelled(options.signal);
    if (text.trim().length === 0)
      throw new AttentionInputError(
        'empty',
        limits.emptyMessage ?? 'There is no text to run: select some words first.',
      );
    return new Run(text, options, limits);
  }

  /** True when maxTokens was cut to the model's own limit (for the truncation warning's reason). */
  get atModelLimit(): boolean {
    return this.#limit !== undefined && this.maxTokens === this.#limit.positions;
  }

  progress(fraction: number, message: string): void {
    this.#onProgress?.(fraction, message);
  }

  checkCancelled(): void {
    throwIfCancelled(this.signal);
  }

  /** Records the tokenizer's warnings; throws when the text produced no tokens at all. */
  admit<T extends AdmittedInput>(input: T, words: AdmitWords = {}): T {
    if (input.tokens.length === 0)
      throw new AttentionInputError('empty', words.noTokens ?? 'The text produced no tokens.');
    if (input.truncated) {
      const why = words.truncatedWhy?.(this.maxTokens, this.atModelLimit) ?? '';
      this.warnings.push(
        `The input was truncated to ${this.maxTokens} tokens${why ? ` ${why}` : ''}; the model saw the first ${input.coveredLength} of ${this.text.length} characters.`,
      );
    }
    const issues = input.alignmentIssues ?? 0;
    if (issues > 0) {
      this.warnings.push(
        words.alignment?.(issues) ??
          `${plural(issues, 'token')} could not be matched exactly with the text; their editor positions are approximate.`,
      );
    }
    const unknown = input.tokens.filter((t) => t.unknown).length;
    if (unknown > 0)
      this.warnings.push(
        words.unknown?.(unknown) ??
          `${plural(unknown, 'token')} fell outside the vocabulary and became ${words.unkToken ?? '<unk>'}.`,
      );
    return input;
  }

  /** A streamed run's trace so far (RunOptions.onStages): the literal finish() will make, with the stages made so far. */
  partial(parts: {
    readonly model: ModelInfo;
    readonly coveredLength: number;
    readonly tokens: readonly Token[];
    readonly stages: readonly Stage[];
    readonly outputTokens?: readonly Token[];
  }): Trace {
    return {
      version: 1,
      model: parts.model,
      text: this.text.slice(0, parts.coveredLength),
      tokens: parts.tokens,
      ...(parts.outputTokens ? { outputTokens: parts.outputTokens } : {}),
      stages: parts.stages,
      warnings: [...this.warnings],
      ...(this.notes.length ? { notes: [...this.notes] } : {}),
      backend: backendLabel(),
      elapsedMs: performance.now() - this.started,
    };
  }

  /** The Trace literal; `text` is what the model saw (defaults to the covered prefix of the input). */
  finish(parts: {
    readonly model: ModelInfo;
    readonly coveredLength: number;
    readonly tokens: readonly Token[];
    readonly stages: readonly Stage[];
    readonly outputTokens?: readonly Token[];
    readonly predictions?: readonly Prediction[];
  }): Trace {
    this.checkCancelled();
    const nonFinite = nonFiniteWarning(parts.stages);
    if (nonFinite) this.warnings.push(nonFinite);
    this.progress(1, 'Done');
    return { ...this.partial(parts), ...(parts.predictions ? { predictions: parts.predictions } : {}) };
  }
}

/** Tensors where −∞ is meaningful: masks and masked scores (a blocked key). */
const MASKED = /mask|score/i;

/**
 * The first stage whose tensors hold NaN or ±Infinity (−∞ allowed in masks and masked scores), and
 * how many stages after it do too: one warning naming where the numbers stopped meaning anything.
 */
export function nonFiniteWarning(stages: readonly Stage[]): string | undefined {
  let first: { stage: Stage; tensor: string; nan: number; inf: number } | undefined;
  let later = 0;
  for (const stage of stages) {
    for (const t of stage.tensors) {
      let nan = 0;
      let inf = 0;
      const minusInfOk = MASKED.test(t.name);
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i]!;
        if (v !== v) nan++;
        else if (v === Infinity || (v === -Infinity && !minusInfOk)) inf++;
      }
      if (nan + inf === 0) continue;
      if (first) later++;
      else first = { stage, tensor: t.name, nan, inf };
      break;
    }
  }
  if (!first) return undefined;
  const what = [first.nan ? plural(first.nan, 'NaN value') : '', first.inf ? plural(first.inf, 'infinite value') : '']
    .filter(Boolean)
    .join(' and ');
  return (
    `Non-finite numbers: stage "${first.stage.title}" (${first.stage.id}) has ${what} in ${first.tensor}` +
    `${later ? `, and ${plural(later, 'later stage')} too` : ''}. From there on the numbers shown are not meaningful: the weights or an intermediate value overflowed float32.`
  );
}

/**
 * Predictions from row-major top-k arrays ([rows, k] ids and probabilities): row i predicts at
 * `positionOf(i)` (the token's own index by default, or a decoder step).
 */
export function topKPredictions(
  topId: ArrayLike<number>,
  topP: ArrayLike<number>,
  rows: number,
  k: number,
  piece: (id: number) => string,
  positionOf: (row: number) => number = (row) => row,
): Prediction[] {
  const out: Prediction[] = [];
  for (let i = 0; i < rows; i++) {
    const top = [];
    for (let r = 0; r < k; r++) {
      const id = topId[i * k + r]!;
      top.push({ id, text: piece(id), p: topP[i * k + r]! });
    }
    out.push({ position: positionOf(i), top });
  }
  return out;
}

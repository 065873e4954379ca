// Llama-family causal language models from a Hugging Face folder (config.json, model.safetensors,
// tokenizer.json): the built-in default is the real pretrained TinyStories-656K. A Llama is the
// shared Transformer block configured as pre-RMSNorm, RoPE, grouped-query attention and a SwiGLU MLP
// (config.ts), its tensor names (weights.ts) and its words (lesson.ts):
//   tokens → embedding → per layer: RMSNorm → Q,K,V (+RoPE) → scores → softmax weights → context
//   → MLP → … → final norm → next-token predictions.
// What is Llama's own is here: a BOS token always first, and decoding past the context keeps it.
import * as path from 'node:path';
import { findBuiltinDir } from '../../formats/hfFolder';
import { appendedText, CausalLm, type CausalLmLesson, type CausalLmWeights } from '../../transformer/causalLm';
import { detectLicence, loadHfFolder, type BuiltinIdentity, type LoadOptions } from '../../transformer/load';
import type { HfToken, HfTokenizer } from '../../tokenizers/hfTokenizer';
import {
  LLAMA_LAYOUT,
  llamaBlock,
  llamaLayers,
  parseLlamaConfig,
  type LlamaConfig,
  type RopeDecoderLayout,
} from './config';
import { llamaWeights } from './weights';
import { llamaLesson } from './lesson';
import { AttentionInputError, type ModelInfo } from '../../../../shared/trace';

export { parseLlamaConfig, type LlamaConfig } from './config';

const BUILTIN: BuiltinIdentity = { folder: 'tinystories-656k', id: 'tinystories-656k', name: 'TinyStories-656K' };

/**
 * The folder of the built-in TinyStories-656K weights: `models/tinystories-656k` in the repo or
 * beside the bundle. Walks up from `startDir` (dist/ when bundled, src/model/ from source).
 */
export function builtinTinyStoriesDir(startDir: string = __dirname): string {
  return findBuiltinDir(path.join('models', BUILTIN.folder), startDir);
}

/** A model in the Llama layout (Llama itself, Qwen2). */
export class LlamaModel extends CausalLm<LlamaConfig> {
  /** The start token every input begins with, when the layout has one. */
  private readonly bosId: number | undefined;

  constructor(
    given: LlamaConfig,
    tokenizer: HfTokenizer,
    weights: CausalLmWeights,
    info: ModelInfo,
    lesson: CausalLmLesson<LlamaConfig> = llamaLesson,
  ) {
    // Llama 3, SmolLM2: a start token exactly when the tokenizer adds one (TinyStories' add_bos_token: true).
    const config = given.startTokenFromTokenizer
      ? { ...given, startToken: tokenizer.addBosDefault && tokenizer.bosId !== undefined }
      : given;
    const P = config.maxPositions;
    const perLayer = llamaLayers(config);
    const bos = config.startToken ? (config.bosId ?? tokenizer.bosId) : undefined;
    if (config.startToken && bos === undefined)
      throw new AttentionInputError('config', 'Neither config.json nor the tokenizer names a BOS token.');
    const why = (maxTokens: number, atLimit: boolean): string =>
      bos !== undefined
        ? `(including the start token ${tokenizer.piece(bos)})`
        : atLimit
          ? `(this model has ${P} positions, max_position_embeddings)`
          : `(maxTokens is ${maxTokens})`;
    super(
      config,
      {
        block: llamaBlock(config),
        ...(perLayer ? { perLayer } : {}),
        layers: config.numLayers,
        vocabSize: config.vocabSize,
        limit: { positions: P, label: 'positions (max_position_embeddings)' },
        positions: { kind: 'rope' },
        minTokens: bos !== undefined ? 2 : 1,
        eosId: config.eosId,
        score: 'scaled-dot',
        groupedQuery: true,
        words: { truncatedWhy: why, unkToken: tokenizer.unkToken ?? '<unk>' },
      },
      lesson,
      tokenizer,
      weights,
      info,
    );
    this.bosId = bos;
  }

  /** BOS (when the layout has one) + the text's tokens, truncated to `maxTokens` in all. */
  tokenize(
    text: string,
    maxTokens: number,
  ): { tokens: readonly HfToken[]; truncated: boolean; coveredLength: number; alignmentIssues: number } {
    if (this.bosId === undefined) return this.tokenizer.encode(text, { maxTokens });
    return encodeAfterStart(this.tokenizer, this.bosId, text, maxTokens);
  }

  /** Past max_position_embeddings the oldest tokens slide out, but BOS stays first. */
  protected window(seq: number[]): number[] {
    return slidingContext(seq, this.config.maxPositions, this.bosId !== undefined);
  }
}

/** The start token, then the text's tokens, `maxTokens` in all (the start token included). */
export function encodeAfterStart(
  tokenizer: HfTokenizer,
  startId: number,
  text: string,
  maxTokens: number,
): { tokens: readonly HfToken[]; truncated: boolean; coveredLength: number; alignmentIssues: number } {
  const enc = tokenizer.encode(text, { addBos: false, maxTokens: maxTokens - 1 });
  const piece = tokenizer.piece(startId);
  const start: HfToken = { text: piece, piece, id: startId, start: -1, end: -1, special: true };
  return {
    tokens: [start, ...enc.tokens],
    truncated: enc.truncated,
    coveredLength: enc.coveredLength,
    alignmentIssues: enc.alignmentIssues,
  };
}

/** The last `positions` ids of a growing sequence; with `keepStart`, the start token stays first. */
export function slidingContext(seq: number[], positions: number, keepStart: boolean): number[] {
  if (seq.length <= positions) return seq;
  return keepStart ? [seq[0]!, ...seq.slice(seq.length - positions + 1)] : seq.slice(-positions);
}

/** Loads a folder in the Llama layout: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadRopeDecoder(
  dir: string,
  options: LoadOptions,
  layout: RopeDecoderLayout,
  parseConfig: (raw: unknown, where: string) => LlamaConfig,
  lesson: CausalLmLesson<LlamaConfig>,
  builtin?: BuiltinIdentity,
): Promise<LlamaModel> {
  return loadHfFolder(dir, options, {
    family: () => layout.modelType,
    parseConfig,
    buildWeights: llamaWeights,
    ...(builtin ? { builtin } : {}),
    describe: (c, isBuiltin) =>
      isBuiltin
        ? 'A real pretrained Llama-architecture language model trained on TinyStories (raincandy-u/TinyStories-656K): ' +
          `${c.numLayers} layers, ${c.numHeads} query heads sharing ${c.numKvHeads} key/value heads, RoPE, SwiGLU.`
        : `${layout.name} causal LM: ${c.numLayers} layers, ${c.numHeads} query heads, ${c.numKvHeads} key/value heads, d_model ${c.hiddenSize}.`,
    shape: (c) => ({ layers: c.numLayers, heads: c.numHeads, kvHeads: c.numKvHeads, dModel: c.hiddenSize }),
    licence: (d) => detectLicence(d),
    make: (c, tokenizer, weights, info) => new LlamaModel(c, tokenizer, weights, info, lesson),
  });
}

/** Loads a Llama model folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadLlama(dir: string, options: LoadOptions = {}): Promise<LlamaModel> {
  return loadRopeDecoder(dir, options, LLAMA_LAYOUT, parseLlamaConfig, llamaLesson, BUILTIN);
}

/** Greedy continuation of `text` by `n` tokens (fewer if the model ends the story); returns only the new text. */
export async function greedyContinue(
  model: LlamaModel,
  text: string,
  n: number,
  signal?: AbortSignal,
): Promise<string> {
  if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to continue.');
  const enc = model.tokenize(text, model.config.maxPositions);
  const ids = enc.tokens.map((t) => t.id);
  return appendedText(model.tokenizer, ids, await model.generate(ids, n, signal));
}

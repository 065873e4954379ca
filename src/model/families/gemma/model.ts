// Gemma-family causal language models (Gemma, Gemma 2, Gemma 3 text) from a Hugging Face folder:
// the shared causal LM with Gemma's per-layer blocks (config.ts), tensor names (weights.ts) and words
// (lesson.ts). What is Gemma's own is here: <bos> always first (and kept when decoding slides past
// the context), embeddings × √d_model, soft-capped final logits.
import { CausalLm, type CausalLmWeights } from '../../transformer/causalLm';
import { detectLicence, loadHfFolder, type LoadOptions } from '../../transformer/load';
import type { HfToken, HfTokenizer } from '../../tokenizers/hfTokenizer';
import { gemmaBlocks, GEMMA_LAYOUT, parseGemmaFamilyConfig, type GemmaConfig, type GemmaLayout } from './config';
import { gemmaWeights } from './weights';
import { encodeAfterStart, slidingContext } from '../llama/model';
import { gemmaLesson } from './lesson';
import { AttentionInputError, type ModelInfo } from '../../../../shared/trace';

export { parseGemmaConfig, type GemmaConfig } from './config';

export class GemmaModel extends CausalLm<GemmaConfig> {
  private readonly bosId: number;

  constructor(config: GemmaConfig, tokenizer: HfTokenizer, weights: CausalLmWeights, info: ModelInfo) {
    const bos = config.bosId ?? tokenizer.bosId;
    if (bos === undefined)
      throw new AttentionInputError(
        'config',
        'Neither config.json (bos_token_id) nor the tokenizer names the <bos> token every Gemma input starts with.',
      );
    const blocks = gemmaBlocks(config);
    super(
      config,
      {
        block: blocks[0]!,
        perLayer: blocks,
        layers: config.numLayers,
        vocabSize: config.vocabSize,
        limit: { positions: config.maxPositions, label: 'positions (max_position_embeddings)' },
        positions: { kind: 'rope' },
        minTokens: 2,
        eosId: config.eosId,
        score: 'scaled-dot',
        groupedQuery: true,
        words: {
          truncatedWhy: () => `(including the start token ${tokenizer.piece(bos)})`,
          unkToken: tokenizer.unkToken ?? '<unk>',
        },
        embedScale: config.embedScale,
        ...(config.finalSoftCap !== undefined ? { finalSoftCap: config.finalSoftCap } : {}),
      },
      gemmaLesson,
      tokenizer,
      weights,
      info,
    );
    this.bosId = bos;
  }

  /** <bos> + the text's tokens, truncated to `maxTokens` in all. */
  tokenize(
    text: string,
    maxTokens: number,
  ): { tokens: readonly HfToken[]; truncated: boolean; coveredLength: number; alignmentIssues: number } {
    return encodeAfterStart(this.tokenizer, this.bosId, text, maxTokens);
  }

  /** Past max_position_embeddings the oldest tokens slide out, but <bos> stays first. */
  protected window(seq: number[]): number[] {
    return slidingContext(seq, this.config.maxPositions, true);
  }
}

/** Loads a folder of one Gemma generation: config.json, model.safetensors (or shards), tokenizer.json. */
export function loadGemmaFamily(dir: string, options: LoadOptions, layout: GemmaLayout): Promise<GemmaModel> {
  return loadHfFolder(dir, options, {
    family: () => layout.modelType,
    parseConfig: (raw, where) => parseGemmaFamilyConfig(raw, where, layout),
    buildWeights: gemmaWeights,
    describe: (c) => {
      const local = c.layerTypes.filter((t) => t === 'sliding_attention').length;
      return (
        `${c.name} causal LM: ${c.numLayers} layers${local ? ` (${local} local with a ${c.slidingWindow}-token window, ${c.numLayers - local} global)` : ''}, ` +
        `${c.numHeads} query heads, ${c.numKvHeads} key/value head${c.numKvHeads > 1 ? 's' : ''} of ${c.headDim}, d_model ${c.hiddenSize}.`
      );
    },
    shape: (c) => ({ layers: c.numLayers, heads: c.numHeads, kvHeads: c.numKvHeads, dModel: c.hiddenSize }),
    licence: (d) => detectLicence(d),
    make: (c, tokenizer, weights, info) => new GemmaModel(c, tokenizer, weights, info),
  });
}

/** Loads a Gemma folder (model_type "gemma"). */
export function loadGemma(dir: string, options: LoadOptions = {}): Promise<GemmaModel> {
  return loadGemmaFamily(dir, options, GEMMA_LAYOUT);
}

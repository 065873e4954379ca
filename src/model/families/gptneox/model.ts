// GPT-NeoX / Pythia causal language models from a Hugging Face folder: the shared causal LM with
// NeoX's config (config.ts), its fused query_key_value split at load (weights.ts) and its words
// (lesson.ts). What is its own here: the tokenizer decides about start tokens, and decoding past
// max_position_embeddings slides the window.
import { CausalLm, type CausalLmWeights } from '../../transformer/causalLm';
import { loadHfFolder, type LoadOptions } from '../../transformer/load';
import type { HfEncoding, HfTokenizer } from '../../tokenizers/hfTokenizer';
import { neoxBlock, parseNeoxConfig, type NeoxConfig } from './config';
import { neoxWeights } from './weights';
import { neoxLesson } from './lesson';
import type { ModelInfo } from '../../../../shared/trace';

export { parseNeoxConfig, type NeoxConfig } from './config';

export class NeoxModel extends CausalLm<NeoxConfig> {
  constructor(config: NeoxConfig, tokenizer: HfTokenizer, weights: CausalLmWeights, info: ModelInfo) {
    const P = config.maxPositions;
    super(
      config,
      {
        block: neoxBlock(config),
        layers: config.numLayers,
        vocabSize: config.vocabSize,
        limit: { positions: P, label: 'positions (max_position_embeddings)' },
        positions: { kind: 'rope' },
        minTokens: 1,
        eosId: config.eosId ?? tokenizer.eosId,
        score: 'scaled-dot',
        groupedQuery: false,
        words: {
          truncatedWhy: (maxTokens, atLimit) =>
            atLimit ? `(this model has ${P} positions, max_position_embeddings)` : `(maxTokens is ${maxTokens})`,
          unkToken: tokenizer.unkToken ?? '<unk>',
        },
      },
      neoxLesson,
      tokenizer,
      weights,
      info,
    );
  }

  /** The text's tokens (a start token only if the tokenizer adds one), at most `maxTokens`. */
  tokenize(text: string, maxTokens: number): HfEncoding {
    return this.tokenizer.encode(text, { maxTokens });
  }

  protected window(seq: number[]): number[] {
    return seq.slice(-this.config.maxPositions);
  }
}

/** Loads a GPT-NeoX / Pythia folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadGptNeox(dir: string, options: LoadOptions = {}): Promise<NeoxModel> {
  return loadHfFolder(dir, options, {
    family: () => 'gpt_neox',
    parseConfig: parseNeoxConfig,
    buildWeights: neoxWeights,
    describe: (c) =>
      `GPT-NeoX causal LM: ${c.numLayers} layers, ${c.numHeads} heads, d_model ${c.hiddenSize}, rotary on ${c.rotaryDim} of ${c.headDim} head dims` +
      (c.parallelResidual ? ', attention and MLP in parallel.' : '.'),
    shape: (c) => ({ layers: c.numLayers, heads: c.numHeads, dModel: c.hiddenSize }),
    make: (c, tokenizer, weights, info) => new NeoxModel(c, tokenizer, weights, info),
  });
}

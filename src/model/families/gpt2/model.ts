// GPT-2-family causal language models from a Hugging Face folder (config.json, model.safetensors,
// tokenizer.json), in the layout GPT2Model / GPT2LMHeadModel save. A GPT-2 is the shared Transformer
// block configured as pre-LayerNorm with learned positions and a plain MLP (config.ts), its Conv1D
// tensors (weights.ts) and its words (lesson.ts):
//   tokens → token + position embedding → per layer: LayerNorm → Q, K, V (split from c_attn) →
//   scaled scores (causal mask) → softmax weights → context → residual → LayerNorm → MLP →
//   residual → … → final LayerNorm → next-token predictions.
// What is GPT-2's own: the tokenizer decides about start tokens, and decoding slides its window.
import { appendedText, CausalLm, type CausalLmWeights } from '../../transformer/causalLm';
import { loadHfFolder, type LoadOptions } from '../../transformer/load';
import type { HfEncoding, HfTokenizer } from '../../tokenizers/hfTokenizer';
import { gpt2Block, parseGpt2Config, type Gpt2Config } from './config';
import { gpt2Weights } from './weights';
import { gpt2Lesson } from './lesson';
import { AttentionInputError, type ModelInfo } from '../../../../shared/trace';

export { parseGpt2Config, type Gpt2Config } from './config';

export class Gpt2Model extends CausalLm<Gpt2Config> {
  constructor(config: Gpt2Config, tokenizer: HfTokenizer, weights: CausalLmWeights, info: ModelInfo) {
    const P = config.maxPositions;
    super(
      config,
      {
        block: gpt2Block(config),
        layers: config.numLayers,
        vocabSize: config.vocabSize,
        limit: { positions: P, label: 'learned positions (n_positions)' },
        positions: { kind: 'learned', offset: 0 },
        minTokens: 1,
        eosId: config.eosId ?? tokenizer.eosId,
        score: config.scaleAttnWeights ? 'scaled-dot' : 'dot',
        groupedQuery: false,
        words: {
          truncatedWhy: (maxTokens, atLimit) =>
            atLimit ? `(this model has ${P} learned positions (n_positions))` : `(maxTokens is ${maxTokens})`,
          unkToken: tokenizer.unkToken ?? '<unk>',
        },
      },
      gpt2Lesson,
      tokenizer,
      weights,
      info,
    );
  }

  /** The text's byte-level BPE tokens (plus a start token only if the tokenizer adds one), at most `maxTokens`. */
  tokenize(text: string, maxTokens: number): HfEncoding {
    return this.tokenizer.encode(text, { maxTokens });
  }

  /** When the context outgrows n_positions, the oldest tokens slide out of it. */
  protected window(seq: number[]): number[] {
    return seq.slice(-this.config.maxPositions);
  }

  /** Greedy continuation of `text` by up to `n` tokens; returns only the new text. */
  async continueText(text: string, n: number, signal?: AbortSignal): Promise<string> {
    if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to continue.');
    const ids = this.tokenizer.encodeIds(text);
    return appendedText(this.tokenizer, ids, await this.generate(ids, n, signal));
  }
}

/** Loads a GPT-2 model folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json). */
export function loadGpt2(dir: string, options: LoadOptions = {}): Promise<Gpt2Model> {
  return loadHfFolder(dir, options, {
    family: () => 'gpt2',
    parseConfig: parseGpt2Config,
    buildWeights: gpt2Weights,
    describe: (c) =>
      `GPT-2 causal LM: ${c.numLayers} layers, ${c.numHeads} heads, d_model ${c.hiddenSize}, ${c.maxPositions} learned positions.`,
    shape: (c) => ({ layers: c.numLayers, heads: c.numHeads, dModel: c.hiddenSize }),
    make: (c, tokenizer, weights, info) => new Gpt2Model(c, tokenizer, weights, info),
  });
}

// What the panel says at each stage of a BART / mBART trace: titles, formulas and explanations,
// apart from the numbers.
import { ACTIVATION_FORMULA } from '../../layers/activations';
import type { AttentionWords } from '../../trace/stages';
import type { EncoderDecoderWords, Words } from '../../transformer/encoderDecoderStages';
import type { BartConfig } from './config';

export interface BartLessonContext {
  readonly config: BartConfig;
  readonly S: number;
  readonly T: number;
  readonly topK: number;
  readonly eos: string;
  readonly start: string;
  /** The text of the forced first token (BART's <s>, mBART's target language), if any. */
  readonly forcedBos?: string;
  /** The source's special tokens, as they appear: '<s> … </s>' or '… </s> en_XX'. */
  readonly sourceFrame: string;
}

const name = (cfg: BartConfig): string => (cfg.family === 'mbart' ? 'mBART' : 'BART');

export function bartWords(c: BartLessonContext): EncoderDecoderWords {
  const { config: cfg, S, T, topK, eos, start } = c;
  const D = cfg.dModel;
  const pre = cfg.family === 'mbart';
  const scale = cfg.scaleEmbedding ? `√${D}·` : '';
  const embedding = (side: 'encoder' | 'decoder'): string =>
    `Each token picks its row of the shared embedding matrix E${cfg.scaleEmbedding ? `, multiplied by √${D} (scale_embedding)` : ''}, and a learned position vector is added: ` +
    `position i reads row i + 2 of the ${side}'s ${cfg.maxPositions + 2}-row table (the first two rows are an offset kept from fairseq). ` +
    'The sum is layer-normalised (layernorm_embedding) before the first layer.';
  const attn = (heads: number): Pick<AttentionWords, 'qkvText'> => ({
    qkvText: `Each vector is projected to a query, a key and a value (learned matrices with biases)${pre ? ' after a layer norm' : ''}, split into ${heads} heads of ${D / heads}.`,
  });
  const ffn = (F: number): string =>
    `fc₂(${cfg.activation}(fc₁ h))  (${D} → ${F} → ${D}, ${ACTIVATION_FORMULA[cfg.activation]})`;
  const layer = (side: 'encoder' | 'decoder', l: number): Words => {
    const F = side === 'encoder' ? cfg.encoderFfn : cfg.decoderFfn;
    const title = `${side === 'encoder' ? 'Encoder' : 'Decoder'} layer ${l}: ${pre ? 'pre-norm residual sums' : 'add & norm'}`;
    if (side === 'encoder') {
      return pre
        ? {
            title,
            formula: `x₁ = x + attn(LN x);  x′ = x₁ + ${ffn(F)},  h = LN x₁`,
            explanation:
              'mBART normalises before each sub-block ("pre-norm") and adds its output to the stream it read from.',
          }
        : {
            title,
            formula: `h = LN(x + attn(x));  x′ = LN(h + ${ffn(F)})`,
            explanation:
              'BART normalises after each sub-block ("post-norm"): each sub-block\'s output is added to its input and layer-normalised.',
          };
    }
    return pre
      ? {
          title,
          formula: `h₁ = y + self(LN y);  h₂ = h₁ + cross(LN h₁, m);  y′ = h₂ + ${ffn(F)},  h = LN h₂`,
          explanation:
            'Pre-norm: each of the three sub-blocks reads a layer-normalised copy of the stream and adds to it.',
        }
      : {
          title,
          formula: `h₁ = LN(y + self(y));  h₂ = LN(h₁ + cross(h₁, m));  y′ = LN(h₂ + ${ffn(F)})`,
          explanation:
            'Post-norm: after self-attention, after cross-attention and after the feed-forward network, the sum is layer-normalised.',
        };
  };
  const forced =
    c.forcedBos !== undefined ? ` The first generated token is forced to ${c.forcedBos} (forced_bos_token_id).` : '';
  const forcedEos =
    cfg.forcedEosId !== undefined
      ? ` If max_length is reached, the last token is forced to ${eos} (forced_eos_token_id).`
      : '';
  return {
    tokens: {
      title: `Tokens: ${name(cfg)}'s vocabulary`,
      formula: `text → ${c.sourceFrame}`,
      explanation: `The text becomes pieces of a ${cfg.vocabSize}-token vocabulary, framed by the special tokens ${name(cfg)} was trained with (${c.sourceFrame}).`,
    },
    embedding: {
      title: 'Encoder embeddings + learned positions',
      formula: `X[i] = LN(${scale}E[tᵢ] + P[i + 2])`,
      explanation: embedding('encoder'),
    },
    encoderAttention: {
      ...attn(cfg.encoderHeads),
      scoresText: `Query–key dot products divided by √${D / cfg.encoderHeads}. The encoder has no mask: each token sees the whole input.`,
      weightsText: `Softmax over each row: positive weights summing to 1 over all ${S} input tokens.`,
      contextText: `Each head averages the value vectors with its weights; the ${cfg.encoderHeads} heads are concatenated and projected back to ${D} dimensions.`,
    },
    encoderOutput: (l) => layer('encoder', l),
    ...(pre
      ? {
          encoderFinal: {
            title: 'Encoder output: final layer norm',
            formula: 'm = LN(x_L)',
            explanation:
              "mBART layer-normalises the last encoder layer's output; this memory is what cross-attention reads.",
          },
        }
      : {}),
    decoderEmbedding: {
      title: 'Decoder inputs: start token + the output so far',
      formula: `Y[i] = LN(${scale}E[y_{i−1}] + P[i + 2]),  y₋₁ = ${start}`,
      explanation:
        `The decoder writes one token per step; step i reads the token written at step i − 1, and step 0 reads ${start} (decoder_start_token_id). ` +
        `${embedding('decoder')} All ${T} steps are recomputed together from the model's own greedy output.`,
    },
    decoderSelf: {
      ...attn(cfg.decoderHeads),
      weightsFormula: 'α = softmax(S + M),  M = 0 (earlier or same step) or −∞ (later step)',
      scoresText: `Dot products divided by √${D / cfg.decoderHeads}. The mask shows which pairs are allowed: a step sees itself and earlier steps only.`,
      weightsText:
        'Masked scores become −∞ before softmax, so later steps get exactly 0 weight; each row still sums to 1.',
      contextText: "Weighted sums of the earlier steps' values, heads concatenated and projected back.",
    },
    decoderCross: {
      qkvFormula: `Q = h W_Q + b_Q (decoder),  K = m W_K + b_K,  V = m W_V + b_V  (m = encoder output)`,
      qkvText:
        "Queries come from the decoder (one per output step); keys and values from the encoder's output, one per input token.",
      scoresText: `Each output step's query against every input token's key, divided by √${D / cfg.decoderHeads}. Nothing is masked.`,
      weightsText: 'Softmax over the input tokens: where each output step looks in the input.',
      contextText:
        "Each head blends the input tokens' values by its weights; the heads are concatenated and projected back.",
    },
    decoderOutput: (l) => layer('decoder', l),
    ...(pre
      ? {
          decoderFinal: {
            title: 'Decoder output: final layer norm',
            formula: 'z = LN(y_L)',
            explanation: "mBART layer-normalises the last decoder layer's output before the output head.",
          },
        }
      : {}),
    output: {
      title: 'Output: next token at every step',
      formula: `p(y_i | y_<i, x) = softmax(${pre ? 'zᵢ' : 'y′ᵢ'} Eᵀ + b)`,
      explanation:
        `Each step's final vector is compared with every row of the embedding matrix E plus final_logits_bias b; softmax gives a probability per token. ` +
        `Greedy decoding takes the most likely one and feeds it back, stopping at ${eos} or after ${cfg.maxLength - 1} tokens (max_length ${cfg.maxLength}).${forced}${forcedEos} Shown: the ${topK} most likely tokens per step.`,
    },
  };
}

// What the panel says at each stage of a Marian encoder–decoder: titles, formulas and
// explanations, apart from the numbers.
import { ACTIVATION_FORMULA } from '../../layers/activations';
import type { AttentionWords } from '../../trace/stages';
import type { MarianConfig } from './config';

export interface MarianLessonContext {
  readonly config: MarianConfig;
  /** Input tokens and output steps. */
  readonly S: number;
  readonly T: number;
  readonly topK: number;
  readonly eos: string;
  readonly start: string;
  readonly unk: string;
}

interface Words {
  readonly title: string;
  readonly formula: string;
  readonly explanation: string;
}

const ffnText = (cfg: MarianConfig, F: number): string =>
  `then every position on its own goes through a feed-forward network (${cfg.dModel} → ${F} → ${cfg.dModel}, ${ACTIVATION_FORMULA[cfg.activation]}), added and normalised again.`;
const scaleOf = (cfg: MarianConfig): string => (cfg.scaleEmbedding ? `√${cfg.dModel}·` : '');

export const marianLesson = {
  tokens: ({ config: cfg, eos, unk }: MarianLessonContext): Words => ({
    title: 'Tokens: one per character',
    formula: `text → c₁ c₂ … cₙ ${eos}`,
    explanation:
      `This model reads characters, not words: every character of the text (spaces and punctuation included) is one token from a ` +
      `${cfg.vocabSize}-symbol vocabulary, and ${eos} marks the end of the input. Characters it never saw in training become ` +
      `${unk}. The output is written one character at a time too.`,
  }),

  embedding: ({ config: cfg }: MarianLessonContext): Words => {
    const D = cfg.dModel;
    return {
      title: 'Encoder embeddings + sinusoidal positions',
      formula: `X[p] = ${scaleOf(cfg)}E[c_p] + PE[p],  PE[p] = [sin(p·ωᵢ) …, cos(p·ωᵢ) …],  ωᵢ = 10000^(−2i/${D})`,
      explanation:
        `Each character picks a row of the embedding matrix E${cfg.scaleEmbedding ? `, multiplied by √${D} so it is not drowned by the position signal` : ''}. ` +
        `Attention by itself ignores order, so a fixed (not learned) position vector is added: the first half of its ${D} numbers are sines and ` +
        `the second half cosines of the position at ${D / 2} frequencies, from one cycle every 2π characters down to very slow ones. ` +
        `Nearby positions get similar vectors, and a shift by k positions is the same rotation everywhere.`,
    };
  },

  encoderAttention: ({ config: cfg, S }: MarianLessonContext): AttentionWords => {
    const { dModel: D, encoderHeads: He } = cfg;
    return {
      qkvText:
        `Each input character's ${D}-vector is projected to a query, a key and a value (learned matrices with biases), split into ${He} heads ` +
        `of ${D / He}. In the encoder every character attends to every other one: this is how a digit learns whether it belongs to a day, ` +
        `a month or a year, from the characters around it.`,
      scoresText: `Query–key dot products divided by √${D / He}. The encoder has no mask: each character sees the whole input, before and after it.`,
      weightsText: `Softmax over each row: positive weights summing to 1 over all ${S} input tokens.`,
      contextText: `Each head averages the value vectors with its weights; the ${He} heads are concatenated and projected back to ${D} dimensions.`,
    };
  },

  encoderOutput: ({ config: cfg }: MarianLessonContext, l: number): Words => ({
    title: `Encoder layer ${l}: add & norm, feed-forward, add & norm`,
    formula: `h = LN(x + attn);  x' = LN(h + fc₂(${cfg.activation}(fc₁ h)))`,
    explanation:
      `Marian normalises after each sub-block ("post-norm"): attention's output is added to the input and layer-normalised, ${ffnText(cfg, cfg.encoderFfn)}` +
      (l === cfg.encoderLayers - 1
        ? " The last layer's output is the memory the decoder's cross-attention reads."
        : ''),
  }),

  decoderEmbedding: ({ config: cfg, T, start }: MarianLessonContext): Words => ({
    title: 'Decoder inputs: start token + the output so far',
    formula: `Y[i] = ${scaleOf(cfg)}E[y_{i−1}] + PE[i],  y₋₁ = ${start}`,
    explanation:
      `The decoder writes the answer one character per step. At step i its input is the character it wrote at step i − 1 (at step 0, ` +
      `the start token ${start}), embedded with the same matrix E and the same sinusoidal positions. Row i is labelled with the character ` +
      `step i produced. All ${T} steps are recomputed here together, fed with the model's own greedy output, so every step can be inspected.`,
  }),

  decoderSelf: ({ config: cfg }: MarianLessonContext): AttentionWords => {
    const { dModel: D, decoderHeads: Hd } = cfg;
    return {
      weightsFormula: 'α = softmax(S + M),  M = 0 (earlier or same step) or −∞ (later step)',
      qkvText: `The decoder's steps attend to each other: queries, keys and values from each step's vector, ${Hd} heads of ${D / Hd}.`,
      scoresText:
        `Dot products divided by √${D / Hd}, computed for every pair. The mask shows which are allowed: a step may only look at itself and ` +
        `earlier steps, because when the model generates step i the later characters do not exist yet.`,
      weightsText:
        'Masked scores become −∞ before softmax, so later steps get exactly 0 weight; each row still sums to 1.',
      contextText:
        "Weighted sums of the earlier steps' values, heads concatenated and projected back: what the decoder already wrote, summarised.",
    };
  },

  decoderCross: ({ config: cfg }: MarianLessonContext): AttentionWords => {
    const { dModel: D, decoderHeads: Hd } = cfg;
    return {
      qkvFormula: 'Q = h W_Q + b_Q (decoder),  K = m W_K + b_K,  V = m W_V + b_V  (m = encoder output)',
      qkvText:
        `Here the queries come from the decoder (one per output step) while keys and values come from the encoder's final output, one per ` +
        `input character. This is the bridge between reading and writing.`,
      scoresText: `Each output step's query is compared with every input character's key, divided by √${D / Hd}. Nothing is masked: the whole input is available at every step.`,
      weightsText:
        `Softmax over the input characters: where each output step looks. In a trained date model you can often see alignment: while ` +
        `writing the year, a head looks at the year's digits in the input; while writing the month, at the month name or number.`,
      contextText:
        "Each head blends the input characters' values by its weights; the heads are concatenated and projected back to the model width.",
    };
  },

  decoderOutput: ({ config: cfg }: MarianLessonContext, l: number): Words => ({
    title: `Decoder layer ${l}: add & norm around each block`,
    formula: `h₁ = LN(y + self);  h₂ = LN(h₁ + cross);  y' = LN(h₂ + fc₂(${cfg.activation}(fc₁ h₂)))`,
    explanation: `Each sub-block's output is added to its input and layer-normalised (post-norm): after self-attention, after cross-attention, and ${ffnText(cfg, cfg.decoderFfn)}`,
  }),

  output: ({ topK, eos }: MarianLessonContext): Words => ({
    title: 'Output: next character at every step',
    formula: 'p(y_i | y_<i, x) = softmax(y′ᵢ Eᵀ + b)',
    explanation:
      `The decoder's final vector at each step is compared with every row of the embedding matrix E (the same one used for the inputs) ` +
      `plus a bias, and softmax gives a probability for every character. Greedy decoding takes the most likely one, feeds it back as the ` +
      `next step's input, and stops at ${eos}. Shown: the ${topK} most likely characters per step.`,
  }),
};

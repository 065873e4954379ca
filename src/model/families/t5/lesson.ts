// What the panel says at each stage of a T5 / Flan-T5 trace: titles, formulas and explanations,
// apart from the numbers.
import { ACTIVATION_FORMULA } from '../../layers/activations';
import type { AttentionWords } from '../../trace/stages';
import type { EncoderDecoderWords, Words } from '../../transformer/encoderDecoderStages';
import type { T5Config } from './config';

export interface T5LessonContext {
  readonly config: T5Config;
  readonly S: number;
  readonly T: number;
  readonly topK: number;
  readonly eos: string;
  readonly start: string;
}

const RMS = 'RMSNorm(x) = x / √(mean(x²) + ε) · g';

const ffn = (cfg: T5Config): string =>
  cfg.gated ? `W_o(${cfg.activation}(W_i₀ h) ⊙ W_i₁ h)` : `W_o ${cfg.activation}(W_i h)`;

function ffnText(cfg: T5Config): string {
  const act = ACTIVATION_FORMULA[cfg.activation];
  return cfg.gated
    ? `a gated feed-forward network (feed_forward_proj "${cfg.feedForwardProj}": ${cfg.dModel} → 2 × ${cfg.dFf} → ${cfg.dModel}, one half through ${act} multiplying the other)`
    : `a feed-forward network (${cfg.dModel} → ${cfg.dFf} → ${cfg.dModel}, ${act})`;
}

function bucketText(cfg: T5Config, bidirectional: boolean): string {
  const per = bidirectional ? Math.floor(cfg.numBuckets / 2) : cfg.numBuckets;
  const exact = Math.floor(per / 2);
  const dirs = bidirectional
    ? `${per} buckets for keys before the query and ${per} for keys after it`
    : `${per} buckets for keys in the past (later keys are masked)`;
  return (
    `The distance j − i from query i to key j picks one of ${cfg.numBuckets} buckets: ${dirs}; distances below ${exact} each have their own bucket, ` +
    `longer ones share log-spaced buckets up to ${cfg.maxDistance}, and everything farther falls in the last one.`
  );
}

const noScale = (cfg: T5Config): string =>
  `There is no division by √${cfg.dKv}: T5 folds that factor into the initialisation of W_Q, so the raw dot products are the scores.`;

export function t5Words(c: T5LessonContext): EncoderDecoderWords {
  const { config: cfg, S, T, topK, eos, start } = c;
  const { dModel: D, heads: H, dKv } = cfg;
  const self = (side: string): AttentionWords['qkvText'] =>
    `Each ${side} token's vector is RMS-normalised and projected to a query, a key and a value (no biases anywhere in T5), ${H} heads of d_kv = ${dKv}.`;
  const context: Pick<AttentionWords, 'contextFormula' | 'outputDescription'> = {
    contextFormula: 'cᵢ[h] = Σⱼ αᵢⱼ[h] Vⱼ[h];  out = concat_h(c) W_O',
    outputDescription: 'concat(heads) W_O',
  };
  const biased: Pick<AttentionWords, 'qkvFormula' | 'scoresFormula' | 'scoresDescription'> = {
    qkvFormula: 'Q = h W_Q,  K = h W_K,  V = h W_V  (h = RMSNorm(x), split into heads)',
    scoresFormula: `S[h] = Q[h] K[h]ᵀ + B[h]   (no 1/√${dKv})`,
    scoresDescription: 'QKᵀ + B (position bias), before any mask',
  };
  const bias = (side: 'encoder' | 'decoder', n: number): Words => ({
    title: `${side === 'encoder' ? 'Encoder' : 'Decoder'} relative position bias (shared by every layer)`,
    formula: `B[h, i, j] = R[bucket(j − i), h]`,
    explanation:
      `T5 adds no position vector to the tokens. Instead every attention score gets a learned number that depends only on how far the key is from the query. ` +
      `${bucketText(cfg, side === 'encoder')} Each of the ${H} heads learns one number per bucket (the table R, stored only in the first ${side} layer), ` +
      `and all ${side === 'encoder' ? cfg.encoderLayers : cfg.decoderLayers} ${side} layers add the same B to their scores. Shown for the ${n} ${side === 'encoder' ? 'input tokens' : 'output steps'}.`,
  });
  const output = (l: number, side: 'encoder' | 'decoder'): Words => ({
    title: `${side === 'encoder' ? 'Encoder' : 'Decoder'} layer ${l}: residual sums`,
    formula:
      side === 'encoder'
        ? `x₁ = x + attn(RMSNorm x);  x′ = x₁ + ${ffn(cfg)},  h = RMSNorm x₁`
        : `h₁ = y + self(RMSNorm y);  h₂ = h₁ + cross(RMSNorm h₁, m);  y′ = h₂ + ${ffn(cfg)},  h = RMSNorm h₂`,
    explanation:
      `T5 normalises before each sub-block ("pre-norm") with an RMS norm: ${RMS}, with no mean subtracted and no bias. Each sub-block's output is added to the stream ` +
      `it read from; the last one is ${ffnText(cfg)}.`,
  });
  return {
    tokens: {
      title: 'Tokens: SentencePiece (Unigram) pieces',
      formula: `text → t₁ t₂ … tₙ ${eos}`,
      explanation:
        `The text is cut into pieces from a ${cfg.vocabSize}-row vocabulary by a Unigram model: of all the ways to spell the text with known pieces, the most probable one. ` +
        `'▁' marks the start of a word (it stands for the space before it), and ${eos} ends the input.`,
    },
    embedding: {
      title: 'Encoder input: token embeddings (no positions)',
      formula: 'X[i] = E[tᵢ]',
      explanation: `Each token picks its row of the shared ${cfg.vocabSize} × ${D} embedding matrix E, unscaled. No position vector is added: T5 tells attention where tokens are through the relative position bias on the scores.`,
    },
    encoderBias: bias('encoder', S),
    encoderAttention: {
      ...biased,
      ...context,
      qkvText: self('input') + ' Every input token attends to every other one.',
      scoresText: `Query–key dot products plus the position bias B of this pair's distance. ${noScale(cfg)} The encoder has no mask.`,
      weightsText: `Softmax over each row: positive weights summing to 1 over all ${S} input tokens.`,
      contextText: `Each head averages the value vectors with its weights; the ${H} heads (${H} × ${dKv}) are concatenated and projected back to ${D} dimensions.`,
    },
    encoderOutput: (l) => output(l, 'encoder'),
    encoderFinal: {
      title: 'Encoder output: final RMS norm',
      formula: 'm = RMSNorm(x_L)',
      explanation: `After the last layer the stream is RMS-normalised once more (${RMS}). This memory m, one vector per input token, is what every decoder layer's cross-attention reads.`,
    },
    decoderEmbedding: {
      title: 'Decoder inputs: start token + the output so far',
      formula: `Y[i] = E[y_{i−1}],  y₋₁ = ${start}`,
      explanation:
        `The decoder writes one token per step. At step i its input is the token it wrote at step i − 1; at step 0 it is ${start} (T5 starts the decoder with its padding token). ` +
        `Same matrix E, no positions. All ${T} steps are recomputed here together from the model's own greedy output, so every step can be inspected.`,
    },
    decoderBias: bias('decoder', T),
    decoderSelf: {
      ...biased,
      ...context,
      weightsFormula: 'α = softmax(S + M),  M = 0 (earlier or same step) or −∞ (later step)',
      qkvText: self('output step') + ' The steps attend to each other.',
      scoresText: `Dot products plus the decoder's own position bias (one direction only). ${noScale(cfg)} The mask shows which pairs are allowed: a step sees itself and earlier steps.`,
      weightsText:
        'Masked scores become −∞ before softmax, so later steps get exactly 0 weight; each row still sums to 1.',
      contextText:
        "Weighted sums of the earlier steps' values, heads concatenated and projected back: what the decoder already wrote, summarised.",
    },
    decoderCross: {
      ...context,
      qkvFormula: 'Q = RMSNorm(h) W_Q (decoder),  K = m W_K,  V = m W_V  (m = encoder output)',
      scoresFormula: `S[h] = Q[h] K[h]ᵀ   (no 1/√${dKv}, no position bias)`,
      scoresDescription: 'QKᵀ',
      qkvText: `Queries come from the decoder (one per output step); keys and values from the encoder's memory m, one per input token.`,
      scoresText: `Each output step's query against every input token's key. ${noScale(cfg)} Cross-attention has no position bias and no mask: the whole input is available at every step.`,
      weightsText: 'Softmax over the input tokens: where each output step looks in the input.',
      contextText:
        "Each head blends the input tokens' values by its weights; the heads are concatenated and projected back to the model width.",
    },
    decoderOutput: (l) => output(l, 'decoder'),
    decoderFinal: {
      title: 'Decoder output: final RMS norm' + (cfg.tied ? ' and rescale' : ''),
      formula: cfg.tied ? `z = RMSNorm(y_L) · ${D}^(−½)` : 'z = RMSNorm(y_L)',
      explanation: cfg.tied
        ? `The last layer's output is RMS-normalised and, because the output head is the input embedding E itself (tie_word_embeddings), multiplied by 1/√${D} first, as T5 does.`
        : `The last layer's output is RMS-normalised; this model has its own output matrix (tie_word_embeddings is false), so nothing is rescaled.`,
    },
    output: {
      title: 'Output: next token at every step',
      formula: cfg.tied ? 'p(y_i | y_<i, x) = softmax(zᵢ Eᵀ)' : 'p(y_i | y_<i, x) = softmax(zᵢ W_lmᵀ)',
      explanation:
        `Each step's final vector is compared with every row of the ${cfg.tied ? 'embedding matrix E' : 'output matrix'} and softmax gives a probability per token. ` +
        `Greedy decoding takes the most likely one, feeds it back as the next step's input, and stops at ${eos} or after ${cfg.maxLength - 1} tokens (max_length ${cfg.maxLength}). Shown: the ${topK} most likely tokens per step.`,
    },
  };
}

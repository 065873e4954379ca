// The toy model's words: each stage's title, formula and explanation, apart from the numbers
// (model.ts computes; this file explains). Pure strings, no tfjs.
import { SCORE_FORMULAS } from '../../attention/scores';
import { NORMALISER_FORMULAS } from '../../attention/normalisers';
import { WORD_VOCAB_SIZE } from '../../tokenizers/wordTokenizer';
import { DEFAULT_SAMPLE_SEED, type Normaliser, type ScoreFunction, type Stage } from '../../../../shared/trace';

/** What a stage says about itself; the model adds id, kind, layer and tensors. */
type StageText = Pick<Stage, 'title' | 'formula' | 'explanation'>;

/** The toy's sizes, as the text quotes them. */
export interface ToySizes {
  readonly T: number;
  readonly D: number;
  readonly H: number;
  readonly d: number;
  readonly a: number;
}

export function toyDescription(s: Omit<ToySizes, 'T' | 'a'>): string {
  return (
    `One self-attention layer over words with fixed, seeded (untrained) weights: d_model ${s.D}, ${s.H} heads of d_k ${s.d}, ` +
    'sinusoidal positions. Any score function (dot, scaled dot, general, additive) and normaliser (softmax, sparsemax, sigmoid).'
  );
}

const SCORE_WORDS: Record<ScoreFunction, string> = {
  dot: 'the dot product q·k: large when query and key point the same way. Nothing rescales it, so with d_k = 8 the scores spread wide and the weights tend to be peaked',
  'scaled-dot':
    'the scaled dot product q·k/√d_k: dividing by √8 keeps the spread of scores near 1 whatever the head size, so the normaliser is not pushed into saturation',
  general:
    'the general (bilinear) score qᵀWk: each head first maps the query through its own matrix W (here seeded), so query and key need not live in the same space',
  additive:
    'the additive (Bahdanau) score vᵀtanh(W₁q + W₂k): a one-hidden-layer network with d_a = 8 tanh units looks at query and key together and v reads one number off it',
};

const NORMALISER_WORDS: Record<Normaliser, string> = {
  softmax:
    'softmax exponentiates each score and divides by the row total, so every key gets some positive weight and each row sums to 1',
  sparsemax:
    'sparsemax projects each row of scores onto the probability simplex: it subtracts a threshold τ and clips at 0, so keys far enough below the best get exactly 0 while each row still sums to 1',
  sigmoid:
    'sigmoid squashes each score into (0, 1) on its own, without looking at the other keys, so a row need not sum to 1 and the context is a weighted sum rather than a weighted mean',
  hardmax:
    'hardmax gives the whole row to the best-scoring key (split evenly if several tie for the top): this is hard attention, which picks one token where soft attention (softmax, sparsemax) blends several. ' +
    'It cannot be trained by backpropagation: the weights are piecewise constant in the scores, so their gradient is 0 almost everywhere and says nothing about which scores to raise',
  sampled: `sampled hard attention draws one key per query from the softmax distribution (mulberry32, seed ${DEFAULT_SAMPLE_SEED}) and gives it the whole row, so each row is one-hot and sums to 1. The draw itself has no gradient, so a model trained this way needs a score-function (REINFORCE) estimator, ∇E[f] = E[f(j)·∇log p(j)], instead of backpropagation through the weights`,
};

const CONTEXT_WORDS: Record<Normaliser, string> = {
  softmax: ', a weighted mean',
  sparsemax: ', a weighted mean',
  sigmoid: ', a weighted sum whose weights need not add up to 1',
  hardmax: ': exactly the value of the one chosen token, or the mean of the tied ones',
  sampled: ': exactly the value of the one sampled token',
};

function scoreFormula(score: ScoreFunction, d: number): string {
  switch (score) {
    case 'dot':
      return 'S[h] = Q[h] K[h]ᵀ';
    case 'scaled-dot':
      return `S[h] = Q[h] K[h]ᵀ / √${d}`;
    case 'general':
      return 'S[h] = Q[h] W[h] K[h]ᵀ';
    case 'additive':
      return 'S[h]ᵢⱼ = vᵀ tanh(W₁ Q[h]ᵢ + W₂ K[h]ⱼ)';
  }
}

export const toyLesson = {
  tokens: ({ T }: ToySizes): StageText => ({
    title: 'Tokens',
    formula: 'text → [w₁, w₂, …, w_n]',
    explanation:
      `The text is cut into ${T} word and punctuation tokens at Unicode word boundaries; spaces and line breaks are dropped. ` +
      `There is no fixed vocabulary: each token's id is a hash of its lower-case spelling into ${WORD_VOCAB_SIZE} buckets, ` +
      'so the same word always gets the same id, and no word is ever unknown.',
  }),
  embedding: ({ D }: ToySizes): StageText => ({
    title: 'Embeddings + positions',
    formula: 'X[i] = E(wᵢ) + PE(i),  PE(i)₂ⱼ = sin(i / 10000^(2j/d)),  PE(i)₂ⱼ₊₁ = cos(i / 10000^(2j/d))',
    explanation:
      `Each word gets a fixed ${D}-number vector E(w), drawn from a random generator seeded by the word itself, so "The" and "the" ` +
      'share a vector in every run. A trained model would have learned these vectors; here they are random, which is enough to see the ' +
      'mechanism. Attention itself ignores order, so a position signal PE(i) is added: sines and cosines of the position at ' +
      'wavelengths from 2π up to 10000·2π, one pair per two features. The same word at two positions therefore gets two different X rows.',
  }),
  qkv: ({ D, H, d, a }: ToySizes, score: ScoreFunction, normaliser: Normaliser): StageText => ({
    title: 'Queries, keys, values',
    formula: `Q = X W_Q,  K = X W_K,  V = X W_V,  split into heads: [T, ${D}] → [${H}, T, ${d}]`,
    explanation:
      `Three seeded ${D}×${D} matrices turn every token's X row into a query (what this token looks for), a key (what it offers to be ` +
      `found by) and a value (what it hands over when found). Each is cut into ${H} heads of ${d} numbers, features 0–${d - 1} for head 0 ` +
      `and ${d}–${2 * d - 1} for head 1, and every head attends on its own. Also shown are the parameters the score functions need: ` +
      `W (one ${d}×${d} matrix per head) for general scores, and W₁, W₂ (${a}×${d}) and v (${a}) for additive scores. This run uses ${score} scores with ${normaliser}.`,
  }),
  scores: ({ T, d }: ToySizes, score: ScoreFunction): StageText => ({
    title: `Attention scores (${score})`,
    formula: `${scoreFormula(score, d)};  ${SCORE_FORMULAS[score]}`,
    explanation:
      `Every query is compared with every key, its own included, giving one ${T}×${T} grid per head: row i says how well token i's ` +
      `query matches each key. The score function here is ${SCORE_WORDS[score]}. There is no mask: this is bidirectional ` +
      'self-attention, so a token may look at tokens after it as well as before.',
  }),
  weights: (_: ToySizes, normaliser: Normaliser): StageText => ({
    title: `Attention weights (${normaliser})`,
    formula: `α[h] = ${normaliser}(S[h]) row by row;  ${NORMALISER_FORMULAS[normaliser]}`,
    explanation:
      `Each row of scores becomes a row of attention weights: ${NORMALISER_WORDS[normaliser]}. ` +
      `Row i of head h now says how much of each token's value ends up in token i's context. Try the what-if controls to ` +
      'see other normalisers on these very same scores.',
  }),
  context: ({ D, H, d }: ToySizes, normaliser: Normaliser): StageText => ({
    title: 'Context vectors',
    formula: 'cᵢ[h] = Σⱼ αᵢⱼ[h] V[h]ⱼ;  output = concat(c[0], c[1]) W_O',
    explanation:
      `Each token's context vector, per head, is its attention row applied to the values: a mix of the value vectors of the tokens it ` +
      `attends to (with ${normaliser}${CONTEXT_WORDS[normaliser]}). ` +
      `The ${H} heads' ${d}-number contexts are put side by side again (${H * d} numbers) and mixed by W_O into the layer's ${D}-number output per token.`,
  }),
};

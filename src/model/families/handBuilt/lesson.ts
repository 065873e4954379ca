// The words of a hand-built config's stages (titles, formulas, explanations), apart from the maths.
import { SCORE_FORMULAS } from '../../attention/scores';
import { NORMALISER_DOCS, NORMALISER_FORMULAS } from '../../attention/normalisers';
import type { Normaliser, ScoreFunction, Stage } from '../../../../shared/trace';

type StageText = Pick<Stage, 'title' | 'formula' | 'explanation'>;

export interface HandBuiltSizes {
  readonly T: number;
  readonly d: number;
  readonly dk: number;
  readonly dv: number;
  readonly cross: boolean;
  readonly causal: boolean;
}

export const HAND_BUILT_DESCRIPTION = 'Attention with the tokens and matrices written in a *.attention.json file.';

export const handBuiltLesson = {
  tokens: ({ cross }: HandBuiltSizes): StageText => ({
    title: 'Your tokens',
    formula: cross ? 'queries: your query tokens; keys and values: your tokens' : 'w₁ … w_n',
    explanation: `The tokens written in the config file${cross ? ', and separately the query tokens that attend over them (cross-attention: for example a decoder state looking at encoder states)' : ''}. Edit the file and save to run again.`,
  }),
  embedding: ({ T, d }: HandBuiltSizes): StageText => ({
    title: 'Your embeddings',
    formula: 'X (one row per token)',
    explanation: `Each token's vector exactly as written in the file: ${T} tokens × ${d} features.`,
  }),
  qkv: ({ d, dk, dv, cross }: HandBuiltSizes): StageText => ({
    title: 'Queries, keys and values',
    formula: `Q = ${cross ? 'X_q' : 'X'} W_q,  K = X W_k,  V = X W_v`,
    explanation: `Three matrix products with your W_q (${d}×${dk}), W_k (${d}×${dk}) and W_v (${d}×${dv}). A query asks, a key answers how well it matches, a value is what gets passed on.`,
  }),
  scores: ({ causal }: HandBuiltSizes, score: ScoreFunction): StageText => ({
    title: `Scores (${score})`,
    formula: SCORE_FORMULAS[score],
    explanation: `Every query is scored against every key with the ${score} score function${causal ? '; the causal mask then hides keys after the query' : ''}.`,
  }),
  weights: (_: HandBuiltSizes, normaliser: Normaliser): StageText => ({
    title: `Weights (${normaliser})`,
    formula: NORMALISER_FORMULAS[normaliser],
    explanation: NORMALISER_DOCS[normaliser],
  }),
  context: (): StageText => ({
    title: 'Context vectors',
    formula: 'cᵢ = Σⱼ αᵢⱼ vⱼ',
    explanation:
      'Each query’s context vector: the values mixed by its weights. With softmax or sparsemax that is a weighted mean; with sigmoid a weighted sum; with hard attention (hardmax, sampled) the value of the one chosen key (hardmax: the mean of tied keys).',
  }),
};

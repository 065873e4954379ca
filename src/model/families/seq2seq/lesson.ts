// The seq2seq date model's words: each stage's title, formula and explanation, apart from the
// maths (forward.ts computes, stages.ts lays the numbers out). Pure strings, no tfjs.
import type { ScoreFunction, Stage } from '../../../../shared/trace';
import type { Seq2seqVariant } from './config';

type StageText = Pick<Stage, 'title' | 'formula' | 'explanation'>;

const SUBSCRIPTS = '₀₁₂₃₄₅₆₇₈₉';
/** 12 → '₁₂' */
function sub(n: number): string {
  return String(n).replace(/[0-9]/g, (d) => SUBSCRIPTS[Number(d)]!);
}

const SCORE_FORMULA: Readonly<Record<ScoreFunction, string>> = {
  additive: 'e_ti = vᵀ tanh(W₁ s_t + W₂ h_i)',
  dot: 'e_ti = s_t · h_i',
  'scaled-dot': 'e_ti = s_t · h_i / √d',
  general: 'e_ti = s_tᵀ W h_i',
};

const SCORE_NAME: Readonly<Record<Seq2seqVariant, string>> = {
  additive: 'additive (Bahdanau)',
  dot: 'dot product',
  'scaled-dot': 'scaled dot product',
  general: 'general (bilinear)',
  none: 'no attention',
};

function scoreExplanation(score: ScoreFunction, dKey: number): string {
  switch (score) {
    case 'additive':
      return 'Additive (Bahdanau) scoring: the query and each key are projected into a shared space by two learned matrices, added, squashed by tanh and read out along a learned direction v. The little feed-forward network decides how well this input character matches what the decoder is looking for.';
    case 'dot':
      return 'Dot-product scoring: the score is the plain dot product of the query with each key, large when they point the same way. There are no learned attention weights; the encoder and decoder learned to make their states comparable.';
    case 'scaled-dot':
      return `Scaled dot-product scoring: the dot product of the query with each key, divided by √${dKey} (the key size) so the scores do not grow with the dimension and push softmax into saturation.`;
    case 'general':
      return 'General (bilinear, Luong) scoring: the key is first mapped by a learned matrix W into the query’s space, then compared with the query by a dot product. W lets the model decide which directions of the query should match which directions of the key.';
  }
}

export function seq2seqName(variant: Seq2seqVariant): string {
  return variant === 'none' ? 'Seq2seq dates, no attention' : `Seq2seq dates, ${SCORE_NAME[variant]} attention`;
}

export function seq2seqDescription(variant: Seq2seqVariant): string {
  return variant === 'none'
    ? `Character-level BiGRU encoder → GRU decoder without attention: the decoder sees only the encoder's final state. Turns a written date into YYYY-MM-DD.`
    : `Character-level BiGRU encoder → GRU decoder with ${SCORE_NAME[variant]} attention (${SCORE_FORMULA[variant]}). Turns a written date into YYYY-MM-DD.`;
}

/** The sizes and facts the text quotes. */
export interface LessonContext {
  readonly variant: Seq2seqVariant;
  /** Input characters. */
  readonly n: number;
  readonly dEmb: number;
  /** One encoder direction's state size, the key size (2·dh) and the decoder state size. */
  readonly dh: number;
  readonly dk: number;
  readonly d: number;
}

/** What one decoder step's text needs to know. */
export interface StepFacts {
  readonly t: number;
  /** The character read at this step, and the one produced with its probability. */
  readonly prevText: string;
  readonly outText: string;
  readonly isEos: boolean;
  readonly p: number;
}

export const seq2seqLesson = {
  tokens: ({ n }: LessonContext): StageText => ({
    title: `Characters (${n})`,
    formula: 'text → c₁ … c_n (one token per character)',
    explanation:
      'The model reads the text one character at a time: every Unicode code point is one token, looked up in a small vocabulary of the letters, digits and punctuation seen in training. Characters outside it become <unk>; tabs and line breaks read as spaces; whitespace at either end is skipped.',
  }),
  embedding: ({ dEmb }: LessonContext): StageText => ({
    title: 'Character embeddings',
    formula: 'x_i = E[c_i]',
    explanation: `Each character id picks one row of a learned embedding table E, giving a vector of ${dEmb} numbers per character. Similar characters (digits, letters of month names) end up with similar vectors because training pushed them there.`,
  }),
  encoder: ({ variant, dh, dk }: LessonContext): StageText => ({
    title: 'Bidirectional GRU encoder',
    formula: '→h_i = GRU→(x_i, →h_{i−1}),  ←h_i = GRU←(x_i, ←h_{i+1}),  h_i = [→h_i ; ←h_i]',
    explanation: `Two GRUs read the characters, one left to right and one right to left. Each keeps a running memory of ${dh} numbers, updated per character through a reset gate r, an update gate z and a candidate n: h′ = (1 − z) ⊙ n + z ⊙ h. Gluing the two memories at position i gives h_i (${dk} numbers), a summary of character i in the context of the whole string. ${variant !== 'none' ? 'These encoder states are the keys and the values the decoder attends to.' : 'Without attention, only the two final memories are passed on.'} The decoder starts from s₀ = [→h_n ; ←h_1], the two GRUs' final states.`,
  }),
  bottleneck: ({ n, d }: LessonContext): StageText => ({
    title: 'The fixed-size bottleneck',
    formula: 's₀ = [→h_n ; ←h_1]  (the decoder never sees h_1 … h_n again)',
    explanation: `This variant has no attention. Everything the decoder will ever know about the ${n} input characters must fit into s₀, one vector of ${d} numbers, however long the input is. Each output character is predicted from the decoder's own state alone. Long inputs, with many extra words around the date, are where this bottleneck shows: compare the attention variants on the same text.`,
  }),
  query: ({ variant }: LessonContext, { t, prevText }: StepFacts): StageText => ({
    title: `Decoder step ${t + 1}: state (query)`,
    formula: `s${sub(t + 1)} = GRU_dec(E_out[y${sub(t)}], s${sub(t)})${t === 0 ? ',  y₀ = <s>' : ''}`,
    explanation: `The decoder GRU reads the character it produced last (${t === 0 ? 'the start token <s> at the first step' : `'${prevText}'`}) and updates its state. ${variant !== 'none' ? `That state s${sub(t + 1)} is the query: it says what the decoder needs to know next, and the keys of the input characters will be compared with it.` : 'Without attention, this state alone must carry everything the decoder knows about the input.'}${t === 0 ? ' The first step starts from s₀, the encoder’s final states.' : ''}`,
  }),
  scores: ({ dk }: LessonContext, score: ScoreFunction, { t }: StepFacts): StageText => ({
    title: `Decoder step ${t + 1}: ${SCORE_NAME[score]} scores`,
    formula: score === 'scaled-dot' ? `e_ti = s_t · h_i / √${dk}` : SCORE_FORMULA[score],
    explanation: `${scoreExplanation(score, dk)} One score per input character: how relevant that character is for producing the next output.`,
  }),
  weights: (_: LessonContext, { t }: StepFacts): StageText => ({
    title: `Decoder step ${t + 1}: attention weights`,
    formula: 'α_ti = exp(e_ti) / Σ_j exp(e_tj)',
    explanation:
      'Softmax turns the scores into weights that are positive and sum to 1 over the input characters: a probability distribution saying where the decoder looks at this step. Subtracting any constant from all scores leaves the weights unchanged; only differences between scores matter.',
  }),
  context: ({ dk }: LessonContext, { t }: StepFacts): StageText => ({
    title: `Decoder step ${t + 1}: context vector`,
    formula: 'c_t = Σ_i α_ti h_i',
    explanation: `The context vector is the weighted average of the encoder states (the values), with the attention weights as weights: mostly the states of the characters the decoder looks at. It has ${dk} numbers whatever the input length, but it is rebuilt at every step, so nothing has to be squeezed into one fixed vector up front.`,
  }),
  output: ({ variant }: LessonContext, { t, outText, isEos, p }: StepFacts): StageText => {
    const attn = variant !== 'none';
    const produced = isEos ? 'the end-of-sequence token </s>' : `'${outText}'`;
    return {
      title: `Decoder step ${t + 1}: output ${isEos ? '</s>' : `'${outText}'`}`,
      formula: attn
        ? 'o_t = tanh(W_c [s_t ; c_t] + b_c),  p_t = softmax(W_o o_t + b_o)'
        : 'o_t = tanh(W_c s_t + b_c),  p_t = softmax(W_o o_t + b_o)',
      explanation: `${attn ? 'The context vector is concatenated with the decoder state and' : 'The decoder state is'} passed through a tanh layer, then a linear layer gives one logit per output character (digits, '-', and </s>). Softmax turns the logits into probabilities; greedy decoding takes the most likely one, here ${produced} with p = ${p.toFixed(3)}, and feeds it back in at the next step.`,
    };
  },
  alignment: (): StageText => ({
    title: 'Alignment: every output character against every input character',
    formula: 'A[t, i] = α_ti',
    explanation: `All the decoder steps' attention weights in one matrix: row t is where the decoder looked while writing output character t, and each row sums to 1. In a well-trained date model the year's digits mostly look at the year, the month's at the month name or number, and the day's at the day, whatever order the input wrote them in; where a row is spread out, the encoder states themselves already carry the information from their neighbours.`,
  }),
};

/** The run's warnings in the model's own words. */
export const seq2seqWarnings = {
  longerThanTrained: (n: number, trained: number, variant: Seq2seqVariant): string =>
    `This input has ${n} characters; the model was trained on inputs of at most ${trained}, so expect mistakes${variant === 'none' ? ' (especially without attention: everything must fit into one fixed-size state)' : ''}.`,
  unknown: (shown: readonly string[], total: number): string =>
    `${total} character${total === 1 ? ' is' : 's are'} not in the model's vocabulary and ${total === 1 ? 'was' : 'were'} read as <unk>: ${shown.join(', ')}${total > shown.length ? ', …' : ''}.`,
  scoreIgnored: (variant: Seq2seqVariant, requested: string): string =>
    `This model was trained with ${variant === 'none' ? 'no attention' : `the ${variant} score`}; the requested score function "${requested}" is ignored.`,
  normaliserIgnored: (requested: string): string =>
    `This model was trained with softmax; the requested normaliser "${requested}" is ignored.`,
  noEos: (maxOutput: number): string =>
    `The decoder did not produce </s> within ${maxOutput} steps (the output limit); the output is cut there.`,
};

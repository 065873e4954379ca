// The seq2seq date model's words: each stage's title, formula and explanation, apart from the
// maths (forward.ts computes, stages.ts lays the numbers out). Pure strings, no tfjs.
import type { ScoreFunction, Stage } from '../../../../shared/trace';
import type { AccuracyByLength, Seq2seqTask, Seq2seqVariant } from './config';
import type { Cell } from './weights';

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

const TASK_NAME: Readonly<Record<Seq2seqTask, string>> = { dates: 'Seq2seq dates', reverse: 'Reverse strings' };
const TASK_DOES: Readonly<Record<Seq2seqTask, string>> = {
  dates: 'Turns a written date into YYYY-MM-DD.',
  reverse: 'Writes a string of lower-case letters backwards (trained on 5–60 letters).',
};

export function seq2seqName(variant: Seq2seqVariant, cell: Cell = 'gru', task: Seq2seqTask = 'dates'): string {
  const rnn = cell === 'lstm' ? ', BiLSTM → LSTM' : task === 'reverse' ? ', GRU' : '';
  return variant === 'none'
    ? `${TASK_NAME[task]}${rnn}, no attention`
    : `${TASK_NAME[task]}${rnn}, ${SCORE_NAME[variant]} attention`;
}

export function seq2seqDescription(variant: Seq2seqVariant, cell: Cell = 'gru', task: Seq2seqTask = 'dates'): string {
  const [enc, dec] = cell === 'lstm' ? ['BiLSTM', 'LSTM'] : ['BiGRU', 'GRU'];
  return variant === 'none'
    ? `Character-level ${enc} encoder → ${dec} decoder without attention: the decoder sees only the encoder's final state. ${TASK_DOES[task]}`
    : `Character-level ${enc} encoder → ${dec} decoder with ${SCORE_NAME[variant]} attention (${SCORE_FORMULA[variant]}). ${TASK_DOES[task]}`;
}

/** Each gate's formula, exactly as weights.ts (rnnStep) computes it; t is the time step (a character for the encoder). */
export const GATE_FORMULA: Readonly<Record<string, string>> = {
  z: 'zₜ = σ(W_z xₜ + U_z hₜ₋₁ + b_z)',
  r: 'rₜ = σ(W_r xₜ + U_r hₜ₋₁ + b_r)',
  h̃: 'h̃ₜ = tanh(W_h xₜ + b_h + rₜ ⊙ (U_h hₜ₋₁ + b_Uh))',
  i: 'iₜ = σ(W_i xₜ + U_i hₜ₋₁ + b_i)',
  f: 'fₜ = σ(W_f xₜ + U_f hₜ₋₁ + b_f)',
  g: 'gₜ = tanh(W_g xₜ + U_g hₜ₋₁ + b_g)',
  o: 'oₜ = σ(W_o xₜ + U_o hₜ₋₁ + b_o)',
  c: 'cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ',
};
const STATE_FORMULA: Readonly<Record<Cell, string>> = {
  gru: 'hₜ = (1 − zₜ) ⊙ h̃ₜ + zₜ ⊙ hₜ₋₁',
  lstm: 'hₜ = oₜ ⊙ tanh(cₜ)',
};
/** The gates (and LSTM cell state) the panel shows, in its order, by the names the tensors carry. */
export const SHOWN_GATES: Readonly<Record<Cell, readonly string[]>> = {
  gru: ['z', 'r', 'h̃'],
  lstm: ['c', 'i', 'f', 'g', 'o'],
};
const GATE_WORDS: Readonly<Record<string, string>> = {
  z: 'update gate',
  r: 'reset gate',
  h̃: 'candidate state',
  i: 'input gate',
  f: 'forget gate',
  g: 'candidate (cell input)',
  o: 'output gate',
  c: 'cell state',
};

/** A gate tensor's description: what it is and its formula. */
export function gateDescription(name: string, where: string): string {
  return `${GATE_WORDS[name]} ${GATE_FORMULA[name]}${where}`;
}

/** Every equation of one step of the cell, joined for a stage's formula line. */
export function cellFormula(cell: Cell): string {
  return [
    ...(cell === 'gru' ? ['z', 'r', 'h̃'] : ['i', 'f', 'g', 'o', 'c']).map((k) => GATE_FORMULA[k]),
    STATE_FORMULA[cell],
  ].join(',  ');
}

function cellExplanation(cell: Cell, dh: number): string {
  return cell === 'gru'
    ? `Each keeps a running memory h of ${dh} numbers, updated per character by two gates, each a sigmoid in (0, 1), one number per unit: the update gate z decides how much of the old memory to keep, the reset gate r how much of it feeds the candidate h̃ (a tanh, in (−1, 1)); the new memory mixes old and candidate by z. This is PyTorch's GRU, in which r multiplies U_h hₜ₋₁ + b_Uh after the matrix product (what Keras and tfjs call reset_after = true); b_z and b_r are the sums of PyTorch's two biases.`
    : `Each keeps a hidden state h and a cell state c of ${dh} numbers each. Per character, the forget gate f decides how much of the old cell state to keep, the input gate i how much of the candidate g (a tanh, in (−1, 1)) to write into it, and the output gate o how much of tanh(c) to show as h. Each gate is a sigmoid in (0, 1), one number per unit; each b is the sum of PyTorch's two biases (b_i = b_ii + b_hi).`;
}

/** The sizes and facts the text quotes. */
export interface LessonContext {
  readonly variant: Seq2seqVariant;
  readonly cell: Cell;
  readonly task: Seq2seqTask;
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
  tokens: ({ n, task }: LessonContext): StageText => ({
    title: `Characters (${n})`,
    formula: 'text → c₁ … c_n (one token per character)',
    explanation:
      task === 'reverse'
        ? 'The model reads the text one character at a time: every Unicode code point is one token, looked up in a vocabulary of the 26 lower-case letters a–z, the only characters it was trained on. Anything else (capitals, digits, spaces inside the text) becomes <unk>; whitespace at either end is skipped.'
        : 'The model reads the text one character at a time: every Unicode code point is one token, looked up in a small vocabulary of the letters, digits and punctuation seen in training. Characters outside it become <unk>; tabs and line breaks read as spaces; whitespace at either end is skipped.',
  }),
  embedding: ({ dEmb, task }: LessonContext): StageText => ({
    title: 'Character embeddings',
    formula: 'x_i = E[c_i]',
    explanation:
      task === 'reverse'
        ? `Each character id picks one row of a learned embedding table E, giving a vector of ${dEmb} numbers per character. Reversing needs no similarity between letters, so the rows only have to tell the 26 letters apart.`
        : `Each character id picks one row of a learned embedding table E, giving a vector of ${dEmb} numbers per character. Similar characters (digits, letters of month names) end up with similar vectors because training pushed them there.`,
  }),
  encoder: ({ variant, cell, dh, dk }: LessonContext): StageText => {
    const [name, many] = cell === 'lstm' ? ['LSTM', 'LSTMs'] : ['GRU', 'GRUs'];
    const shown =
      cell === 'lstm'
        ? 'hidden states h and cell states c, and the gates i, f, o and the candidate g'
        : 'hidden states h, the gates z and r, and the candidate h̃';
    const start =
      cell === 'lstm'
        ? `The decoder starts from s₀ = [→h_n ; ←h_1] and c₀ = [→c_n ; ←c_1], the two ${many}' final states.`
        : `The decoder starts from s₀ = [→h_n ; ←h_1], the two ${many}' final states.`;
    return {
      title: `Bidirectional ${name} encoder`,
      formula: `${cellFormula(cell)};  h_i = [→h_i ; ←h_i]`,
      explanation: `Two ${many} read the characters, one left to right (forward, t = i) and one right to left (backward, t = n + 1 − i). ${cellExplanation(cell, dh)} The figures show, per character (rows) and unit (columns), both directions' ${shown}. Gluing the two hidden states at position i gives h_i (${dk} numbers), a summary of character i in the context of the whole string. ${variant !== 'none' ? 'These encoder states are the keys and the values the decoder attends to.' : 'Without attention, only the two final states are passed on.'} ${start}`,
    };
  },
  bottleneck: ({ n, d, task }: LessonContext): StageText => ({
    title: 'The fixed-size bottleneck',
    formula: 's₀ = [→h_n ; ←h_1]  (the decoder never sees h_1 … h_n again)',
    explanation: `This variant has no attention. Everything the decoder will ever know about the ${n} input characters must fit into s₀, one vector of ${d} numbers, however long the input is. Each output character is predicted from the decoder's own state alone. ${task === 'reverse' ? 'To write the string backwards it must remember every letter in order, about 4.7 bits per letter: short strings fit, long ones do not. The last stage charts the measured accuracy against input length beside the attention model’s.' : 'Long inputs, with many extra words around the date, are where this bottleneck shows: compare the attention variants on the same text.'}`,
  }),
  query: ({ variant, cell }: LessonContext, { t, prevText }: StepFacts): StageText => {
    const name = cell === 'lstm' ? 'LSTM' : 'GRU';
    const gates =
      cell === 'lstm'
        ? `Its gates (shown below, one number per unit) are computed from xₜ = E_out[y${sub(t)}] and hₜ₋₁ = s${sub(t)}: ${cellFormula('lstm')}, and the new state is s${sub(t + 1)} = hₜ (the cell state c travels beside it).`
        : `Its gates (shown below, one number per unit) are computed from xₜ = E_out[y${sub(t)}] and hₜ₋₁ = s${sub(t)}: ${cellFormula('gru')}, and the new state is s${sub(t + 1)} = hₜ.`;
    return {
      title: `Decoder step ${t + 1}: state (query)`,
      formula: `s${sub(t + 1)} = ${name}_dec(E_out[y${sub(t)}], s${sub(t)})${t === 0 ? ',  y₀ = <s>' : ''};  ${cellFormula(cell)}`,
      explanation: `The decoder ${name} reads the character it produced last (${t === 0 ? 'the start token <s> at the first step' : `'${prevText}'`}) and updates its state. ${gates} ${variant !== 'none' ? `That state s${sub(t + 1)} is the query: it says what the decoder needs to know next, and the keys of the input characters will be compared with it.` : 'Without attention, this state alone must carry everything the decoder knows about the input.'}${t === 0 ? ` The first step starts from s₀${cell === 'lstm' ? ' and c₀' : ''}, the encoder’s final states.` : ''}`,
    };
  },
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
  output: ({ variant, task }: LessonContext, { t, outText, isEos, p }: StepFacts): StageText => {
    const attn = variant !== 'none';
    const produced = isEos ? 'the end-of-sequence token </s>' : `'${outText}'`;
    return {
      title: `Decoder step ${t + 1}: output ${isEos ? '</s>' : `'${outText}'`}`,
      formula: attn
        ? 'o_t = tanh(W_c [s_t ; c_t] + b_c),  p_t = softmax(W_o o_t + b_o)'
        : 'o_t = tanh(W_c s_t + b_c),  p_t = softmax(W_o o_t + b_o)',
      explanation: `${attn ? 'The context vector is concatenated with the decoder state and' : 'The decoder state is'} passed through a tanh layer, then a linear layer gives one logit per output character (${task === 'reverse' ? 'the letters a–z' : "digits, '-'"}, and </s>). Softmax turns the logits into probabilities; greedy decoding takes the most likely one, here ${produced} with p = ${p.toFixed(3)}, and feeds it back in at the next step.`,
    };
  },
  alignment: ({ task }: LessonContext): StageText => ({
    title: 'Alignment: every output character against every input character',
    formula: 'A[t, i] = α_ti',
    explanation: `All the decoder steps' attention weights in one matrix: row t is where the decoder looked while writing output character t, and each row sums to 1. ${task === 'reverse' ? 'Reversing a string of n letters, output character t is input character n + 1 − t: a trained model’s weights lie on the anti-diagonal, each step looking at the letter it copies (and sometimes its neighbours, whose encoder states also carry it).' : 'In a well-trained date model the year’s digits mostly look at the year, the month’s at the month name or number, and the day’s at the day, whatever order the input wrote them in; where a row is spread out, the encoder states themselves already carry the information from their neighbours.'}`,
  }),
  accuracy: (acc: AccuracyByLength): StageText => {
    const pct = (x: number | undefined): string => (x === undefined ? '?' : `${(100 * x).toFixed(1)}%`);
    const last = acc.buckets.length - 1;
    const at = (m: string, k: number): string => pct(acc.models[m]?.exact[k]);
    const range = (k: number): string => acc.buckets[k]!.replace('-', '–');
    return {
      title: 'Accuracy against input length: attention against no attention',
      formula:
        'exact match = share of test strings reversed without a mistake;  per character = share of output positions right',
      explanation: `Measured by scripts/train/bottleneck.py on held-out strings (never trained on), for two models trained on the same batches for the same number of steps: one with additive attention, one without. Exact match with attention: ${at('additive', 0)} for ${range(0)} letters, ${at('additive', last)} for ${range(last)}; without attention: ${at('none', 0)} and ${at('none', last)}. Without attention the decoder must carry the whole string in one fixed-size vector s₀, which fills up as the string grows; attention lets every step look back at the encoder state of the letter it copies. These numbers come from models/seq2seq-reverse/accuracy-by-length.json, not from this run.`,
    };
  },
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

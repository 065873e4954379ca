// The seq2seq trace's stages: the numbers from forward.ts laid out with the words of lesson.ts.
import { tensor, type AttentionInfo, type ScoreFunction, type Stage, type TensorData } from '../../../../shared/trace';
import type { CharVocab } from '../../tokenizers/charVocab';
import type { AccuracyByLength } from './config';
import type { StepData } from './forward';
import { gateDescription, seq2seqLesson as L, SHOWN_GATES, type LessonContext, type StepFacts } from './lesson';

/** The tensor name of a gate: rnnStep's 'n' is the GRU candidate h̃; the LSTM's cell state is 'c'. */
function shownName(gate: string): string {
  return gate === 'h̃' ? 'n' : gate;
}

const IN = { token: 'input' } as const;
const KEY = { key: 'input' } as const;

export function inputStages(c: LessonContext, ids: readonly number[], X: Float32Array): Stage[] {
  return [
    {
      id: 'tokens',
      kind: 'tokens',
      ...L.tokens(c),
      tensors: [
        tensor('ids', [c.n], ['token'], Float32Array.from(ids), {
          tokenAxes: IN,
          description: 'vocabulary id of each character',
        }),
      ],
    },
    {
      id: 'embedding',
      kind: 'embedding',
      ...L.embedding(c),
      tensors: [tensor('X', [c.n, c.dEmb], ['token', 'd_emb'], X, { tokenAxes: IN })],
    },
  ];
}

/** The encoder's numbers, read out of tf: states, gates per direction ([n, d_h] each), s₀ (and c₀). */
export interface EncoderNumbers {
  readonly H: Float32Array;
  readonly Hf: Float32Array;
  readonly Hb: Float32Array;
  readonly s0: Float32Array;
  readonly c0?: Float32Array;
  /** Keyed by rnnStep's gate names (z, r, n or i, f, g, o) and 'c' for the LSTM's cell states. */
  readonly gatesF: Readonly<Record<string, Float32Array>>;
  readonly gatesB: Readonly<Record<string, Float32Array>>;
}

export function encoderStages(c: LessonContext, e: EncoderNumbers): Stage[] {
  const { n, dh, dk, d } = c;
  const dirTensors = (dir: 'forward' | 'backward', gates: Readonly<Record<string, Float32Array>>): TensorData[] =>
    SHOWN_GATES[c.cell].map((g) =>
      tensor(`${dir} ${g}`, [n, dh], ['token', 'unit'], gates[shownName(g)]!, {
        tokenAxes: IN,
        description: gateDescription(g, dir === 'forward' ? ', left to right' : ', right to left'),
      }),
    );
  const stages: Stage[] = [
    {
      id: 'encoder',
      kind: 'encoder-step',
      ...L.encoder(c),
      tensors: [
        tensor('hidden', [n, dk], ['token', 'd_key'], e.H, { tokenAxes: IN, description: 'h_i = [→h_i ; ←h_i]' }),
        tensor('forward', [n, dh], ['token', 'd_h'], e.Hf, {
          tokenAxes: IN,
          description: `left-to-right ${c.cell.toUpperCase()} states →h_i`,
        }),
        tensor('backward', [n, dh], ['token', 'd_h'], e.Hb, {
          tokenAxes: IN,
          description: `right-to-left ${c.cell.toUpperCase()} states ←h_i`,
        }),
        ...dirTensors('forward', e.gatesF),
        ...dirTensors('backward', e.gatesB),
        tensor('s0', [d], ['d_dec'], e.s0, { description: 'decoder initial state s₀ = [→h_n ; ←h_1]' }),
        ...(e.c0
          ? [tensor('c0', [d], ['d_dec'], e.c0, { description: 'decoder initial cell state c₀ = [→c_n ; ←c_1]' })]
          : []),
      ],
    },
  ];
  if (c.variant === 'none') {
    stages.push({
      id: 'bottleneck',
      kind: 'context',
      ...L.bottleneck(c),
      tensors: [
        tensor('s0', [d], ['d_dec'], e.s0, { description: 'the only summary of the input the decoder receives' }),
      ],
    });
  }
  return stages;
}

/** What the step stages need beyond the step's own numbers. */
export interface StepContext {
  readonly lesson: LessonContext;
  readonly vocab: CharVocab;
  readonly dOutEmb: number;
  readonly dAttn: number;
  readonly info?: AttentionInfo;
  /** The keys as the score function sees them (projectedKeys), the same at every step. */
  readonly keys?: Float32Array;
}

function scoreTensors(c: StepContext, score: ScoreFunction, data: StepData): TensorData[] {
  const { n, d } = c.lesson;
  const out = [
    tensor('scores', [n], ['key'], data.scores!, {
      tokenAxes: KEY,
      description: 'e_ti, one score per input character',
    }),
  ];
  if (score === 'additive') {
    out.push(tensor('W1q', [c.dAttn], ['d_attn'], data.q1!, { description: 'W₁ s_t, the projected query' }));
    out.push(
      tensor('W2k', [n, c.dAttn], ['key', 'd_attn'], c.keys!, {
        tokenAxes: KEY,
        description: 'W₂ h_i, the projected keys (the same at every step)',
      }),
    );
  } else if (score === 'general') {
    out.push(
      tensor('Wk', [n, d], ['key', 'd_dec'], c.keys!, {
        tokenAxes: KEY,
        description: 'W h_i, the keys mapped into query space (the same at every step)',
      }),
    );
  }
  return out;
}

/** The stages of decoder step `facts.t`: query, (scores, weights, context,) output. */
export function stepStages(c: StepContext, facts: StepFacts, data: StepData): Stage[] {
  const { t, prevText } = facts;
  const { n, d, dk } = c.lesson;
  const { info, vocab } = c;
  const nOut = vocab.outputSize;
  const withInfo = info ? { attention: info } : {};
  const stages: Stage[] = [
    {
      id: `dec${t}.query`,
      kind: 'decoder-step',
      ...L.query(c.lesson, facts),
      step: t,
      ...withInfo,
      tensors: [
        tensor('query', [d], ['d_dec'], data.query, { description: `decoder state s_t after reading '${prevText}'` }),
        tensor('input', [c.dOutEmb], ['d_out_emb'], data.input, {
          description: `embedding of the previous output '${prevText}'`,
        }),
        ...SHOWN_GATES[c.lesson.cell].map((g) =>
          tensor(g, [d], ['unit'], g === 'c' ? data.cell! : data.gates[shownName(g)]!, {
            description: gateDescription(g, ', the decoder'),
          }),
        ),
      ],
    },
  ];
  if (info) {
    stages.push(
      {
        id: `dec${t}.scores`,
        kind: 'score',
        ...L.scores(c.lesson, info.score, facts),
        step: t,
        attention: info,
        tensors: scoreTensors(c, info.score, data),
      },
      {
        id: `dec${t}.weights`,
        kind: 'normalise',
        ...L.weights(c.lesson, facts),
        step: t,
        attention: info,
        tensors: [tensor('weights', [n], ['key'], data.weights!, { tokenAxes: KEY, description: 'α_t, sums to 1' })],
      },
      {
        id: `dec${t}.context`,
        kind: 'context',
        ...L.context(c.lesson, facts),
        step: t,
        attention: info,
        tensors: [tensor('context', [dk], ['d_key'], data.context!, { description: 'c_t = Σ α_ti h_i' })],
      },
    );
  }
  stages.push({
    id: `dec${t}.output`,
    kind: 'output',
    ...L.output(c.lesson, facts),
    step: t,
    ...withInfo,
    tensors: [
      tensor('combined', [d], ['d_dec'], data.combined, { description: 'o_t, the attentional hidden state' }),
      tensor('logits', [nOut], ['vocab'], data.logits, { description: `over ${vocab.output.join(' ')}` }),
      tensor('probs', [nOut], ['vocab'], data.probs, { description: `p(next char) over ${vocab.output.join(' ')}` }),
    ],
  });
  return stages;
}

/** Every step's weights as one [T_out, n] matrix. */
export function alignmentStage(
  lesson: LessonContext,
  info: AttentionInfo,
  rows: readonly Float32Array[],
  n: number,
): Stage {
  const A = new Float32Array(rows.length * n);
  rows.forEach((row, t) => A.set(row, t * n));
  return {
    id: 'alignment',
    kind: 'cross-attention',
    ...L.alignment(lesson),
    attention: info,
    tensors: [
      tensor('weights', [rows.length, n], ['output', 'input'], A, { tokenAxes: { output: 'output', input: 'input' } }),
    ],
  };
}

/** The measured accuracy of both models by input length, as [model, input length] curves. */
export function accuracyStage(acc: AccuracyByLength): Stage {
  const names = ['additive', 'none'].filter((m) => acc.models[m]);
  const label: Record<string, string> = { additive: 'additive attention', none: 'no attention' };
  const lengths = acc.buckets.map((b) => b.replace('-', '–'));
  const curves = (k: 'exact' | 'char'): Float32Array => Float32Array.from(names.flatMap((m) => acc.models[m]![k]));
  const extra = { labels: { model: names.map((m) => label[m]!), 'input length': lengths }, plot: 'curves' as const };
  return {
    id: 'accuracy-by-length',
    kind: 'output',
    ...L.accuracy(acc),
    tensors: [
      tensor('exact match', [names.length, lengths.length], ['model', 'input length'], curves('exact'), {
        ...extra,
        description: 'share of held-out strings reversed exactly, by input length (characters)',
      }),
      tensor('per-character accuracy', [names.length, lengths.length], ['model', 'input length'], curves('char'), {
        ...extra,
        description: 'share of output positions right, by input length (characters)',
      }),
    ],
  };
}

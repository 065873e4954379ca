// The traffic trace's stages: the numbers from forward.ts laid out with the words of lesson.ts.
// Input tokens are the window's hours; output tokens are the forecast hours (+1 h … +H h).
import { tensor, type AttentionInfo, type Stage, type TensorData } from '../../../../shared/trace';
import { lagShare } from '../../../../shared/timeSeries';
import type { ForwardData, StepData } from './forward';
import { trafficLesson as L, type LessonContext, type StepFacts } from './lesson';

const IN = { token: 'input' } as const;
const KEY = { key: 'input' } as const;

export const TRAFFIC_INFO: AttentionInfo = {
  queries: 'output',
  keys: 'input',
  causal: false,
  score: 'general',
  normaliser: 'softmax',
};

export function stepFacts(c: LessonContext, t: number, step: StepData, truth: number | undefined): StepFacts {
  let top = 0;
  step.weights.forEach((w, j) => {
    if (w > step.weights[top]!) top = j;
  });
  return {
    t,
    forecast: step.forecast,
    ...(truth !== undefined ? { truth } : {}),
    topHour: c.keys[top]!,
    topWeight: step.weights[top]!,
    topLag: c.M + t - c.keys[top]!,
    day: lagShare(step.weights, t, 24, c.keys, c.M),
    week: lagShare(step.weights, t, 168, c.keys, c.M),
  };
}

export function inputStages(
  c: LessonContext,
  volumes: Float32Array,
  z: Float32Array,
  firstHour: number | undefined,
): Stage[] {
  const K = c.keys.length;
  const tensors: TensorData[] = [
    tensor('volume', [c.M], ['hour'], volumes, { description: `x_1 … x_${c.M}, the window, vehicles/hour` }),
    tensor(
      'z',
      [K],
      ['token'],
      Float32Array.from(c.keys, (k) => z[k]!),
      {
        tokenAxes: IN,
        description: 'z = (x − μ) / σ at the hours the encoder reads',
      },
    ),
    tensor(
      'key_hour',
      [K],
      ['token'],
      Float32Array.from(c.keys, (k) => k + 1),
      {
        tokenAxes: IN,
        description: `which hour of the window (1 … ${c.M}) each token is`,
      },
    ),
  ];
  if (firstHour !== undefined)
    tensors.push(
      tensor('first_hour', [1], ['hour'], Float32Array.of(firstHour), {
        description: 'the first input hour, in hours since 1970-01-01 00:00 (from date_time)',
      }),
    );
  return [{ id: 'tokens', kind: 'tokens', ...L.tokens(c), tensors }];
}

export function encoderStages(c: LessonContext, f: ForwardData): Stage[] {
  const out: Stage[] = [];
  const e = f.encoder;
  if (e.features)
    out.push({
      id: 'conv',
      kind: 'embedding',
      ...L.conv(c),
      tensors: [
        tensor('features', [c.M, c.C], ['hour', 'channel'], e.features, {
          description: `f_i for every hour of the window; the encoder reads the rows of the ${c.keys.length} key hours`,
        }),
      ],
    });
  out.push({
    id: 'encoder',
    kind: 'encoder-step',
    ...L.encoder(c),
    tensors: [
      tensor('hidden', [c.keys.length, c.d], ['token', 'd'], e.hidden, {
        tokenAxes: IN,
        description: 'h_j, the keys and values',
      }),
      tensor('cell', [c.keys.length, c.d], ['token', 'd'], e.cell, {
        tokenAxes: IN,
        description: 'c_j, the LSTM cell states',
      }),
    ],
  });
  return out;
}

/** The five stages of forecast hour t: query, scores, weights, context, output. */
export function stepStages(c: LessonContext, facts: StepFacts, step: StepData, Wk: Float32Array): Stage[] {
  const { t } = facts;
  const K = c.keys.length;
  const info = { attention: TRAFFIC_INFO, step: t };
  return [
    {
      id: `fc${t}.query`,
      kind: 'decoder-step',
      ...L.query(c, facts),
      ...info,
      tensors: [
        tensor('query', [c.d], ['d'], step.query, { description: `decoder state s_t for hour +${t + 1}` }),
        tensor('input', [1], ['value'], Float32Array.of(step.input), {
          description: t === 0 ? 'y₀ = z_M, the last observed hour' : `y_${t}, the forecast for hour +${t}`,
        }),
      ],
    },
    {
      id: `fc${t}.scores`,
      kind: 'score',
      ...L.scores(c, facts),
      ...info,
      tensors: [
        tensor('scores', [K], ['key'], step.scores, { tokenAxes: KEY, description: 'e_tj = s_tᵀ W h_j' }),
        tensor('Wk', [K, c.d], ['key', 'd'], Wk, {
          tokenAxes: KEY,
          description: 'W h_i, the keys mapped into query space (the same for every forecast hour)',
        }),
      ],
    },
    {
      id: `fc${t}.weights`,
      kind: 'normalise',
      ...L.weights(c, facts),
      ...info,
      tensors: [tensor('weights', [K], ['key'], step.weights, { tokenAxes: KEY, description: 'α_t, sums to 1' })],
    },
    {
      id: `fc${t}.context`,
      kind: 'context',
      ...L.context(c, facts),
      ...info,
      tensors: [tensor('context', [c.d], ['d'], step.context, { description: 'ctx_t = Σ α_tj h_j' })],
    },
    {
      id: `fc${t}.output`,
      kind: 'output',
      ...L.output(c, facts),
      ...info,
      tensors: [
        tensor('combined', [c.d], ['d'], step.combined, { description: 'o_t' }),
        tensor('forecast', [1], ['value'], Float32Array.of(step.forecast), {
          description: `x̂ for hour +${t + 1}, vehicles/hour (standardised: ${step.forecastZ.toFixed(4)})`,
        }),
      ],
    },
  ];
}

/** Every forecast hour's weights as one [H, M] matrix, and the forecast beside the truth. */
export function summaryStages(c: LessonContext, f: ForwardData, truth: Float32Array): Stage[] {
  const K = c.keys.length;
  const A = new Float32Array(c.H * K);
  f.steps.forEach((s, t) => A.set(s.weights, t * K));
  const forecast = Float32Array.from(f.steps, (s) => s.forecast);
  const tensors: TensorData[] = [
    tensor('forecast', [c.H], ['output'], forecast, {
      tokenAxes: { output: 'output' },
      description: 'x̂, vehicles/hour',
    }),
  ];
  if (truth.length > 0)
    tensors.push(
      tensor('truth', [truth.length], ['output'], truth, {
        tokenAxes: { output: 'output' },
        description: 'the real volumes that follow the window in the selection',
      }),
    );
  return [
    {
      id: 'alignment',
      kind: 'cross-attention',
      ...L.alignment(c),
      attention: TRAFFIC_INFO,
      tensors: [
        tensor('weights', [c.H, K], ['output', 'input'], A, { tokenAxes: { output: 'output', input: 'input' } }),
      ],
    },
    { id: 'forecast', kind: 'output', ...L.forecast(c, truth.length), tensors },
  ];
}

// The traffic forecasters' words: each stage's title, formula and explanation, apart from the maths
// (forward.ts computes, stages.ts lays the numbers out). The measured attention shares come from
// models/traffic/config.json, written by scripts/train/traffic.py. Pure strings, no tfjs.
import type { Stage } from '../../../../shared/trace';
import type { TrafficVariant } from './config';

type StageText = Pick<Stage, 'title' | 'formula' | 'explanation'>;

const SUBSCRIPTS = '₀₁₂₃₄₅₆₇₈₉';
function sub(n: number): string {
  return String(n).replace(/[0-9]/g, (d) => SUBSCRIPTS[Number(d)]!);
}

const pct = (x: number | undefined): string => (x === undefined ? '?' : `${(100 * x).toFixed(1)}%`);
const int = (x: number): string => Math.round(x).toLocaleString('en-US');

export const TRAFFIC_CREDIT_SHORT = 'Data: John Hogue, Metro Interstate Traffic Volume, UCI ML Repository (CC BY 4.0).';

export function trafficName(variant: TrafficVariant): string {
  return variant === 'conv-lstm-attention'
    ? 'Traffic forecast: Conv → LSTM with temporal attention'
    : 'Traffic forecast: LSTM with temporal attention';
}

export function trafficDescription(variant: TrafficVariant, M: number, H: number): string {
  return `${variant === 'conv-lstm-attention' ? 'A causal 1-D convolution over the past ' + M + ' hours feeds an LSTM encoder' : 'An LSTM encoder reads'} the last 24 hours and the same hour on each earlier day of the week; an LSTM decoder forecasts the next ${H} hourly volumes of westbound I-94 (Minneapolis–St Paul), attending over those hours with the general score s_tᵀ W h_j. ${TRAFFIC_CREDIT_SHORT}`;
}

/** The sizes and measured facts the text quotes. */
export interface LessonContext {
  readonly variant: TrafficVariant;
  readonly M: number;
  readonly H: number;
  /** The window's hours (0-based) the encoder reads. */
  readonly keys: readonly number[];
  readonly d: number;
  readonly C: number;
  readonly K: number;
  readonly mean: number;
  readonly std: number;
  /** Measured on the 2018 test windows (config.json). */
  readonly lag24?: number;
  readonly lag168?: number;
  readonly last3?: number;
  readonly testMae?: number;
  /** Where the values came from (input.ts). */
  readonly source: string;
}

/** What one forecast hour's text needs to know. */
export interface StepFacts {
  readonly t: number;
  readonly forecast: number;
  readonly truth?: number;
  /** The most-weighted key's hour of the window (0-based) and its weight; its lag from the forecast hour. */
  readonly topHour: number;
  readonly topWeight: number;
  readonly topLag: number;
  /** This window's share on lags 24 ± 1 and 168 ± 1. */
  readonly day: number;
  readonly week: number;
}

/** The share an even spread over the keys would put on lags centre ± 1, averaged over the forecast hours. */
export function uniformLagShare(keys: readonly number[], M: number, H: number, centre: number): number {
  let cells = 0;
  for (let t = 0; t < H; t++) for (const k of keys) if (Math.abs(M + t - k - centre) <= 1) cells++;
  return cells / (H * keys.length);
}

/** What the trained model attends to, measured (the same sentence in several stages). */
function measured(c: LessonContext): string {
  if (c.lag24 === undefined || c.lag168 === undefined || c.last3 === undefined) return '';
  const u24 = uniformLagShare(c.keys, c.M, c.H, 24);
  const u168 = uniformLagShare(c.keys, c.M, c.H, 168);
  const u3 = 3 / c.keys.length;
  const verdict = (share: number, even: number): string =>
    share > 1.5 * even
      ? 'clearly more than'
      : share > 1.15 * even
        ? 'a little more than'
        : share < even / 1.15
          ? 'less than'
          : 'about';
  return ` Measured on the 2018 test weeks (${c.variant}, averaged over windows and forecast hours): ${pct(c.lag24)} of the weight is on the hours 24 ± 1 before the forecast hour (an even spread over the ${c.keys.length} hours would give ${pct(u24)}: ${verdict(c.lag24, u24)} that), ${pct(c.lag168)} on 168 ± 1 (even: ${pct(u168)}; ${verdict(c.lag168, u168)} that) and ${pct(c.last3)} on the last 3 hours (even: ${pct(u3)}). This small model's attention is broad; it leans ${c.lag24 > 1.15 * u24 ? 'somewhat towards the same hour yesterday' : 'on no lag in particular'}, and the same hour last week gets ${c.lag168 > 1.15 * u168 ? 'extra' : 'no extra'} weight.`;
}

export const trafficLesson = {
  tokens: (c: LessonContext): StageText => ({
    title: `Input series: ${c.keys.length} of the past ${c.M} hours`,
    formula: `z_i = (x_i − μ) / σ,  μ = ${c.mean.toFixed(1)}, σ = ${c.std.toFixed(1)};  keys: the last 24 hours and the same hour on each of the ${c.M / 24 - 1} days before`,
    explanation: `The window is the past ${c.M} hours (one week) of volumes as written in the document (${c.source}); the model forecasts the next ${c.H}. Its tokens are the ${c.keys.length} hours it reads: the last 24, and the hour that is a whole number of days (2 … ${c.M / 24}) before the first forecast hour — the same time of day on the previous days, back to the same hour last week. (An LSTM over all ${c.M} hours trained about 5× slower on this machine.) It sees only the numbers, not the clock or the calendar. Volumes are standardised with the training years' (2012–2016) mean μ and standard deviation σ. ${TRAFFIC_CREDIT_SHORT}`,
  }),
  conv: (c: LessonContext): StageText => ({
    title: `Causal convolution (${c.C} filters × ${c.K} hours)`,
    formula: `u_i = relu(Σ_k W_k z_{i−${c.K - 1}+k} + b),  k = 0 … ${c.K - 1}`,
    explanation: `The hybrid model of the case study first slides ${c.C} learned filters, each ${c.K} hours wide, along the whole ${c.M}-hour window. Feature u_i looks at hours i − ${c.K - 1} … i only (zeros before the first hour), so it describes the local shape — rising into a rush hour, a flat night — and never peeks ahead. The LSTM then reads the features of the ${c.keys.length} key hours instead of their raw volumes, so even the same-hour-on-earlier-days keys carry the few hours before them.`,
  }),
  encoder: (c: LessonContext): StageText => ({
    title: `LSTM encoder: one state per hour read (${c.keys.length})`,
    formula: 'c_j = f_j ⊙ c_{j−1} + i_j ⊙ g_j,  h_j = o_j ⊙ tanh(c_j)',
    explanation: `An LSTM reads the ${c.variant === 'conv-lstm-attention' ? 'convolution features' : 'standardised volumes'} of the ${c.keys.length} hours in time order and keeps ${c.d} numbers of memory (the cell c_j, written through input, forget and output gates). Its hidden state h_j summarises what it has read up to that hour. These ${c.keys.length} states are the keys and the values: every forecast hour can look back at any of them instead of relying on the last state alone. The decoder starts from the final state, that of the last hour of the window.`,
  }),
  query: (c: LessonContext, { t }: StepFacts): StageText => ({
    title: `Forecast hour +${t + 1}: decoder state (query)`,
    formula: `s${sub(t + 1)}, c'${sub(t + 1)} = LSTM_dec(y${sub(t)}, s${sub(t)}, c'${sub(t)})${t === 0 ? `,  y₀ = z_${c.M}, s₀ = h_K` : ''}`,
    explanation: `The decoder LSTM reads ${t === 0 ? `the last observed hour z_${c.M}` : `its own forecast for hour +${t}`} and updates its state. That state s${sub(t + 1)} is the query: it asks which past hours matter for hour +${t + 1}.`,
  }),
  scores: (c: LessonContext, { t }: StepFacts): StageText => ({
    title: `Forecast hour +${t + 1}: general scores`,
    formula: 'e_tj = s_tᵀ W h_j  (Luong’s general score)',
    explanation: `General (bilinear) scoring: each past hour's encoder state h_j is mapped by a learned ${c.d} × ${c.d} matrix W into the query's space and compared with the decoder state s_t by a dot product. One score per hour read (${c.keys.length} of them): how useful that hour is for forecasting hour +${t + 1}.`,
  }),
  weights: (c: LessonContext, f: StepFacts): StageText => ({
    title: `Forecast hour +${f.t + 1}: attention over the past hours`,
    formula: 'α_tj = exp(e_tj) / Σ_k exp(e_tk)',
    explanation: `Softmax turns the scores into weights that are positive and sum to 1 over the ${c.keys.length} hours read: the shading under the series in the time-axis view. In this window the largest weight, ${f.topWeight.toFixed(3)}, is on hour ${f.topHour + 1} of the window (${f.topLag} h before the forecast hour); ${pct(f.day)} of the weight is on lags 24 ± 1 and ${pct(f.week)} on 168 ± 1.${measured(c)}`,
  }),
  context: (c: LessonContext, { t }: StepFacts): StageText => ({
    title: `Forecast hour +${t + 1}: context vector`,
    formula: 'ctx_t = Σ_j α_tj h_j',
    explanation: `The context is the weighted average of the ${c.keys.length} encoder states, mostly the states of the hours the decoder looks at. It has ${c.d} numbers however many hours are read, rebuilt for every forecast hour.`,
  }),
  output: (c: LessonContext, { t, forecast, truth }: StepFacts): StageText => ({
    title: `Forecast hour +${t + 1}: ${int(forecast)} vehicles/hour`,
    formula: 'o_t = tanh(W_c [s_t ; ctx_t] + b_c),  y_t = w_yᵀ o_t + b_y,  x̂_t = μ + σ y_t',
    explanation: `The context and the decoder state are combined through a tanh layer and read out as one number, the standardised forecast y_t, turned back into vehicles/hour: ${int(forecast)}.${forecast < 0 ? ' (Negative: the linear read-out is not bounded, and the model has learned no floor at zero.)' : ''}${truth !== undefined ? ` The selection continues past the window: the real volume was ${int(truth)} (error ${int(forecast - truth)}).` : ' Select up to ' + c.H + ' more hours after the window to compare with the truth.'} The forecast is fed back in as the decoder's next input.`,
  }),
  alignment: (c: LessonContext): StageText => ({
    title: `Attention: ${c.H} forecast hours × ${c.keys.length} past hours`,
    formula: 'A[t, j] = α_tj',
    explanation: `Every forecast hour's weights in one matrix; each row sums to 1. The first ${c.keys.length - 24} columns are the same hour as the first forecast hour ${c.M / 24} … 2 days before, the last 24 the most recent hours (the first of them is the same hour yesterday).${measured(c)}`,
  }),
  forecast: (c: LessonContext, truthCount: number): StageText => ({
    title: `Forecast: the next ${c.H} hours`,
    formula: 'x̂_{M+t} = μ + σ y_t,  t = 1 … ' + c.H,
    explanation: `The ${c.H} forecasts in vehicles/hour${truthCount > 0 ? `, beside the ${truthCount} real value${truthCount === 1 ? '' : 's'} the selection continues with` : ''}. On the 2018 test weeks this model's mean absolute error over the ${c.H} hours is ${c.testMae === undefined ? '?' : `${c.testMae.toFixed(1)} vehicles/hour`} (RESULTS.md in models/traffic compares it with the same hour last week and with the LSTM without attention).`,
  }),
};

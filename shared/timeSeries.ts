// A forecasting trace (the traffic models) read as a time series: the input hours, the forecast,
// the truth where the selection continues, and, for one forecast hour, its attention over the past
// hours (through the navigation's attention blocks and toMatrix). Pure: the time-axis view, the
// hover and the tests read it. Nothing outside shared/.
import { attentionBlocks, blockOf } from './navigation';
import { toMatrix } from './tensorView';
import { findTensor, type Stage, type Trace } from './trace';

export interface TimeSeries {
  /** x_1 … x_M, vehicles/hour. */
  readonly volumes: Float32Array;
  /** x̂_{M+1} … x̂_{M+H}. */
  readonly forecast: Float32Array;
  /** The real values after the window the selection holds (0 … H of them). */
  readonly truth: Float32Array;
  /** The first input hour in hours since 1970-01-01 00:00 UTC, when the rows carried date_time. */
  readonly firstHour?: number;
  readonly window: number;
  readonly horizon: number;
  /** The window's hours (0-based) the model read, one per input token and attention key. */
  readonly keyHours: readonly number[];
}

/** The series of a trace whose stages include the input 'volume' and the 'forecast'; else undefined. */
export function timeSeriesOf(trace: Trace): TimeSeries | undefined {
  const input = trace.stages.find((s) => s.id === 'tokens');
  const out = trace.stages.find((s) => s.id === 'forecast');
  const volume = input && findTensor(input, 'volume');
  const forecast = out && findTensor(out, 'forecast');
  if (!volume || !forecast) return undefined;
  const truth = out && findTensor(out, 'truth');
  const first = findTensor(input!, 'first_hour');
  const keys = findTensor(input!, 'key_hour');
  return {
    volumes: volume.data,
    forecast: forecast.data,
    truth: truth?.data ?? new Float32Array(0),
    ...(first ? { firstHour: first.data[0]! } : {}),
    window: volume.data.length,
    horizon: forecast.data.length,
    keyHours: keys ? Array.from(keys.data, (h) => h - 1) : Array.from(volume.data, (_, i) => i),
  };
}

/**
 * The forecast hour (0-based) a stage is about: its step, or on the all-hours alignment (and the
 * forecast summary) the cursor's focused row; undefined elsewhere.
 */
export function forecastHourOf(stage: Stage | undefined, row: number | undefined, horizon: number): number | undefined {
  if (!stage) return undefined;
  if (stage.step !== undefined) return stage.step < horizon ? stage.step : undefined;
  if ((stage.id === 'alignment' || stage.id === 'forecast') && row !== undefined && row >= 0 && row < horizon)
    return row;
  return undefined;
}

/**
 * Forecast hour t's weights over the M input hours: the weights of the stage's own block when it is
 * hour t's, else of the block whose step is t (or row t of the all-hours alignment).
 */
export function attentionRow(trace: Trace, stage: Stage | undefined, t: number): Float32Array | undefined {
  const own = stage && blockOf(trace, stage);
  const block =
    own && own.step === t
      ? own
      : (attentionBlocks(trace).find((b) => b.step === t && b.info.queries === 'output') ??
        attentionBlocks(trace).find((b) => b.step === undefined && b.info.queries === 'output'));
  if (!block) return undefined;
  const m = toMatrix(trace, block.weights, 0);
  if (m.rows === 1) return m.data.slice(0, m.cols);
  return t < m.rows ? m.data.slice(t * m.cols, (t + 1) * m.cols) : undefined;
}

/** The lag in hours of window hour i (0-based) from forecast hour t (0-based) of an M-hour window. */
export const lagOf = (window: number, t: number, i: number): number => window + t - i;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Hour k of the plot (0 = the first input hour): 'Mon 10 Sep 14:00' with timestamps, else 'hour 15'. */
export function hourLabel(s: Pick<TimeSeries, 'firstHour'>, k: number): string {
  if (s.firstHour === undefined) return `hour ${k + 1}`;
  const d = new Date((s.firstHour + k) * 3_600_000);
  return `${DAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCHours()).padStart(2, '0')}:00`;
}

/** Plot hours (0-based) where a day starts (midnight) with their labels; without timestamps every 24 h back from the forecast. */
export function dayTicks(s: TimeSeries): { readonly at: number; readonly label: string }[] {
  const total = s.window + s.horizon;
  const out: { at: number; label: string }[] = [];
  if (s.firstHour !== undefined) {
    for (let k = 0; k < total; k++) {
      const d = new Date((s.firstHour + k) * 3_600_000);
      if (d.getUTCHours() === 0)
        out.push({ at: k, label: `${DAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}` });
    }
    return out;
  }
  for (let lag = 0; s.window - lag >= 0; lag += 24)
    out.push({ at: s.window - lag, label: lag === 0 ? 'now' : `−${lag} h` });
  return out.reverse();
}

/** The share of one row of weights (one per key hour of an M-hour window) on lags centre ± 1 from forecast hour t. */
export function lagShare(
  weights: Float32Array,
  t: number,
  centre: number,
  keyHours: readonly number[],
  window: number,
): number {
  let s = 0;
  keyHours.forEach((hour, j) => {
    if (Math.abs(lagOf(window, t, hour) - centre) <= 1) s += weights[j]!;
  });
  return s;
}

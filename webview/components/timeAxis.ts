// The time-axis figure of a forecasting trace: the input hours as a line, the forecast beside the
// truth, and the selected forecast hour's attention as shading under the line. Buttons pick the
// forecast hour (they move the cursor to that hour's attention weights); hovering reads one hour.
import type { ColourMap } from '../../shared/protocol';
import type { Stage, Trace } from '../../shared/trace';
import { attentionRow, forecastHourOf, hourLabel, lagOf, lagShare, type TimeSeries } from '../../shared/timeSeries';
import { h } from '../dom';
import { drawTimeAxis, FORECAST_COLOUR, hourAt, layoutTimeAxis, TRUTH_COLOUR } from '../draw/timeAxis';
import { go, type PanelContext } from './part';
import { sizeCanvas, type Figure } from './matrixFigure';

const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

/** The sentence under the figure: forecast hour t, its truth, where its attention goes. */
export function forecastSummary(s: TimeSeries, t: number, weights: Float32Array | undefined): string {
  const truth = t < s.truth.length ? `, truth ${int(s.truth[t]!)} (error ${int(s.forecast[t]! - s.truth[t]!)})` : '';
  let text = `Forecast hour +${t + 1}: ${int(s.forecast[t]!)} vehicles/hour${truth}.`;
  if (weights) {
    const top = Array.from(weights, (w, j) => [s.keyHours[j]!, w] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([hour, w]) => `${lagOf(s.window, t, hour)} h before (${w.toFixed(3)})`);
    const share = (centre: number): string => pct(lagShare(weights, t, centre, s.keyHours, s.window));
    text += ` Largest weights: ${top.join(', ')}. On lags 24 ± 1: ${share(24)}; on 168 ± 1: ${share(168)}.`;
  }
  return text;
}

export function timeAxisFigure(
  ctx: PanelContext,
  trace: Trace,
  stage: Stage,
  s: TimeSeries,
  row: number | undefined,
  colourMap: ColourMap,
): Figure {
  const t = forecastHourOf(stage, row, s.horizon);
  const weights = t === undefined ? undefined : attentionRow(trace, stage, t);
  let l = layoutTimeAxis(s, ctx.width() - 24);
  const canvas = h('canvas', {
    class: 'time-axis',
    'data-testid': 'time-axis',
    tabindex: 0,
    role: 'img',
    'aria-label': `time axis: ${s.window} input hours (${s.keyHours.length} read), ${s.horizon} forecast hours${t !== undefined ? `, attention of forecast hour +${t + 1}` : ''}`,
  });
  let g = sizeCanvas(canvas, l.width, l.height);
  let theme = ctx.theme();
  let hover: number | undefined;
  const readout = h('div', { class: 'readout', 'data-testid': 'time-axis-readout', 'aria-live': 'polite' }, '\u00a0');
  const paint = (): void => {
    if (g) drawTimeAxis(g, l, s, { colourMap, ...theme }, t, weights, hover);
    if (hover === undefined) {
      readout.textContent = 'Hover the plot to read an hour.';
      return;
    }
    const k = hover;
    if (k < s.window) {
      const j = s.keyHours.indexOf(k);
      const w =
        j < 0
          ? ' (not read by the model)'
          : weights
            ? `, weight ${weights[j]!.toFixed(4)} (${lagOf(s.window, t!, k)} h before +${t! + 1})`
            : '';
      readout.textContent = `${hourLabel(s, k)}: ${int(s.volumes[k]!)} vehicles/hour${w}`;
    } else {
      const f = k - s.window;
      const truth = f < s.truth.length ? `, truth ${int(s.truth[f]!)}` : '';
      readout.textContent = `${hourLabel(s, k)} (+${f + 1} h): forecast ${int(s.forecast[f]!)}${truth}`;
    }
  };
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    const k = hourAt(l, e.clientX - r.left);
    if (k !== hover) {
      hover = k;
      paint();
    }
  });
  canvas.addEventListener('mouseleave', () => {
    hover = undefined;
    paint();
  });
  const hourButtons = Array.from({ length: s.horizon }, (_, k) =>
    h(
      'button',
      {
        class: k === t ? 'tab current' : 'tab',
        'data-testid': `time-axis-hour-${k + 1}`,
        'aria-pressed': k === t ? 'true' : 'false',
        onclick: () => {
          const i = trace.stages.findIndex((x) => x.id === `fc${k}.weights`);
          if (i >= 0) go(ctx, { ...ctx.store.state.cursor, stage: i, row: k });
        },
      },
      `+${k + 1} h`,
    ),
  );
  const swatch = (colour: string, dashed: boolean): HTMLElement => {
    const el = h('span', { class: dashed ? 'swatch dashed' : 'swatch' });
    el.style.borderColor = colour; // through the CSSOM (the CSP forbids inline style attributes)
    return el;
  };
  const legend = h(
    'div',
    { class: 'time-axis-legend', 'data-testid': 'time-axis-legend' },
    h(
      'span',
      {},
      swatch(theme.foreground, false),
      ` input: ${s.window} hours (${s.keyHours.length} read, ticked below the line)`,
    ),
    h('span', {}, swatch(FORECAST_COLOUR, true), ` forecast: ${s.horizon} hours`),
    s.truth.length > 0 ? h('span', {}, swatch(TRUTH_COLOUR, false), ` truth: ${s.truth.length} hours`) : null,
    h(
      'span',
      {},
      t !== undefined ? ` shading: attention of +${t + 1} h` : ' pick a forecast hour to see its attention',
    ),
  );
  const summary = h(
    'p',
    { class: 'time-axis-summary', 'data-testid': 'time-axis-summary' },
    t !== undefined
      ? forecastSummary(s, t, weights)
      : `Forecast for the next ${s.horizon} hours: ${Array.from(s.forecast, int).join(', ')} vehicles/hour.`,
  );
  paint();
  const el = h(
    'figure',
    { class: 'figure wide time-axis-figure', 'data-testid': 'time-axis-figure' },
    h(
      'figcaption',
      { 'data-testid': 'time-axis-caption' },
      h('b', {}, 'Time axis'),
      ' ',
      h(
        'span',
        { class: 'shape' },
        `${s.window} h in → ${s.horizon} h out${s.firstHour !== undefined ? ` · ${hourLabel(s, 0)} – ${hourLabel(s, s.window - 1)}` : ''}`,
      ),
    ),
    h('div', { class: 'view-switch', role: 'group', 'aria-label': 'Forecast hour' }, 'Forecast hour: ', ...hourButtons),
    legend,
    canvas,
    readout,
    summary,
  );
  return {
    el,
    resize: () => {
      theme = ctx.theme();
      l = layoutTimeAxis(s, ctx.width() - 24);
      g = sizeCanvas(canvas, l.width, l.height);
      paint();
    },
  };
}

// The time-axis view of a forecast: the input series as a line over its hours, the forecast (dashed)
// beside the truth where known, and one forecast hour's attention over the past hours as shading
// under the line (opacity ∝ weight / the row's largest weight) with exact-height bars in a strip
// below. Canvas 2-D only; the figure (components/timeAxis.ts) adds the caption, buttons and readout.
import type { ColourMap } from '../../shared/protocol';
import { dayTicks, type TimeSeries } from '../../shared/timeSeries';
import { colourAt } from './colormap';

export const FORECAST_COLOUR = '#e8893a';
export const TRUTH_COLOUR = '#3fb950';

export interface TimeAxisLayout {
  readonly width: number;
  readonly height: number;
  /** Plot area of the series. */
  readonly left: number;
  readonly top: number;
  readonly plotW: number;
  readonly plotH: number;
  /** The weight strip under the plot. */
  readonly stripTop: number;
  readonly stripH: number;
  /** The value range of the y axis (vehicles/hour). */
  readonly yMax: number;
  /** Hours on the x axis: window + horizon. */
  readonly hours: number;
}

export function layoutTimeAxis(s: TimeSeries, width: number): TimeAxisLayout {
  const w = Math.max(480, Math.min(1400, Math.floor(width)));
  let max = 0;
  for (const a of [s.volumes, s.forecast, s.truth]) for (const v of a) if (Number.isFinite(v) && v > max) max = v;
  const step = 1000;
  const yMax = Math.max(step, Math.ceil((max * 1.05) / step) * step);
  const left = 62;
  const top = 12;
  const plotH = 220;
  const stripH = 56;
  return {
    width: w,
    height: top + plotH + 34 + stripH + 30,
    left,
    top,
    plotW: w - left - 16,
    plotH,
    stripTop: top + plotH + 34,
    stripH,
    yMax,
    hours: s.window + s.horizon,
  };
}

/** x of the centre of plot hour k (0 = first input hour). */
export const xOf = (l: TimeAxisLayout, k: number): number => l.left + ((k + 0.5) / l.hours) * l.plotW;
const yOf = (l: TimeAxisLayout, v: number): number => l.top + l.plotH * (1 - Math.max(0, v) / l.yMax);

/** The plot hour under x, if inside the plot. */
export function hourAt(l: TimeAxisLayout, x: number): number | undefined {
  const k = Math.floor(((x - l.left) / l.plotW) * l.hours);
  return k >= 0 && k < l.hours ? k : undefined;
}

export interface TimeAxisStyle {
  readonly colourMap: ColourMap;
  readonly foreground: string;
  readonly font: string;
}

export function drawTimeAxis(
  g: CanvasRenderingContext2D,
  l: TimeAxisLayout,
  s: TimeSeries,
  style: TimeAxisStyle,
  hour: number | undefined,
  weights: Float32Array | undefined,
  hover: number | undefined,
): void {
  const { foreground, font } = style;
  const M = s.window;
  const cw = l.plotW / l.hours;
  g.clearRect(0, 0, l.width, l.height);
  g.font = `11px ${font}`;
  g.lineWidth = 1;
  // y grid and labels
  g.fillStyle = foreground;
  g.strokeStyle = foreground;
  g.textBaseline = 'middle';
  g.textAlign = 'right';
  for (let v = 0; v <= l.yMax; v += 1000) {
    const y = yOf(l, v);
    g.globalAlpha = 0.15;
    g.beginPath();
    g.moveTo(l.left, y);
    g.lineTo(l.left + l.plotW, y);
    g.stroke();
    g.globalAlpha = 1;
    g.fillText(v.toLocaleString('en-US'), l.left - 6, y);
  }
  g.save();
  g.translate(12, l.top + l.plotH / 2);
  g.rotate(-Math.PI / 2);
  g.textAlign = 'center';
  g.fillText('vehicles/hour', 0, 0);
  g.restore();
  // attention shading under the line, and bars in the strip
  const [r, gg, b] = colourAt(style.colourMap, 0.75);
  // the hours the model reads: a tick under the plot
  g.fillStyle = foreground;
  g.globalAlpha = 0.6;
  for (const i of s.keyHours) g.fillRect(l.left + i * cw, l.top + l.plotH - 4, Math.max(1, cw - 0.3), 4);
  g.globalAlpha = 1;
  if (weights && weights.length === s.keyHours.length) {
    let wMax = 0;
    for (const w of weights) if (w > wMax) wMax = w;
    for (let j = 0; j < weights.length; j++) {
      const w = weights[j]!;
      const i = s.keyHours[j]!;
      if (!(w > 0) || wMax <= 0) continue;
      const x0 = l.left + i * cw;
      g.fillStyle = `rgba(${r},${gg},${b},${Math.min(0.9, (0.9 * w) / wMax).toFixed(3)})`;
      const y = yOf(l, s.volumes[i]!);
      g.fillRect(x0, y, Math.max(1, cw), l.top + l.plotH - y);
      const bh = (w / wMax) * (l.stripH - 4);
      g.fillStyle = `rgb(${r},${gg},${b})`;
      g.fillRect(x0, l.stripTop + l.stripH - bh, Math.max(1, cw - 0.3), bh);
    }
    g.fillStyle = foreground;
    g.textAlign = 'left';
    g.textBaseline = 'top';
    g.fillText(`max ${wMax.toFixed(3)}`, l.left + 2, l.stripTop);
  }
  // strip frame and caption
  g.strokeStyle = foreground;
  g.globalAlpha = 0.35;
  g.strokeRect(l.left, l.stripTop, l.plotW, l.stripH);
  g.strokeRect(l.left, l.top, l.plotW, l.plotH);
  g.globalAlpha = 1;
  g.fillStyle = foreground;
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  g.fillText('α', l.left - 6, l.stripTop + l.stripH / 2);
  // the window / forecast divider
  const xNow = l.left + M * cw;
  g.setLineDash([2, 3]);
  g.globalAlpha = 0.6;
  g.beginPath();
  g.moveTo(xNow, l.top);
  g.lineTo(xNow, l.stripTop + l.stripH);
  g.stroke();
  g.setLineDash([]);
  g.globalAlpha = 1;
  // input series
  g.strokeStyle = foreground;
  g.lineWidth = 1.5;
  g.beginPath();
  for (let i = 0; i < M; i++) {
    const x = xOf(l, i);
    const y = yOf(l, s.volumes[i]!);
    if (i === 0) g.moveTo(x, y);
    else g.lineTo(x, y);
  }
  g.stroke();
  // truth (solid) and forecast (dashed), both starting from the last input hour
  const path = (vals: Float32Array, colour: string, dashed: boolean): void => {
    if (vals.length === 0) return;
    g.strokeStyle = colour;
    g.fillStyle = colour;
    g.lineWidth = 2;
    g.setLineDash(dashed ? [5, 3] : []);
    g.beginPath();
    g.moveTo(xOf(l, M - 1), yOf(l, s.volumes[M - 1]!));
    vals.forEach((v, t) => g.lineTo(xOf(l, M + t), yOf(l, v)));
    g.stroke();
    g.setLineDash([]);
    vals.forEach((v, t) => {
      g.beginPath();
      g.arc(xOf(l, M + t), yOf(l, v), t === hour ? 4.5 : 2.5, 0, 2 * Math.PI);
      g.fill();
    });
  };
  path(s.truth, TRUTH_COLOUR, false);
  path(s.forecast, FORECAST_COLOUR, true);
  // the selected forecast hour
  if (hour !== undefined) {
    const x = xOf(l, M + hour);
    g.strokeStyle = FORECAST_COLOUR;
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(x, l.top);
    g.lineTo(x, l.top + l.plotH);
    g.stroke();
  }
  if (hover !== undefined) {
    const x = xOf(l, hover);
    g.strokeStyle = foreground;
    g.globalAlpha = 0.5;
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(x, l.top);
    g.lineTo(x, l.stripTop + l.stripH);
    g.stroke();
    g.globalAlpha = 1;
  }
  // x axis: days (or lags), under the strip
  g.fillStyle = foreground;
  g.strokeStyle = foreground;
  g.textAlign = 'left';
  g.textBaseline = 'top';
  const ticks = dayTicks(s);
  // 'Mon 10 Sep' where a day is wide enough, else 'Mon 10', else 'Mon'
  const room = 24 * cw - 4;
  const fit = (label: string): string => {
    const words = label.split(' ');
    for (let n = words.length; n > 1; n--) {
      const t = words.slice(0, n).join(' ');
      if (g.measureText(t).width <= room) return t;
    }
    return words[0]!;
  };
  for (const t of ticks) {
    const x = l.left + t.at * cw;
    if (x + 2 + g.measureText(fit(t.label)).width > l.width) continue; // would be cut at the canvas edge
    g.globalAlpha = 0.25;
    g.beginPath();
    g.moveTo(x, l.top);
    g.lineTo(x, l.top + l.plotH);
    g.stroke();
    g.globalAlpha = 1;
    g.fillText(fit(t.label), x + 2, l.top + l.plotH + 4);
  }
  g.textAlign = 'center';
  g.fillText(
    `weight of each past hour (α, bars scaled to the largest)${hour !== undefined ? ` for forecast hour +${hour + 1}` : ''}`,
    l.left + l.plotW / 2,
    l.stripTop + l.stripH + 6,
  );
  g.fillText(
    s.firstHour === undefined ? 'hours (the window ends at “now”)' : '',
    l.left + l.plotW / 2,
    l.top + l.plotH + 18,
  );
}

// Pure helpers that turn a trace tensor into a 2-D matrix to draw: pick a head, average heads,
// name the rows and columns. No DOM here, so they run in plain Node tests.
import type { TensorData, Token, Trace } from './trace';
import { headMean } from './derived';

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
  readonly rowLabels: readonly string[];
  readonly colLabels: readonly string[];
  readonly rowAxis: string;
  readonly colAxis: string;
  /** Cells that are masked out (drawn hatched), if the stage has a mask. */
  readonly masked?: (r: number, c: number) => boolean;
}

export function tokenLabel(t: Token): string {
  // Make whitespace visible: SentencePiece's ▁ stays, raw spaces and newlines get symbols.
  return t.text
    .replace(/\r\n|\n/g, '↵')
    .replace(/\t/g, '⇥')
    .replace(/^ /, '␣');
}

/** What the decoder reads at position 0 (decoder_start_token_id): not among the trace's output tokens. */
export const START_LABEL = '‹start›';

const shifted = new WeakMap<Trace, boolean>();
/**
 * A Transformer encoder–decoder's trace: its decoder runs over every output position at once on
 * the outputs shifted right (masked self-attention over the outputs, no stage per step), so
 * position t holds the token produced at t − 1, and the start token at 0.
 */
export function decoderInputsShifted(trace: Trace): boolean {
  let v = shifted.get(trace);
  if (v === undefined) {
    v =
      (trace.outputTokens?.length ?? 0) > 0 &&
      trace.stages.every((s) => s.step === undefined) &&
      trace.stages.some((s) => s.attention?.queries === 'output' && s.attention.keys === 'output');
    shifted.set(trace, v);
  }
  return v;
}

/** The decoder input at position t of a shifted-right decoder: the start token at 0, else the token produced at t − 1. */
export function decoderInputLabel(trace: Trace, t: number): string {
  const prev = t > 0 ? trace.outputTokens?.[t - 1] : undefined;
  return prev ? tokenLabel(prev) : START_LABEL;
}

function labelsFor(trace: Trace, tensor: TensorData, axis: number): string[] {
  const name = tensor.axes[axis]!;
  const which = tensor.tokenAxes?.[name];
  const n = tensor.shape[axis]!;
  // A decoder position is labelled by the token it reads (the row of a query, the column of a key,
  // the hidden state there), not by the one it goes on to produce.
  if (which === 'output' && decoderInputsShifted(trace) && n <= (trace.outputTokens?.length ?? 0))
    return Array.from({ length: n }, (_, t) => decoderInputLabel(trace, t));
  const list = which === 'output' ? trace.outputTokens : which === 'input' ? trace.tokens : undefined;
  if (list && list.length >= n) return list.slice(0, n).map(tokenLabel);
  const given = tensor.labels?.[name];
  if (given && given.length === n) return [...given];
  if (name === 'vocab') {
    // Logits over a small output vocabulary: each column is the token it scores (its id if never decoded).
    const texts = vocabTexts(trace);
    return Array.from({ length: n }, (_, i) => {
      const text = texts.get(i);
      return text === undefined ? `#${i}` : tokenLabel({ text, id: i, start: -1, end: -1 });
    });
  }
  return Array.from({ length: n }, (_, i) => String(i));
}

/** Number of heads in a tensor whose first axis is a head axis; 0 if none. */
export function headCount(t: TensorData): number {
  return t.axes[0] === 'head' || t.axes[0] === 'kv_head' ? t.shape[0]! : 0;
}

/** The head of tensor `t` that query head `head` reads (grouped-query K/V map through kvHeadOf; clamped). */
export function headOfTensor(t: TensorData, head: number, kvHeadOf?: readonly number[]): number {
  return t.axes[0] === 'kv_head' && kvHeadOf ? (kvHeadOf[head] ?? 0) : Math.min(head, headCount(t) - 1);
}

const valuesOf = (t: Pick<TensorData, 'shape'>): number => t.shape.reduce((a, b) => a * b, 1);

/**
 * The heads of big [head, …] tensors that the panel fetched a head at a time, each its own array:
 * such a tensor's `data` stays empty (no full-size buffer for a few heads' numbers). Keyed by the
 * tensor, so a copy of it (spread) holds no heads and every read of it fails loudly.
 */
const heldHeads = new WeakMap<TensorData, Map<number, Float32Array>>();

/** Whether `t.data` holds every value of `t` (false for a tensor left remote, or held a head at a time). */
export function isWhole(t: TensorData): boolean {
  return t.data.length === valuesOf(t);
}

/** The heads of `t` held one at a time, by head index (empty for a whole tensor). */
export function headsHeld(t: TensorData): ReadonlyMap<number, Float32Array> {
  return heldHeads.get(t) ?? new Map<number, Float32Array>();
}

/** Whether head `h` of `t` can be read (the whole tensor is here, or that head). */
export function hasHead(t: TensorData, h: number): boolean {
  return isWhole(t) || heldHeads.get(t)?.has(h) === true;
}

/** Keeps `data` as head `h` of `t` (whose own data stays empty): the panel's loader fills this. */
export function holdHead(t: TensorData, h: number, data: Float32Array): void {
  const H = headCount(t);
  if (!Number.isInteger(h) || h < 0 || h >= H) throw new RangeError(`tensor ${t.name} has no head ${h}`);
  const per = valuesOf(t) / H;
  if (data.length !== per) throw new Error(`tensor ${t.name} head ${h}: ${data.length} values for ${per}`);
  let m = heldHeads.get(t);
  if (!m) heldHeads.set(t, (m = new Map()));
  m.set(h, data);
}

/** Lets go of every head of `t` held one at a time. */
export function dropHeads(t: TensorData): void {
  heldHeads.delete(t);
}

/** Head `h` of a [head, …] tensor: a view into a whole tensor, or the head fetched alone. Throws when it is not here. */
export function headData(t: TensorData, h: number): Float32Array {
  const H = headCount(t);
  if (H === 0) throw new Error(`tensor ${t.name} ${JSON.stringify(t.shape)} has no head axis`);
  if (!Number.isInteger(h) || h < 0 || h >= H) throw new RangeError(`tensor ${t.name} has no head ${h} (of ${H})`);
  const per = valuesOf(t) / H;
  if (t.data.length === per * H) return t.data.subarray(h * per, (h + 1) * per);
  const d = heldHeads.get(t)?.get(h);
  if (!d) throw new Error(`head ${h} of tensor ${t.name} is not loaded`);
  return d;
}

/**
 * Every value of `t`, for the readers that need all heads at once (the mean of heads, the head
 * view, the step view's rows per head): throws rather than hand over an empty or partial array.
 */
export function wholeData(t: TensorData): Float32Array {
  if (isWhole(t)) return t.data;
  const held = [...headsHeld(t).keys()];
  throw new Error(
    `tensor ${t.name} is not loaded whole (${held.length ? `only head${held.length === 1 ? '' : 's'} ${held.join(', ')}` : 'no data'})`,
  );
}

/**
 * The 2-D slice to draw. For a [head, a, b] tensor: head h, or the mean over heads for h = -1.
 * For grouped-query K/V ([kv_head, …]) a query head h maps to kvHeadOf[h].
 * 1-D tensors become one row.
 */
export function toMatrix(trace: Trace, t: TensorData, head: number, kvHeadOf?: readonly number[]): Matrix {
  const heads = headCount(t);
  if (heads > 0 && t.shape.length === 3) {
    const [H, R, C] = t.shape as [number, number, number];
    return {
      rows: R,
      cols: C,
      data: head < 0 ? headMean(wholeData(t), H, R, C) : headData(t, headOfTensor(t, head, kvHeadOf)),
      rowLabels: labelsFor(trace, t, 1),
      colLabels: labelsFor(trace, t, 2),
      rowAxis: t.axes[1]!,
      colAxis: t.axes[2]!,
    };
  }
  // Below: tensors with no head axis, which the panel only ever fetches whole (lazy.ts needsOf).
  if (t.shape.length === 2) {
    const [R, C] = t.shape as [number, number];
    return {
      rows: R,
      cols: C,
      data: wholeData(t),
      rowLabels: labelsFor(trace, t, 0),
      colLabels: labelsFor(trace, t, 1),
      rowAxis: t.axes[0]!,
      colAxis: t.axes[1]!,
    };
  }
  if (t.shape.length === 1) {
    return {
      rows: 1,
      cols: t.shape[0]!,
      data: wholeData(t),
      rowLabels: [t.name],
      colLabels: labelsFor(trace, t, 0),
      rowAxis: '',
      colAxis: t.axes[0]!,
    };
  }
  // Higher ranks: flatten leading axes into rows.
  const C = t.shape[t.shape.length - 1]!;
  const data = wholeData(t);
  const R = data.length / C;
  return {
    rows: R,
    cols: C,
    data,
    rowLabels: Array.from({ length: R }, (_, i) => String(i)),
    colLabels: Array.from({ length: C }, (_, i) => String(i)),
    rowAxis: t.axes.slice(0, -1).join('·'),
    colAxis: t.axes[t.axes.length - 1]!,
  };
}

export function range(data: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Infinity) return { min: 0, max: 1 };
  if (min === max) return { min: min - 0.5, max: max + 0.5 };
  return { min, max };
}

/** A colour scale's value range. */
export interface ValueRange {
  readonly min: number;
  readonly max: number;
}

/** Ends of the colour scale fixed by what a tensor means; an end left out follows the data. */
export type ScaleEnds = Partial<ValueRange>;

/** Attention weights are probabilities: always drawn on [0, 1], so heads and layers compare. */
export function scaleEndsFor(tensorName: string): ScaleEnds {
  return tensorName === 'weights' || isSigmoidGate(tensorName)
    ? { min: 0, max: 1 }
    : tensorName === 'rollout' || tensorName === 'value_norms'
      ? { min: 0 }
      : {};
}

/** A recurrent cell's sigmoid gate, in (0, 1): GRU z, r; LSTM i, f, o ('z', or 'forward z' for an encoder direction). */
export function isSigmoidGate(tensorName: string): boolean {
  return /^(?:(?:forward|backward) )?[zrifo]$/.test(tensorName);
}

/** Probabilities and gates are drawn on a sequential map; everything else (scores, Q, K, V, differences) is signed. */
export function isSigned(tensorName: string): boolean {
  return (
    !['weights', 'probs', 'top_p', 'mask', 'rollout', 'value_norms'].includes(tensorName) && !isSigmoidGate(tensorName)
  );
}

/** A signed tensor's colour range: symmetric about 0, so 0 is the diverging map's neutral middle. */
export function centredRange(r: ValueRange): ValueRange {
  const a = Math.max(Math.abs(r.min), Math.abs(r.max)) || 1;
  return { min: -a, max: a };
}

const LEGEND_TITLES: Record<string, string> = {
  weights: 'attention weight α',
  value_norms: 'value-weighted norm ‖αvW_O‖',
  scores: 'score S',
  difference: 'difference (what-if − model)',
  'score difference': 'Δ score (what-if − model)',
  'context difference': 'Δ context (what-if − model)',
  Q: 'query component',
  K: 'key component',
  V: 'value component',
  context: 'context component',
  probs: 'probability',
  logits: 'logit',
  top_p: 'probability',
  rollout: 'rollout share',
};

/** What a heatmap's colour measures, as its legend's title. */
export function legendTitle(tensorName: string): string {
  if (isSigmoidGate(tensorName)) return `gate ${tensorName.replace(/^(forward|backward) /, '')} (σ)`;
  return LEGEND_TITLES[tensorName] ?? `${tensorName} value`;
}

/** A legend's end label: three significant digits, or an exponent for very small or large values. */
export function legendLabel(v: number): string {
  if (!Number.isFinite(v)) return formatValue(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(2).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

/**
 * The one colour range of a drawn matrix (heatmap, SVG and PNG exports, grid thumbnails): the
 * fixed ends, and the data's range over the cells that are not masked out for the others, so a
 * masked score (−∞, or a large negative) never stretches the scale.
 */
export function colourRange(m: Pick<Matrix, 'rows' | 'cols' | 'data' | 'masked'>, ends: ScaleEnds = {}): ValueRange {
  const own =
    ends.min !== undefined && ends.max !== undefined ? { min: ends.min, max: ends.max } : range(keptValues(m));
  const min = ends.min ?? own.min;
  const max = ends.max ?? own.max;
  return max > min ? { min, max } : { min, max: min + 1 };
}

function keptValues(m: Pick<Matrix, 'rows' | 'cols' | 'data' | 'masked'>): Float32Array {
  if (!m.masked) return m.data;
  const kept: number[] = [];
  for (let r = 0; r < m.rows; r++)
    for (let c = 0; c < m.cols; c++) if (!m.masked(r, c)) kept.push(m.data[r * m.cols + c]!);
  return Float32Array.from(kept);
}

export function shapeText(t: TensorData): string {
  return `[${t.shape.map((n, i) => `${n} ${t.axes[i]}`).join(' × ')}]`;
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? '+∞' : v < 0 ? '−∞' : 'NaN';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(4) : v.toFixed(a >= 100 ? 2 : 4);
}

/** What a trace's predictions are: the decoder's steps, a masked-LM's guess per position, or the next token after each. */
export type PredictionKind = 'decoder' | 'masked' | 'next-token';

export function predictionKind(trace: Trace): PredictionKind {
  if (trace.outputTokens?.length) return 'decoder';
  // Without a causal mask a position sees its own token, so what it predicts is that token (masked LM).
  return trace.stages.some((s) => s.attention?.causal) ? 'next-token' : 'masked';
}

/** The row label of the prediction at `position`: the token it belongs to, never a bare index. */
export function predictionRowLabel(trace: Trace, position: number): string {
  if (predictionKind(trace) === 'decoder') {
    const prev = position === 0 ? undefined : trace.outputTokens?.[position - 1];
    return `step ${position + 1}, after ${prev ? tokenLabel(prev) : 'the start token'}`;
  }
  const tok = trace.tokens[position];
  return tok ? tokenLabel(tok) : `#${position}`;
}

/** The decoded output of an encoder–decoder: its output tokens without special ones, SentencePiece's ▁ as a space. */
export function decodedOutput(trace: Trace): string | undefined {
  const out = trace.outputTokens;
  if (!out?.length) return undefined;
  return out
    .filter((t) => !t.special)
    .map((t) => t.text)
    .join('')
    .replace(/▁/g, ' ')
    .trim();
}

/** Text of each vocabulary id the trace decoded (its predictions and output tokens), for labelling vocab axes. */
function vocabTexts(trace: Trace): Map<number, string> {
  const m = new Map<number, string>();
  for (const t of trace.outputTokens ?? []) m.set(t.id, t.text);
  for (const p of trace.predictions ?? []) for (const c of p.top) if (!m.has(c.id)) m.set(c.id, c.text);
  return m;
}

// What a token attends to, for the editor hover and decorations. Pure: no vscode import.
import type { Stage, Token, Trace } from '../../shared/trace';
import type { Cursor } from '../../shared/protocol';
import { attentionBlocks, blockAt, type AttentionBlock } from '../../shared/navigation';
import { attentionRow, forecastHourOf, timeSeriesOf } from '../../shared/timeSeries';
import { decoderInputLabel } from '../../shared/decoderSteps';
import { tokenLabel } from '../../shared/tensorView';

/** Brings the tensors of these stages into a trace whose big tensors are held elsewhere (EngineClient.filled). */
export type FillStages = (trace: Trace, stageIds: readonly string[]) => Promise<Trace>;

/** The stages the hover and decorations read at the cursor: its attention block's weights. */
export function hoverStages(trace: Trace, cursor: Cursor): string[] {
  const block = blockAt(trace, cursor);
  return block ? [block.stages.normalise.id] : [];
}

/** Index of the token covering a UTF-16 offset into the trace's text, or -1. */
export function tokenAt(tokens: readonly Token[], offset: number): number {
  // Tokens are sorted by start; binary search for the last token starting at or before offset.
  // Generated tokens (Continue) follow the text's tokens and have no place in it: left out.
  let lo = 0;
  let hi = tokens.length - 1;
  while (hi >= 0 && tokens[hi]!.start < 0) hi--;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = tokens[mid]!;
    if (t.start < 0) {
      // Special tokens (BOS) have no text; they sort first.
      lo = mid + 1;
      continue;
    }
    if (t.start <= offset) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (best < 0) return -1;
  const t = tokens[best]!;
  return offset < t.end ? best : -1;
}

export interface Attended {
  readonly block: AttentionBlock;
  /** The block's weights stage. */
  readonly stage: Stage;
  readonly stageIndex: number;
  /** -1 = mean over heads. */
  readonly head: number;
  readonly query: number;
  readonly entries: readonly {
    readonly key: number;
    readonly token: Token;
    readonly weight: number;
    /** ‖αvW_O‖ of the same pair (mean of heads likewise), where the block has value-weighted norms. */
    readonly norm?: number;
  }[];
  /** The full row of weights over keys (for decorations). */
  readonly row: Float32Array;
}

/**
 * The top-k keys the query token `query` attends to in the cursor's layer and head.
 * Works for self-attention ([head, query, key] weights over input tokens).
 */
export function attendedBy(trace: Trace, cursor: Cursor, query: number, k: number): Attended | undefined {
  const block = blockAt(trace, cursor);
  // The editor shows the input text: only self-attention over it can be painted there.
  if (!block || block.info.queries !== 'input' || block.info.keys !== 'input') return undefined;
  const w = block.weights;
  if (w.shape.length !== 3) return undefined;
  const [H, Q, K] = w.shape as [number, number, number];
  if (query < 0 || query >= Q) return undefined;
  const head = cursor.head >= H ? H - 1 : cursor.head;
  const row = new Float32Array(K);
  if (head < 0) {
    for (let h = 0; h < H; h++) for (let j = 0; j < K; j++) row[j]! += w.data[(h * Q + query) * K + j]! / H;
  } else row.set(w.data.subarray((head * Q + query) * K, (head * Q + query + 1) * K));
  const order = Array.from({ length: K }, (_, j) => j).sort((a, b) => row[b]! - row[a]! || a - b);
  const n = block.valueNorms && block.valueNorms.data.length === w.data.length ? block.valueNorms.data : undefined;
  const normAt = (key: number): number => {
    if (head >= 0) return n![(head * Q + query) * K + key]!;
    let sum = 0;
    for (let h = 0; h < H; h++) sum += n![(h * Q + query) * K + key]!;
    return sum / H;
  };
  const entries = order
    .slice(0, k)
    .map((key) => ({ key, token: block.keyTokens[key]!, weight: row[key]!, ...(n ? { norm: normAt(key) } : {}) }));
  const stage = block.stages.normalise;
  return { block, stage, stageIndex: trace.stages.indexOf(stage), head, query, entries, row };
}

/** What a forecast hour attended to, for a hover over one of the numbers of a forecasting trace. */
export interface ForecastAttended extends Attended {
  /** The forecast hour (0-based) and the number under the mouse (an input hour, or that hour's truth). */
  readonly hour: number;
  readonly hovered: Token;
  readonly forecast: number;
}

/**
 * Forecasting traces (the traffic models): the numbers in the editor are the input hours, and
 * those after the window are the truth of the forecast hours. Hovering a truth number shows what
 * that forecast hour attended to; hovering an input hour shows the cursor's forecast hour (+1 h
 * when the cursor is on no particular hour). `local` is the offset into the trace's text.
 */
export function forecastAttendedAt(
  trace: Trace,
  cursor: Cursor,
  local: number,
  k: number,
): ForecastAttended | undefined {
  const series = timeSeriesOf(trace);
  if (!series) return undefined;
  const outputs = trace.outputTokens ?? [];
  const o = outputs.findIndex((t) => t.start >= 0 && t.start <= local && local < t.end);
  const i = o >= 0 ? -1 : tokenAt(trace.tokens, local);
  if (o < 0 && i < 0) return undefined;
  const cur = trace.stages[cursor.stage];
  const hour = o >= 0 ? o : (forecastHourOf(cur, cursor.row, series.horizon) ?? 0);
  const block = attentionBlocks(trace).find((b) => b.step === hour && b.info.queries === 'output');
  const row = attentionRow(trace, cur, hour);
  if (!block || !row) return undefined;
  const order = Array.from({ length: row.length }, (_, j) => j).sort((a, b) => row[b]! - row[a]! || a - b);
  const entries = order.slice(0, k).map((key) => ({ key, token: trace.tokens[key]!, weight: row[key]! }));
  const stage = block.stages.normalise;
  return {
    block,
    stage,
    stageIndex: trace.stages.indexOf(stage),
    head: 0,
    query: hour,
    entries,
    row,
    hour,
    hovered: o >= 0 ? outputs[o]! : trace.tokens[i]!,
    forecast: series.forecast[hour]!,
  };
}

/** A 10-cell text bar for a weight in [0, 1]. */
export function bar(weight: number, width = 10): string {
  const filled = Math.round(Math.max(0, Math.min(1, weight)) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

/** The cursor's block when it is cross-attention from the output over the input text (an encoder–decoder). */
function crossBlock(trace: Trace, cursor: Cursor): AttentionBlock | undefined {
  const block = blockAt(trace, cursor);
  return block && block.info.queries === 'output' && block.info.keys === 'input' && block.weights.shape.length === 3
    ? block
    : undefined;
}

/** One head's (or the mean's) [query, key] weight. */
function weightAt(block: AttentionBlock, head: number, q: number, j: number): number {
  const [H, Q, K] = block.weights.shape as [number, number, number];
  const d = block.weights.data;
  if (head >= 0) return d[(head * Q + q) * K + j]!;
  let s = 0;
  for (let h = 0; h < H; h++) s += d[(h * Q + q) * K + j]!;
  return s / H;
}

export interface ReadBy {
  readonly block: AttentionBlock;
  readonly stage: Stage;
  readonly stageIndex: number;
  readonly head: number;
  readonly key: number;
  /** Output steps by how much of their attention lands on `key`, largest first (query = the 0-based step). */
  readonly entries: readonly ReadByEntry[];
  /** The panel's focused output step (cursor.row), when it has one: its weight on `key` and its rank among the input tokens. */
  readonly focused?: ReadByEntry & { readonly rank: number; readonly keys: number };
}

export interface ReadByEntry {
  readonly query: number;
  /** The token produced at this step (not in the document: an output of the model). */
  readonly token: Token;
  /** What the decoder read at this step: the start token at step 0, else the token produced at step − 1. */
  readonly reads: string;
  readonly produces: string;
  readonly weight: number;
}

/**
 * Cross-attention read from the input's side: which output steps attend to input token `key`
 * in the cursor's layer and head (the weights' column), the top k; and the cursor's own step.
 */
export function readBy(trace: Trace, cursor: Cursor, key: number, k: number): ReadBy | undefined {
  const block = crossBlock(trace, cursor);
  if (!block) return undefined;
  const [H, Q, K] = block.weights.shape as [number, number, number];
  if (key < 0 || key >= K) return undefined;
  const head = cursor.head >= H ? H - 1 : cursor.head;
  const col = Array.from({ length: Q }, (_, q) => weightAt(block, head, q, key));
  const entry = (query: number): ReadByEntry => ({
    query,
    token: block.queryTokens[query]!,
    reads: decoderInputLabel(trace, query),
    produces: tokenLabel(block.queryTokens[query]!),
    weight: col[query]!,
  });
  const order = col.map((_, q) => q).sort((a, b) => col[b]! - col[a]! || a - b);
  const entries = order.slice(0, k).map(entry);
  const row = cursor.row;
  let focused: ReadBy['focused'];
  if (row !== undefined && row >= 0 && row < Q) {
    const w = col[row]!;
    let rank = 1;
    for (let j = 0; j < K; j++) if (weightAt(block, head, row, j) > w) rank++;
    focused = { ...entry(row), rank, keys: K };
  }
  const stage = block.stages.normalise;
  return { block, stage, stageIndex: trace.stages.indexOf(stage), head, key, entries, ...(focused ? { focused } : {}) };
}

/** The focused output token's (cursor.row) cross-attention over the input, for decorations. */
export function crossRow(
  trace: Trace,
  cursor: Cursor,
): { readonly query: number; readonly row: Float32Array } | undefined {
  const block = crossBlock(trace, cursor);
  if (!block || cursor.row === undefined) return undefined;
  const [H, Q, K] = block.weights.shape as [number, number, number];
  if (cursor.row < 0 || cursor.row >= Q) return undefined;
  const head = cursor.head >= H ? H - 1 : cursor.head;
  return { query: cursor.row, row: Float32Array.from({ length: K }, (_, j) => weightAt(block, head, cursor.row!, j)) };
}

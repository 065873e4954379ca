// The typed messages between the extension host and the webview. Both bundles import this file.
// Tensors cross as Float32Array (structured clone / transfer), never as JSON number arrays.
import type { Normaliser, ScoreFunction, TensorData, Trace } from './trace';
import type { CancelMessage, RequestMessage, WireError } from './channel';
import type { GridThumbs } from './derived';
import type { TensorRequest } from './lazy';
import type { RunRequest } from './workerProtocol';
import type { ContinueSettings, GenerateDefaults } from './generation';

export type ViewMode = 'heatmap' | 'lines' | 'grid' | 'matrices' | 'heads' | 'text' | 'neuron' | 'steps';
export type ColourMap = 'viridis' | 'cividis' | 'magma';

/** The only mutable UI state: which stage, head and cell are shown. */
export interface Cursor {
  readonly stage: number;
  /** Head index, or -1 for the mean over heads. */
  readonly head: number;
  readonly view: ViewMode;
  /** Query token (row) the hover/decorations focus on, if any. */
  readonly row?: number;
}

export interface PanelSettings {
  readonly colourMap: ColourMap;
  readonly topK: number;
  /** The user's chosen score function and normaliser: the what-if controls start from these. */
  readonly score: ScoreFunction;
  readonly normaliser: Normaliser;
  /** Continue's starting values (attentionLens.generate.*); absent: DEFAULT_GENERATE. */
  readonly generate?: GenerateDefaults;
}

/**
 * Luong et al. (2015)'s local attention as a what-if window: only keys s with |s − p_t| ≤ D may be
 * attended to; the weights are normalised over the window and then, with `gaussian`, multiplied by
 * exp(−(s − p_t)²/(2σ²)), σ = D/2, without renormalising (as Luong does).
 */
export interface LocalWindow {
  /** monotonic (local-m): p_t = t; predictive (local-p): p_t = S·sigmoid(v_pᵀ tanh(W_p h_t)), S = key count. */
  readonly alignment: 'monotonic' | 'predictive';
  /** Half-width D, an integer ≥ 1. */
  readonly D: number;
  readonly gaussian: boolean;
  /**
   * monotonic: the position t of the first query row (default Tk − Tq for a causal block, whose
   * queries are the last Tq of Tk positions, else 0); a decoder step's one query row is at its step.
   */
  readonly firstQuery?: number;
}

export interface WhatIfResult {
  readonly scores: TensorData;
  readonly weights: TensorData;
  readonly context: TensorData;
  /** With a local window: 1/0 [query, key] (or [head, query, key] for local-p), window ∧ the block's own mask. */
  readonly windowMask?: TensorData;
  /** With a local window: the aligned position p_t of each query, [query] (or [head, query] for local-p). */
  readonly positions?: TensorData;
  /** The seed the 'sampled' normaliser drew with. */
  readonly seed?: number;
}

export type ExportFormat = 'png' | 'svg' | 'csv' | 'json' | 'html';

/** How to make a run again (a reload re-runs it rather than storing its tensors). */
export interface RunRef {
  readonly title: string;
  readonly request: RunRequest;
  /** The document the text came from: its URI, version and where the text starts in it. */
  readonly source?: { readonly uri: string; readonly version: number; readonly offset: number };
}

// ---- requests (webview → host over the one Channel, answered once by a response with the same id) ----
export type Request =
  | {
      readonly kind: 'whatIf';
      readonly stageId: string;
      readonly score: ScoreFunction;
      readonly normaliser: Normaliser;
      /** Luong's local attention window, if any. */
      readonly local?: LocalWindow;
      /** The seed for the 'sampled' normaliser. */
      readonly seed?: number;
    }
  /** Continue the current causal-LM trace by `tokens` tokens; the new trace arrives as a 'trace' message first. */
  | ({ readonly kind: 'continue' } & ContinueSettings)
  | {
      readonly kind: 'save';
      readonly format: ExportFormat;
      readonly suggestedName: string;
      readonly content: string | Uint8Array;
    }
  /** Tensors of the trace shown (`key`), whole or one head each; see shared/lazy.ts. */
  | { readonly kind: 'tensors'; readonly key: number; readonly want: readonly TensorRequest[] }
  /** The all-heads grid of the trace shown, pooled to at most max × max per head. */
  | { readonly kind: 'thumbnails'; readonly key: number; readonly max: number };

export interface ResponseMap {
  whatIf: WhatIfResult;
  save: { readonly path?: string };
  tensors: readonly TensorData[];
  thumbnails: GridThumbs;
  /** How many tokens were generated (fewer than asked when the model ended its text). */
  continue: { readonly generated: number };
}

export type HostMessage =
  | {
      readonly type: 'trace';
      /** The index of the run (shared/lazy.ts: big tensors are fetched with `key`). */
      readonly trace: Trace;
      readonly key: number;
      readonly cursor: Cursor;
      readonly settings: PanelSettings;
      /** How to make the run again after a reload, when it can be. */
      readonly run?: RunRef;
      /** The key of the streamed partial trace this run completes (its stages are the same, bit for bit). */
      readonly continues?: number;
    }
  | {
      /** A streamed run's trace so far: the stages of its first `layersDone` of `layers` layers (shared/lazy.ts index). */
      readonly type: 'trace-partial';
      readonly trace: Trace;
      readonly key: number;
      readonly cursor: Cursor;
      readonly settings: PanelSettings;
      readonly layersDone: number;
      readonly layers: number;
    }
  /** The streamed run `key` will not finish: the panel keeps what arrived, labelled partial. */
  | {
      readonly type: 'partial-ended';
      readonly key: number;
      readonly outcome: 'failed' | 'cancelled';
      readonly message: string;
    }
  | { readonly type: 'cursor'; readonly cursor: Cursor }
  | { readonly type: 'settings'; readonly settings: PanelSettings }
  | { readonly type: 'busy'; readonly message: string }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'export'; readonly format: ExportFormat }
  /** "Show model info": the panel opens its model info. */
  | { readonly type: 'modelInfo' }
  | {
      readonly type: 'response';
      readonly id: number;
      readonly ok: true;
      readonly result: ResponseMap[keyof ResponseMap];
    }
  | { readonly type: 'response'; readonly id: number; readonly ok: false; readonly error: WireError };

export type WebviewMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'cursor'; readonly cursor: Cursor }
  | RequestMessage<Request>
  | CancelMessage
  | { readonly type: 'log'; readonly level: 'info' | 'error'; readonly message: string };

/**
 * State the webview persists with setState (VS Code keeps it as JSON): how to make the run again
 * and the cursor, never the tensors, so saving costs nothing at any length. `trace` (the JSON
 * form, shared/codec.ts) is only a standalone page's or an older version's.
 */
export interface PersistedState {
  readonly run?: RunRef;
  readonly cursor?: Cursor;
  readonly trace?: unknown;
}

export function assertNever(x: never): never {
  throw new Error(`unhandled message: ${JSON.stringify(x)}`);
}

export const DEFAULT_CURSOR: Cursor = { stage: 0, head: 0, view: 'heatmap' };
export const REQUEST_TIMEOUT_MS = 30_000;

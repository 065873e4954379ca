// The typed messages between the extension host and the webview. Both bundles import this file.
// Tensors cross as Float32Array (structured clone / transfer), never as JSON number arrays.
import type { Normaliser, ScoreFunction, TensorData, Trace } from './trace';
import type { CancelMessage, RequestMessage, WireError } from './channel';

export type ViewMode = 'heatmap' | 'lines' | 'grid' | 'matrices' | 'heads' | 'text' | 'neuron';
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
}

export interface WhatIfResult {
  readonly scores: TensorData;
  readonly weights: TensorData;
  readonly context: TensorData;
}

export type ExportFormat = 'png' | 'svg' | 'csv' | 'json' | 'html';

// ---- requests (webview → host over the one Channel, answered once by a response with the same id) ----
export type Request =
  | {
      readonly kind: 'whatIf';
      readonly stageId: string;
      readonly score: ScoreFunction;
      readonly normaliser: Normaliser;
    }
  | {
      readonly kind: 'save';
      readonly format: ExportFormat;
      readonly suggestedName: string;
      readonly content: string | Uint8Array;
    };

export interface ResponseMap {
  whatIf: WhatIfResult;
  save: { readonly path?: string };
}

export type HostMessage =
  | { readonly type: 'trace'; readonly trace: Trace; readonly cursor: Cursor; readonly settings: PanelSettings }
  | { readonly type: 'cursor'; readonly cursor: Cursor }
  | { readonly type: 'settings'; readonly settings: PanelSettings }
  | { readonly type: 'busy'; readonly message: string }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'export'; readonly format: ExportFormat }
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
 * State the webview persists with setState, so a reload restores the same trace and cursor.
 * VS Code stores it as JSON, so the trace is kept in its JSON form (tensors base64, see serialise.ts).
 */
export interface PersistedState {
  readonly trace?: unknown;
  readonly cursor?: Cursor;
}

export function assertNever(x: never): never {
  throw new Error(`unhandled message: ${JSON.stringify(x)}`);
}

export const DEFAULT_CURSOR: Cursor = { stage: 0, head: 0, view: 'heatmap' };
export const REQUEST_TIMEOUT_MS = 30_000;

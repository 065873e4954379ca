// Messages between the extension host and the inference worker thread.
import type { Normaliser, ScoreFunction, TensorData, Trace } from './trace';
import type { WhatIfResult } from './protocol';

export interface RunRequest {
  readonly modelId: string;
  /** Run an *.attention.json file (its text and folder) instead of modelId on text. */
  readonly config?: { readonly text: string; readonly baseDir: string };
  readonly text: string;
  readonly maxTokens?: number;
  readonly score?: ScoreFunction;
  readonly normaliser?: Normaliser;
  readonly topK?: number;
}

export interface WhatIfRequest {
  readonly Q: TensorData;
  readonly K: TensorData;
  readonly V: TensorData;
  readonly params?: Readonly<Record<string, TensorData>>;
  readonly kvHeadOf?: readonly number[];
  readonly causal: boolean;
  readonly score: ScoreFunction;
  readonly normaliser: Normaliser;
}

export type ToWorker =
  | { readonly type: 'run'; readonly id: number; readonly request: RunRequest }
  | { readonly type: 'whatIf'; readonly id: number; readonly request: WhatIfRequest }
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'memory'; readonly id: number };

export interface WorkerError {
  readonly message: string;
  readonly code?: string;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly backend: string; readonly threads: number; readonly warning?: string }
  | { readonly type: 'progress'; readonly id: number; readonly fraction: number; readonly message: string }
  | { readonly type: 'trace'; readonly id: number; readonly trace: Trace; readonly numTensors: number }
  | { readonly type: 'whatIf'; readonly id: number; readonly result: WhatIfResult }
  | { readonly type: 'memory'; readonly id: number; readonly numTensors: number; readonly numBytes: number }
  | { readonly type: 'error'; readonly id: number; readonly error: WorkerError };

/** Every distinct ArrayBuffer under a value, for postMessage's transfer list. */
export function buffersOf(tensors: Iterable<TensorData>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of tensors) seen.add(t.data.buffer as ArrayBuffer);
  return [...seen];
}

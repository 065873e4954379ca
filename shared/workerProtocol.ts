// Messages between the extension host and the inference worker thread.
import type { GenerationStep, Normaliser, ScoreFunction, TensorData, Token, Trace } from './trace';
import type { ContinueSettings } from './generation';
import type { LocalWindow, WhatIfResult } from './protocol';
import type { ChannelMessage } from './channel';
import type { TensorRequest } from './lazy';
import type { GridThumbs } from './derived';

export interface RunRequest {
  readonly modelId: string;
  /** Run an *.attention.json file (its text and folder) instead of modelId on text. */
  readonly config?: { readonly text: string; readonly baseDir: string };
  readonly text: string;
  readonly maxTokens?: number;
  readonly score?: ScoreFunction;
  readonly normaliser?: Normaliser;
  readonly topK?: number;
  /** Refuse the run before it starts when its estimated memory exceeds this (attentionLens.memoryBudgetMB). */
  readonly memoryBudgetMB?: number;
}

/** Continue a causal LM's trace: `tokens` new tokens after `prior`, then the trace of them all. */
export interface GenerateRequest extends ContinueSettings {
  /** As the run was made (a built-in id or `file:` + its path). */
  readonly modelId: string;
  /** The trace's text (the prompt) and its tokens so far: the prompt's, then earlier generated ones. */
  readonly text: string;
  readonly prior: readonly Token[];
  /** Earlier Continue steps, kept in the new trace. */
  readonly steps?: readonly GenerationStep[];
  /** Predictions and alternatives per step. */
  readonly topK?: number;
  /** Refused before it starts when prior + new tokens would need more (attentionLens.memoryBudgetMB). */
  readonly memoryBudgetMB?: number;
}

export interface WhatIfRequest {
  readonly Q: TensorData;
  readonly K: TensorData;
  readonly V: TensorData;
  readonly params?: Readonly<Record<string, TensorData>>;
  readonly kvHeadOf?: readonly number[];
  readonly causal: boolean;
  /** The block's own [query, key] 1/0 mask (a sliding window, padding), combined with `causal`. */
  readonly mask?: TensorData;
  /** The model's own scaled-dot (AttentionInfo.scale, softCap), used when `score` is scaled-dot. */
  readonly scale?: number;
  readonly softCap?: number;
  /** [H, Tq, Tk] added to the scores before the mask (AttentionInfo.scoreBias: T5's position bias). */
  readonly bias?: TensorData;
  readonly score: ScoreFunction;
  readonly normaliser: Normaliser;
  /** Luong's local attention window (predictive needs params W_p and v_p). */
  readonly local?: LocalWindow;
  /** The seed for the 'sampled' normaliser. */
  readonly seed?: number;
}

/**
 * A run's answer: the trace whole, or (when it has tensors too big to travel with it) its index
 * (shared/lazy.ts) while the worker holds the tensors under `held.id` for 'fetch' and 'thumbnails'.
 */
export interface HeldTrace {
  readonly trace: Trace;
  readonly held?: { readonly id: number; readonly bytes: number };
}

/**
 * A streamed run's trace so far, sent ahead of its answer (a progress message's `partial`): its
 * index (shared/lazy.ts), big tensors held by the worker under `id` (the final HeldTrace's id too).
 */
export interface PartialTrace {
  readonly trace: Trace;
  readonly id: number;
  readonly layersDone: number;
  readonly layers: number;
}

/** What the host asks the worker, over the one Channel (shared/channel.ts). */
export type WorkerRequest =
  | ({ readonly kind: 'run' } & RunRequest)
  | ({ readonly kind: 'generate' } & GenerateRequest)
  | ({ readonly kind: 'adopt' } & AdoptRequest)
  | ({ readonly kind: 'whatIf' } & WhatIfRequest)
  | { readonly kind: 'fetch'; readonly id: number; readonly want: readonly TensorRequest[] }
  | { readonly kind: 'thumbnails'; readonly id: number; readonly max: number }
  | { readonly kind: 'release'; readonly id: number }
  | { readonly kind: 'memory' };

/**
 * A run kept in light form (the restore cache: small tensors and each layer's input, shared/lazy.ts
 * lightForm) given back to a worker, which holds it with `request`'s model to make its layers again
 * when they are shown: the same numbers as the run, without running it.
 */
export interface AdoptRequest {
  readonly request: RunRequest;
  readonly trace: Trace;
  /** The layer the panel opens on: made again right after the answer, while the panel opens. */
  readonly layer?: number;
  /** The grid's thumbnails kept with it (at GRID_THUMB), used when they fit the run. */
  readonly grid?: GridThumbs;
}

export interface WorkerResponseMap {
  run: HeldTrace;
  adopt: HeldTrace;
  generate: HeldTrace;
  whatIf: WhatIfResult;
  fetch: readonly TensorData[];
  thumbnails: GridThumbs;
  release: void;
  memory: {
    readonly numTensors: number;
    readonly numBytes: number;
    /** Traces the worker holds for fetches, and their tensors' bytes. */
    readonly held: { readonly traces: number; readonly bytes: number };
  };
}

/** The one message outside the channel: the worker's backend is up (posted once, unasked). */
export interface WorkerReady {
  readonly type: 'ready';
  readonly backend: string;
  readonly threads: number;
  readonly warning?: string;
}

export type ToWorker = ChannelMessage<WorkerRequest>;
export type FromWorker = WorkerReady | ChannelMessage<never>;

/** Every distinct ArrayBuffer under a value, for postMessage's transfer list. */
export function buffersOf(tensors: Iterable<TensorData>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of tensors) seen.add(t.data.buffer as ArrayBuffer);
  return [...seen];
}

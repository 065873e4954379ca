// The contract every built-in and loaded model fulfils. Pure TypeScript + tfjs; no vscode.
import {
  AttentionInputError,
  type ModelInfo,
  type Normaliser,
  type ScoreFunction,
  type Stage,
  type Trace,
} from '../../shared/trace';

export interface RunOptions {
  /** Longer inputs are truncated to this many tokens, with a warning naming the limit. */
  readonly maxTokens?: number;
  /** For models whose attention can be switched at run time (toy, hand-built); others ignore it. */
  readonly score?: ScoreFunction;
  readonly normaliser?: Normaliser;
  /** How many next-token / output predictions to keep per position. */
  readonly topK?: number;
  /** Cancels between stages; a cancelled run throws AttentionInputError('cancelled') and leaks no tensors. */
  readonly signal?: AbortSignal;
  /** Progress in [0, 1] with a short message, for the editor's progress notification. */
  readonly onProgress?: (fraction: number, message: string) => void;
  /**
   * Light mode (models with recomputeLayer): each layer's big tensors are left out of the trace as
   * it runs (marked `remote`, empty), its input kept, so memory follows one layer, not all of them.
   */
  readonly light?: boolean;
  /**
   * Streaming (models that support it): called with the trace so far — the same Trace literal as
   * the final one, its stages a prefix of the final trace's (tokens and embedding first, then each
   * layer's stages as soon as that layer has run), with the same numbers. Models that do not stream
   * never call it.
   */
  readonly onStages?: (update: StagesUpdate) => void;
  /**
   * Called as each layer is made (models that support it) with a trace of the run's first stages
   * and that layer's, its attention weights and value-weighted norms in hand even in light mode —
   * for pooling the grid while they are; their buffers are reused by the next layer, so read them
   * during the call only.
   */
  readonly onLayerStages?: (trace: Trace) => void;
}

/** A streamed run's stages so far (RunOptions.onStages). */
export interface StagesUpdate {
  /** The trace so far: tokens, text and model as the final trace's; `stages` a prefix of its stages. */
  readonly trace: Trace;
  /** Layers whose stages are in `trace` (an encoder–decoder counts its encoder's; its decoder arrives at the end). */
  readonly layersDone: number;
  /** Layers the run has in all. */
  readonly layers: number;
}

export interface AttentionModel {
  readonly info: ModelInfo;
  run(text: string, options?: RunOptions): Promise<Trace>;
  /**
   * Layer `layer`'s stages of a light-mode trace, computed again from the input the trace kept:
   * the numbers of the eager run, bit for bit. Synchronous (the weights are loaded).
   */
  recomputeLayer?(trace: Trace, layer: number): Stage[];
  /** Frees the model's weight tensors. */
  dispose(): void;
}

/**
 * Lets the event loop run (a cancel request, a progress message) between layers. setImmediate,
 * not setTimeout(0): Node clamps that to 1 ms, a millisecond lost per layer.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AttentionInputError('cancelled', 'The run was cancelled.');
}

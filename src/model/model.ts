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

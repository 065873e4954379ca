// A stack of Transformer blocks over the residual stream, one tf.tidy per layer, with cancel checks
// and an event-loop yield between layers (a cancel request or a progress message gets through).
import { tf } from '../runtime/backend';
import { throwIfCancelled, yieldToEventLoop } from '../model';
import { transformerBlock, type BlockInputs, type BlockRecord, type BlockWeights } from './block';
import type { BlockConfig } from './config';

export interface StackOptions {
  readonly record: boolean;
  readonly signal?: AbortSignal | undefined;
  /** Called before layer l of L. */
  readonly progress?: (layer: number, layers: number) => void;
  /** Yield to the event loop after each layer (default true). */
  readonly yieldEach?: boolean;
}

/** Runs `x` ([T, D], owned: disposed here) through every layer; returns the last layer's output (caller disposes). */
export async function runStack(
  x: tf.Tensor2D,
  layers: readonly BlockWeights[],
  cfg: BlockConfig,
  inputs: Omit<BlockInputs, 'layer'>,
  opts: StackOptions,
): Promise<{ out: tf.Tensor2D; records: BlockRecord[] }> {
  const records: BlockRecord[] = [];
  let cur = x;
  try {
    for (let l = 0; l < layers.length; l++) {
      throwIfCancelled(opts.signal);
      opts.progress?.(l, layers.length);
      const input = cur;
      cur = tf.tidy(() => {
        const r = transformerBlock(input, layers[l]!, cfg, { ...inputs, layer: l }, opts.record);
        if (r.record) records.push(r.record);
        return r.out;
      });
      input.dispose();
      if (opts.yieldEach !== false) await yieldToEventLoop();
    }
    return { out: cur, records };
  } catch (err) {
    cur.dispose();
    throw err;
  }
}

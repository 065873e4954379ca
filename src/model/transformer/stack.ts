// A stack of Transformer blocks over the residual stream, one tf.tidy per layer, with cancel checks
// and an event-loop yield between layers (a cancel request or a progress message gets through).
import { tf } from '../runtime/backend';
import { throwIfCancelled, yieldToEventLoop } from '../model';
import { transformerBlock, type BlockInputs, type BlockRecord, type BlockWeights } from './block';
import { configOfLayer, type LayerConfigs } from './config';
import { withLayer, type LayerList } from './streamedWeights';
import type { Reader } from '../runtime/read';

export interface StackOptions {
  readonly record: boolean;
  readonly signal?: AbortSignal | undefined;
  /** Called before layer l of L. */
  readonly progress?: (layer: number, layers: number) => void;
  /** Yield to the event loop after each layer (default true). */
  readonly yieldEach?: boolean;
  /** With `record`: each layer's record is handed over here as it is made instead of collected (light mode). */
  readonly onRecord?: (layer: number, record: BlockRecord) => void;
  /** How records read tensors out of tf (light mode: only the small ones). */
  readonly read?: Reader;
}

/** A layer's inputs: the same for every layer, or chosen by its config (per-layer masks and RoPE: SelfInputs). */
export type StackInputs = Omit<BlockInputs, 'layer'> | ((layer: number) => Omit<BlockInputs, 'layer'>);

/**
 * Runs `x` ([T, D], owned: disposed here) through every layer, layer l with configOfLayer(cfg, l)
 * (streamed layers' weights uploaded for their turn only); returns the last layer's output (caller disposes).
 */
export async function runStack(
  x: tf.Tensor2D,
  layers: LayerList<BlockWeights>,
  cfg: LayerConfigs,
  inputs: StackInputs,
  opts: StackOptions,
): Promise<{ out: tf.Tensor2D; records: BlockRecord[] }> {
  const records: BlockRecord[] = [];
  let cur = x;
  try {
    for (let l = 0; l < layers.length; l++) {
      throwIfCancelled(opts.signal);
      opts.progress?.(l, layers.length);
      const input = cur;
      // Outside the tidy: a SelfInputs makes its shared tensors on first use, and they outlive the layer.
      const layerInputs = typeof inputs === 'function' ? inputs(l) : inputs;
      // Streamed layers are uploaded here and freed after the tidy.
      cur = withLayer(layers, l, (w) =>
        tf.tidy(() => {
          const r = transformerBlock(
            input,
            w,
            configOfLayer(cfg, l),
            { ...layerInputs, layer: l },
            opts.record,
            opts.read,
          );
          if (r.record) {
            if (opts.onRecord) opts.onRecord(l, r.record);
            else records.push(r.record);
          }
          return r.out;
        }),
      );
      input.dispose();
      if (opts.yieldEach !== false) await yieldToEventLoop();
    }
    return { out: cur, records };
  } catch (err) {
    cur.dispose();
    throw err;
  }
}

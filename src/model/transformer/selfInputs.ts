// What self-attention needs besides a layer's weights, for one forward pass over T positions: the
// additive mask (causal, with the layer's sliding window if it has one) and the rotary tables for
// the layer's RoPE settings. Layers that differ (Mistral/Qwen2's sliding layers, Gemma's local and
// global layers with their own RoPE bases, SmolLM3's layers without RoPE) each get theirs; layers
// that agree share one tensor. dispose() frees them all.
import { tf } from '../runtime/backend';
import { additiveMask, allowedMask, type MaskSpec } from '../attention/mask';
import { ropeTensors, type RopeTensors } from '../layers/positions';
import type { BlockInputs } from './block';
import type { AttentionConfig } from './config';

export class SelfInputs {
  readonly #masks = new Map<number | undefined, tf.Tensor2D>();
  readonly #ropes = new Map<string, RopeTensors>();
  readonly #allowed = new Map<number | undefined, Float32Array>();

  /** T tokens at positions 0..T−1; `causal`: self-attention over the past only. */
  constructor(
    readonly T: number,
    readonly causal: boolean,
  ) {}

  /** The mask spec of a layer with this attention config. */
  spec(a: AttentionConfig): MaskSpec {
    return {
      queries: this.T,
      keys: this.T,
      causal: this.causal,
      ...(a.slidingWindow !== undefined ? { window: a.slidingWindow } : {}),
    };
  }

  /** [T, T] of 1 (may attend) and 0 (masked), for the trace (one array per distinct window). */
  allowed(a: AttentionConfig): Float32Array {
    let m = this.#allowed.get(a.slidingWindow);
    if (!m) {
      m = allowedMask(this.spec(a));
      this.#allowed.set(a.slidingWindow, m);
    }
    return m;
  }

  /** The block inputs for a layer with this attention config (tensors owned here, kept even when made inside a tidy). */
  for(a: AttentionConfig): Omit<BlockInputs, 'layer'> {
    const window = a.slidingWindow;
    let mask = this.#masks.get(window);
    if (!mask) {
      mask = tf.keep(tf.tensor2d(additiveMask(this.spec(a)), [this.T, this.T]));
      this.#masks.set(window, mask);
    }
    let rope: RopeTensors | undefined;
    if (a.rope) {
      const key = JSON.stringify(a.rope);
      rope = this.#ropes.get(key);
      if (!rope) {
        const made = ropeTensors(this.T, a.rope);
        rope = { cos: tf.keep(made.cos), sin: tf.keep(made.sin) };
        this.#ropes.set(key, rope);
      }
    }
    return { selfMask: mask, ...(window !== undefined ? { selfWindow: window } : {}), ...(rope ? { rope } : {}) };
  }

  dispose(): void {
    for (const m of this.#masks.values()) m.dispose();
    for (const r of this.#ropes.values()) {
      r.cos.dispose();
      r.sin.dispose();
    }
    this.#masks.clear();
    this.#ropes.clear();
  }
}

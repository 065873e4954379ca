// The key/value cache of a causal LM's decoding: every layer's self-attention K and V (after QK-norm
// and RoPE) for the positions run so far, so a new token costs one position's compute: its query
// attends to the cached keys and its own. StepInputs gives such a pass its mask (causal, sliding
// window, by mask.ts's queryOffset) and its rows of the rotary tables (positions P..P+T−1).
import { tf } from '../runtime/backend';
import { additiveMask, allowedMask, type MaskSpec } from '../attention/mask';
import { ropeTensors, type RopeTensors } from '../layers/positions';
import type { BlockInputs, LayerKv } from './block';
import type { AttentionConfig } from './config';

export class KvCache {
  readonly #layers: ({ k: tf.Tensor3D; v: tf.Tensor3D } | undefined)[];
  /** The ids whose keys and values are cached, in order (the positions 0..length−1). */
  readonly ids: number[] = [];

  constructor(readonly layers: number) {
    this.#layers = Array.from({ length: layers }, () => undefined);
  }

  /** Positions cached. */
  get length(): number {
    return this.ids.length;
  }

  /** Layer l's view for the block: its past K/V, and where the grown ones go (kept past the layer's tidy). */
  layer(l: number): LayerKv {
    return {
      past: this.#layers[l],
      keep: (k, v) => {
        const old = this.#layers[l];
        this.#layers[l] = { k: tf.keep(k), v: tf.keep(v) };
        old?.k.dispose();
        old?.v.dispose();
      },
    };
  }

  /** Layer l's cached keys, [KV, length, hd] (tests and tools read them). */
  keys(l: number): tf.Tensor3D | undefined {
    return this.#layers[l]?.k;
  }

  dispose(): void {
    for (const kv of this.#layers) {
      kv?.k.dispose();
      kv?.v.dispose();
    }
    this.#layers.fill(undefined);
    this.ids.length = 0;
  }
}

/** Masks and rotary rows for `T` new positions after `past` cached ones (tensors owned here; dispose() frees them). */
export class StepInputs {
  readonly #made: tf.Tensor[] = [];
  readonly #masks = new Map<number | undefined, tf.Tensor2D>();
  readonly #ropes = new Map<string, RopeTensors>();

  constructor(
    readonly T: number,
    readonly past: number,
  ) {}

  /** Queries at positions past..past+T−1 over keys 0..past+T−1. */
  spec(a: AttentionConfig): MaskSpec {
    const window = a.slidingWindow !== undefined ? { window: a.slidingWindow } : {};
    return { queries: this.T, keys: this.past + this.T, causal: true, queryOffset: this.past, ...window };
  }

  /** [T, past + T] of 1 (may attend) and 0, for the trace. */
  allowed(a: AttentionConfig): Float32Array {
    return allowedMask(this.spec(a));
  }

  for(a: AttentionConfig, cache: LayerKv): Omit<BlockInputs, 'layer'> {
    const window = a.slidingWindow;
    let mask = this.#masks.get(window);
    if (!mask) {
      mask = this.#own(tf.tensor2d(additiveMask(this.spec(a)), [this.T, this.past + this.T])); // [T, past + T]
      this.#masks.set(window, mask);
    }
    let rope: RopeTensors | undefined;
    if (a.rope) {
      const key = JSON.stringify(a.rope);
      rope = this.#ropes.get(key);
      if (!rope) {
        // The last T rows of the tables for past + T positions: longrope picks its factors by that length, as a full run does.
        const all = ropeTensors(this.past + this.T, a.rope);
        const d = a.rope.rotaryDim;
        rope = {
          cos: this.#own(tf.slice(all.cos, [this.past, 0], [this.T, d])),
          sin: this.#own(tf.slice(all.sin, [this.past, 0], [this.T, d])),
        }; // [past + T, d] → [T, d]
        all.cos.dispose();
        all.sin.dispose();
        this.#ropes.set(key, rope);
      }
    }
    return {
      selfMask: mask,
      ...(window !== undefined ? { selfWindow: window } : {}),
      ...(rope ? { rope } : {}),
      selfCache: cache,
    };
  }

  #own<T extends tf.Tensor>(t: T): T {
    this.#made.push(tf.keep(t));
    return t;
  }

  dispose(): void {
    for (const t of this.#made) t.dispose();
    this.#made.length = 0;
    this.#masks.clear();
    this.#ropes.clear();
  }
}

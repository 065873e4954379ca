// Reading tensors out of tfjs into typed arrays (for the trace). No vscode import.
import { tf } from './backend';

import { readConcatenated } from './wasmKernels';

export { readConcatenated };

/** The tensor's values as a Float32Array (no copy when it already is one). */
export function f32(t: tf.Tensor): Float32Array {
  const d = t.dataSync();
  return d instanceof Float32Array ? d : new Float32Array(d);
}

/** How a layer's record reads its tensors out of tf. */
export interface Reader {
  one(t: tf.Tensor): Float32Array;
  /** The parts' values end to end (per-head tensors). */
  concat(parts: readonly tf.Tensor[]): Float32Array;
  /** False for `size` values left unread, so nothing need be computed for them either. */
  reads(size: number): boolean;
  /**
   * Light mode when the run pools its grid as it goes: where the attention weights and their
   * value-weighted norms are read though they are not kept — buffers every layer reuses (valid
   * until the next layer's read), so reading them costs a copy, not fresh pages.
   */
  readonly pooling?: { weights(parts: readonly tf.Tensor[]): Float32Array; norms(size: number): Float32Array };
}

export const READ_ALL: Reader = { one: f32, concat: readConcatenated, reads: () => true };

/**
 * Light mode's reader: tensors over `inlineBytes` are not read out (a light trace drops them and
 * recomputes their layer when shown). Their place holds a zero array of the right length, never
 * written, so the kernel maps no pages for it: reading 1,024² weights per head out of the wasm heap
 * was most of a GPT-2 run's time.
 */
export function readSmall(inlineBytes: number, pooling = false): Reader {
  const reads = (size: number): boolean => size * 4 <= inlineBytes;
  const concat = (parts: readonly tf.Tensor[]): Float32Array => {
    const size = parts.reduce((n, t) => n + t.size, 0);
    return reads(size) ? readConcatenated(parts) : new Float32Array(size);
  };
  const reader: Reader = { reads, one: (t) => (reads(t.size) ? f32(t) : new Float32Array(t.size)), concat };
  if (!pooling) return reader;
  const scratch = { weights: new Float32Array(0), norms: new Float32Array(0) };
  const reused = (which: keyof typeof scratch, size: number): Float32Array =>
    scratch[which].length === size ? scratch[which] : (scratch[which] = new Float32Array(size));
  return {
    ...reader,
    pooling: {
      weights: (parts) => {
        const size = parts.reduce((n, t) => n + t.size, 0);
        return reads(size) ? readConcatenated(parts) : readConcatenated(parts, reused('weights', size));
      },
      norms: (size) => reused('norms', size),
    },
  };
}

/**
 * Runs `f` inside tf.tidy and returns what it read out (typed arrays, numbers). Returning such
 * values from tf.tidy itself is slow: tidy walks its result looking for tensors, one typed-array
 * element at a time (22 ms for one 512 × 128 Float32Array).
 */
export function readOut<T>(f: () => T): T {
  let out!: T;
  tf.tidy(() => {
    out = f();
  });
  return out;
}

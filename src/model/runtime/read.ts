// Reading tensors out of tfjs into typed arrays (for the trace). No vscode import.
import { tf } from './backend';

export { readConcatenated } from './wasmKernels';

/** The tensor's values as a Float32Array (no copy when it already is one). */
export function f32(t: tf.Tensor): Float32Array {
  const d = t.dataSync();
  return d instanceof Float32Array ? d : new Float32Array(d);
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

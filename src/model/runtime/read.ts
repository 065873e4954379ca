// Reading tensors out of tfjs into typed arrays (for the trace). No vscode import.
import type { tf } from './backend';

export { readConcatenated } from './wasmKernels';

/** The tensor's values as a Float32Array (no copy when it already is one). */
export function f32(t: tf.Tensor): Float32Array {
  const d = t.dataSync();
  return d instanceof Float32Array ? d : new Float32Array(d);
}

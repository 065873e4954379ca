// A linear layer whose weight is stored pre-transposed ([in, out]) so every product is a plain
// x·W, the fast case of tfjs-wasm's matMul; the bias is optional (Llama has none, Qwen2 only on
// q/k/v). Call inside tf.tidy.
import { tf } from '../runtime/backend';

export interface Dense {
  /** [in, out] */
  readonly w: tf.Tensor2D;
  /** [out], or none. */
  readonly b?: tf.Tensor1D;
}

/** x·W + b: [T, in] → [T, out], product and bias in one fused kernel. */
export function dense(x: tf.Tensor2D, d: Dense): tf.Tensor2D {
  if (x.shape[1] !== d.w.shape[0])
    throw new Error(`dense: input is ${x.shape.join('×')} but the weight is ${d.w.shape.join('×')} ([in, out])`);
  return (d.b ? tf.fused.matMul({ a: x, b: d.w, bias: d.b }) : tf.matMul(x, d.w)) as tf.Tensor2D;
}

// Per-row normalisations of the residual stream: LayerNorm (BERT, GPT-2, Marian) and RMSNorm
// (Llama, Qwen2). On the wasm backend both run in the SIMD module (one pass instead of six to nine
// tfjs ops and allocations); elsewhere they are composed from tf ops. Call inside tf.tidy.
import { tf } from '../runtime/backend';
import { hasKernel, LAYER_NORM } from '../runtime/wasmKernels';

export type NormKind = 'layer' | 'rms';

export interface NormConfig {
  readonly kind: NormKind;
  readonly eps: number;
}

/** A norm's learned gain g and (LayerNorm only) bias b, each [D]. */
export interface NormWeights {
  readonly g: tf.Tensor1D;
  readonly b?: tf.Tensor1D;
}

/** LayerNorm's gain and bias. */
export interface LN {
  readonly g: tf.Tensor1D;
  readonly b: tf.Tensor1D;
}

/** The SIMD kernel's result when it can take this norm (wasm backend, width a multiple of 4). */
function simdNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D | undefined, eps: number): tf.Tensor2D | undefined {
  const D = x.shape[1];
  if (D % 4 !== 0 || g.size !== D || (b && b.size !== D) || x.dtype !== 'float32' || !hasKernel(LAYER_NORM))
    return undefined;
  return tf.engine().runKernel(LAYER_NORM, b ? { x, g, b } : { x, g }, { eps }) as tf.Tensor2D;
}

/** RMSNorm: x / √(mean(x²) + eps) · g, per row. [T, D] → [T, D]. */
export function rmsNorm(x: tf.Tensor2D, g: tf.Tensor1D, eps: number): tf.Tensor2D {
  return (
    simdNorm(x, g, undefined, eps) ??
    tf.tidy(() => tf.mul(tf.div(x, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), g) as tf.Tensor2D)
  );
}

/** LayerNorm: (x − mean) / √(var + eps) · g + b, per row. [T, D] → [T, D]. */
export function layerNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor2D {
  const fast = simdNorm(x, g, b, eps);
  if (fast) return fast;
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true); // [T, 1]
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), -1, true); // [T, 1]
    return tf.add(tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, eps))), g), b) as tf.Tensor2D;
  });
}

/** The configured norm of `x` with weights `w`. */
export function norm(cfg: NormConfig, x: tf.Tensor2D, w: NormWeights): tf.Tensor2D {
  if (cfg.kind === 'rms') return rmsNorm(x, w.g, cfg.eps);
  if (!w.b) throw new Error('LayerNorm needs a bias');
  return layerNorm(x, w.g, w.b, cfg.eps);
}

// The MLP nonlinearities the families use, with their formulas for the panel. Exact GELU runs in
// the SIMD module on wasm (tfjs-wasm's Erf is scalar libm code). Call inside or outside tf.tidy.
import { tf } from '../runtime/backend';
import { GELU_ERF, hasKernel } from '../runtime/wasmKernels';

/** gelu_pytorch_tanh (Gemma's GeGLU) is gelu_new's tanh approximation under torch's name. */
export type Activation = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'relu' | 'silu' | 'swish';
/** The names configs may give (gpt2/bert/marian read gelu_pytorch_tanh as gelu_new). */
export const ACTIVATIONS: readonly Activation[] = ['gelu', 'gelu_new', 'relu', 'silu', 'swish'];

export function activate(name: Activation, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    switch (name) {
      case 'gelu':
        if (hasKernel(GELU_ERF) && x.dtype === 'float32') return tf.engine().runKernel(GELU_ERF, { x }) as tf.Tensor2D;
        return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))) as tf.Tensor2D;
      case 'gelu_new':
      case 'gelu_pytorch_tanh': {
        // ½x(1 + tanh u) = x·σ(2u): tfjs-wasm's Tanh and Pow are scalar code (~30 ns an element),
        // its Sigmoid is XNNPACK's vectorised one; and no 1 + tanh cancellation for negative x.
        const u2 = tf.mul(2 * Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))));
        return tf.mul(x, tf.sigmoid(u2)) as tf.Tensor2D;
      }
      case 'relu':
        return tf.relu(x);
      case 'silu':
      case 'swish':
        return tf.mul(x, tf.sigmoid(x)) as tf.Tensor2D;
    }
  });
}

export const ACTIVATION_FORMULA: Record<Activation, string> = {
  gelu: 'gelu(z) = z·Φ(z) = ½z(1 + erf(z/√2))',
  gelu_new: 'gelu(z) ≈ ½z(1 + tanh(√(2/π)(z + 0.044715z³)))',
  gelu_pytorch_tanh: 'gelu(z) ≈ ½z(1 + tanh(√(2/π)(z + 0.044715z³)))',
  relu: 'relu(z) = max(0, z)',
  silu: 'silu(z) = z·σ(z)',
  swish: 'swish(z) = z·σ(z)',
};

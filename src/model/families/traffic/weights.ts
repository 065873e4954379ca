// The traffic forecasters' weights (models/traffic/<variant>.safetensors, PyTorch layouts), each
// checked against the shape the config implies, and the LSTM cell that uses them.
import { tf } from '../../runtime/backend';
import type { SafeTensor } from '../../formats/safetensors';
import { weightReader } from '../../runtime/weightReader';
import type { TrafficConfig, TrafficVariant } from './config';

export interface Lstm {
  /** W_ihᵀ [d_in, 4h], W_hhᵀ [h, 4h], biases [4h]; gate blocks in PyTorch order (i, f, g, o). */
  readonly WihT: tf.Tensor2D;
  readonly WhhT: tf.Tensor2D;
  readonly bih: tf.Tensor1D;
  readonly bhh: tf.Tensor1D;
  readonly hidden: number;
}

export interface TrafficWeights {
  /** Hybrid only: the causal convolution's filter [K, 1, C] (tfjs conv1d layout) and bias [C]. */
  readonly convFilter?: tf.Tensor3D;
  readonly convBias?: tf.Tensor1D;
  readonly enc: Lstm;
  readonly dec: Lstm;
  /** General score s_tᵀ W h_i: W [d, d]. */
  readonly W: tf.Tensor2D;
  /** W_cᵀ [2d, d], b_c [d]; the forecast y = w_y · o + b_y: w_y as [d, 1], b_y [1]. */
  readonly WcT: tf.Tensor2D;
  readonly bc: tf.Tensor1D;
  readonly wy: tf.Tensor2D;
  readonly by: tf.Tensor1D;
}

/** The weights as tensors (all of them in `all`, freed by the model), or a typed error naming the bad tensor. */
export function buildTrafficWeights(
  map: ReadonlyMap<string, SafeTensor>,
  cfg: TrafficConfig,
  variant: TrafficVariant,
  file: string,
): { w: TrafficWeights; all: tf.Tensor[]; count: number } {
  const r = weightReader(map, file);
  const { get, keep, mat, matT, vec, all } = r;
  const lstm = (prefix: string, dIn: number, h: number): Lstm => ({
    WihT: matT(`${prefix}.W_ih`, 4 * h, dIn),
    WhhT: matT(`${prefix}.W_hh`, 4 * h, h),
    bih: vec(`${prefix}.b_ih`, 4 * h),
    bhh: vec(`${prefix}.b_hh`, 4 * h),
    hidden: h,
  });
  const d = cfg.d_hidden;
  const conv = variant === 'conv-lstm-attention';
  const C = cfg.conv_channels;
  const K = cfg.conv_kernel;
  try {
    const convParts = conv
      ? (() => {
          const f = get('conv.weight', [C, K]);
          return {
            // [C, K] → [K, C] → [K, 1, C]: tfjs conv1d's [width, in, out]
            convFilter: keep(tf.tidy(() => tf.tensor2d(f.data, [C, K]).transpose().reshape([K, 1, C]) as tf.Tensor3D)),
            convBias: vec('conv.bias', C),
          };
        })()
      : {};
    const w: TrafficWeights = {
      ...convParts,
      enc: lstm('encoder', conv ? C : 1, d),
      dec: lstm('decoder', 1, d),
      W: mat('attention.W', d, d),
      WcT: matT('combine.weight', d, 2 * d),
      bc: vec('combine.bias', d),
      wy: keep(tf.tensor2d(get('output.weight', [d]).data, [d, 1])),
      by: vec('output.bias', 1),
    };
    return { w, all, count: r.count };
  } catch (err) {
    for (const t of all) t.dispose();
    throw err;
  }
}

/**
 * One LSTM step, PyTorch's equations and gate order (i, f, g, o):
 *   i = σ(W_ii x + b_ii + W_hi h + b_hi),  f = σ(…),  g = tanh(…),  o = σ(…)
 *   c′ = f ⊙ c + i ⊙ g,  h′ = o ⊙ tanh(c′)
 * `gi` is the precomputed input part W_ih x + b_ih [1, 4h]; `h`, `c` are [1, h]. Returns [h′, c′].
 */
export function lstmStep(l: Lstm, gi: tf.Tensor2D, h: tf.Tensor2D, c: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  return tf.tidy(() => {
    const g = tf.add(gi, tf.add(tf.matMul(h, l.WhhT), l.bhh)) as tf.Tensor2D; // [1, 4h]
    const [i, f, gg, o] = tf.split(g, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const c2 = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(gg))) as tf.Tensor2D;
    const h2 = tf.mul(tf.sigmoid(o), tf.tanh(c2)) as tf.Tensor2D;
    return [h2, c2];
  });
}

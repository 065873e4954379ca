// Keras's three attention layers as TensorFlow.js custom layers, with Keras's class names, config
// keys and weight names, so a layers-format model.json written by tensorflowjs_converter from a
// Keras 2 model (or by tfjs's own model.save) loads with tf.loadLayersModel:
//
//   MultiHeadAttention  num_heads, key_dim, value_dim, dropout, use_bias, output_shape, attention_axes
//                       weights <name>/query/kernel [d, H, key_dim], <name>/query/bias [H, key_dim],
//                       key/…, value/… ([d_v, H, value_dim]), attention_output/kernel [H, value_dim, d_out],
//                       attention_output/bias [d_out]  (Keras 2's EinsumDense layout).
//   Attention           Luong: use_scale (scalar "scale"), score_mode 'dot' | 'concat'
//                       ("concat_score_weight"), causal; inputs [query, value] or [query, value, key].
//   AdditiveAttention   Bahdanau: use_scale (vector "scale" of size dim); scores = Σ scale·tanh(q + k).
//
// Inputs are [batch, time, features] tensors (attention over the time axis, the Keras default).
// Every layer computes through the shared attention core (attend with its score function, Keras's
// −10⁹ softmax, causal masks from mask.ts). `computeAttention` returns the weights with the output,
// as tfjs-layers' callAndReturnAttentionScores does; `call` returns the output alone, and
// `callAndReturnAttention` reads everything out for the trace (first batch element). No vscode import.
// This file is the family's entry: the classes (multiHeadAttention.ts, denseAttention.ts) are
// registered with tfjs's serialization map on import.
import { tf } from '../../runtime/backend';
import { MultiHeadAttention } from './multiHeadAttention';
import { AdditiveAttention, Attention } from './denseAttention';

export { MultiHeadAttention, type MultiHeadAttentionArgs } from './multiHeadAttention';
export { AdditiveAttention, Attention, type LuongAttentionArgs } from './denseAttention';
export {
  KERAS_ATTENTION_CLASSES,
  type AttentionLayerRecord,
  type KerasAttentionClass,
  type LayerAttention,
} from './kerasParts';

// The three classes in tfjs's serialization map, so tf.loadLayersModel finds them (on import).
tf.serialization.registerClass(MultiHeadAttention);
tf.serialization.registerClass(Attention);
tf.serialization.registerClass(AdditiveAttention);

export type KerasAttentionLayer = MultiHeadAttention | Attention | AdditiveAttention;

export function isKerasAttentionLayer(layer: unknown): layer is KerasAttentionLayer {
  return layer instanceof MultiHeadAttention || layer instanceof Attention || layer instanceof AdditiveAttention;
}

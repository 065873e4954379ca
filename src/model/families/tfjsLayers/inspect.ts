// Inspect mode without side effects. A probe model over the same layers returns, with the model's
// output, every attention layer's inputs and the Keras masks that reach them; each attention layer
// then runs callAndReturnAttention on those very tensors, which is the computation its call() made
// in the same predict, so the record is what the layer returned. Nothing is set on the layers.
import { tf } from '../../runtime/backend';
import { f32 } from '../../runtime/read';
import type { AttentionLayerRecord, KerasAttentionLayer } from './kerasAttention';

type Kwargs = Record<string, unknown>;

/** Outputs the Keras mask of its input as float [B, T] (all ones when no mask reaches it). */
class MaskOf extends tf.layers.Layer {
  static readonly className = 'AttentionLensMaskOf';
  constructor() {
    super({});
    this.supportsMasking = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [s[0]!, s[1]!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const m = Array.isArray(kwargs.mask) ? (kwargs.mask[0] as unknown) : kwargs.mask;
      return m instanceof tf.Tensor ? tf.cast(m, 'float32') : tf.ones([x.shape[0]!, x.shape[1]!]); // [B, T]
    });
  }
}

export interface Inspected {
  readonly records: AttentionLayerRecord[];
  readonly output: Float32Array;
  readonly outputShape: number[];
}

export class Inspector {
  private readonly probe: tf.LayersModel;
  /** For each attention layer, the probe output index of each of its inputs. */
  private readonly inputsOf: number[][];
  private readonly unique: number;

  constructor(
    model: tf.LayersModel,
    private readonly layers: readonly KerasAttentionLayer[],
  ) {
    const tensors: tf.SymbolicTensor[] = [];
    const indexOf = (t: tf.SymbolicTensor): number => {
      let i = tensors.findIndex((x) => x.id === t.id);
      if (i < 0) i = tensors.push(t) - 1;
      return i;
    };
    this.inputsOf = layers.map((l) => {
      const ins = l.getInputAt(0);
      return (Array.isArray(ins) ? ins : [ins]).map(indexOf);
    });
    this.unique = tensors.length;
    const masks = tensors.map((t) => new MaskOf().apply(t) as tf.SymbolicTensor);
    this.probe = tf.model({ inputs: model.inputs, outputs: [model.outputs[0]!, ...tensors, ...masks] });
  }

  run(inputs: tf.Tensor[]): Inspected {
    let out!: Inspected;
    tf.tidy(() => {
      const ys = this.probe.predict(inputs) as tf.Tensor[];
      const value = (i: number): tf.Tensor => ys[1 + i]!;
      // A mask that allows everything changes no number; the layer sees none, so the trace shows none.
      const mask = (i: number): tf.Tensor | undefined => {
        const m = ys[1 + this.unique + i]!;
        return tf.min(m).dataSync()[0] === 1 ? undefined : m;
      };
      const records = this.layers.map((layer, li) => {
        const idx = this.inputsOf[li]!;
        const masks = idx.map(mask);
        const kwargs: Kwargs = masks.some((m) => m) ? { mask: idx.length === 1 ? masks[0] : masks } : {};
        return layer.callAndReturnAttention(idx.length === 1 ? value(idx[0]!) : idx.map(value), kwargs);
      });
      out = { records, output: f32(ys[0]!).slice(), outputShape: ys[0]!.shape.slice() };
    });
    return out;
  }
}

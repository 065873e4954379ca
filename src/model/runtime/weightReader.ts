// Turns a checkpoint's named tensors into tfjs tensors, checking each name and shape first; the
// small recurrent families (seq2seq, traffic) build their weights with it. No vscode import.
import { tf } from './backend';
import type { SafeTensor } from '../formats/safetensors';
import { AttentionInputError } from '../../../shared/trace';

export interface WeightReader {
  /** The named tensor, after checking it exists with exactly this shape (typed error naming it otherwise). */
  get(name: string, shape: readonly number[]): SafeTensor;
  /** Records a tensor to free with the model (or on a failed load). */
  keep<T extends tf.Tensor>(t: T): T;
  mat(name: string, rows: number, cols: number): tf.Tensor2D;
  /** A [rows, cols] tensor of the file as [cols, rows]. */
  matT(name: string, rows: number, cols: number): tf.Tensor2D;
  vec(name: string, n: number): tf.Tensor1D;
  /** Every tensor made so far. */
  readonly all: tf.Tensor[];
  /** Parameters read so far. */
  readonly count: number;
}

export function weightReader(map: ReadonlyMap<string, SafeTensor>, file: string): WeightReader {
  const all: tf.Tensor[] = [];
  let count = 0;
  const get = (name: string, shape: readonly number[]): SafeTensor => {
    const t = map.get(name);
    if (!t) throw new AttentionInputError('file', `${file}: missing tensor "${name}"`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new AttentionInputError(
        'file',
        `${file}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
      );
    }
    count += t.data.length;
    return t;
  };
  const keep = <T extends tf.Tensor>(t: T): T => {
    all.push(t);
    return t;
  };
  return {
    get,
    keep,
    mat: (name, rows, cols) => keep(tf.tensor2d(get(name, [rows, cols]).data, [rows, cols])),
    matT: (name, rows, cols) => {
      const t = get(name, [rows, cols]);
      return keep(tf.tidy(() => tf.tensor2d(t.data, [rows, cols]).transpose())); // [rows, cols] → [cols, rows]
    },
    vec: (name, n) => keep(tf.tensor1d(get(name, [n]).data)),
    all,
    get count() {
      return count;
    },
  };
}

// An embedding matrix kept in JS and looked up by copying rows. No vscode import.
import { tf } from '../runtime/backend';

/**
 * An embedding matrix kept in JS ([rows, dim] row-major) and looked up by copying rows:
 * tfjs-wasm's Gather costs ~30 ns per element (15 ms for 512 rows of 768), a row copy is
 * nearly free. The matrix lives only here (no second copy in the wasm heap).
 */
export class EmbeddingTable {
  readonly #data: Float32Array;

  constructor(
    data: Float32Array,
    readonly rows: number,
    readonly dim: number,
  ) {
    if (data.length !== rows * dim) throw new Error(`embedding data has ${data.length} values, not ${rows}×${dim}`);
    this.#data = data;
  }

  /** [ids.length, dim]; ids must be inside the table (callers check and report them). */
  lookup(ids: ArrayLike<number>): tf.Tensor2D {
    const D = this.dim;
    const out = new Float32Array(ids.length * D);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!(id >= 0 && id < this.rows))
        throw new RangeError(`row ${id} is outside the ${this.rows}-row embedding table`);
      out.set(this.#data.subarray(id * D, (id + 1) * D), i * D);
    }
    return tf.tensor2d(out, [ids.length, D], 'float32');
  }

  /** The whole matrix as a tensor, transposed ([dim, rows]): a tied output projection. */
  transposed(): tf.Tensor2D {
    return tf.tidy(() => tf.transpose(tf.tensor2d(this.#data, [this.rows, this.dim], 'float32')) as tf.Tensor2D);
  }
}

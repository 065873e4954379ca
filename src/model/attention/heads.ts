// Multi-head split and merge, and grouped-query key/value heads, for the attention core.
import { tf } from '../runtime/backend';
import { check3d, shapeError } from './shapes';

/** [T, H·d] → [H, T, d]: head h owns features h·d … h·d + d − 1. */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  if (x.rank !== 2) shapeError(`splitHeads expects [T, H·d], got [${x.shape.join(', ')}]`);
  const [T, D] = x.shape as [number, number];
  if (!Number.isInteger(heads) || heads < 1 || D % heads !== 0)
    shapeError(`${D} features do not split into ${heads} heads`);
  return tf.tidy(() => tf.transpose(tf.reshape(x, [T, heads, D / heads]), [1, 0, 2]) as tf.Tensor3D); // [T, H·d] → [T, H, d] → [H, T, d]
}

/** [H, T, d] → [T, H·d]: the inverse of splitHeads (concatenate the heads per token). */
export function mergeHeads(x: tf.Tensor): tf.Tensor2D {
  check3d('x', x);
  const [H, T, d] = x.shape as [number, number, number];
  return tf.tidy(() => tf.reshape(tf.transpose(x, [1, 0, 2]), [T, H * d]) as tf.Tensor2D); // [H, T, d] → [T, H, d] → [T, H·d]
}

/** kvHeadOf for H query heads sharing KV key/value heads in consecutive groups: h → ⌊h / (H/KV)⌋. */
export function groupedKvHeads(heads: number, kvHeads: number): number[] {
  if (!Number.isInteger(heads) || !Number.isInteger(kvHeads) || kvHeads < 1 || heads % kvHeads !== 0) {
    shapeError(`${heads} query heads cannot share ${kvHeads} key/value heads evenly`);
  }
  const group = heads / kvHeads;
  return Array.from({ length: heads }, (_, h) => Math.floor(h / group));
}

/** Grouped-query attention: [KV, T, d] → [H, T, d], query head h reading key/value head kvHeadOf[h]. */
export function expandKv(x: tf.Tensor, kvHeadOf: readonly number[]): tf.Tensor3D {
  check3d('k/v', x);
  const KV = x.shape[0]!;
  kvHeadOf.forEach((g, h) => {
    if (!Number.isInteger(g) || g < 0 || g >= KV)
      shapeError(`kvHeadOf[${h}] = ${g} is not a key/value head (there are ${KV})`);
  });
  return tf.tidy(() => tf.gather(x, tf.tensor1d(Array.from(kvHeadOf), 'int32'), 0) as tf.Tensor3D); // [KV, T, d] → [H, T, d]
}

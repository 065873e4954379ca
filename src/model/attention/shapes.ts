// Shape checks shared by the attention core: errors that print the shapes received.
import type { tf } from '../runtime/backend';

export function shapeError(message: string): never {
  throw new RangeError(message);
}

export function check3d(name: string, t: tf.Tensor): asserts t is tf.Tensor3D {
  if (t.rank !== 3) shapeError(`${name} must have 3 axes [batch/head, token, dim], got shape [${t.shape.join(', ')}]`);
}

export function checkQK(q: tf.Tensor, k: tf.Tensor, sameDim: boolean): void {
  check3d('q', q);
  check3d('k', k);
  if (q.shape[0] !== k.shape[0]) shapeError(`q has ${q.shape[0]} heads but k has ${k.shape[0]}`);
  if (sameDim && q.shape[2] !== k.shape[2])
    shapeError(`q·k needs equal dimensions, got d_q = ${q.shape[2]} and d_k = ${k.shape[2]}`);
}

/** Whether `from` broadcasts to `to` (numpy rules, aligned at the last axis, no new axes in `to`). */
export function broadcasts(from: readonly number[], to: readonly number[]): boolean {
  if (from.length > to.length) return false;
  for (let i = 1; i <= from.length; i++) {
    const f = from[from.length - i]!;
    if (f !== 1 && f !== to[to.length - i]) return false;
  }
  return true;
}

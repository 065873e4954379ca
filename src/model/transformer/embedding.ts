// The input embedding every family starts from: token rows (× a scale: Marian's √D), plus position
// rows from a table (GPT-2's and BERT's learned ones, Marian's sinusoidal one). RoPE families add
// no position here: theirs is inside attention (BlockConfig.self.rope). Call inside tf.tidy.
import { tf } from '../runtime/backend';
import type { EmbeddingTable } from '../layers/embedding';

/** Where a family's position signal comes from. */
export type PositionKind =
  /** Rotations of Q and K inside attention (Llama, Qwen2). */
  | { readonly kind: 'rope' }
  /** A learned table read at row i + offset (GPT-2, BERT: 0; RoBERTa: padding_idx + 1). */
  | { readonly kind: 'learned'; readonly offset: number }
  /** A fixed sine/cosine table (Marian). */
  | { readonly kind: 'sinusoidal' }
  | { readonly kind: 'none' };

export interface EmbeddedTokens {
  /** [T, D]: scale·E[tᵢ] + P[pᵢ]. */
  readonly x: tf.Tensor2D;
  /** [T, D]: E[tᵢ]. */
  readonly tokenRows: tf.Tensor2D;
  /** [T, D]: P[pᵢ], when there is a table. */
  readonly positionRows?: tf.Tensor2D;
}

/** Positions 0, 1, …, T − 1 shifted by `offset`. */
export function positionIds(T: number, offset = 0): Int32Array {
  return Int32Array.from({ length: T }, (_, i) => i + offset);
}

/** Token rows (scaled) plus position rows: [T] ids → [T, D]. */
export function embedTokens(
  ids: ArrayLike<number>,
  tokens: EmbeddingTable,
  opts: { readonly scale?: number; readonly positions?: EmbeddingTable; readonly positionIds?: ArrayLike<number> } = {},
): EmbeddedTokens {
  const tokenRows = tokens.lookup(ids); // [T] → [T, D]
  const scaled =
    opts.scale !== undefined && opts.scale !== 1 ? (tf.mul(tokenRows, opts.scale) as tf.Tensor2D) : tokenRows;
  if (!opts.positions) return { x: scaled, tokenRows };
  const positionRows = opts.positions.lookup(opts.positionIds ?? positionIds(ids.length)); // [T] → [T, D]
  return { x: tf.add(scaled, positionRows) as tf.Tensor2D, tokenRows, positionRows };
}

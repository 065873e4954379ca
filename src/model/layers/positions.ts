// Position signals: the sinusoidal table (Marian's layout), learned tables (GPT-2, BERT: an
// EmbeddingTable with an offset) and rotary embeddings (Llama, Qwen2: HF's rotate_half layout).
// Tables are computed in float64 and stored as float32, as the references do.
import { tf } from '../runtime/backend';

/** Marian's sinusoidal table: row p = [sin(p·ωᵢ)…, cos(p·ωᵢ)…], ωᵢ = 10000^(−2i/D). [n, D] row-major. */
export function sinusoidalPositions(n: number, D: number): Float32Array {
  const out = new Float32Array(n * D);
  const half = D / 2;
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p / Math.pow(10000, (2 * i) / D);
      out[p * D + i] = Math.sin(angle);
      out[p * D + half + i] = Math.cos(angle);
    }
  }
  return out;
}

/** Rotary embeddings: θᵢ = theta^(−2i/rotaryDim) on the first `rotaryDim` dimensions of each head. */
export interface RopeConfig {
  readonly theta: number;
  /** Dimensions rotated per head (head_dim, or less for partial rotary); even. */
  readonly rotaryDim: number;
}

/** cos and sin for positions 0..T−1: [T, rotaryDim] each, HF's [θ, θ] layout (pair i with i + rotaryDim/2). */
export function ropeTables(T: number, rope: RopeConfig): { cos: Float32Array; sin: Float32Array } {
  const d = rope.rotaryDim;
  const half = d / 2;
  const cos = new Float32Array(T * d);
  const sin = new Float32Array(T * d);
  for (let p = 0; p < T; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(rope.theta, (-2 * i) / d);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * d + i] = c;
      cos[p * d + i + half] = c;
      sin[p * d + i] = s;
      sin[p * d + i + half] = s;
    }
  }
  return { cos, sin };
}

/** The tables as tensors for one forward pass (caller disposes). */
export interface RopeTensors {
  readonly cos: tf.Tensor2D;
  readonly sin: tf.Tensor2D;
}

export function ropeTensors(T: number, rope: RopeConfig): RopeTensors {
  const { cos, sin } = ropeTables(T, rope);
  return { cos: tf.tensor2d(cos, [T, rope.rotaryDim]), sin: tf.tensor2d(sin, [T, rope.rotaryDim]) };
}

/** x·cos + rotate_half(x)·sin on the first rotaryDim dims of every head: [H, T, hd] → [H, T, hd]. Inside tf.tidy. */
export function applyRope(x: tf.Tensor3D, t: RopeTensors): tf.Tensor3D {
  const d = t.cos.shape[1];
  const hd = x.shape[2];
  const half = d / 2;
  const rot = d === hd ? x : tf.slice(x, [0, 0, 0], [-1, -1, d]); // [H, T, d]
  const first = tf.slice(rot, [0, 0, 0], [-1, -1, half]); // [H, T, d/2]
  const second = tf.slice(rot, [0, 0, half], [-1, -1, half]); // [H, T, d/2]
  const rotated = tf.concat([tf.neg(second), first], 2); // [H, T, d]
  const turned = tf.add(tf.mul(rot, t.cos), tf.mul(rotated, t.sin)) as tf.Tensor3D; // [H, T, d]
  return d === hd ? turned : tf.concat([turned, tf.slice(x, [0, 0, d], [-1, -1, hd - d])], 2); // [H, T, hd]
}

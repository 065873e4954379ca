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
  /** Hugging Face's rope_scaling: the frequencies changed for longer contexts. */
  readonly scaling?: RopeScaling;
}

/** The rope_scaling types implemented, as transformers' modeling_rope_utils computes them. */
export type RopeScaling =
  /** Every frequency divided by `factor` (positions interpolated). */
  | { readonly type: 'linear'; readonly factor: number }
  /**
   * Llama 3.1+: wavelengths 2π/θᵢ longer than original/lowFreqFactor are divided by `factor`,
   * shorter than original/highFreqFactor kept, and those between blended linearly in original/wavelength.
   */
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositions: number;
    }
  /**
   * Phi-3 (LongRoPE, "su"): θᵢ divided by shortFactor[i], or longFactor[i] when the input is longer
   * than originalMaxPositions; cos and sin multiplied by attentionFactor.
   */
  | {
      readonly type: 'longrope';
      readonly shortFactor: readonly number[];
      readonly longFactor: readonly number[];
      readonly originalMaxPositions: number;
      readonly attentionFactor: number;
    };

/** The rotation frequencies θ₀ … θ_{d/2−1} for an input of T tokens (LongRoPE picks its factors by length). */
export function ropeFrequencies(rope: RopeConfig, T: number): Float64Array {
  const d = rope.rotaryDim;
  const inv = Float64Array.from({ length: d / 2 }, (_, i) => Math.pow(rope.theta, (-2 * i) / d));
  const s = rope.scaling;
  if (!s) return inv;
  if (s.type === 'linear') return inv.map((f) => f / s.factor);
  if (s.type === 'longrope') {
    const ext = T > s.originalMaxPositions ? s.longFactor : s.shortFactor;
    if (ext.length !== d / 2)
      throw new Error(`longrope: ${ext.length} factors for ${d / 2} rotary frequencies (rotary dimensions ${d})`);
    return inv.map((f, i) => f / ext[i]!);
  }
  const low = s.originalMaxPositions / s.lowFreqFactor; // wavelengths above this are slowed by `factor`
  const high = s.originalMaxPositions / s.highFreqFactor; // below this they are kept
  return inv.map((f) => {
    const wavelength = (2 * Math.PI) / f;
    if (wavelength < high) return f;
    if (wavelength > low) return f / s.factor;
    const smooth = (s.originalMaxPositions / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return ((1 - smooth) * f) / s.factor + smooth * f;
  });
}

/** cos and sin for positions 0..T−1: [T, rotaryDim] each, HF's [θ, θ] layout (pair i with i + rotaryDim/2). */
export function ropeTables(T: number, rope: RopeConfig): { cos: Float32Array; sin: Float32Array } {
  const d = rope.rotaryDim;
  const half = d / 2;
  const cos = new Float32Array(T * d);
  const sin = new Float32Array(T * d);
  const inv = ropeFrequencies(rope, T);
  const gain = rope.scaling?.type === 'longrope' ? rope.scaling.attentionFactor : 1;
  for (let p = 0; p < T; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * inv[i]!;
      const c = Math.cos(angle) * gain;
      const s = Math.sin(angle) * gain;
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

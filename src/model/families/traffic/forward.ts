// The traffic forecasters' maths: the (optional) causal convolution, the LSTM encoder over the
// window, and H decoder steps, each attending over the encoder states through the shared core
// (attend, general score s_tᵀ W h_i). Every tensor made here is freed; what is returned is numbers.
import { tf } from '../../runtime/backend';
import { attend } from '../../attention/attend';
import { generalScores } from '../../attention/scores';
import { f32, readOut } from '../../runtime/read';
import { lstmStep, type TrafficWeights } from './weights';

/** The encoder side, read out of tf. */
export interface EncoderData {
  /** [M, C] the convolution's features over the whole window (hybrid only; the encoder reads the key hours' rows). */
  readonly features?: Float32Array;
  /** [K, d] hidden states h_j (keys and values) and cell states c_j, one row per key hour. */
  readonly hidden: Float32Array;
  readonly cell: Float32Array;
  /** [K, d] W h_j: the keys mapped into the query's space (the general score's W, the same at every step). */
  readonly Wk: Float32Array;
}

/** One forecast hour, read out of tf. */
export interface StepData {
  /** The decoder's input y_{t−1} (normalised), its state s_t (the query) [d] and cell [d]. */
  readonly input: number;
  readonly query: Float32Array;
  readonly cell: Float32Array;
  /** [K] scores e_tj and weights α_tj; [d] context. */
  readonly scores: Float32Array;
  readonly weights: Float32Array;
  readonly context: Float32Array;
  /** [d] o_t; the forecast y_t (normalised) and in vehicles/hour. */
  readonly combined: Float32Array;
  readonly forecastZ: number;
  readonly forecast: number;
}

export interface ForwardData {
  readonly encoder: EncoderData;
  readonly steps: readonly StepData[];
}

export interface ForwardOptions {
  readonly w: TrafficWeights;
  /** The window's normalised volumes z_1 … z_M. */
  readonly z: Float32Array;
  /** The hours of the window (0-based) the encoder reads, in order; the last is M − 1. */
  readonly keys: readonly number[];
  readonly horizon: number;
  readonly mean: number;
  readonly std: number;
  /** Called between the encoder and each decoder step (cancel checks). */
  readonly between?: () => void;
}

/** Per window hour: z_i itself [M, 1], or relu(causal conv over the window) [M, C]. */
function features(w: TrafficWeights, z: tf.Tensor1D): tf.Tensor2D {
  if (!w.convFilter) return tf.reshape(z, [-1, 1]);
  const K = w.convFilter.shape[0];
  const padded = tf.pad(z, [[K - 1, 0]]).reshape([1, -1, 1]) as tf.Tensor3D; // zeros before hour 1: [1, M + K − 1, 1]
  const y = tf.conv1d(padded, w.convFilter, 1, 'valid'); // → [1, M, C]; hour i reads hours i − K + 1 … i
  return tf.relu(tf.add(tf.squeeze(y, [0]), w.convBias!)) as tf.Tensor2D;
}

export function forward(opts: ForwardOptions): ForwardData {
  const { w, z, keys, horizon, mean, std, between } = opts;
  const M = z.length;
  const K = keys.length;
  if (keys[K - 1] !== M - 1 || keys.some((k) => k < 0 || k >= M))
    throw new Error(`traffic forward: keys must be hours 0 … ${M - 1} ending at ${M - 1}`);
  const d = w.enc.hidden;
  const keep: tf.Tensor[] = [];
  try {
    // Encoder: h_i, c_i over the window; the final (h_M, c_M) starts the decoder.
    const enc = tf.tidy(() => {
      const F = features(w, tf.tensor1d(z)); // [M, F]
      const U = tf.gather(F, tf.tensor1d(keys as number[], 'int32')) as tf.Tensor2D; // the key hours' rows: [K, F]
      const GI = tf.add(tf.matMul(U, w.enc.WihT), w.enc.bih) as tf.Tensor2D; // [K, F] → [K, 4d], all keys at once
      let h = tf.zeros([1, d]) as tf.Tensor2D;
      let c = tf.zeros([1, d]) as tf.Tensor2D;
      const hs: tf.Tensor2D[] = [];
      const cs: tf.Tensor2D[] = [];
      for (let i = 0; i < K; i++) {
        [h, c] = lstmStep(w.enc, tf.slice(GI, [i, 0], [1, 4 * d]), h, c);
        hs.push(h);
        cs.push(c);
      }
      const Hs = tf.concat(hs, 0) as tf.Tensor2D; // K × [1, d] → [K, d]
      const Cs = tf.concat(cs, 0) as tf.Tensor2D;
      return { U: w.convFilter ? F : undefined, Hs, Cs, hM: h, cM: c };
    });
    keep.push(enc.Hs, enc.Cs, enc.hM, enc.cM, ...(enc.U ? [enc.U] : []));
    const encoder: EncoderData = {
      ...(enc.U ? { features: f32(enc.U).slice() } : {}),
      hidden: f32(enc.Hs).slice(),
      cell: f32(enc.Cs).slice(),
      Wk: readOut(() => f32(tf.matMul(enc.Hs, tf.transpose(w.W))).slice()), // W h_j: [K, d] × [d, d]ᵀ → [K, d]
    };
    between?.();
    const kv = tf.expandDims(enc.Hs, 0) as tf.Tensor3D; // [1, K, d]: keys = values
    keep.push(kv);
    const steps: StepData[] = [];
    let s = enc.hM;
    let c = enc.cM;
    let y = z[M - 1]!;
    for (let t = 0; t < horizon; t++) {
      const prevS = s;
      const prevC = c;
      const input = y;
      let data!: StepData;
      [s, c] = tf.tidy(() => {
        const gi = tf.add(tf.matMul(tf.tensor2d([[input]]), w.dec.WihT), w.dec.bih) as tf.Tensor2D; // [1, 1] → [1, 4d]
        const [s2, c2] = lstmStep(w.dec, gi, prevS, prevC); // the query s_t [1, d]
        const a = attend({
          q: tf.expandDims(s2, 0), // [1, 1, d]
          k: kv,
          v: kv,
          score: (q, k) => generalScores(q, k, w.W),
          normaliser: 'softmax',
        }); // scores, weights [1, 1, K]; context [1, 1, d]
        const ctx = tf.reshape(a.context, [1, d]);
        const o = tf.tanh(tf.add(tf.matMul(tf.concat([s2, ctx], 1), w.WcT), w.bc)); // [1, 2d] → [1, d]
        const yz = tf.add(tf.matMul(o, w.wy), w.by); // [1, d] → [1, 1]
        const forecastZ = f32(yz)[0]!;
        data = {
          input,
          query: f32(s2).slice(),
          cell: f32(c2).slice(),
          scores: f32(a.scores).slice(),
          weights: f32(a.weights).slice(),
          context: f32(ctx).slice(),
          combined: f32(o).slice(),
          forecastZ,
          forecast: mean + std * forecastZ,
        };
        return [s2, c2];
      });
      keep.push(s, c); // freed with the rest in finally, even if a cancel check throws
      steps.push(data);
      y = data.forecastZ;
      between?.();
    }
    return { encoder, steps };
  } finally {
    for (const t of keep) t.dispose();
  }
}

// The seq2seq model's weights (models/seq2seq-dates/<variant>.safetensors, PyTorch layouts), each
// checked against the shape the config implies, and the GRU cell that uses them.
import { tf } from '../../runtime/backend';
import type { SafeTensor } from '../../formats/safetensors';
import { weightReader } from '../../runtime/weightReader';
import type { CharVocab } from '../../tokenizers/charVocab';
import type { Seq2seqConfig, Seq2seqVariant } from './config';

export type Cell = 'gru' | 'lstm';

/** How many gate blocks a cell's weights stack: GRU (r, z, n), LSTM (i, f, g, o), PyTorch's orders. */
export const GATE_BLOCKS: Readonly<Record<Cell, number>> = { gru: 3, lstm: 4 };

export interface Rnn {
  /** W_ihᵀ [d_in, G·h], W_hhᵀ [h, G·h], biases [G·h]; G = 3 gate blocks (r, z, n) or 4 (i, f, g, o). */
  readonly WihT: tf.Tensor2D;
  readonly WhhT: tf.Tensor2D;
  readonly bih: tf.Tensor1D;
  readonly bhh: tf.Tensor1D;
  readonly hidden: number;
  readonly cell: Cell;
}

export interface Seq2seqWeights {
  readonly embIn: tf.Tensor2D;
  readonly fwd: Rnn;
  readonly bwd: Rnn;
  readonly embOut: tf.Tensor2D;
  readonly dec: Rnn;
  /** general: W [d_dec, d_key], s = s_tᵀ W h_i. */
  readonly W?: tf.Tensor2D;
  /** additive: W₁ [a, d_dec], W₂ [a, d_key], v [a], s = vᵀ tanh(W₁ s_t + W₂ h_i). */
  readonly W1?: tf.Tensor2D;
  readonly W2?: tf.Tensor2D;
  readonly v?: tf.Tensor1D;
  /** W_cᵀ [d_dec (+ d_key), d_dec], b_c; W_oᵀ [d_dec, V_out], b_o */
  readonly WcT: tf.Tensor2D;
  readonly bc: tf.Tensor1D;
  readonly WoT: tf.Tensor2D;
  readonly bo: tf.Tensor1D;
}

/** The weights as tensors (all of them in `all`, freed by the model), or a typed error naming the bad tensor. */
export function buildWeights(
  map: ReadonlyMap<string, SafeTensor>,
  cfg: Seq2seqConfig,
  vocab: CharVocab,
  variant: Seq2seqVariant,
  file: string,
  cell: Cell = 'gru',
): { w: Seq2seqWeights; all: tf.Tensor[]; count: number } {
  const r = weightReader(map, file);
  const { mat, matT, vec, all } = r;
  const G = GATE_BLOCKS[cell];
  const gru = (prefix: string, dIn: number, h: number): Rnn => ({
    WihT: matT(`${prefix}.W_ih`, G * h, dIn),
    WhhT: matT(`${prefix}.W_hh`, G * h, h),
    bih: vec(`${prefix}.b_ih`, G * h),
    bhh: vec(`${prefix}.b_hh`, G * h),
    hidden: h,
    cell,
  });
  try {
    const w: Seq2seqWeights = {
      embIn: mat('embedding.input', vocab.inputSize, cfg.d_emb),
      fwd: gru('encoder.forward', cfg.d_emb, cfg.d_enc),
      bwd: gru('encoder.backward', cfg.d_emb, cfg.d_enc),
      embOut: mat('embedding.output', vocab.outputSize, cfg.d_out_emb),
      dec: gru('decoder', cfg.d_out_emb, cfg.d_dec),
      ...(variant === 'general' ? { W: mat('attention.W', cfg.d_dec, cfg.d_key) } : {}),
      ...(variant === 'additive'
        ? {
            W1: mat('attention.W1', cfg.d_attn, cfg.d_dec),
            W2: mat('attention.W2', cfg.d_attn, cfg.d_key),
            v: vec('attention.v', cfg.d_attn),
          }
        : {}),
      WcT: matT('combine.weight', cfg.d_dec, cfg.d_dec + (variant === 'none' ? 0 : cfg.d_key)),
      bc: vec('combine.bias', cfg.d_dec),
      WoT: matT('output.weight', vocab.outputSize, cfg.d_dec),
      bo: vec('output.bias', vocab.outputSize),
    };
    return { w, all, count: r.count };
  } catch (err) {
    for (const t of all) t.dispose();
    throw err;
  }
}

/** A recurrent state: h, and the LSTM's cell state c. */
export interface RnnState {
  readonly h: tf.Tensor2D;
  readonly c?: tf.Tensor2D;
}

/**
 * What one step computed. GRU: r (reset), z (update), n (the candidate h̃). LSTM: i (input),
 * f (forget), g (the candidate), o (output). Each [1, h]; the caller owns them with the new state.
 */
export interface RnnStep {
  readonly state: RnnState;
  readonly gates: Readonly<Record<string, tf.Tensor2D>>;
}

/** The gate names a cell reports, in the order the panel shows them. */
export const GATE_NAMES: Readonly<Record<Cell, readonly string[]>> = {
  gru: ['z', 'r', 'n'],
  lstm: ['i', 'f', 'g', 'o'],
};

/**
 * One step of either cell, PyTorch's equations and gate orders. `gi` is the precomputed input part
 * W_ih x + b_ih, shape [1, G·h]; the state is [1, h] (and c [1, h] for the LSTM).
 *   GRU:  r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz),
 *         n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h′ = (1 − z) ⊙ n + z ⊙ h
 *   LSTM: i = σ(·), f = σ(·), g = tanh(·), o = σ(·) of W_i· x + b_i· + W_h· h + b_h·,
 *         c′ = f ⊙ c + i ⊙ g,  h′ = o ⊙ tanh(c′)
 */
export function rnnStep(g: Rnn, gi: tf.Tensor2D, state: RnnState): RnnStep {
  if (g.cell === 'gru') {
    const out = gruGates(g, gi, state.h);
    return { state: { h: out.h }, gates: { z: out.z, r: out.r, n: out.n } };
  }
  const out = tf.tidy(() => {
    const gates = tf.add(gi, tf.add(tf.matMul(state.h, g.WhhT), g.bhh)) as tf.Tensor2D; // [1, h] → [1, 4h], + input part
    const [ii, ff, gg, oo] = tf.split(gates, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]; // 4 × [1, h]
    const i = tf.sigmoid(ii) as tf.Tensor2D;
    const f = tf.sigmoid(ff) as tf.Tensor2D;
    const cand = tf.tanh(gg) as tf.Tensor2D;
    const o = tf.sigmoid(oo) as tf.Tensor2D;
    const c = tf.add(tf.mul(f, state.c!), tf.mul(i, cand)) as tf.Tensor2D;
    const h = tf.mul(o, tf.tanh(c)) as tf.Tensor2D;
    return { h, c, i, f, g: cand, o };
  });
  return { state: { h: out.h, c: out.c }, gates: { i: out.i, f: out.f, g: out.g, o: out.o } };
}

function gruGates(
  g: Rnn,
  gi: tf.Tensor2D,
  h: tf.Tensor2D,
): { h: tf.Tensor2D; r: tf.Tensor2D; z: tf.Tensor2D; n: tf.Tensor2D } {
  return tf.tidy(() => {
    const gh = tf.add(tf.matMul(h, g.WhhT), g.bhh) as tf.Tensor2D; // [1, h] → [1, 3h]
    const [ir, iz, inn] = tf.split(gi, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]; // [1, 3h] → 3 × [1, h]
    const [hr, hz, hn] = tf.split(gh, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const r = tf.sigmoid(tf.add(ir, hr)) as tf.Tensor2D;
    const z = tf.sigmoid(tf.add(iz, hz)) as tf.Tensor2D;
    const n = tf.tanh(tf.add(inn, tf.mul(r, hn))) as tf.Tensor2D;
    const next = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h)) as tf.Tensor2D;
    return { h: next, r, z, n };
  });
}

// The seq2seq model's maths, one small function per part: the bidirectional GRU or LSTM encoder, one
// decoder step (GRU or LSTM state → attention through the shared core → output layer), and the keys a
// score function projects once per input. Each takes one options object; every tensor made inside
// is freed by tf.tidy, and what is returned belongs to the caller.
import { tf } from '../../runtime/backend';
import { attend } from '../../attention/attend';
import { additivePairs, additiveProject, generalScores, type ScoreFn } from '../../attention/scores';
import { f32, readOut } from '../../runtime/read';
import type { ScoreFunction } from '../../../../shared/trace';
import { GATE_NAMES, rnnStep, type Rnn, type RnnState, type Seq2seqWeights } from './weights';

/** The encoder's tensors; the caller disposes them (disposeEncoder). */
export interface EncoderStates {
  /** [n, d_emb] character embeddings. */
  readonly X: tf.Tensor2D;
  /** [n, d_h] left-to-right and right-to-left hidden states, in input order. */
  readonly Hf: tf.Tensor2D;
  readonly Hb: tf.Tensor2D;
  /** [n, d_key] = [→h_i ; ←h_i]: the keys and values. */
  readonly H: tf.Tensor2D;
  /** [1, d_dec] = [→h_n ; ←h_1]: the decoder's first state (and c₀ = [→c_n ; ←c_1] for the LSTM). */
  readonly s0: RnnState;
  /** Per direction, each gate at every position [n, d_h] (GATE_NAMES order), and the LSTM's cell states. */
  readonly gatesF: Readonly<Record<string, tf.Tensor2D>>;
  readonly gatesB: Readonly<Record<string, tf.Tensor2D>>;
  readonly Cf?: tf.Tensor2D;
  readonly Cb?: tf.Tensor2D;
}

export function disposeEncoder(e: EncoderStates): void {
  tf.dispose([
    e.X,
    e.Hf,
    e.Hb,
    e.H,
    e.s0.h,
    ...(e.s0.c ? [e.s0.c] : []),
    ...(e.Cf ? [e.Cf] : []),
    ...(e.Cb ? [e.Cb] : []),
  ]);
  tf.dispose([...Object.values(e.gatesF), ...Object.values(e.gatesB)]);
}

interface Pass {
  readonly H: tf.Tensor2D;
  readonly C?: tf.Tensor2D;
  readonly gates: Record<string, tf.Tensor2D>;
}

/** One GRU or LSTM over every position of X, forwards or backwards: [n, d_in] → [n, h] in input order, with its gates. */
function runRnn(g: Rnn, X: tf.Tensor2D, reverse: boolean): Pass {
  return tf.tidy(() => {
    const n = X.shape[0];
    const width = g.WihT.shape[1];
    const GI = tf.add(tf.matMul(X, g.WihT), g.bih) as tf.Tensor2D; // [n, d_in] → [n, G·h]: input parts, all positions
    const names = GATE_NAMES[g.cell];
    const hs = new Array<tf.Tensor2D>(n);
    const cs = new Array<tf.Tensor2D>(n);
    const gates = new Map(names.map((k) => [k, new Array<tf.Tensor2D>(n)] as const));
    let state: RnnState = {
      h: tf.zeros([1, g.hidden]) as tf.Tensor2D,
      ...(g.cell === 'lstm' ? { c: tf.zeros([1, g.hidden]) as tf.Tensor2D } : {}),
    };
    for (let k = 0; k < n; k++) {
      const i = reverse ? n - 1 - k : k;
      const step = rnnStep(g, tf.slice(GI, [i, 0], [1, width]), state); // [1, G·h], [1, h] → [1, h]
      state = step.state;
      hs[i] = state.h;
      if (state.c) cs[i] = state.c;
      for (const name of names) gates.get(name)![i] = step.gates[name]!;
    }
    const out: Pass = {
      H: tf.concat(hs, 0) as tf.Tensor2D, // n × [1, h] → [n, h]
      ...(g.cell === 'lstm' ? { C: tf.concat(cs, 0) as tf.Tensor2D } : {}),
      gates: Object.fromEntries(names.map((name) => [name, tf.concat(gates.get(name)!, 0) as tf.Tensor2D])),
    };
    return out as unknown as tf.TensorContainer as never;
  }) as Pass;
}

export function encode(opts: { readonly w: Seq2seqWeights; readonly ids: readonly number[] }): EncoderStates {
  const { w, ids } = opts;
  return tf.tidy(() => {
    const n = ids.length;
    const dh = w.fwd.hidden;
    const X = tf.gather(w.embIn, tf.tensor1d(ids as number[], 'int32')) as tf.Tensor2D; // ids [n] → [n, d_emb]
    const f = runRnn(w.fwd, X, false);
    const b = runRnn(w.bwd, X, true);
    const H = tf.concat([f.H, b.H], 1) as tf.Tensor2D; // [n, d_h] ‖ [n, d_h] → [n, 2·d_h]
    const ends = (A: tf.Tensor2D, B: tf.Tensor2D): tf.Tensor2D =>
      tf.concat([tf.slice(A, [n - 1, 0], [1, dh]), tf.slice(B, [0, 0], [1, dh])], 1) as tf.Tensor2D; // → [1, 2·d_h]
    const s0: RnnState = { h: ends(f.H, b.H), ...(f.C && b.C ? { c: ends(f.C, b.C) } : {}) };
    const out: EncoderStates = {
      X,
      Hf: f.H,
      Hb: b.H,
      H,
      s0,
      gatesF: f.gates,
      gatesB: b.gates,
      ...(f.C ? { Cf: f.C } : {}),
      ...(b.C ? { Cb: b.C } : {}),
    };
    return out as unknown as tf.TensorContainer as never;
  }) as EncoderStates;
}

/**
 * The keys as the score function reads them. Additive: W₂ h_i [1, n, a] projected once per input,
 * because the keys are the same at every decoder step (then s = vᵀ tanh(W₁ s_t + W₂ h_i)). General
 * scores s_tᵀ W h_i per step, and shows W h_i [n, d_dec]; dot and scaled dot read H itself.
 */
export interface PreparedKeys {
  /** The score function for attend(): a named one, or one that reads the projected keys. */
  readonly score: ScoreFunction | ScoreFn;
  /** The projected keys [1, n, ·] (the caller disposes them), and as numbers for the trace. */
  readonly projected?: tf.Tensor3D;
  readonly shown?: Float32Array;
}

export function prepareKeys(w: Seq2seqWeights, score: ScoreFunction, H: tf.Tensor2D): PreparedKeys {
  if (score === 'general') {
    // The core's general score: (s_tᵀ W) h_i, one [1, d_key] row per step; W h_i only for the trace.
    const W = w.W!;
    // An explicit Wᵀ: tfjs-wasm's transposeB product is several times slower with many rows (24 against 3 ms here).
    return {
      score: (q, k) => generalScores(q, k, W),
      shown: readOut(() => f32(tf.matMul(H, tf.transpose(W))).slice()),
    }; // W h_i: [n, d_key] × [d_key, d_dec] → [n, d_dec]
  }
  if (score === 'additive') {
    const W2k = tf.tidy(() => additiveProject('W₂', tf.expandDims(H, 0) as tf.Tensor3D, w.W2!)); // [1, n, d_key] → [1, n, a]
    return {
      score: (q) => additivePairs(additiveProject('W₁', q, w.W1!), W2k, w.v!),
      projected: W2k,
      shown: f32(W2k).slice(),
    }; // W₁ s_t [1, 1, a]
  }
  return { score };
}

/** What one decoder step computed, read out of tf. */
export interface StepData {
  /** [d_out_emb] the previous output's embedding; [d_dec] the new state s_t (the query). */
  readonly input: Float32Array;
  readonly query: Float32Array;
  /** [d_dec] each gate of the state update (GATE_NAMES order), and the LSTM's new cell state. */
  readonly gates: Readonly<Record<string, Float32Array>>;
  readonly cell?: Float32Array;
  /** additive only: W₁ s_t [a]. */
  readonly q1?: Float32Array;
  /** [n] scores and weights, [d_key] context: only with attention. */
  readonly scores?: Float32Array;
  readonly weights?: Float32Array;
  readonly context?: Float32Array;
  /** [d_dec] o_t; [V_out] logits and probabilities. */
  readonly combined: Float32Array;
  readonly logits: Float32Array;
  readonly probs: Float32Array;
}

export interface DecoderStepOptions {
  readonly w: Seq2seqWeights;
  /** The output id read at this step (the start token at step 0) and the state before it [1, d_dec]. */
  readonly prev: number;
  readonly state: RnnState;
  /** With attention: the score function (prepareKeys) and the encoder states H [n, d_key] (keys and values). */
  readonly attention?: { readonly score: ScoreFunction | ScoreFn; readonly H: tf.Tensor2D };
}

/**
 * Luong-style attention of one decoder state over the encoder states, through the shared core:
 * query s_t [1, d_dec] against keys = values = H [n, d_key] → scores, weights [1, n], context [1, d_key].
 */
function attendOnce(
  query: tf.Tensor2D,
  a: NonNullable<DecoderStepOptions['attention']>,
): { scores: tf.Tensor; weights: tf.Tensor; context: tf.Tensor2D } {
  const kv = tf.expandDims(a.H, 0) as tf.Tensor3D; // [n, d_key] → [1, n, d_key]
  const out = attend({ q: tf.expandDims(query, 0), k: kv, v: kv, score: a.score, normaliser: 'softmax' }); // q [1, 1, d_dec]
  return { scores: out.scores, weights: out.weights, context: tf.reshape(out.context, [1, -1]) as tf.Tensor2D }; // [1, 1, d_key] → [1, d_key]
}

/** One greedy decoder step: the new state (the caller owns it) and what the step computed. */
export function decoderStep(opts: DecoderStepOptions): { state: RnnState; data: StepData } {
  const { w, prev, state, attention } = opts;
  let data!: StepData;
  const next = tf.tidy(() => {
    const y = tf.gather(w.embOut, tf.tensor1d([prev], 'int32')) as tf.Tensor2D; // [1, d_out_emb]
    const gi = tf.add(tf.matMul(y, w.dec.WihT), w.dec.bih) as tf.Tensor2D; // [1, d_out_emb] → [1, G·d_dec]
    const step = rnnStep(w.dec, gi, state);
    const s = step.state.h; // the query s_t [1, d_dec]
    const a = attention ? attendOnce(s, attention) : undefined;
    const q1 = w.W1 ? tf.matMul(s, w.W1, false, true) : undefined; // additive: W₁ s_t [1, d_dec] → [1, a], shown beside the scores
    const combinedIn = a ? tf.concat([s, a.context], 1) : s; // [1, d_dec (+ d_key)]
    const o = tf.tanh(tf.add(tf.matMul(combinedIn, w.WcT), w.bc)); // → [1, d_dec]
    const logits = tf.add(tf.matMul(o, w.WoT), w.bo); // [1, d_dec] → [1, V_out]
    data = {
      input: f32(y).slice(),
      query: f32(s).slice(),
      gates: Object.fromEntries(Object.entries(step.gates).map(([k, v]) => [k, f32(v).slice()])),
      ...(step.state.c ? { cell: f32(step.state.c).slice() } : {}),
      ...(q1 ? { q1: f32(q1).slice() } : {}),
      ...(a ? { scores: f32(a.scores).slice(), weights: f32(a.weights).slice(), context: f32(a.context).slice() } : {}),
      combined: f32(o).slice(),
      logits: f32(logits).slice(),
      probs: f32(tf.softmax(logits)).slice(),
    };
    return step.state as unknown as tf.TensorContainer as never;
  }) as RnnState;
  return { state: next, data };
}

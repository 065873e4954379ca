// The seq2seq date-normalisation model: character embedding → bidirectional GRU encoder →
// GRU decoder with (Luong-style) attention, greedy decoding. Weights are trained by
// scripts/train/seq2seq.py and stored in models/seq2seq-dates/<variant>.safetensors.
// tfjs only; no vscode. Every tf op is inside tf.tidy or explicitly disposed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backendLabel, tf } from '../../runtime/backend';
import { CharVocab, describeChar } from '../../tokenizers/charVocab';
import { throwIfCancelled, yieldToEventLoop, type AttentionModel, type RunOptions } from '../../model';
import { readSafetensorsFile, type SafeTensor } from '../../formats/safetensors';
import {
  AttentionInputError,
  tensor,
  type AttentionInfo,
  type ModelInfo,
  type Prediction,
  type ScoreFunction,
  type Stage,
  type TensorData,
  type Token,
  type Trace,
} from '../../../../shared/trace';

export type Seq2seqVariant = ScoreFunction | 'none';
export const SEQ2SEQ_VARIANTS: readonly Seq2seqVariant[] = ['additive', 'dot', 'general', 'scaled-dot', 'none'];

/** models/seq2seq-dates/config.json (the fields this loader reads). */
export interface Seq2seqConfig {
  readonly d_emb: number;
  readonly d_enc: number;
  readonly d_key: number;
  readonly d_dec: number;
  readonly d_out_emb: number;
  readonly d_attn: number;
  /** Run-time input limit (characters); longer inputs are truncated with a warning. */
  readonly max_input: number;
  /** The longest input seen in training (optional; defaults to max_input). */
  readonly trained_max_input?: number;
  readonly max_output: number;
}

const DEFAULT_TOP_K = 5;

/** Walks up from this file until models/seq2seq-dates/vocab.json is found (source tree or dist/). */
export function builtinSeq2seqDir(startDir: string = __dirname): string {
  let dir = startDir;
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, 'models', 'seq2seq-dates');
    if (fs.existsSync(path.join(candidate, 'vocab.json'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new AttentionInputError('file', `The built-in seq2seq model (models/seq2seq-dates/vocab.json) was not found above ${startDir}.`);
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    throw new AttentionInputError('file', `Cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new AttentionInputError('file', `${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function parseConfig(json: unknown, file: string): Seq2seqConfig {
  if (typeof json !== 'object' || json === null) throw new AttentionInputError('file', `${file}: not a JSON object`);
  const j = json as Record<string, unknown>;
  const keys = ['d_emb', 'd_enc', 'd_key', 'd_dec', 'd_out_emb', 'd_attn', 'max_input', 'max_output'] as const;
  for (const k of keys) {
    const v = j[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 1 << 16) {
      throw new AttentionInputError('file', `${file}: "${k}" must be a positive integer`);
    }
  }
  const tmi = j.trained_max_input;
  if (tmi !== undefined && (typeof tmi !== 'number' || !Number.isInteger(tmi) || tmi <= 0)) {
    throw new AttentionInputError('file', `${file}: "trained_max_input" must be a positive integer`);
  }
  const c = j as unknown as Seq2seqConfig;
  if (c.d_key !== 2 * c.d_enc) throw new AttentionInputError('file', `${file}: d_key (${c.d_key}) must be 2·d_enc (${2 * c.d_enc})`);
  if (c.d_dec !== c.d_key) throw new AttentionInputError('file', `${file}: d_dec (${c.d_dec}) must equal d_key (${c.d_key}) so s₀ = [→h_n ; ←h_1]`);
  return c;
}

// ---- weights -------------------------------------------------------------------------------------

interface Gru {
  /** W_ihᵀ [d_in, 3h], W_hhᵀ [h, 3h], biases [3h]; gate blocks in PyTorch order (r, z, n). */
  readonly WihT: tf.Tensor2D;
  readonly WhhT: tf.Tensor2D;
  readonly bih: tf.Tensor1D;
  readonly bhh: tf.Tensor1D;
  readonly hidden: number;
}

interface Weights {
  readonly embIn: tf.Tensor2D;
  readonly fwd: Gru;
  readonly bwd: Gru;
  readonly embOut: tf.Tensor2D;
  readonly dec: Gru;
  /** general: W [d_dec, d_key] */
  readonly W?: tf.Tensor2D;
  /** additive: W₁ᵀ [d_dec, a], W₂ᵀ [d_key, a], v [a, 1] */
  readonly W1T?: tf.Tensor2D;
  readonly W2T?: tf.Tensor2D;
  readonly v?: tf.Tensor2D;
  /** W_cᵀ [d_dec (+ d_key), d_dec], b_c; W_oᵀ [d_dec, V_out], b_o */
  readonly WcT: tf.Tensor2D;
  readonly bc: tf.Tensor1D;
  readonly WoT: tf.Tensor2D;
  readonly bo: tf.Tensor1D;
}

function buildWeights(map: Map<string, SafeTensor>, cfg: Seq2seqConfig, vocab: CharVocab, variant: Seq2seqVariant, file: string): { w: Weights; all: tf.Tensor[]; count: number } {
  const all: tf.Tensor[] = [];
  let count = 0;
  const get = (name: string, shape: readonly number[]): SafeTensor => {
    const t = map.get(name);
    if (!t) throw new AttentionInputError('file', `${file}: missing tensor "${name}"`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new AttentionInputError('file', `${file}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    count += t.data.length;
    return t;
  };
  const keep = <T extends tf.Tensor>(t: T): T => {
    all.push(t);
    return t;
  };
  const mat = (name: string, rows: number, cols: number): tf.Tensor2D => keep(tf.tensor2d(get(name, [rows, cols]).data, [rows, cols]));
  const matT = (name: string, rows: number, cols: number): tf.Tensor2D => {
    const t = get(name, [rows, cols]);
    return keep(tf.tidy(() => tf.tensor2d(t.data, [rows, cols]).transpose()));
  };
  const vec = (name: string, n: number): tf.Tensor1D => keep(tf.tensor1d(get(name, [n]).data));
  const gru = (prefix: string, dIn: number, h: number): Gru => ({
    WihT: matT(`${prefix}.W_ih`, 3 * h, dIn),
    WhhT: matT(`${prefix}.W_hh`, 3 * h, h),
    bih: vec(`${prefix}.b_ih`, 3 * h),
    bhh: vec(`${prefix}.b_hh`, 3 * h),
    hidden: h,
  });
  try {
    const nIn = vocab.inputSize;
    const nOut = vocab.outputSize;
    const w: Weights = {
      embIn: mat('embedding.input', nIn, cfg.d_emb),
      fwd: gru('encoder.forward', cfg.d_emb, cfg.d_enc),
      bwd: gru('encoder.backward', cfg.d_emb, cfg.d_enc),
      embOut: mat('embedding.output', nOut, cfg.d_out_emb),
      dec: gru('decoder', cfg.d_out_emb, cfg.d_dec),
      ...(variant === 'general' ? { W: mat('attention.W', cfg.d_dec, cfg.d_key) } : {}),
      ...(variant === 'additive'
        ? {
            W1T: matT('attention.W1', cfg.d_attn, cfg.d_dec),
            W2T: matT('attention.W2', cfg.d_attn, cfg.d_key),
            v: keep(tf.tensor2d(get('attention.v', [cfg.d_attn]).data, [cfg.d_attn, 1])),
          }
        : {}),
      WcT: matT('combine.weight', cfg.d_dec, cfg.d_dec + (variant === 'none' ? 0 : cfg.d_key)),
      bc: vec('combine.bias', cfg.d_dec),
      WoT: matT('output.weight', nOut, cfg.d_dec),
      bo: vec('output.bias', nOut),
    };
    return { w, all, count };
  } catch (err) {
    for (const t of all) t.dispose();
    throw err;
  }
}

/**
 * One GRU step, PyTorch's equations and gate order (r, z, n):
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h′ = (1 − z) ⊙ n + z ⊙ h
 * `gi` is the precomputed input part W_ih x + b_ih, shape [1, 3h]; `h` is [1, h].
 */
function gruStep(g: Gru, gi: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const gh = tf.add(tf.matMul(h, g.WhhT), g.bhh) as tf.Tensor2D;
    const [ir, iz, inn] = tf.split(gi, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const [hr, hz, hn] = tf.split(gh, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const r = tf.sigmoid(tf.add(ir, hr));
    const z = tf.sigmoid(tf.add(iz, hz));
    const n = tf.tanh(tf.add(inn, tf.mul(r, hn)));
    return tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h)) as tf.Tensor2D;
  });
}

interface StepData {
  readonly input: Float32Array;
  readonly query: Float32Array;
  readonly q1?: Float32Array;
  readonly scores?: Float32Array;
  readonly weights?: Float32Array;
  readonly context?: Float32Array;
  readonly combined: Float32Array;
  readonly logits: Float32Array;
  readonly probs: Float32Array;
}

const SUBSCRIPTS = '₀₁₂₃₄₅₆₇₈₉';
/** 12 → '₁₂' */
function sub(n: number): string {
  return String(n).replace(/[0-9]/g, (d) => SUBSCRIPTS[Number(d)]!);
}

const SCORE_FORMULA: Readonly<Record<ScoreFunction, string>> = {
  additive: 'e_ti = vᵀ tanh(W₁ s_t + W₂ h_i)',
  dot: 'e_ti = s_t · h_i',
  'scaled-dot': 'e_ti = s_t · h_i / √d',
  general: 'e_ti = s_tᵀ W h_i',
};

const SCORE_NAME: Readonly<Record<Seq2seqVariant, string>> = {
  additive: 'additive (Bahdanau)',
  dot: 'dot product',
  'scaled-dot': 'scaled dot product',
  general: 'general (bilinear)',
  none: 'no attention',
};

function scoreExplanation(score: ScoreFunction, dKey: number): string {
  switch (score) {
    case 'additive':
      return 'Additive (Bahdanau) scoring: the query and each key are projected into a shared space by two learned matrices, added, squashed by tanh and read out along a learned direction v. The little feed-forward network decides how well this input character matches what the decoder is looking for.';
    case 'dot':
      return 'Dot-product scoring: the score is the plain dot product of the query with each key, large when they point the same way. There are no learned attention weights; the encoder and decoder learned to make their states comparable.';
    case 'scaled-dot':
      return `Scaled dot-product scoring: the dot product of the query with each key, divided by √${dKey} (the key size) so the scores do not grow with the dimension and push softmax into saturation.`;
    case 'general':
      return 'General (bilinear, Luong) scoring: the key is first mapped by a learned matrix W into the query’s space, then compared with the query by a dot product. W lets the model decide which directions of the query should match which directions of the key.';
  }
}

class Seq2seqModel implements AttentionModel {
  readonly info: ModelInfo;
  private disposed = false;

  constructor(
    private readonly variant: Seq2seqVariant,
    private readonly cfg: Seq2seqConfig,
    private readonly vocab: CharVocab,
    private readonly w: Weights,
    private readonly owned: tf.Tensor[],
    parameters: number,
  ) {
    this.info = {
      id: `seq2seq-dates-${variant}`,
      name: variant === 'none' ? 'Seq2seq dates, no attention' : `Seq2seq dates, ${SCORE_NAME[variant]} attention`,
      family: 'seq2seq',
      description:
        variant === 'none'
          ? `Character-level BiGRU encoder → GRU decoder without attention: the decoder sees only the encoder's final state. Turns a written date into YYYY-MM-DD.`
          : `Character-level BiGRU encoder → GRU decoder with ${SCORE_NAME[variant]} attention (${SCORE_FORMULA[variant]}). Turns a written date into YYYY-MM-DD.`,
      layers: 1,
      heads: variant === 'none' ? 0 : 1,
      dModel: cfg.d_dec,
      parameters,
      licence: 'Apache-2.0',
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.owned) t.dispose();
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const t0 = performance.now();
    if (this.disposed) throw new Error('This seq2seq model has been disposed.');
    const { signal, onProgress } = options;
    throwIfCancelled(signal);
    if (typeof text !== 'string' || text.trim().length === 0) {
      throw new AttentionInputError('empty', 'Select some text with a date in it: the input is empty or only whitespace.');
    }
    const cfg = this.cfg;
    const maxTokens = options.maxTokens ?? cfg.max_input;
    if (!Number.isInteger(maxTokens) || maxTokens < 1) {
      throw new AttentionInputError('shape', `maxTokens must be a positive integer (got ${maxTokens}).`);
    }
    const topK = Math.max(1, Math.min(this.vocab.outputSize, Math.floor(options.topK ?? DEFAULT_TOP_K)));
    const enc = this.vocab.encode(text, maxTokens);
    const warnings: string[] = [];
    if (enc.tokens.length === 0) throw new AttentionInputError('empty', 'The input has no characters to read.');
    if (enc.truncated) {
      warnings.push(`The input has ${enc.totalChars} characters; only the first ${maxTokens} were read (maxTokens = ${maxTokens}).`);
    }
    const trained = cfg.trained_max_input ?? cfg.max_input;
    if (enc.tokens.length > trained) {
      warnings.push(
        `This input has ${enc.tokens.length} characters; the model was trained on inputs of at most ${trained}, so expect mistakes${this.variant === 'none' ? ' (especially without attention: everything must fit into one fixed-size state)' : ''}.`,
      );
    }
    if (enc.unknown.length > 0) {
      const shown = enc.unknown.slice(0, 8).map((u) => `${describeChar(u.char)} at ${u.start}`).join(', ');
      warnings.push(
        `${enc.unknown.length} character${enc.unknown.length === 1 ? ' is' : 's are'} not in the model's vocabulary and ${enc.unknown.length === 1 ? 'was' : 'were'} read as <unk>: ${shown}${enc.unknown.length > 8 ? ', …' : ''}.`,
      );
    }
    if (options.score !== undefined && options.score !== this.variant) {
      warnings.push(`This model was trained with ${this.variant === 'none' ? 'no attention' : `the ${this.variant} score`}; the requested score function "${options.score}" is ignored.`);
    }
    if (options.normaliser !== undefined && options.normaliser !== 'softmax') {
      warnings.push(`This model was trained with softmax; the requested normaliser "${options.normaliser}" is ignored.`);
    }
    const last = enc.tokens[enc.tokens.length - 1]!;
    const seenText = enc.truncated ? text.slice(0, last.end) : text;

    const live: tf.Tensor[] = [];
    try {
      return await this.forward(enc.tokens, enc.ids, seenText, warnings, topK, live, signal, onProgress, t0);
    } finally {
      for (const t of live) t.dispose();
    }
  }

  private async forward(
    tokens: Token[],
    ids: number[],
    seenText: string,
    warnings: string[],
    topK: number,
    live: tf.Tensor[],
    signal: AbortSignal | undefined,
    onProgress: ((f: number, m: string) => void) | undefined,
    t0: number,
  ): Promise<Trace> {
    const { w, cfg, vocab, variant } = this;
    const n = tokens.length;
    const dh = cfg.d_enc;
    const dk = cfg.d_key;
    const d = cfg.d_dec;
    const attn = variant !== 'none';
    const score = variant === 'none' ? undefined : variant;
    const info: AttentionInfo | undefined = score ? { queries: 'output', keys: 'input', causal: false, score, normaliser: 'softmax' } : undefined;
    const stages: Stage[] = [];
    const progress = (f: number, m: string): void => onProgress?.(f, m);

    // ---- tokens and embedding
    stages.push({
      id: 'tokens',
      kind: 'tokens',
      title: `Characters (${n})`,
      formula: 'text → c₁ … c_n (one token per character)',
      explanation:
        'The model reads the text one character at a time: every Unicode code point is one token, looked up in a small vocabulary of the letters, digits and punctuation seen in training. Characters outside it become <unk>; tabs and line breaks read as spaces; whitespace at either end is skipped.',
      tensors: [tensor('ids', [n], ['token'], Float32Array.from(ids), { tokenAxes: { token: 'input' }, description: 'vocabulary id of each character' })],
    });
    throwIfCancelled(signal);
    progress(0.05, 'Embedding characters');

    const idsT = tf.tensor1d(ids, 'int32');
    live.push(idsT);
    const X = tf.gather(w.embIn, idsT) as tf.Tensor2D; // [n, d_emb]
    live.push(X);
    stages.push({
      id: 'embedding',
      kind: 'embedding',
      title: 'Character embeddings',
      formula: 'x_i = E[c_i]',
      explanation: `Each character id picks one row of a learned embedding table E, giving a vector of ${cfg.d_emb} numbers per character. Similar characters (digits, letters of month names) end up with similar vectors because training pushed them there.`,
      tensors: [tensor('X', [n, cfg.d_emb], ['token', 'd_emb'], X.dataSync() as Float32Array, { tokenAxes: { token: 'input' } })],
    });
    throwIfCancelled(signal);
    progress(0.1, 'Running the encoder');
    await yieldToEventLoop();
    throwIfCancelled(signal);

    // ---- bidirectional GRU encoder
    const runDirection = (g: Gru, reverse: boolean): tf.Tensor2D =>
      tf.tidy(() => {
        const GI = tf.add(tf.matMul(X, g.WihT), g.bih) as tf.Tensor2D; // [n, 3h] input parts, all positions
        const states: tf.Tensor2D[] = new Array<tf.Tensor2D>(n);
        let h = tf.zeros([1, g.hidden]) as tf.Tensor2D;
        for (let k = 0; k < n; k++) {
          const i = reverse ? n - 1 - k : k;
          const gi = tf.slice(GI, [i, 0], [1, 3 * g.hidden]) as tf.Tensor2D;
          h = gruStep(g, gi, h);
          states[i] = h;
        }
        return tf.concat(states, 0) as tf.Tensor2D; // [n, h], in input order
      });
    const Hf = runDirection(w.fwd, false);
    live.push(Hf);
    const Hb = runDirection(w.bwd, true);
    live.push(Hb);
    const H = tf.concat([Hf, Hb], 1) as tf.Tensor2D; // [n, 2h]: keys and values
    live.push(H);
    let s = tf.tidy(() => tf.concat([tf.slice(Hf, [n - 1, 0], [1, dh]), tf.slice(Hb, [0, 0], [1, dh])], 1)) as tf.Tensor2D; // s₀ [1, d]
    const s0Data = s.dataSync().slice() as Float32Array;
    stages.push({
      id: 'encoder',
      kind: 'encoder-step',
      title: 'Bidirectional GRU encoder',
      formula: '→h_i = GRU→(x_i, →h_{i−1}),  ←h_i = GRU←(x_i, ←h_{i+1}),  h_i = [→h_i ; ←h_i]',
      explanation: `Two GRUs read the characters, one left to right and one right to left. Each keeps a running memory of ${dh} numbers, updated per character through a reset gate r, an update gate z and a candidate n: h′ = (1 − z) ⊙ n + z ⊙ h. Gluing the two memories at position i gives h_i (${dk} numbers), a summary of character i in the context of the whole string. ${attn ? 'These encoder states are the keys and the values the decoder attends to.' : 'Without attention, only the two final memories are passed on.'} The decoder starts from s₀ = [→h_n ; ←h_1], the two GRUs' final states.`,
      tensors: [
        tensor('hidden', [n, dk], ['token', 'd_key'], H.dataSync() as Float32Array, { tokenAxes: { token: 'input' }, description: 'h_i = [→h_i ; ←h_i]' }),
        tensor('forward', [n, dh], ['token', 'd_h'], Hf.dataSync() as Float32Array, { tokenAxes: { token: 'input' }, description: 'left-to-right GRU states →h_i' }),
        tensor('backward', [n, dh], ['token', 'd_h'], Hb.dataSync() as Float32Array, { tokenAxes: { token: 'input' }, description: 'right-to-left GRU states ←h_i' }),
        tensor('s0', [d], ['d_dec'], s0Data, { description: 'decoder initial state s₀ = [→h_n ; ←h_1]' }),
      ],
    });
    live.push(s);
    if (!attn) {
      stages.push({
        id: 'bottleneck',
        kind: 'context',
        title: 'The fixed-size bottleneck',
        formula: 's₀ = [→h_n ; ←h_1]  (the decoder never sees h_1 … h_n again)',
        explanation: `This variant has no attention. Everything the decoder will ever know about the ${n} input characters must fit into s₀, one vector of ${d} numbers, however long the input is. Each output character is predicted from the decoder's own state alone. Long inputs, with many extra words around the date, are where this bottleneck shows: compare the attention variants on the same text.`,
        tensors: [tensor('s0', [d], ['d_dec'], s0Data, { description: 'the only summary of the input the decoder receives' })],
      });
    }
    throwIfCancelled(signal);
    progress(0.3, 'Decoding');

    // Keys projected once for scores that transform them.
    let K2: tf.Tensor2D | undefined; // additive: W₂h_i [n, a]; general: W h_i [n, d]
    if (variant === 'additive') K2 = tf.matMul(H, w.W2T!) as tf.Tensor2D;
    else if (variant === 'general') K2 = tf.matMul(H, w.W!, false, true) as tf.Tensor2D;
    if (K2) live.push(K2);
    const K2Data = K2 ? (K2.dataSync().slice() as Float32Array) : undefined;

    // ---- greedy decoding
    const outputTokens: Token[] = [];
    const predictions: Prediction[] = [];
    const alignment: Float32Array[] = [];
    let prev = vocab.bosId;
    let finished = false;
    const nOut = vocab.outputSize;
    for (let t = 0; t < cfg.max_output; t++) {
      await yieldToEventLoop();
      throwIfCancelled(signal);
      let data!: StepData;
      const sNew = tf.tidy(() => {
        const y = tf.gather(w.embOut, tf.tensor1d([prev], 'int32')) as tf.Tensor2D; // [1, d_out_emb]
        const gi = tf.add(tf.matMul(y, w.dec.WihT), w.dec.bih) as tf.Tensor2D;
        const sNew = gruStep(w.dec, gi, s); // the query s_t [1, d]
        let e: tf.Tensor2D | undefined;
        let q1: tf.Tensor2D | undefined;
        let a: tf.Tensor2D | undefined;
        let c: tf.Tensor2D | undefined;
        let combinedIn: tf.Tensor2D = sNew;
        if (variant !== 'none') {
          if (variant === 'dot') e = tf.matMul(sNew, H, false, true) as tf.Tensor2D;
          else if (variant === 'scaled-dot') e = tf.div(tf.matMul(sNew, H, false, true), Math.sqrt(dk)) as tf.Tensor2D;
          else if (variant === 'general') e = tf.matMul(sNew, K2!, false, true) as tf.Tensor2D;
          else {
            q1 = tf.matMul(sNew, w.W1T!) as tf.Tensor2D; // [1, a]
            e = tf.reshape(tf.matMul(tf.tanh(tf.add(K2!, q1)), w.v!), [1, n]) as tf.Tensor2D;
          }
          a = tf.softmax(e) as tf.Tensor2D; // [1, n]
          c = tf.matMul(a, H) as tf.Tensor2D; // [1, d_key]
          combinedIn = tf.concat([sNew, c], 1) as tf.Tensor2D;
        }
        const o = tf.tanh(tf.add(tf.matMul(combinedIn, w.WcT), w.bc)) as tf.Tensor2D;
        const logits = tf.add(tf.matMul(o, w.WoT), w.bo) as tf.Tensor2D;
        const probs = tf.softmax(logits);
        data = {
          input: y.dataSync().slice() as Float32Array,
          query: sNew.dataSync().slice() as Float32Array,
          q1: q1 ? (q1.dataSync().slice() as Float32Array) : undefined,
          scores: e ? (e.dataSync().slice() as Float32Array) : undefined,
          weights: a ? (a.dataSync().slice() as Float32Array) : undefined,
          context: c ? (c.dataSync().slice() as Float32Array) : undefined,
          combined: o.dataSync().slice() as Float32Array,
          logits: logits.dataSync().slice() as Float32Array,
          probs: probs.dataSync().slice() as Float32Array,
        };
        return sNew;
      });
      // Swap the decoder state: the old one is no longer needed.
      const old = s;
      s = sNew;
      live.splice(live.indexOf(old), 1, s);
      old.dispose();

      let best = 0;
      for (let k = 1; k < nOut; k++) if (data.probs[k]! > data.probs[best]!) best = k;
      const order = Array.from({ length: nOut }, (_, k) => k).sort((p, q) => data.probs[q]! - data.probs[p]!);
      predictions.push({ position: t, top: order.slice(0, topK).map((k) => ({ text: vocab.outputText(k), id: k, p: data.probs[k]! })) });
      const isEos = best === vocab.eosId;
      outputTokens.push({ text: vocab.outputText(best), id: best, start: -1, end: -1, ...(isEos ? { special: true } : {}) });
      const prevText = vocab.outputText(prev);
      const produced = isEos ? 'the end-of-sequence token </s>' : `'${vocab.outputText(best)}'`;

      stages.push({
        id: `dec${t}.query`,
        kind: 'decoder-step',
        title: `Decoder step ${t + 1}: state (query)`,
        formula: `s${sub(t + 1)} = GRU_dec(E_out[y${sub(t)}], s${sub(t)})${t === 0 ? ',  y₀ = <s>' : ''}`,
        explanation: `The decoder GRU reads the character it produced last (${t === 0 ? 'the start token <s> at the first step' : `'${prevText}'`}) and updates its state. ${attn ? `That state s${sub(t + 1)} is the query: it says what the decoder needs to know next, and the keys of the input characters will be compared with it.` : 'Without attention, this state alone must carry everything the decoder knows about the input.'}${t === 0 ? ' The first step starts from s₀, the encoder’s final states.' : ''}`,
        step: t,
        ...(info ? { attention: info } : {}),
        tensors: [
          tensor('query', [d], ['d_dec'], data.query, { description: `decoder state s_t after reading '${prevText}'` }),
          tensor('input', [cfg.d_out_emb], ['d_out_emb'], data.input, { description: `embedding of the previous output '${prevText}'` }),
        ],
      });
      if (attn && score && info) {
        const scoreTensors: TensorData[] = [tensor('scores', [n], ['key'], data.scores!, { tokenAxes: { key: 'input' }, description: 'e_ti, one score per input character' })];
        if (variant === 'additive') {
          scoreTensors.push(tensor('W1q', [cfg.d_attn], ['d_attn'], data.q1!, { description: 'W₁ s_t, the projected query' }));
          scoreTensors.push(tensor('W2k', [n, cfg.d_attn], ['key', 'd_attn'], K2Data!, { tokenAxes: { key: 'input' }, description: 'W₂ h_i, the projected keys (the same at every step)' }));
        } else if (variant === 'general') {
          scoreTensors.push(tensor('Wk', [n, d], ['key', 'd_dec'], K2Data!, { tokenAxes: { key: 'input' }, description: 'W h_i, the keys mapped into query space (the same at every step)' }));
        }
        stages.push({
          id: `dec${t}.scores`,
          kind: 'score',
          title: `Decoder step ${t + 1}: ${SCORE_NAME[variant]} scores`,
          formula: variant === 'scaled-dot' ? `e_ti = s_t · h_i / √${dk}` : SCORE_FORMULA[score],
          explanation: `${scoreExplanation(score, dk)} One score per input character: how relevant that character is for producing the next output.`,
          step: t,
          attention: info,
          tensors: scoreTensors,
        });
        stages.push({
          id: `dec${t}.weights`,
          kind: 'normalise',
          title: `Decoder step ${t + 1}: attention weights`,
          formula: 'α_ti = exp(e_ti) / Σ_j exp(e_tj)',
          explanation: 'Softmax turns the scores into weights that are positive and sum to 1 over the input characters: a probability distribution saying where the decoder looks at this step. Subtracting any constant from all scores leaves the weights unchanged; only differences between scores matter.',
          step: t,
          attention: info,
          tensors: [tensor('weights', [n], ['key'], data.weights!, { tokenAxes: { key: 'input' }, description: 'α_t, sums to 1' })],
        });
        stages.push({
          id: `dec${t}.context`,
          kind: 'context',
          title: `Decoder step ${t + 1}: context vector`,
          formula: 'c_t = Σ_i α_ti h_i',
          explanation: `The context vector is the weighted average of the encoder states (the values), with the attention weights as weights: mostly the states of the characters the decoder looks at. It has ${dk} numbers whatever the input length, but it is rebuilt at every step, so nothing has to be squeezed into one fixed vector up front.`,
          step: t,
          attention: info,
          tensors: [tensor('context', [dk], ['d_key'], data.context!, { description: 'c_t = Σ α_ti h_i' })],
        });
        alignment.push(data.weights!);
      }
      stages.push({
        id: `dec${t}.output`,
        kind: 'output',
        title: `Decoder step ${t + 1}: output ${isEos ? '</s>' : `'${vocab.outputText(best)}'`}`,
        formula: attn ? 'o_t = tanh(W_c [s_t ; c_t] + b_c),  p_t = softmax(W_o o_t + b_o)' : 'o_t = tanh(W_c s_t + b_c),  p_t = softmax(W_o o_t + b_o)',
        explanation: `${attn ? 'The context vector is concatenated with the decoder state and' : 'The decoder state is'} passed through a tanh layer, then a linear layer gives one logit per output character (digits, '-', and </s>). Softmax turns the logits into probabilities; greedy decoding takes the most likely one, here ${produced} with p = ${data.probs[best]!.toFixed(3)}, and feeds it back in at the next step.`,
        step: t,
        ...(info ? { attention: info } : {}),
        tensors: [
          tensor('combined', [d], ['d_dec'], data.combined, { description: 'o_t, the attentional hidden state' }),
          tensor('logits', [nOut], ['vocab'], data.logits, { description: `over ${vocab.output.join(' ')}` }),
          tensor('probs', [nOut], ['vocab'], data.probs, { description: `p(next char) over ${vocab.output.join(' ')}` }),
        ],
      });
      progress(0.3 + (0.65 * (t + 1)) / cfg.max_output, `Decoded ${t + 1} character${t === 0 ? '' : 's'}`);
      prev = best;
      if (isEos) {
        finished = true;
        break;
      }
    }
    if (!finished) warnings.push(`The decoder did not produce </s> within ${cfg.max_output} steps (the output limit); the output is cut there.`);

    if (attn && info) {
      const T = alignment.length;
      const A = new Float32Array(T * n);
      alignment.forEach((row, t) => A.set(row, t * n));
      stages.push({
        id: 'alignment',
        kind: 'cross-attention',
        title: 'Alignment: every output character against every input character',
        formula: 'A[t, i] = α_ti',
        explanation: `All the decoder steps' attention weights in one matrix: row t is where the decoder looked while writing output character t, and each row sums to 1. In a well-trained date model the year's digits mostly look at the year, the month's at the month name or number, and the day's at the day, whatever order the input wrote them in; where a row is spread out, the encoder states themselves already carry the information from their neighbours.`,
        attention: info,
        tensors: [tensor('weights', [T, n], ['output', 'input'], A, { tokenAxes: { output: 'output', input: 'input' } })],
      });
    }
    progress(1, 'Done');
    return {
      version: 1,
      model: this.info,
      text: seenText,
      tokens,
      outputTokens,
      stages,
      predictions,
      warnings,
      backend: backendLabel(),
      elapsedMs: performance.now() - t0,
    };
  }
}

/** Loads one trained variant from a directory holding config.json, vocab.json and <variant>.safetensors. */
export async function loadSeq2seq(
  dir: string,
  variant: Seq2seqVariant,
  options: { signal?: AbortSignal; onProgress?: (fraction: number, message: string) => void } = {},
): Promise<AttentionModel> {
  if (!SEQ2SEQ_VARIANTS.includes(variant)) {
    throw new AttentionInputError('unsupported', `Unknown seq2seq variant "${String(variant)}"; choose one of ${SEQ2SEQ_VARIANTS.join(', ')}.`);
  }
  const cfgFile = path.join(dir, 'config.json');
  const cfg = parseConfig(await readJson(cfgFile), cfgFile);
  const vocabFile = path.join(dir, 'vocab.json');
  const vocab = CharVocab.fromJson(await readJson(vocabFile), vocabFile);
  const file = path.join(dir, `${variant}.safetensors`);
  const map = await readSafetensorsFile(file, options);
  throwIfCancelled(options.signal);
  const { w, all, count } = buildWeights(map, cfg, vocab, variant, file);
  return new Seq2seqModel(variant, cfg, vocab, w, all, count);
}

// The toy teaching model: one self-attention layer over word tokens with fixed, seeded weights.
// Nothing is learned, so the attention patterns mean nothing linguistically; what it shows is the
// mechanism, with every score function and normaliser switchable at run time:
//   tokens → embedding (seeded word vector + sinusoidal position) → Q, K, V per head
//   → scores → weights → context → merged heads · W_O
// The same word (case-insensitive, NFC) always gets the same vector, in every run and process.
// No vscode import. Every tf op is inside tf.tidy or disposed: a run leaves tf.memory() unchanged.
import { backendLabel, tf } from '../../runtime/backend';
import { attend } from '../../attention/attend';
import { mergeHeads, splitHeads } from '../../attention/heads';
import { SCORE_FORMULAS } from '../../attention/scores';
import { NORMALISER_FORMULAS } from '../../attention/normalisers';
import { throwIfCancelled, yieldToEventLoop, type AttentionModel, type RunOptions } from '../../model';
import {
  AttentionInputError,
  NORMALISERS,
  SCORE_FUNCTIONS,
  tensor,
  type AttentionInfo,
  type ModelInfo,
  type Normaliser,
  type ScoreFunction,
  type Stage,
  type Token,
  type Trace,
} from '../../../../shared/trace';
import { WORD_VOCAB_SIZE, fnv1a32, tokenizeWords, wordKey } from '../../tokenizers/wordTokenizer';

export const TOY_MODEL_ID = 'toy-self-attention';
export const TOY_D_MODEL = 16;
export const TOY_HEADS = 2;
export const TOY_D_K = TOY_D_MODEL / TOY_HEADS;
/** Hidden size of the additive score's tanh layer. */
export const TOY_D_A = 8;
export const TOY_DEFAULT_MAX_TOKENS = 256;
/** Weight seeds are hashed from these names with this salt; change the salt and every weight changes. */
const SALT = 'attention-lens/toy/v1';

// ---------------------------------------------------------------------------------------------
// Deterministic numbers

/** mulberry32: a tiny, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n standard-normal numbers (Box–Muller) from a seed, times `scale`. */
export function seededNormal(seed: number, n: number, scale = 1): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rand(); // (0, 1]: log is finite
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** The toy's fixed vector for a word: seeded from its lower-case NFC text, ~N(0, 1) per feature. */
export function toyWordVector(text: string, d: number = TOY_D_MODEL): Float32Array {
  return seededNormal(fnv1a32(`${SALT}/word/${wordKey(text)}`), d);
}

/** Sinusoidal positions (Vaswani et al. 2017): PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(…). */
export function sinusoidalPositions(T: number, d: number): Float32Array {
  const out = new Float32Array(T * d);
  for (let p = 0; p < T; p++) {
    for (let i = 0; i < d; i += 2) {
      const angle = p / Math.pow(10000, i / d);
      out[p * d + i] = Math.sin(angle);
      if (i + 1 < d) out[p * d + i + 1] = Math.cos(angle);
    }
  }
  return out;
}

export interface ToyWeights {
  /** [d_model, d_model] each; x W gives the projection (row-vector convention). */
  readonly Wq: Float32Array;
  readonly Wk: Float32Array;
  readonly Wv: Float32Array;
  readonly Wo: Float32Array;
  /** general: one W per head, [heads, d_k, d_k]. */
  readonly W: Float32Array;
  /** additive: W₁, W₂ [d_a, d_k], v [d_a], shared by the heads. */
  readonly W1: Float32Array;
  readonly W2: Float32Array;
  readonly v: Float32Array;
}

/**
 * The toy's seeded weights. Projections are scaled like a Xavier/Glorot initialisation (variance
 * 1/fan-in). The general W has standard deviation 1/d_k so qᵀWk spreads about as much as the scaled
 * dot product; v has standard deviation 1/2 so additive scores spread about as much too. That way
 * switching the score function changes the pattern, not just the temperature.
 */
export function toyWeights(): ToyWeights {
  const D = TOY_D_MODEL;
  const d = TOY_D_K;
  const a = TOY_D_A;
  const w = (name: string, n: number, fanIn: number): Float32Array => seededNormal(fnv1a32(`${SALT}/${name}`), n, 1 / Math.sqrt(fanIn));
  return {
    Wq: w('W_q', D * D, D),
    Wk: w('W_k', D * D, D),
    Wv: w('W_v', D * D, D),
    Wo: w('W_o', D * D, D),
    W: w('W', TOY_HEADS * d * d, d * d),
    W1: w('W1', a * d, d),
    W2: w('W2', a * d, d),
    v: w('v', a, 4),
  };
}

// ---------------------------------------------------------------------------------------------
// Explanations

const SCORE_WORDS: Record<ScoreFunction, string> = {
  dot: 'the dot product q·k: large when query and key point the same way. Nothing rescales it, so with d_k = 8 the scores spread wide and the weights tend to be peaked',
  'scaled-dot': 'the scaled dot product q·k/√d_k: dividing by √8 keeps the spread of scores near 1 whatever the head size, so the normaliser is not pushed into saturation',
  general: 'the general (bilinear) score qᵀWk: each head first maps the query through its own matrix W (here seeded), so query and key need not live in the same space',
  additive: 'the additive (Bahdanau) score vᵀtanh(W₁q + W₂k): a one-hidden-layer network with d_a = 8 tanh units looks at query and key together and v reads one number off it',
};

const NORMALISER_WORDS: Record<Normaliser, string> = {
  softmax: 'softmax exponentiates each score and divides by the row total, so every key gets some positive weight and each row sums to 1',
  sparsemax: 'sparsemax projects each row of scores onto the probability simplex: it subtracts a threshold τ and clips at 0, so keys far enough below the best get exactly 0 while each row still sums to 1',
  sigmoid: 'sigmoid squashes each score into (0, 1) on its own, without looking at the other keys, so a row need not sum to 1 and the context is a weighted sum rather than a weighted mean',
};

function scoreFormula(score: ScoreFunction): string {
  switch (score) {
    case 'dot':
      return 'S[h] = Q[h] K[h]ᵀ';
    case 'scaled-dot':
      return `S[h] = Q[h] K[h]ᵀ / √${TOY_D_K}`;
    case 'general':
      return 'S[h] = Q[h] W[h] K[h]ᵀ';
    case 'additive':
      return 'S[h]ᵢⱼ = vᵀ tanh(W₁ Q[h]ᵢ + W₂ K[h]ⱼ)';
  }
}

// ---------------------------------------------------------------------------------------------
// The model

class ToyModel implements AttentionModel {
  readonly info: ModelInfo = {
    id: TOY_MODEL_ID,
    name: 'Toy self-attention',
    family: 'toy',
    description:
      `One self-attention layer over words with fixed, seeded (untrained) weights: d_model ${TOY_D_MODEL}, ${TOY_HEADS} heads of d_k ${TOY_D_K}, ` +
      'sinusoidal positions. Any score function (dot, scaled dot, general, additive) and normaliser (softmax, sparsemax, sigmoid).',
    layers: 1,
    heads: TOY_HEADS,
    dModel: TOY_D_MODEL,
    parameters: 4 * TOY_D_MODEL * TOY_D_MODEL + TOY_HEADS * TOY_D_K * TOY_D_K + 2 * TOY_D_A * TOY_D_K + TOY_D_A,
  };

  private readonly w = toyWeights();

  /** The weights are tiny, so each run makes its own tensors and frees them: no tensor outlives a run. */
  private tensors(): { Wq: tf.Tensor2D; Wk: tf.Tensor2D; Wv: tf.Tensor2D; Wo: tf.Tensor2D; W: tf.Tensor3D; W1: tf.Tensor2D; W2: tf.Tensor2D; v: tf.Tensor1D } {
    const D = TOY_D_MODEL;
    const d = TOY_D_K;
    const a = TOY_D_A;
    const w = this.w;
    return {
      Wq: tf.tensor2d(w.Wq, [D, D]),
      Wk: tf.tensor2d(w.Wk, [D, D]),
      Wv: tf.tensor2d(w.Wv, [D, D]),
      Wo: tf.tensor2d(w.Wo, [D, D]),
      W: tf.tensor3d(w.W, [TOY_HEADS, d, d]),
      W1: tf.tensor2d(w.W1, [a, d]),
      W2: tf.tensor2d(w.W2, [a, d]),
      v: tf.tensor1d(w.v),
    };
  }

  dispose(): void {
    // Nothing to free: weight tensors live only for the duration of a run.
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const started = performance.now();
    const { signal, onProgress } = options;
    throwIfCancelled(signal);
    const score: ScoreFunction = options.score ?? 'scaled-dot';
    const normaliser: Normaliser = options.normaliser ?? 'softmax';
    if (!SCORE_FUNCTIONS.includes(score)) throw new AttentionInputError('unsupported', `Unknown score function "${String(score)}"; use one of ${SCORE_FUNCTIONS.join(', ')}.`);
    if (!NORMALISERS.includes(normaliser)) throw new AttentionInputError('unsupported', `Unknown normaliser "${String(normaliser)}"; use one of ${NORMALISERS.join(', ')}.`);
    if (text.trim().length === 0) throw new AttentionInputError('empty', 'There is no text to run: select some words first.');
    const requested = options.maxTokens;
    const maxTokens = requested !== undefined && Number.isFinite(requested) ? Math.max(1, Math.floor(requested)) : TOY_DEFAULT_MAX_TOKENS;

    onProgress?.(0, 'Tokenising');
    const enc = tokenizeWords(text, { maxTokens });
    const tokens: Token[] = enc.tokens;
    if (tokens.length === 0) throw new AttentionInputError('empty', 'The selection has no words or punctuation to attend over.');
    const warnings: string[] = [];
    if (enc.truncated) {
      warnings.push(`The input was truncated to maxTokens = ${maxTokens} tokens; the model saw the first ${enc.coveredLength} of ${text.length} characters.`);
    }
    const T = tokens.length;
    const D = TOY_D_MODEL;
    const H = TOY_HEADS;

    // Embeddings on the CPU: they are lookups, not maths.
    const E = new Float32Array(T * D);
    tokens.forEach((t, i) => E.set(toyWordVector(t.text), i * D));
    const P = sinusoidalPositions(T, D);
    const X = E.map((e, i) => e + P[i]!);

    await yieldToEventLoop();
    throwIfCancelled(signal);
    onProgress?.(0.2, 'Queries, keys and values');
    const held: tf.Tensor[] = [];
    try {
      const w = this.tensors();
      held.push(...Object.values(w));
      const [q, k, v] = tf.tidy(() => {
        const x = tf.tensor2d(X, [T, D]);
        return [splitHeads(tf.matMul(x, w.Wq), H), splitHeads(tf.matMul(x, w.Wk), H), splitHeads(tf.matMul(x, w.Wv), H)];
      });
      held.push(q!, k!, v!);
      const Qd = new Float32Array(await q!.data());
      const Kd = new Float32Array(await k!.data());
      const Vd = new Float32Array(await v!.data());

      await yieldToEventLoop();
      throwIfCancelled(signal);
      onProgress?.(0.5, 'Scores and weights');
      const out = attend({ q: q!, k: k!, v: v!, score, normaliser, params: { W: w.W, W1: w.W1, W2: w.W2, v: w.v } });
      held.push(out.scores, out.weights, out.context);
      const scores = new Float32Array(await out.scores.data());
      const weights = new Float32Array(await out.weights.data());
      const ctx = new Float32Array(await out.context.data());

      await yieldToEventLoop();
      throwIfCancelled(signal);
      onProgress?.(0.8, 'Context vectors');
      const merged = tf.tidy(() => tf.matMul(mergeHeads(out.context), w.Wo));
      held.push(merged);
      const output = new Float32Array(await merged.data());

      throwIfCancelled(signal);
      const stages = this.stages({ tokens, score, normaliser, E, P, X, Qd, Kd, Vd, scores, weights, ctx, output });
      onProgress?.(1, 'Done');
      return {
        version: 1,
        model: this.info,
        text: text.slice(0, enc.coveredLength),
        tokens,
        stages,
        warnings,
        backend: backendLabel(),
        elapsedMs: performance.now() - started,
      };
    } finally {
      for (const t of held) if (!t.isDisposed) t.dispose();
    }
  }

  private stages(r: {
    tokens: readonly Token[];
    score: ScoreFunction;
    normaliser: Normaliser;
    E: Float32Array;
    P: Float32Array;
    X: Float32Array;
    Qd: Float32Array;
    Kd: Float32Array;
    Vd: Float32Array;
    scores: Float32Array;
    weights: Float32Array;
    ctx: Float32Array;
    output: Float32Array;
  }): Stage[] {
    const T = r.tokens.length;
    const D = TOY_D_MODEL;
    const H = TOY_HEADS;
    const d = TOY_D_K;
    const a = TOY_D_A;
    const tok = { token: 'input' } as const;
    const qk = { query: 'input', key: 'input' } as const;
    const attention: AttentionInfo = { queries: 'input', keys: 'input', causal: false, score: r.score, normaliser: r.normaliser };
    const w = this.w;
    const how = `${r.score} scores with ${r.normaliser}`;
    return [
      {
        id: 'tokens',
        kind: 'tokens',
        title: 'Tokens',
        formula: 'text → [w₁, w₂, …, w_n]',
        explanation:
          `The text is cut into ${T} word and punctuation tokens at Unicode word boundaries; spaces and line breaks are dropped. ` +
          `There is no fixed vocabulary: each token's id is a hash of its lower-case spelling into ${WORD_VOCAB_SIZE} buckets, ` +
          'so the same word always gets the same id, and no word is ever unknown.',
        tensors: [tensor('ids', [T], ['token'], Float32Array.from(r.tokens, (t) => t.id), { tokenAxes: tok, description: 'Hashed token ids' })],
      },
      {
        id: 'embedding',
        kind: 'embedding',
        title: 'Embeddings + positions',
        formula: 'X[i] = E(wᵢ) + PE(i),  PE(i)₂ⱼ = sin(i / 10000^(2j/d)),  PE(i)₂ⱼ₊₁ = cos(i / 10000^(2j/d))',
        explanation:
          `Each word gets a fixed ${D}-number vector E(w), drawn from a random generator seeded by the word itself, so "The" and "the" ` +
          'share a vector in every run. A trained model would have learned these vectors; here they are random, which is enough to see the ' +
          'mechanism. Attention itself ignores order, so a position signal PE(i) is added: sines and cosines of the position at ' +
          'wavelengths from 2π up to 10000·2π, one pair per two features. The same word at two positions therefore gets two different X rows.',
        tensors: [
          tensor('X', [T, D], ['token', 'd_model'], r.X, { tokenAxes: tok, description: 'X = E + PE, the input to attention' }),
          tensor('E', [T, D], ['token', 'd_model'], r.E, { tokenAxes: tok, description: 'Seeded word vectors E(w)' }),
          tensor('PE', [T, D], ['token', 'd_model'], r.P, { tokenAxes: tok, description: 'Sinusoidal position vectors' }),
        ],
      },
      {
        id: 'qkv',
        kind: 'qkv',
        layer: 0,
        attention,
        title: 'Queries, keys, values',
        formula: 'Q = X W_Q,  K = X W_K,  V = X W_V,  split into heads: [T, 16] → [2, T, 8]',
        explanation:
          `Three seeded ${D}×${D} matrices turn every token's X row into a query (what this token looks for), a key (what it offers to be ` +
          `found by) and a value (what it hands over when found). Each is cut into ${H} heads of ${d} numbers, features 0–${d - 1} for head 0 ` +
          `and ${d}–${2 * d - 1} for head 1, and every head attends on its own. Also shown are the parameters the score functions need: ` +
          `W (one ${d}×${d} matrix per head) for general scores, and W₁, W₂ (${a}×${d}) and v (${a}) for additive scores. This run uses ${how}.`,
        tensors: [
          tensor('Q', [H, T, d], ['head', 'token', 'd_k'], r.Qd, { tokenAxes: tok, description: 'Queries per head' }),
          tensor('K', [H, T, d], ['head', 'token', 'd_k'], r.Kd, { tokenAxes: tok, description: 'Keys per head' }),
          tensor('V', [H, T, d], ['head', 'token', 'd_k'], r.Vd, { tokenAxes: tok, description: 'Values per head' }),
          tensor('W', [H, d, d], ['head', 'd_q', 'd_k'], w.W.slice(), { description: 'General score matrix per head: s = qᵀWk' }),
          tensor('W1', [a, d], ['d_a', 'd_k'], w.W1.slice(), { description: 'Additive score: W₁ maps queries' }),
          tensor('W2', [a, d], ['d_a', 'd_k'], w.W2.slice(), { description: 'Additive score: W₂ maps keys' }),
          tensor('v', [a], ['d_a'], w.v.slice(), { description: 'Additive score: v reads one number off tanh(W₁q + W₂k)' }),
        ],
      },
      {
        id: 'scores',
        kind: 'score',
        layer: 0,
        attention,
        title: `Attention scores (${r.score})`,
        formula: `${scoreFormula(r.score)};  ${SCORE_FORMULAS[r.score]}`,
        explanation:
          `Every query is compared with every key, its own included, giving one ${T}×${T} grid per head: row i says how well token i's ` +
          `query matches each key. The score function here is ${SCORE_WORDS[r.score]}. There is no mask: this is bidirectional ` +
          'self-attention, so a token may look at tokens after it as well as before.',
        tensors: [tensor('scores', [H, T, T], ['head', 'query', 'key'], r.scores, { tokenAxes: qk, description: `Scores (${r.score})` })],
      },
      {
        id: 'weights',
        kind: 'normalise',
        layer: 0,
        attention,
        title: `Attention weights (${r.normaliser})`,
        formula: `α[h] = ${r.normaliser}(S[h]) row by row;  ${NORMALISER_FORMULAS[r.normaliser]}`,
        explanation:
          `Each row of scores becomes a row of attention weights: ${NORMALISER_WORDS[r.normaliser]}. ` +
          `Row i of head h now says how much of each token's value ends up in token i's context. Try the what-if controls to ` +
          'see other normalisers on these very same scores.',
        tensors: [tensor('weights', [H, T, T], ['head', 'query', 'key'], r.weights, { tokenAxes: qk, description: `Attention weights α (${r.normaliser})` })],
      },
      {
        id: 'context',
        kind: 'context',
        layer: 0,
        attention,
        title: 'Context vectors',
        formula: 'cᵢ[h] = Σⱼ αᵢⱼ[h] V[h]ⱼ;  output = concat(c[0], c[1]) W_O',
        explanation:
          `Each token's context vector, per head, is its attention row applied to the values: a mix of the value vectors of the tokens it ` +
          `attends to (with ${r.normaliser}${r.normaliser === 'sigmoid' ? ', a weighted sum whose weights need not add up to 1' : ', a weighted mean'}). ` +
          `The ${H} heads' ${d}-number contexts are put side by side again (${H * d} numbers) and mixed by W_O into the layer's ${D}-number output per token.`,
        tensors: [
          tensor('context', [H, T, d], ['head', 'query', 'd_k'], r.ctx, { tokenAxes: { query: 'input' }, description: 'Per-head context vectors' }),
          tensor('output', [T, D], ['token', 'd_model'], r.output, { tokenAxes: tok, description: 'concat(heads) · W_O' }),
        ],
      },
    ];
  }
}

/** The toy model; cheap to create. Weight tensors appear on the first run and go on dispose(). */
export function createToyModel(): AttentionModel {
  return new ToyModel();
}

// The toy teaching model: one self-attention layer over word tokens with fixed, seeded weights.
// Nothing is learned, so the attention patterns mean nothing linguistically; what it shows is the
// mechanism, with every score function and normaliser switchable at run time:
//   tokens → embedding (seeded word vector + sinusoidal position) → Q, K, V per head
//   → scores → weights → context → merged heads · W_O
// The same word (case-insensitive, NFC) always gets the same vector, in every run and process.
// No vscode import. Every tf op is inside tf.tidy or disposed: a run leaves tf.memory() unchanged.
import { mulberry32 } from '../../../../shared/random';
import { tf } from '../../runtime/backend';
import { attend } from '../../attention/attend';
import { mergeHeads, splitHeads } from '../../attention/heads';
import { yieldToEventLoop, type AttentionModel, type RunOptions } from '../../model';
import { Run } from '../../trace/run';
import { toyDescription, toyLesson, type ToySizes } from './lesson';
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
import { fnv1a32, tokenizeWords, wordKey } from '../../tokenizers/wordTokenizer';

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

// mulberry32 (shared/random.ts) is re-exported for the tests and the bench, which seed weights with it.
export { mulberry32 };

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
  const w = (name: string, n: number, fanIn: number): Float32Array =>
    seededNormal(fnv1a32(`${SALT}/${name}`), n, 1 / Math.sqrt(fanIn));
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
// The model

class ToyModel implements AttentionModel {
  readonly info: ModelInfo = {
    id: TOY_MODEL_ID,
    name: 'Toy self-attention',
    family: 'toy',
    description: toyDescription({ D: TOY_D_MODEL, H: TOY_HEADS, d: TOY_D_K }),
    layers: 1,
    heads: TOY_HEADS,
    dModel: TOY_D_MODEL,
    parameters: 4 * TOY_D_MODEL * TOY_D_MODEL + TOY_HEADS * TOY_D_K * TOY_D_K + 2 * TOY_D_A * TOY_D_K + TOY_D_A,
  };

  private readonly w = toyWeights();

  /** The weights are tiny, so each run makes its own tensors and frees them: no tensor outlives a run. */
  private tensors(): {
    Wq: tf.Tensor2D;
    Wk: tf.Tensor2D;
    Wv: tf.Tensor2D;
    Wo: tf.Tensor2D;
    W: tf.Tensor3D;
    W1: tf.Tensor2D;
    W2: tf.Tensor2D;
    v: tf.Tensor1D;
  } {
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
    const score: ScoreFunction = options.score ?? 'scaled-dot';
    const normaliser: Normaliser = options.normaliser ?? 'softmax';
    const run = Run.begin(text, options, { defaultMaxTokens: TOY_DEFAULT_MAX_TOKENS });
    if (!SCORE_FUNCTIONS.includes(score))
      throw new AttentionInputError(
        'unsupported',
        `Unknown score function "${String(score)}"; use one of ${SCORE_FUNCTIONS.join(', ')}.`,
      );
    if (!NORMALISERS.includes(normaliser))
      throw new AttentionInputError(
        'unsupported',
        `Unknown normaliser "${String(normaliser)}"; use one of ${NORMALISERS.join(', ')}.`,
      );

    run.progress(0, 'Tokenising');
    const enc = tokenizeWords(text, { maxTokens: run.maxTokens });
    run.admit(
      { tokens: enc.tokens, truncated: enc.truncated, coveredLength: enc.coveredLength },
      {
        noTokens: 'The selection has no words or punctuation to attend over.',
        truncatedWhy: (maxTokens) => `(maxTokens = ${maxTokens})`,
      },
    );
    const tokens: Token[] = enc.tokens;
    const T = tokens.length;
    const D = TOY_D_MODEL;
    const H = TOY_HEADS;

    // Embeddings on the CPU: they are lookups, not maths.
    const E = new Float32Array(T * D);
    tokens.forEach((t, i) => E.set(toyWordVector(t.text), i * D));
    const P = sinusoidalPositions(T, D);
    const X = E.map((e, i) => e + P[i]!);

    await yieldToEventLoop();
    run.checkCancelled();
    run.progress(0.2, 'Queries, keys and values');
    const held: tf.Tensor[] = [];
    try {
      const w = this.tensors();
      held.push(...Object.values(w));
      const [q, k, v] = tf.tidy(() => {
        const x = tf.tensor2d(X, [T, D]);
        return [
          splitHeads(tf.matMul(x, w.Wq), H),
          splitHeads(tf.matMul(x, w.Wk), H),
          splitHeads(tf.matMul(x, w.Wv), H),
        ]; // [T, D] → [H, T, d] each
      });
      held.push(q!, k!, v!);
      const Qd = new Float32Array(await q!.data());
      const Kd = new Float32Array(await k!.data());
      const Vd = new Float32Array(await v!.data());

      await yieldToEventLoop();
      run.checkCancelled();
      run.progress(0.5, 'Scores and weights');
      const out = attend({ q: q!, k: k!, v: v!, score, normaliser, params: { W: w.W, W1: w.W1, W2: w.W2, v: w.v } }); // [H, T, T] scores and weights, [H, T, d] context
      held.push(out.scores, out.weights, out.context);
      const scores = new Float32Array(await out.scores.data());
      const weights = new Float32Array(await out.weights.data());
      const ctx = new Float32Array(await out.context.data());

      await yieldToEventLoop();
      run.checkCancelled();
      run.progress(0.8, 'Context vectors');
      const merged = tf.tidy(() => tf.matMul(mergeHeads(out.context), w.Wo)); // [H, T, d] → [T, H·d] → [T, D]
      held.push(merged);
      const output = new Float32Array(await merged.data());

      const stages = this.stages({ tokens, score, normaliser, E, P, X, Qd, Kd, Vd, scores, weights, ctx, output });
      return run.finish({ model: this.info, coveredLength: enc.coveredLength, tokens, stages });
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
    const attention: AttentionInfo = {
      queries: 'input',
      keys: 'input',
      causal: false,
      score: r.score,
      normaliser: r.normaliser,
    };
    const w = this.w;
    const sizes: ToySizes = { T, D, H, d, a };
    return [
      {
        id: 'tokens',
        kind: 'tokens',
        ...toyLesson.tokens(sizes),
        tensors: [
          tensor(
            'ids',
            [T],
            ['token'],
            Float32Array.from(r.tokens, (t) => t.id),
            { tokenAxes: tok, description: 'Hashed token ids' },
          ),
        ],
      },
      {
        id: 'embedding',
        kind: 'embedding',
        ...toyLesson.embedding(sizes),
        tensors: [
          tensor('X', [T, D], ['token', 'd_model'], r.X, {
            tokenAxes: tok,
            description: 'X = E + PE, the input to attention',
          }),
          tensor('E', [T, D], ['token', 'd_model'], r.E, { tokenAxes: tok, description: 'Seeded word vectors E(w)' }),
          tensor('PE', [T, D], ['token', 'd_model'], r.P, {
            tokenAxes: tok,
            description: 'Sinusoidal position vectors',
          }),
        ],
      },
      {
        id: 'qkv',
        kind: 'qkv',
        layer: 0,
        attention,
        ...toyLesson.qkv(sizes, r.score, r.normaliser),
        tensors: [
          tensor('Q', [H, T, d], ['head', 'token', 'd_k'], r.Qd, { tokenAxes: tok, description: 'Queries per head' }),
          tensor('K', [H, T, d], ['head', 'token', 'd_k'], r.Kd, { tokenAxes: tok, description: 'Keys per head' }),
          tensor('V', [H, T, d], ['head', 'token', 'd_k'], r.Vd, { tokenAxes: tok, description: 'Values per head' }),
          tensor('W', [H, d, d], ['head', 'd_q', 'd_k'], w.W.slice(), {
            description: 'General score matrix per head: s = qᵀWk',
          }),
          tensor('W1', [a, d], ['d_a', 'd_k'], w.W1.slice(), { description: 'Additive score: W₁ maps queries' }),
          tensor('W2', [a, d], ['d_a', 'd_k'], w.W2.slice(), { description: 'Additive score: W₂ maps keys' }),
          tensor('v', [a], ['d_a'], w.v.slice(), {
            description: 'Additive score: v reads one number off tanh(W₁q + W₂k)',
          }),
        ],
      },
      {
        id: 'scores',
        kind: 'score',
        layer: 0,
        attention,
        ...toyLesson.scores(sizes, r.score),
        tensors: [
          tensor('scores', [H, T, T], ['head', 'query', 'key'], r.scores, {
            tokenAxes: qk,
            description: `Scores (${r.score})`,
          }),
        ],
      },
      {
        id: 'weights',
        kind: 'normalise',
        layer: 0,
        attention,
        ...toyLesson.weights(sizes, r.normaliser),
        tensors: [
          tensor('weights', [H, T, T], ['head', 'query', 'key'], r.weights, {
            tokenAxes: qk,
            description: `Attention weights α (${r.normaliser})`,
          }),
        ],
      },
      {
        id: 'context',
        kind: 'context',
        layer: 0,
        attention,
        ...toyLesson.context(sizes, r.normaliser),
        tensors: [
          tensor('context', [H, T, d], ['head', 'query', 'd_k'], r.ctx, {
            tokenAxes: { query: 'input' },
            description: 'Per-head context vectors',
          }),
          tensor('output', [T, D], ['token', 'd_model'], r.output, {
            tokenAxes: tok,
            description: 'concat(heads) · W_O',
          }),
        ],
      },
    ];
  }
}

/** The toy model; cheap to create. Weight tensors appear on the first run and go on dispose(). */
export function createToyModel(): AttentionModel {
  return new ToyModel();
}

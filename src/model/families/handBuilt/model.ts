// Runs a hand-built `*.attention.json` (kind "hand-built"): the learner's own tokens, embeddings
// and matrices through one attention head, every step recorded like any other model's trace.
import { backendLabel, tf } from '../../runtime/backend';
import { attend, disposeAttend } from '../../attention/attend';
import type { HandBuiltConfig, Matrix } from '../../formats/attentionConfig';
import { SCORE_FORMULAS } from '../../attention/scores';
import { NORMALISER_FORMULAS, NORMALISER_DOCS } from '../../attention/normalisers';
import { tensor, type AttentionInfo, type Stage, type Token, type Trace } from '../../../../shared/trace';

const flat = (m: Matrix): Float32Array => Float32Array.from(m.flat());

function tokensOf(texts: readonly string[]): Token[] {
  // Hand-built tokens are not text from a document: no offsets.
  return texts.map((text, id) => ({ text, id, start: -1, end: -1 }));
}

export function runHandBuilt(c: HandBuiltConfig): Trace {
  const t0 = Date.now();
  const cross = c.queryTokens !== undefined && c.queryEmbeddings !== undefined;
  const T = c.tokens.length;
  const Tq = cross ? c.queryTokens!.length : T;
  const d = c.embeddings[0]!.length;
  const dk = c.W_q[0]!.length;
  const dv = c.W_v[0]!.length;
  const qList: 'input' | 'output' = cross ? 'output' : 'input';
  const out = tf.tidy(() => {
    const X = tf.tensor2d(flat(c.embeddings), [T, d]);
    const Xq = cross ? tf.tensor2d(flat(c.queryEmbeddings!), [Tq, d]) : X;
    const Q = tf.matMul(Xq, tf.tensor2d(flat(c.W_q), [d, dk])).expandDims(0);
    const K = tf.matMul(X, tf.tensor2d(flat(c.W_k), [d, dk])).expandDims(0);
    const V = tf.matMul(X, tf.tensor2d(flat(c.W_v), [d, dv])).expandDims(0);
    const params = {
      W: c.W ? tf.tensor2d(flat(c.W), [dk, dk]) : undefined,
      W1: c.W1 ? tf.tensor2d(flat(c.W1), [c.W1.length, dk]) : undefined,
      W2: c.W2 ? tf.tensor2d(flat(c.W2), [c.W2.length, dk]) : undefined,
      v: c.v ? tf.tensor1d(c.v) : undefined,
    };
    const a = attend({ q: Q, k: K, v: V, score: c.score, normaliser: c.normaliser, params, causal: c.causal });
    const f = (x: tf.Tensor): Float32Array => Float32Array.from(x.dataSync());
    const result = { Q: f(Q), K: f(K), V: f(V), scores: f(a.scores), weights: f(a.weights), context: f(a.context) };
    disposeAttend(a);
    return result;
  });
  const attention: AttentionInfo = { queries: qList, keys: 'input', causal: c.causal, score: c.score, normaliser: c.normaliser };
  const qk = { tokenAxes: { token: 'input' as const } };
  const qq = { tokenAxes: { token: qList } };
  const sq = { tokenAxes: { query: qList, key: 'input' as const } };
  const mask = new Float32Array(Tq * T).map((_, i) => (!c.causal || i % T <= Math.floor(i / T) ? 1 : 0));
  const params = [
    ...(c.W ? [tensor('W', [dk, dk], ['d_k', 'd_k'], flat(c.W))] : []),
    ...(c.W1 ? [tensor('W1', [c.W1.length, dk], ['d_a', 'd_k'], flat(c.W1))] : []),
    ...(c.W2 ? [tensor('W2', [c.W2.length, dk], ['d_a', 'd_k'], flat(c.W2))] : []),
    ...(c.v ? [tensor('v', [c.v.length], ['d_a'], Float32Array.from(c.v))] : []),
  ];
  const stages: Stage[] = [
    { id: 'tokens', kind: 'tokens', title: 'Your tokens', formula: cross ? 'queries: your query tokens; keys and values: your tokens' : 'w₁ … w_n', explanation: `The tokens written in the config file${cross ? ', and separately the query tokens that attend over them (cross-attention: for example a decoder state looking at encoder states)' : ''}. Edit the file and save to run again.`, tensors: [] },
    {
      id: 'embedding',
      kind: 'embedding',
      title: 'Your embeddings',
      formula: 'X (one row per token)',
      explanation: `Each token's vector exactly as written in the file: ${T} tokens × ${d} features.`,
      tensors: [tensor('X', [T, d], ['token', 'd_model'], flat(c.embeddings), qk), ...(cross ? [tensor('X_q', [Tq, d], ['token', 'd_model'], flat(c.queryEmbeddings!), qq)] : [])],
    },
    {
      id: 'qkv',
      kind: 'qkv',
      layer: 0,
      attention,
      title: 'Queries, keys and values',
      formula: `Q = ${cross ? 'X_q' : 'X'} W_q,  K = X W_k,  V = X W_v`,
      explanation: `Three matrix products with your W_q (${d}×${dk}), W_k (${d}×${dk}) and W_v (${d}×${dv}). A query asks, a key answers how well it matches, a value is what gets passed on.`,
      tensors: [tensor('Q', [1, Tq, dk], ['head', 'token', 'd_k'], out.Q, qq), tensor('K', [1, T, dk], ['head', 'token', 'd_k'], out.K, qk), tensor('V', [1, T, dv], ['head', 'token', 'd_v'], out.V, qk), ...params],
    },
    {
      id: 'scores',
      kind: 'score',
      layer: 0,
      attention,
      title: `Scores (${c.score})`,
      formula: SCORE_FORMULAS[c.score],
      explanation: `Every query is scored against every key with the ${c.score} score function${c.causal ? '; the causal mask then hides keys after the query' : ''}.`,
      tensors: [tensor('scores', [1, Tq, T], ['head', 'query', 'key'], out.scores, sq), ...(c.causal ? [tensor('mask', [Tq, T], ['query', 'key'], mask, sq)] : [])],
    },
    { id: 'weights', kind: 'normalise', layer: 0, attention, title: `Weights (${c.normaliser})`, formula: NORMALISER_FORMULAS[c.normaliser], explanation: NORMALISER_DOCS[c.normaliser], tensors: [tensor('weights', [1, Tq, T], ['head', 'query', 'key'], out.weights, sq)] },
    { id: 'context', kind: 'context', layer: 0, attention, title: 'Context vectors', formula: 'cᵢ = Σⱼ αᵢⱼ vⱼ', explanation: 'Each query’s context vector: the values mixed by its weights. With softmax or sparsemax that is a weighted mean; with sigmoid a weighted sum.', tensors: [tensor('context', [1, Tq, dv], ['head', 'query', 'd_v'], out.context, { tokenAxes: { query: qList } })] },
  ];
  return {
    version: 1,
    model: { id: 'hand-built', name: c.title, family: 'hand-built', description: 'Attention with the tokens and matrices written in a *.attention.json file.', layers: 1, heads: 1, dModel: d },
    text: c.tokens.join(' '),
    tokens: tokensOf(c.tokens),
    ...(cross ? { outputTokens: tokensOf(c.queryTokens!) } : {}),
    stages,
    warnings: [],
    backend: backendLabel(),
    elapsedMs: Date.now() - t0,
  };
}

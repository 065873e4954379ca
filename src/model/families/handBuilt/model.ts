// Runs a hand-built `*.attention.json` (kind "hand-built"): the learner's own tokens, embeddings
// and matrices through one attention head, every step recorded like any other model's trace.
import { tf } from '../../runtime/backend';
import { readOut } from '../../runtime/read';
import { attend } from '../../attention/attend';
import { allowedMask } from '../../attention/mask';
import type { HandBuiltConfig, Matrix } from '../../formats/attentionConfig';
import type { RunOptions } from '../../model';
import { Run } from '../../trace/run';
import { HAND_BUILT_DESCRIPTION, handBuiltLesson, type HandBuiltSizes } from './lesson';
import { tensor, type AttentionInfo, type Stage, type Token, type Trace } from '../../../../shared/trace';

const flat = (m: Matrix): Float32Array => Float32Array.from(m.flat());

function tokensOf(texts: readonly string[]): Token[] {
  // Hand-built tokens are not text from a document: no offsets.
  return texts.map((text, id) => ({ text, id, start: -1, end: -1 }));
}

/** Q, K, V, scores, weights and context of the config's one head, read out of tf. */
function compute(
  c: HandBuiltConfig,
  s: HandBuiltSizes,
  Tq: number,
): Record<'Q' | 'K' | 'V' | 'scores' | 'weights' | 'context', Float32Array> {
  const { T, d, dk, dv } = s;
  return readOut(() => {
    const X = tf.tensor2d(flat(c.embeddings), [T, d]);
    const Xq = s.cross ? tf.tensor2d(flat(c.queryEmbeddings!), [Tq, d]) : X;
    const Q = tf.matMul(Xq, tf.tensor2d(flat(c.W_q), [d, dk])).expandDims(0); // [Tq, d] → [1, Tq, dk]
    const K = tf.matMul(X, tf.tensor2d(flat(c.W_k), [d, dk])).expandDims(0); // [T, d] → [1, T, dk]
    const V = tf.matMul(X, tf.tensor2d(flat(c.W_v), [d, dv])).expandDims(0); // [T, d] → [1, T, dv]
    const params = {
      W: c.W ? tf.tensor2d(flat(c.W), [dk, dk]) : undefined,
      W1: c.W1 ? tf.tensor2d(flat(c.W1), [c.W1.length, dk]) : undefined,
      W2: c.W2 ? tf.tensor2d(flat(c.W2), [c.W2.length, dk]) : undefined,
      v: c.v ? tf.tensor1d(c.v) : undefined,
    };
    const a = attend({ q: Q, k: K, v: V, score: c.score, normaliser: c.normaliser, params, causal: c.causal }); // [1, Tq, T], [1, Tq, dv]
    const f = (x: tf.Tensor): Float32Array => Float32Array.from(x.dataSync());
    return { Q: f(Q), K: f(K), V: f(V), scores: f(a.scores), weights: f(a.weights), context: f(a.context) };
  });
}

export function runHandBuilt(c: HandBuiltConfig, options: RunOptions = {}): Trace {
  const text = c.tokens.join(' ');
  const run = Run.begin(text, options, { emptyMessage: 'The config has no tokens to attend over.' });
  const cross = c.queryTokens !== undefined && c.queryEmbeddings !== undefined;
  const sizes: HandBuiltSizes = {
    T: c.tokens.length,
    d: c.embeddings[0]!.length,
    dk: c.W_q[0]!.length,
    dv: c.W_v[0]!.length,
    cross,
    causal: c.causal,
  };
  const { T, d, dk, dv } = sizes;
  const Tq = cross ? c.queryTokens!.length : T;
  const qList: 'input' | 'output' = cross ? 'output' : 'input';
  const out = compute(c, sizes, Tq);
  const attention: AttentionInfo = {
    queries: qList,
    keys: 'input',
    causal: c.causal,
    score: c.score,
    normaliser: c.normaliser,
  };
  const qk = { tokenAxes: { token: 'input' as const } };
  const qq = { tokenAxes: { token: qList } };
  const sq = { tokenAxes: { query: qList, key: 'input' as const } };
  const mask = allowedMask({ queries: Tq, keys: T, causal: c.causal });
  const params = [
    ...(c.W ? [tensor('W', [dk, dk], ['d_k', 'd_k'], flat(c.W))] : []),
    ...(c.W1 ? [tensor('W1', [c.W1.length, dk], ['d_a', 'd_k'], flat(c.W1))] : []),
    ...(c.W2 ? [tensor('W2', [c.W2.length, dk], ['d_a', 'd_k'], flat(c.W2))] : []),
    ...(c.v ? [tensor('v', [c.v.length], ['d_a'], Float32Array.from(c.v))] : []),
    // Used by nothing in the run itself: what-if's local-p window reads them (Luong's predictive alignment).
    ...(c.W_p && c.v_p
      ? [
          tensor('W_p', [c.W_p.length, dk], ['d_p', 'd_k'], flat(c.W_p)),
          tensor('v_p', [c.v_p.length], ['d_p'], Float32Array.from(c.v_p)),
        ]
      : []),
  ];
  const L = handBuiltLesson;
  const stages: Stage[] = [
    { id: 'tokens', kind: 'tokens', ...L.tokens(sizes), tensors: [] },
    {
      id: 'embedding',
      kind: 'embedding',
      ...L.embedding(sizes),
      tensors: [
        tensor('X', [T, d], ['token', 'd_model'], flat(c.embeddings), qk),
        ...(cross ? [tensor('X_q', [Tq, d], ['token', 'd_model'], flat(c.queryEmbeddings!), qq)] : []),
      ],
    },
    {
      id: 'qkv',
      kind: 'qkv',
      layer: 0,
      attention,
      ...L.qkv(sizes),
      tensors: [
        tensor('Q', [1, Tq, dk], ['head', 'token', 'd_k'], out.Q, qq),
        tensor('K', [1, T, dk], ['head', 'token', 'd_k'], out.K, qk),
        tensor('V', [1, T, dv], ['head', 'token', 'd_v'], out.V, qk),
        ...params,
      ],
    },
    {
      id: 'scores',
      kind: 'score',
      layer: 0,
      attention,
      ...L.scores(sizes, c.score),
      tensors: [
        tensor('scores', [1, Tq, T], ['head', 'query', 'key'], out.scores, sq),
        ...(c.causal ? [tensor('mask', [Tq, T], ['query', 'key'], mask, sq)] : []),
      ],
    },
    {
      id: 'weights',
      kind: 'normalise',
      layer: 0,
      attention,
      ...L.weights(sizes, c.normaliser),
      tensors: [tensor('weights', [1, Tq, T], ['head', 'query', 'key'], out.weights, sq)],
    },
    {
      id: 'context',
      kind: 'context',
      layer: 0,
      attention,
      ...L.context(),
      tensors: [tensor('context', [1, Tq, dv], ['head', 'query', 'd_v'], out.context, { tokenAxes: { query: qList } })],
    },
  ];
  return run.finish({
    model: {
      id: 'hand-built',
      name: c.title,
      family: 'hand-built',
      description: HAND_BUILT_DESCRIPTION,
      layers: 1,
      heads: 1,
      dModel: d,
    },
    coveredLength: text.length,
    tokens: tokensOf(c.tokens),
    ...(cross ? { outputTokens: tokensOf(c.queryTokens!) } : {}),
    stages,
  });
}

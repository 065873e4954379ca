#!/usr/bin/env python3
"""Independent numpy forward pass of the TensorFlow.js layers models saved by
scripts/train/tfjs_attention_models.ts, reading model.json and the .bin weight shards directly
(no tfjs, no TensorFlow). Writes test/fixtures/tfjs/reference.json: for each model and input text,
the token ids, every attention layer's Q/K/V, raw scores, mask, softmax weights, context and output,
and the model's final output, as base64 little-endian float32 arrays.

The maths follows Keras 2:
  MultiHeadAttention: q = x·Wq + bq per head ([d, H, k] kernel), scores = (q/√k)·kᵀ, masked cells get
      −1e9 added, softmax, context = α·v, out = Σ_h,e context[h, e]·Wo[h, e, :] + bo.
  Attention (Luong): scores = scale·q·kᵀ ("dot") or c·Σ tanh(scale·(q + k)) ("concat"); the value is the output basis.
  AdditiveAttention (Bahdanau): scores = Σ_d v_d·tanh(q_d + k_d).
  GRU (tfjs, reset_after = False): z, r = σ(x·W + h·U + b), h̃ = tanh(x·W_h + (r∘h)·U_h + b_h), h' = z∘h + (1 − z)∘h̃.

Run from the repository root: /usr/bin/python3 scripts/reference/tfjs_layers_ref.py
"""
import base64
import json
import os

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MODELS = {
    'mha-charlm': 'samples/models/tfjs-mha-charlm',
    'luong-charlm': 'test/fixtures/tfjs/luong-charlm',
    'bahdanau-charlm': 'test/fixtures/tfjs/bahdanau-charlm',
    'mixed-classifier': 'test/fixtures/tfjs/mixed-classifier',
}
TEXTS = ['the cat saw mia.', 'Lily and Tom went to the park!']
OUT = os.path.join(ROOT, 'test/fixtures/tfjs/reference.json')
NEG = -1e9


def arr(x):
    x = np.ascontiguousarray(np.asarray(x, dtype='<f4'))
    return {'shape': list(x.shape), 'b64': base64.b64encode(x.tobytes()).decode('ascii')}


def load(folder):
    with open(os.path.join(ROOT, folder, 'model.json'), encoding='utf-8') as f:
        mj = json.load(f)
    weights = {}
    for group in mj['weightsManifest']:
        data = b''.join(open(os.path.join(ROOT, folder, p), 'rb').read() for p in group['paths'])
        off = 0
        for spec in group['weights']:
            assert spec['dtype'] == 'float32'
            n = int(np.prod(spec['shape'])) if spec['shape'] else 1
            weights[spec['name']] = np.frombuffer(data, '<f4', n, off).astype(np.float64).reshape(spec['shape'])
            off += 4 * n
    return mj, weights


def encode(meta, text):
    vocab = meta['vocab']
    index = {}
    for i, c in enumerate(vocab):
        if i not in (meta['unkId'], meta.get('padId')) and c not in index:
            index[c] = i
    ids = []
    for ch in text:
        key = ch.lower() if meta.get('lowercase') else ch
        i = index.get(key)
        if i is None and ch.isspace():
            i = index.get(' ')
        ids.append(meta['unkId'] if i is None else i)
    return ids


def softmax(s, mask=None):
    if mask is not None:
        s = s + (1.0 - mask) * NEG
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def causal(t):
    return np.tril(np.ones((t, t)))


def dense(w, name, x, act=None):
    y = x @ w[name + '/kernel']
    if name + '/bias' in w:
        y = y + w[name + '/bias']
    if act == 'relu':
        y = np.maximum(y, 0)
    if act == 'softmax':
        y = softmax(y)
    return y


def mha(w, name, xq, xv, xk, is_causal):
    qk = w[name + '/query/kernel']  # [d, H, k]
    H, kd = qk.shape[1], qk.shape[2]

    def proj(x, part):
        y = np.einsum('td,dhk->htk', x, w[f'{name}/{part}/kernel'])
        b = w.get(f'{name}/{part}/bias')
        return y if b is None else y + b[:, None, :]

    q, k, v = proj(xq, 'query'), proj(xk, 'key'), proj(xv, 'value')
    scores = np.einsum('hqk,hsk->hqs', q / np.sqrt(kd), k)
    mask = causal(xq.shape[0]) if is_causal else None
    weights = softmax(scores, mask)
    context = np.einsum('hqs,hsv->hqv', weights, v)
    out = np.einsum('hqv,hvo->qo', context, w[name + '/attention_output/kernel'])
    if name + '/attention_output/bias' in w:
        out = out + w[name + '/attention_output/bias']
    return out, dict(q=q, k=k, v=v, scores=scores, mask=mask, weights=weights, context=context, output=out)


def luong(w, name, q, v, k, is_causal, mode='dot'):
    scale = w.get(name + '/scale')
    if mode == 'dot':
        scores = q @ k.T
        if scale is not None:
            scores = scores * scale
    else:
        s = q[:, None, :] + k[None, :, :]
        if scale is not None:
            s = s * scale
        scores = w[name + '/concat_score_weight'] * np.tanh(s).sum(-1)
    return dense_attention(scores, q, v, k, is_causal)


def bahdanau(w, name, q, v, k, is_causal):
    t = np.tanh(q[:, None, :] + k[None, :, :])
    scale = w.get(name + '/scale')
    scores = (t * scale).sum(-1) if scale is not None else t.sum(-1)
    return dense_attention(scores, q, v, k, is_causal)


def dense_attention(scores, q, v, k, is_causal):
    mask = causal(q.shape[0]) if is_causal else None
    weights = softmax(scores, mask)
    out = weights @ v
    return out, dict(q=q[None], k=k[None], v=v[None], scores=scores[None], mask=mask, weights=weights[None], context=out[None], output=out)


def gru(w, name, x):
    W, U, b = w[name + '/kernel'], w[name + '/recurrent_kernel'], w[name + '/bias']
    n = U.shape[0]
    h = np.zeros(n)
    sig = lambda z: 1 / (1 + np.exp(-z))
    out = []
    for xt in x:
        mx = xt @ W + b
        z = sig(mx[:n] + h @ U[:, :n])
        r = sig(mx[n:2 * n] + h @ U[:, n:2 * n])
        hh = np.tanh(mx[2 * n:] + (r * h) @ U[:, 2 * n:])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.array(out)


def forward(key, w, ids):
    x = w['token_embedding/embeddings'][ids]
    T = len(ids)
    recs = []
    if key == 'mha-charlm':
        x = x + w['position_embedding/embeddings'][np.arange(T)]
        a, r = mha(w, 'self_attention', x, x, x, True)
        recs.append(('self_attention', r))
        h = x + a
        y = dense(w, 'next_char', dense(w, 'ffn', h, 'relu'), 'softmax')
    elif key == 'luong-charlm':
        g = gru(w, 'gru', x)
        kk = dense(w, 'key_proj', x)
        c, r = luong(w, 'luong_attention', g, x, kk, True)
        recs.append(('luong_attention', r))
        y = dense(w, 'next_char', np.concatenate([g, c], -1), 'softmax')
    elif key == 'bahdanau-charlm':
        g = gru(w, 'gru', x)
        q = dense(w, 'query_proj', g)
        c, r = bahdanau(w, 'bahdanau_attention', q, x, x, True)
        recs.append(('bahdanau_attention', r))
        y = dense(w, 'next_char', np.concatenate([g, c], -1), 'softmax')
    else:
        m, r1 = mha(w, 'mha', x, x, x, False)
        recs.append(('mha', r1))
        q = dense(w, 'q_proj', m)
        v = dense(w, 'v_proj', x)
        c, r2 = luong(w, 'concat_attention', q, v, v, False, mode='concat')
        recs.append(('concat_attention', r2))
        y = dense(w, 'classes', c.mean(0), 'softmax')
    return recs, y


def main():
    out = {'texts': TEXTS, 'models': {}}
    for key, folder in MODELS.items():
        mj, w = load(folder)
        meta = mj['userDefinedMetadata']['attentionLens']
        runs = []
        for text in TEXTS:
            ids = encode(meta, text)
            recs, y = forward(key, w, ids)
            layers = []
            for name, r in recs:
                layer = {'name': name}
                for k2 in ('q', 'k', 'v', 'scores', 'weights', 'context', 'output'):
                    layer[k2] = arr(r[k2])
                if r['mask'] is not None:
                    layer['mask'] = arr(r['mask'])
                layers.append(layer)
            runs.append({'text': text, 'ids': ids, 'layers': layers, 'output': arr(y)})
        out['models'][key] = {'folder': folder, 'runs': runs}
    with open(OUT, 'w', encoding='utf-8') as f:
        json.dump(out, f)
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    main()

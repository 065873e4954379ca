#!/usr/bin/env python3
"""Independent numpy reference for the Llama forward pass in src/model/llama.ts.

Nothing here is shared with the TypeScript side: the safetensors file is read with struct/json/numpy,
the tokenizer is a from-scratch BPE over tokenizer.json (normaliser: prepend '▁', spaces -> '▁';
merges applied lowest rank first, leftmost first, as the Rust `tokenizers` BPE does; unknown
characters -> <unk>, consecutive ones fused), and the model follows the Llama definitions:

    h   = x / sqrt(mean(x²) + eps) * g                         (RMSNorm)
    q,k = rotate(q), rotate(k)   rotate(v)_i = v_i cos(pθ_i) + rotate_half(v)_i sin(pθ_i),
          θ_i = theta^(-2(i mod d/2)/d), rotate_half(v) = [-v_{d/2:}, v_{:d/2}]   (HF RoPE)
    query head h reads key/value head h // (heads / kv_heads)   (grouped-query attention)
    α   = softmax(q kᵀ / √d + causal mask)
    x  += o_proj(concat_h(α v))
    x  += down(silu(gate(h)) * up(h))                           (SwiGLU MLP)
    logits = norm(x) Eᵀ                                         (tied embeddings)

All arithmetic is float64. Writes test/fixtures/llama/*.json (float32 arrays as base64 with shapes).
Run from the repo root:  python3 scripts/reference/llama_ref.py
"""
import base64
import json
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_DIR = os.path.join(ROOT, 'models', 'tinystories-656k')
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'llama')

PROMPTS = [
    'Once upon a time, there was a little',
    'Lily wanted to play with her ball, but it was raining outside.',
    'Tom and Sam went to the park. Tom saw a big dog!',
]
GREEDY_PROMPT = 'Once upon a time, there was a little'
GREEDY_STEPS = 20
# Natural sentences for measuring learned head patterns.
PATTERN_SENTENCES = [
    'One day, a little girl named Lily found a needle in her room.',
    'The cat was very happy. It ran to the tree and played with the ball.',
    'Ben and his mom went to the store to buy some milk and bread.',
    'Sue saw a big red bird in the sky. She smiled and waved at it.',
    'The dog barked at the man, but the man was not scared.',
]


# ---------------------------------------------------------------- safetensors, by hand
def read_safetensors(path):
    with open(path, 'rb') as f:
        blob = f.read()
    (n,) = struct.unpack('<Q', blob[:8])
    header = json.loads(blob[8:8 + n].decode('utf-8'))
    start = 8 + n
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', info['dtype']
        b, e = info['data_offsets']
        arr = np.frombuffer(blob, dtype='<f4', count=(e - b) // 4, offset=start + b)
        out[name] = arr.reshape(info['shape']).astype(np.float64)
    return out, header.get('__metadata__', {})


# ---------------------------------------------------------------- tokenizer, by hand
class Bpe:
    def __init__(self, path):
        with open(path, encoding='utf-8') as f:
            tj = json.load(f)
        m = tj['model']
        assert m['type'] == 'BPE'
        self.vocab = m['vocab']
        self.id_to_piece = {i: p for p, i in self.vocab.items()}
        merges = [tuple(x.split(' ', 1)) if isinstance(x, str) else tuple(x) for x in m['merges']]
        self.rank = {pair: r for r, pair in enumerate(merges)}
        self.unk = m['unk_token']
        self.fuse_unk = m.get('fuse_unk', False)
        # This script only implements the normaliser this model uses; fail loudly otherwise.
        norm = tj['normalizer']
        assert norm['type'] == 'Sequence'
        assert norm['normalizers'][0] == {'type': 'Prepend', 'prepend': '▁'}
        assert norm['normalizers'][1]['type'] == 'Replace' and norm['normalizers'][1]['pattern'] == {'String': ' '}
        assert tj['pre_tokenizer'] is None

    def encode(self, text):
        s = '▁' + text.replace(' ', '▁')
        syms = list(s)  # code points
        while len(syms) > 1:
            best = None
            for i in range(len(syms) - 1):
                r = self.rank.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            syms[i:i + 2] = [syms[i] + syms[i + 1]]
        ids = []
        prev_unk = False
        for sym in syms:
            if sym in self.vocab:
                ids.append(self.vocab[sym])
                prev_unk = False
            else:
                if not (self.fuse_unk and prev_unk):
                    ids.append(self.vocab[self.unk])
                prev_unk = True
        return ids

    def decode(self, ids):
        text = ''.join(self.id_to_piece[i] for i in ids if i > 2).replace('▁', ' ')
        return text


# ---------------------------------------------------------------- the model
class Llama:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, 'config.json')) as f:
            self.cfg = cfg = json.load(f)
        self.w, _ = read_safetensors(os.path.join(model_dir, 'model.safetensors'))
        self.H = cfg['num_attention_heads']
        self.KV = cfg['num_key_value_heads']
        self.D = cfg['hidden_size']
        self.hd = self.D // self.H
        self.eps = cfg['rms_norm_eps']
        self.theta = cfg['rope_theta']
        self.L = cfg['num_hidden_layers']
        self.E = self.w.get('model.embed_tokens.weight', self.w['lm_head.weight'])

    def rms(self, x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * g

    def rope(self, x):  # x: [heads, T, hd]
        T = x.shape[1]
        half = self.hd // 2
        inv = self.theta ** (-np.arange(0, self.hd, 2, dtype=np.float64) / self.hd)  # [half]
        ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]  # [T, half]
        cos = np.concatenate([np.cos(ang), np.cos(ang)], axis=-1)
        sin = np.concatenate([np.sin(ang), np.sin(ang)], axis=-1)
        rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos[None] + rot * sin[None]

    def forward(self, ids):
        T = len(ids)
        x = self.E[np.array(ids)]
        rec = {'embedding': x.copy(), 'layers': []}
        mask = np.tril(np.ones((T, T)))
        group = self.H // self.KV
        for l in range(self.L):
            p = f'model.layers.{l}.'
            h = self.rms(x, self.w[p + 'input_layernorm.weight'])
            q = (h @ self.w[p + 'self_attn.q_proj.weight'].T).reshape(T, self.H, self.hd).transpose(1, 0, 2)
            k = (h @ self.w[p + 'self_attn.k_proj.weight'].T).reshape(T, self.KV, self.hd).transpose(1, 0, 2)
            v = (h @ self.w[p + 'self_attn.v_proj.weight'].T).reshape(T, self.KV, self.hd).transpose(1, 0, 2)
            q, k = self.rope(q), self.rope(k)
            scores = np.empty((self.H, T, T))
            weights = np.empty((self.H, T, T))
            context = np.empty((self.H, T, self.hd))
            for head in range(self.H):
                kv = head // group
                s = q[head] @ k[kv].T / np.sqrt(self.hd)
                scores[head] = s
                sm = np.where(mask > 0, s, -np.inf)
                e = np.exp(sm - sm.max(axis=-1, keepdims=True))
                a = e / e.sum(axis=-1, keepdims=True)
                weights[head] = a
                context[head] = a @ v[kv]
            merged = context.transpose(1, 0, 2).reshape(T, self.D)
            attn_out = merged @ self.w[p + 'self_attn.o_proj.weight'].T
            residual_in = x
            x = x + attn_out
            h2 = self.rms(x, self.w[p + 'post_attention_layernorm.weight'])
            gate = h2 @ self.w[p + 'mlp.gate_proj.weight'].T
            up = h2 @ self.w[p + 'mlp.up_proj.weight'].T
            mlp = (gate / (1 + np.exp(-gate)) * up) @ self.w[p + 'mlp.down_proj.weight'].T
            x = x + mlp
            rec['layers'].append({
                'residual': residual_in, 'input': h, 'Q': q, 'K': k, 'V': v, 'scores': scores, 'mask': mask,
                'weights': weights, 'context': context, 'attn_output': attn_out, 'output': x.copy(),
            })
        final = self.rms(x, self.w['model.norm.weight'])
        logits = final @ self.E.T
        rec['final'] = final
        rec['logits'] = logits
        return rec


def b64(a):
    a = np.ascontiguousarray(np.asarray(a, dtype='<f4'))
    return {'shape': list(a.shape), 'b64': base64.b64encode(a.tobytes()).decode('ascii')}


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main():
    tok = Bpe(os.path.join(MODEL_DIR, 'tokenizer.json'))
    model = Llama(MODEL_DIR)
    bos = model.cfg['bos_token_id']
    os.makedirs(OUT_DIR, exist_ok=True)

    for n, prompt in enumerate(PROMPTS):
        ids = [bos] + tok.encode(prompt)
        rec = model.forward(ids)
        probs = softmax(rec['logits'])
        top = np.argsort(-probs, axis=-1, kind='stable')[:, :5]
        fx = {
            'prompt': prompt,
            'ids': ids,
            'pieces': [tok.id_to_piece[i] for i in ids],
            'embedding': b64(rec['embedding']),
            'layers': [{k: b64(v) for k, v in layer.items()} for layer in rec['layers']],
            'final': b64(rec['final']),
            'logits': b64(rec['logits']),
            'topIds': top.tolist(),
            'topP': [[float(probs[i, j]) for j in row] for i, row in enumerate(top)],
        }
        path = os.path.join(OUT_DIR, f'prompt{n}.json')
        with open(path, 'w') as f:
            json.dump(fx, f, separators=(',', ':'))
        print(f'{path}: {len(ids)} tokens, {os.path.getsize(path)} bytes')

    # Greedy continuation (argmax, full recomputation each step), with the top-1/top-2 margins.
    ids = [bos] + tok.encode(GREEDY_PROMPT)
    new, margins = [], []
    for _ in range(GREEDY_STEPS):
        last = model.forward(ids + new)['logits'][-1]
        order = np.argsort(-last, kind='stable')
        margins.append(float(last[order[0]] - last[order[1]]))
        new.append(int(order[0]))
        if new[-1] == model.cfg['eos_token_id']:
            break
    greedy = {
        'prompt': GREEDY_PROMPT, 'promptIds': ids, 'newIds': new,
        'continuation': tok.decode(ids + new)[len(tok.decode(ids)):],
        'fullText': tok.decode(ids + new).lstrip(' '),
        'minLogitMargin': min(margins),
    }
    with open(os.path.join(OUT_DIR, 'greedy.json'), 'w') as f:
        json.dump(greedy, f, indent=1, ensure_ascii=False)
    print('greedy:', repr(greedy['fullText']), 'min top1-top2 logit margin %.4f' % min(margins))

    # Learned head patterns: mean attention weight on the previous token (i-1), on BOS (key 0) and on
    # itself, over every query position i >= 2 (so i-1 is a real word, not BOS) of natural sentences.
    stats = np.zeros((model.L, model.H, 3))
    count = 0
    uniform = 0.0  # what a head spreading its weight evenly over the causal window would score
    for s in PATTERN_SENTENCES:
        ids = [bos] + tok.encode(s)
        rec = model.forward(ids)
        T = len(ids)
        for l, layer in enumerate(rec['layers']):
            w = layer['weights']
            for i in range(2, T):
                stats[l, :, 0] += w[:, i, i - 1]
                stats[l, :, 1] += w[:, i, 0]
                stats[l, :, 2] += w[:, i, i]
        uniform += sum(1.0 / (i + 1) for i in range(2, T))
        count += T - 2
    stats /= count
    uniform /= count
    print('\nmean attention weight over %d query positions (i >= 2)' % count)
    print('layer head   prev(i-1)   BOS     self')
    for l in range(model.L):
        for h in range(model.H):
            print('  %d    %d     %.4f    %.4f   %.4f' % (l, h, *stats[l, h]))
    flat = stats[:, :, 0]
    prev_l, prev_h = np.unravel_index(np.argmax(flat), flat.shape)
    bos_flat = stats[:, :, 1]
    bos_l, bos_h = np.unravel_index(np.argmax(bos_flat), bos_flat.shape)
    patterns = {
        'sentences': PATTERN_SENTENCES,
        'sentenceIds': [[bos] + tok.encode(s) for s in PATTERN_SENTENCES],
        'positions': count,
        'uniformBaseline': uniform,
        'prev': stats[:, :, 0].tolist(),
        'bos': stats[:, :, 1].tolist(),
        'self': stats[:, :, 2].tolist(),
        'previousTokenHead': {'layer': int(prev_l), 'head': int(prev_h), 'mean': float(flat[prev_l, prev_h])},
        'bosHead': {'layer': int(bos_l), 'head': int(bos_h), 'mean': float(bos_flat[bos_l, bos_h])},
    }
    with open(os.path.join(OUT_DIR, 'heads.json'), 'w') as f:
        json.dump(patterns, f, indent=1)
    print('previous-token head: L%d H%d (%.4f); attend-to-BOS head: L%d H%d (%.4f); uniform baseline %.4f' % (
        prev_l, prev_h, flat[prev_l, prev_h], bos_l, bos_h, bos_flat[bos_l, bos_h], uniform))


if __name__ == '__main__':
    sys.exit(main())

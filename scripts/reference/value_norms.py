#!/usr/bin/env python3
"""Independent numpy reference for the value-weighted attention norms (Kobayashi et al., 2020,
"Attention is Not Only a Weight: Analyzing Transformers with Vector Norms"), float64:

    f_h(x_j)      = v_j^h W_O^h            v_j^h: the value of key j that head h reads (grouped-query
                                            attention: K/V head h // (H / KV)); W_O^h: the rows of the
                                            output projection (x W_O, W_O = o_proj.weightᵀ) that head h's
                                            context occupies, [h·d, (h+1)·d)
    norm[h, i, j] = ‖ α_ij^h · f_h(x_j) ‖₂   (W_O's bias is not part of it, as in the paper)

computed literally, as the vector α·v·W_O and then its length (not as α·‖v W_O‖), on the forward
passes of llama_ref.py (the built-in TinyStories model: 8 query heads over 4 key/value heads) and
transformer_ref.py (the built-in English encoder, BERT: biases on V and O). Nothing here comes from
the TypeScript side. Writes test/fixtures/valueNorms/{tinystories,english-encoder}.json.
Run from the repo root:  /usr/bin/python3 scripts/reference/value_norms.py
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402
import transformer_ref as tr  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'valueNorms')
TINYSTORIES_TEXT = 'Once upon a time, there was a little girl named Lily.'
ENCODER_TEXT = 'The cat sat on the mat because it was tired.'


def value_norms(weights, v, Wo_rows, kv_head_of):
    """weights [H, Tq, Tk], v [KV, Tk, d], Wo_rows [H·d, D] (x W_O) → [H, Tq, Tk]."""
    H, Tq, Tk = weights.shape
    d = v.shape[2]
    out = np.empty((H, Tq, Tk))
    for h in range(H):
        Woh = Wo_rows[h * d:(h + 1) * d]  # [d, D]
        f = v[kv_head_of[h]] @ Woh  # [Tk, D]
        vec = weights[h][:, :, None] * f[None, :, :]  # [Tq, Tk, D]: α_ij · f(x_j)
        out[h] = np.sqrt((vec * vec).sum(-1))
    return out


def b64(a):
    return llama_ref.b64(a)


def tinystories():
    d = llama_ref.MODEL_DIR
    tok = llama_ref.Bpe(os.path.join(d, 'tokenizer.json'))
    model = llama_ref.Llama(d)
    ids = [model.cfg['bos_token_id']] + tok.encode(TINYSTORIES_TEXT)
    rec = model.forward(ids)
    group = model.H // model.KV
    kv = [h // group for h in range(model.H)]
    layers = []
    for l, layer in enumerate(rec['layers']):
        Wo = model.w[f'model.layers.{l}.self_attn.o_proj.weight'].T  # [H·d, D]
        layers.append({'weights': b64(layer['weights']), 'value_norms': b64(value_norms(layer['weights'], layer['V'], Wo, kv))})
    return {'model': 'tinystories-656k', 'text': TINYSTORIES_TEXT, 'ids': ids, 'kvHeadOf': kv, 'layers': layers}


def english_encoder():
    with open(os.path.join(tr.BERT_DIR, 'config.json')) as f:
        cfg = json.load(f)
    W = tr.read_safetensors(os.path.join(tr.BERT_DIR, 'model.safetensors'))
    tok = tr.WordPieceTok(os.path.join(tr.BERT_DIR, 'tokenizer.json'))
    H, eps, L = cfg['num_attention_heads'], cfg['layer_norm_eps'], cfg['num_hidden_layers']
    ids = tok.encode(ENCODER_TEXT)
    T = len(ids)
    x = tr.ln(W['bert.embeddings.word_embeddings.weight'][ids] + W['bert.embeddings.position_embeddings.weight'][:T]
              + W['bert.embeddings.token_type_embeddings.weight'][0],
              W['bert.embeddings.LayerNorm.weight'], W['bert.embeddings.LayerNorm.bias'], eps)
    layers = []
    for l in range(L):
        p = f'bert.encoder.layer.{l}.'
        g = lambda name: W[p + name]  # noqa: E731
        a = tr.attention(x, x, g('attention.self.query.weight'), g('attention.self.query.bias'), g('attention.self.key.weight'),
                         g('attention.self.key.bias'), g('attention.self.value.weight'), g('attention.self.value.bias'),
                         g('attention.output.dense.weight'), g('attention.output.dense.bias'), H)
        norms = value_norms(a['weights'], a['V'], g('attention.output.dense.weight').T, list(range(H)))
        layers.append({'weights': b64(a['weights']), 'value_norms': b64(norms)})
        h = tr.ln(x + a['attn_output'], g('attention.output.LayerNorm.weight'), g('attention.output.LayerNorm.bias'), eps)
        ff = tr.gelu(h @ g('intermediate.dense.weight').T + g('intermediate.dense.bias')) @ g('output.dense.weight').T + g('output.dense.bias')
        x = tr.ln(h + ff, g('output.LayerNorm.weight'), g('output.LayerNorm.bias'), eps)
    return {'model': 'english-encoder', 'text': ENCODER_TEXT, 'ids': ids, 'kvHeadOf': list(range(H)), 'layers': layers}


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, fx in (('tinystories', tinystories()), ('english-encoder', english_encoder())):
        path = os.path.join(OUT_DIR, f'{name}.json')
        with open(path, 'w') as f:
            json.dump(fx, f, separators=(',', ':'))
        print(f'{path}: {len(fx["ids"])} tokens, {len(fx["layers"])} layers, {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    sys.exit(main())

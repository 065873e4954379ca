#!/usr/bin/env python3
"""Random-weight Hugging Face checkpoints for every family we load, and an independent torch forward pass.

    /usr/bin/python3 scripts/reference/hf_families.py              # writes test/fixtures/hf/<family>/ for every family
    /usr/bin/python3 scripts/reference/hf_families.py qwen2 gpt2   # only these families
    /usr/bin/python3 scripts/reference/hf_families.py --out DIR    # into DIR/<family>/ (e.g. to diff against the tree)
    /usr/bin/python3 scripts/reference/hf_families.py --time DIR 16 64 128 [--numpy]

Fixture mode writes, for each family (llama, bert, distilbert, roberta, gpt2, marian, qwen2), a folder laid out
exactly like a Hugging Face checkpoint of that family: config.json with the family's real keys,
model.safetensors (written here with struct + json, tensor names / shapes / layouts as on the Hub:
GPT-2's Conv1D weights stored [in, out] with a fused c_attn, RoBERTa's offset position table, ...),
and the tokenizer files. Weights are seeded random numbers; llama and qwen2 are stored as BF16, bert and
marian as F16, distilbert as BF16 (so the readers' conversions are exercised); the reference uses the same rounded
values. Then it runs the model in torch float64, written from the Hugging Face modelling semantics
(nothing ported from our TypeScript), and writes reference.json with every attention tensor.

Nothing is imported from the TypeScript side. Tokenisation is done here too: the llama and BERT
tokenizers reuse the from-scratch Python tokenizers of llama_ref.py / transformer_ref.py, the date
tokenizer is one token per character, and the byte-level BPE (GPT-2, RoBERTa; Qwen2 with its own
NFC + Split regex pre-tokenizer) is written below. qwen2's reference is also checked against the
transformers conventions by other routes (check_qwen2): RoPE as a complex rotation, repeat_kv, rows of
weights summing to 1, the tied head, causality, and the sliding window staying off.

Conventions of reference.json (float32, base64 little-endian + shape):
  Q, K, V   [heads, T, d_head] projections split into heads, *before* the 1/√d scale (HF multiplies
            Q by it; the scores are identical). Llama, Qwen2: after RoPE (Qwen2: bias added before
            it), K and V per key/value head; kv_head_of[h] is the key/value head query head h reads.
  scores    [heads, Tq, Tk] Q Kᵀ / √d for every pair, before the mask.
  mask      [Tq, Tk] 1 where a query may attend, 0 where the mask removed the key.
  weights   softmax(scores + mask), context [heads, Tq, d_head] = weights · V,
  output    [Tq, D] concat_h(context) W_O (+ b_O): what attention adds to the residual stream.
"""
import base64
import json
import math
import os
import shutil
import statistics
import struct
import sys
import time
import unicodedata

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'hf')
MODELS = os.path.join(ROOT, 'models')
sys.path.insert(0, HERE)

# =============================================================================================
# Array operations: the same model code runs on torch (the reference, float64; timing, float32)
# and on numpy (timing only).


class TorchOps:
    name = 'torch'

    def __init__(self, dtype):
        import torch
        self.torch = torch
        self.dtype = dtype

    def arr(self, a):
        return self.torch.as_tensor(np.asarray(a), dtype=self.dtype)

    def ids(self, ids):
        return self.torch.as_tensor(list(ids), dtype=self.torch.long)

    def T(self, x):
        return x.transpose(-1, -2)

    def linear(self, x, W):
        return self.torch.nn.functional.linear(x, W)

    def perm(self, x, dims):
        return x.permute(*dims)

    def softmax(self, x):
        return self.torch.softmax(x, dim=-1)

    def mean(self, x):
        return x.mean(dim=-1, keepdim=True)

    def cat(self, xs, axis):
        return self.torch.cat(xs, dim=axis)

    def erf(self, x):
        return self.torch.erf(x)

    def tanh(self, x):
        return self.torch.tanh(x)

    def sigmoid(self, x):
        return self.torch.sigmoid(x)

    def sqrt(self, x):
        return self.torch.sqrt(x)

    def cos(self, x):
        return self.torch.cos(x)

    def sin(self, x):
        return self.torch.sin(x)

    def masked(self, x, allowed):
        """x where allowed, −∞ elsewhere (allowed: numpy bool [Tq, Tk])."""
        return x.masked_fill(~self.torch.as_tensor(allowed), float('-inf'))

    def argmax_last(self, x):
        return int(self.torch.argmax(x[-1]).item())

    def np(self, x):
        return x.detach().cpu().double().numpy()


class NumpyOps:
    """numpy float32, for timing. gelu's erf uses Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7)."""
    name = 'numpy'

    def __init__(self):
        self.dtype = np.float32

    def arr(self, a):
        return np.asarray(a, dtype=np.float32)

    def ids(self, ids):
        return np.asarray(list(ids), dtype=np.int64)

    def T(self, x):
        return np.swapaxes(x, -1, -2)

    def linear(self, x, W):
        return x @ W.T

    def perm(self, x, dims):
        return np.transpose(x, dims)

    def softmax(self, x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def mean(self, x):
        return x.mean(-1, keepdims=True)

    def cat(self, xs, axis):
        return np.concatenate(xs, axis=axis)

    def erf(self, x):
        s = np.sign(x)
        a = np.abs(x)
        t = 1 / (1 + 0.3275911 * a)
        y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
        return (s * y).astype(np.float32)

    def tanh(self, x):
        return np.tanh(x)

    def sigmoid(self, x):
        return 1 / (1 + np.exp(-x))

    def sqrt(self, x):
        return np.sqrt(x)

    def cos(self, x):
        return np.cos(x)

    def sin(self, x):
        return np.sin(x)

    def masked(self, x, allowed):
        return np.where(allowed, x, np.float32(-np.inf))

    def argmax_last(self, x):
        return int(np.argmax(x[-1]))

    def np(self, x):
        return np.asarray(x, dtype=np.float64)


# =============================================================================================
# Building blocks, following the Hugging Face modules


def linear(o, x, W, b=None):
    """nn.Linear: weight [out, in]."""
    y = o.linear(x, W)
    return y if b is None else y + b


def conv1d(o, x, W, b):
    """GPT-2's Conv1D: weight [in, out]."""
    return x @ W + b


def layer_norm(o, x, g, b, eps):
    m = o.mean(x)
    c = x - m
    return c / o.sqrt(o.mean(c * c) + eps) * g + b


def rms_norm(o, x, g, eps):
    return x / o.sqrt(o.mean(x * x) + eps) * g


def act(o, name, x):
    if name == 'gelu':
        return 0.5 * x * (1 + o.erf(x / math.sqrt(2)))
    if name == 'gelu_new':
        return 0.5 * x * (1 + o.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    if name in ('silu', 'swish'):
        return x * o.sigmoid(x)
    if name == 'relu':
        return x * (x > 0)
    raise ValueError(name)


def heads(o, x, H):
    """[T, H·d] → [H, T, d]."""
    T, HD = x.shape
    return o.perm(x.reshape(T, H, HD // H), (1, 0, 2))


def attend(o, q, k, v, allowed, Wo, bo, kv_of=None, conv=False):
    """Scaled dot-product attention on head-split q [H,Tq,d], k/v [KV,Tk,d]; records every step."""
    H, Tq, d = q.shape
    if kv_of is not None:  # repeat_kv: query head h reads key/value head kv_of[h]
        idx = o.ids(kv_of)
        kk, vv = k[idx], v[idx]
    else:
        kk, vv = k, v
    scores = (q @ o.T(kk)) / math.sqrt(d)
    weights = o.softmax(o.masked(scores, allowed) if allowed is not None else scores)
    context = weights @ vv
    merged = o.perm(context, (1, 0, 2)).reshape(Tq, H * d)
    output = conv1d(o, merged, Wo, bo) if conv else linear(o, merged, Wo, bo)
    rec = dict(Q=q, K=k, V=v, scores=scores, weights=weights, context=context, output=output)
    if allowed is not None:
        rec['mask'] = allowed.astype(np.float64)
    return rec


def causal(T):
    return np.tril(np.ones((T, T), dtype=bool))


# =============================================================================================
# The families' forward passes (W: name → array in the backend; c: config.json as a dict)


def llama_forward(o, W, c, ids):
    D, H = c['hidden_size'], c['num_attention_heads']
    KV = c.get('num_key_value_heads', H)
    hd = c.get('head_dim') or D // H
    eps, theta = c['rms_norm_eps'], c.get('rope_theta', 10000.0)
    T = len(ids)
    # LlamaRotaryEmbedding: inv_freq_i = θ^(−2i/d); emb = cat(freqs, freqs); rotate_half(x) = cat(−x₂, x₁)
    inv = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    freqs = np.outer(np.arange(T, dtype=np.float64), inv)
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = o.arr(np.cos(emb)), o.arr(np.sin(emb))

    def rope(x):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + o.cat([-x2, x1], -1) * sin

    # Tied checkpoints may store the shared matrix under either name (TinyStories keeps lm_head.weight).
    embed = W['model.embed_tokens.weight'] if 'model.embed_tokens.weight' in W else W['lm_head.weight']
    x = embed[o.ids(ids)]
    rec = {'embedding': x, 'layers': []}
    for l in range(c['num_hidden_layers']):
        p = f'model.layers.{l}.'
        h = rms_norm(o, x, W[p + 'input_layernorm.weight'], eps)
        q = rope(heads(o, linear(o, h, W[p + 'self_attn.q_proj.weight']), H))
        k = rope(heads(o, linear(o, h, W[p + 'self_attn.k_proj.weight']), KV))
        v = heads(o, linear(o, h, W[p + 'self_attn.v_proj.weight']), KV)
        a = attend(o, q, k, v, causal(T), W[p + 'self_attn.o_proj.weight'], None, kv_of=[i // (H // KV) for i in range(H)])
        residual = x
        x = x + a['output']
        h2 = rms_norm(o, x, W[p + 'post_attention_layernorm.weight'], eps)
        mlp = linear(o, act(o, 'silu', linear(o, h2, W[p + 'mlp.gate_proj.weight'])) * linear(o, h2, W[p + 'mlp.up_proj.weight']), W[p + 'mlp.down_proj.weight'])
        x = x + mlp
        rec['layers'].append(dict(a, residual=residual, input=h, hidden=x))
    final = rms_norm(o, x, W['model.norm.weight'], eps)
    head = W['lm_head.weight'] if 'lm_head.weight' in W else embed
    rec.update(final=final, logits=linear(o, final, head))
    return rec


def qwen2_layer_types(c):
    """Qwen2Config.__post_init__: sliding_window only counts when use_sliding_window; then layers ≥ max_window_layers slide."""
    window = c.get('sliding_window') if c.get('use_sliding_window') else None
    return c.get('layer_types') or ['sliding_attention' if window is not None and l >= c['max_window_layers'] else 'full_attention'
                                     for l in range(c['num_hidden_layers'])]


def qwen2_forward(o, W, c, ids):
    """Qwen2ForCausalLM (modeling_qwen2.py): Llama's decoder layer with biases on q_proj, k_proj and v_proj."""
    D, H, KV = c['hidden_size'], c['num_attention_heads'], c['num_key_value_heads']
    hd = c.get('head_dim') or D // H
    eps, theta = c['rms_norm_eps'], c['rope_theta']
    T = len(ids)
    # Qwen2RotaryEmbedding (default rope): inv_freq_i = θ^(−2i/hd), emb = cat(freqs, freqs): the [θ, θ] layout.
    inv = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))  # [hd/2]
    emb = np.concatenate([np.outer(np.arange(T), inv)] * 2, axis=-1)  # [T, hd]
    cos, sin = o.arr(np.cos(emb)), o.arr(np.sin(emb))

    def rope(x):  # apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, rotate_half(x) = cat(−x₂, x₁)
        return x * cos + o.cat([-x[..., hd // 2:], x[..., : hd // 2]], -1) * sin

    # repeat_kv: kv head j serves query heads j·n_rep … j·n_rep + n_rep − 1.
    kv_of = [h // (H // KV) for h in range(H)]
    # create_causal_mask / create_sliding_window_causal_mask: key j ≤ query i, and i − j < sliding_window when sliding.
    qi, kj = np.arange(T)[:, None], np.arange(T)[None, :]
    masks = {'full_attention': kj <= qi, 'sliding_attention': (kj <= qi) & (qi - kj < (c.get('sliding_window') or T + 1))}
    E = W['model.embed_tokens.weight']
    x = E[o.ids(ids)]  # [T, D]
    rec = {'embedding': x, 'layers': []}
    for l, kind in enumerate(qwen2_layer_types(c)):
        p = f'model.layers.{l}.'
        a = p + 'self_attn.'
        h = rms_norm(o, x, W[p + 'input_layernorm.weight'], eps)
        q = rope(heads(o, linear(o, h, W[a + 'q_proj.weight'], W[a + 'q_proj.bias']), H))  # [T, H·hd] → [H, T, hd]
        k = rope(heads(o, linear(o, h, W[a + 'k_proj.weight'], W[a + 'k_proj.bias']), KV))  # [T, KV·hd] → [KV, T, hd]
        v = heads(o, linear(o, h, W[a + 'v_proj.weight'], W[a + 'v_proj.bias']), KV)  # [T, KV·hd] → [KV, T, hd]
        att = attend(o, q, k, v, masks[kind], W[a + 'o_proj.weight'], None, kv_of=kv_of)  # o_proj has no bias
        residual = x
        x = x + att['output']
        h2 = rms_norm(o, x, W[p + 'post_attention_layernorm.weight'], eps)
        m = p + 'mlp.'
        x = x + linear(o, act(o, c['hidden_act'], linear(o, h2, W[m + 'gate_proj.weight'])) * linear(o, h2, W[m + 'up_proj.weight']),
                       W[m + 'down_proj.weight'])
        rec['layers'].append(dict(att, residual=residual, input=h, hidden=x, kind=kind))
    final = rms_norm(o, x, W['model.norm.weight'], eps)
    head = E if c.get('tie_word_embeddings') else W['lm_head.weight']
    rec.update(final=final, logits=linear(o, final, head), kv_of=kv_of)
    return rec


def bert_like_forward(o, W, c, ids, family):
    """BERT, RoBERTa (BertModel semantics + offset positions) and DistilBERT, with their MLM heads."""
    T = len(ids)
    if family == 'distilbert':
        D, H, L = c['dim'], c['n_heads'], c['n_layers']
        eps, actname = 1e-12, c['activation']
        pre = 'distilbert.'
        pos = list(range(T))
    else:
        D, H, L = c['hidden_size'], c['num_attention_heads'], c['num_hidden_layers']
        eps, actname = c['layer_norm_eps'], c['hidden_act']
        pre = family + '.'
        if family == 'roberta':
            # create_position_ids_from_input_ids: non-padding tokens count from padding_idx + 1.
            pad = c['pad_token_id']
            pos, n = [], 0
            for t in ids:
                n += t != pad
                pos.append(n + pad if t != pad else pad)
        else:
            pos = list(range(T))
    e = pre + 'embeddings.'
    x = W[e + 'word_embeddings.weight'][o.ids(ids)] + W[e + 'position_embeddings.weight'][o.ids(pos)]
    if family != 'distilbert':
        x = x + W[e + 'token_type_embeddings.weight'][o.ids([0] * T)]
    x = layer_norm(o, x, W[e + 'LayerNorm.weight'], W[e + 'LayerNorm.bias'], eps)
    rec = {'embedding': x, 'layers': [], 'positions': pos}
    for l in range(L):
        if family == 'distilbert':
            p = f'distilbert.transformer.layer.{l}.'
            n = dict(q=p + 'attention.q_lin', k=p + 'attention.k_lin', v=p + 'attention.v_lin', o=p + 'attention.out_lin',
                     ln1=p + 'sa_layer_norm', up=p + 'ffn.lin1', down=p + 'ffn.lin2', ln2=p + 'output_layer_norm')
        else:
            p = f'{pre}encoder.layer.{l}.'
            n = dict(q=p + 'attention.self.query', k=p + 'attention.self.key', v=p + 'attention.self.value', o=p + 'attention.output.dense',
                     ln1=p + 'attention.output.LayerNorm', up=p + 'intermediate.dense', down=p + 'output.dense', ln2=p + 'output.LayerNorm')
        lin = lambda name, z: linear(o, z, W[n[name] + '.weight'], W[n[name] + '.bias'])  # noqa: E731
        a = attend(o, heads(o, lin('q', x), H), heads(o, lin('k', x), H), heads(o, lin('v', x), H), None,
                   W[n['o'] + '.weight'], W[n['o'] + '.bias'])
        h = layer_norm(o, a['output'] + x, W[n['ln1'] + '.weight'], W[n['ln1'] + '.bias'], eps)
        x = layer_norm(o, lin('down', act(o, actname, lin('up', h))) + h, W[n['ln2'] + '.weight'], W[n['ln2'] + '.bias'], eps)
        rec['layers'].append(dict(a, attn_hidden=h, hidden=x))
    if family == 'bert':
        m = dict(dense='cls.predictions.transform.dense', ln='cls.predictions.transform.LayerNorm', dec='cls.predictions.decoder.weight', bias='cls.predictions.bias')
        mact = actname
    elif family == 'roberta':
        m = dict(dense='lm_head.dense', ln='lm_head.layer_norm', dec='lm_head.decoder.weight', bias='lm_head.bias')
        mact = 'gelu'  # RobertaLMHead always uses gelu
    else:
        m = dict(dense='vocab_transform', ln='vocab_layer_norm', dec='vocab_projector.weight', bias='vocab_projector.bias')
        mact = actname
    if m['dense'] + '.weight' in W:
        t = act(o, mact, linear(o, x, W[m['dense'] + '.weight'], W[m['dense'] + '.bias']))
        t = layer_norm(o, t, W[m['ln'] + '.weight'], W[m['ln'] + '.bias'], eps)
        dec = W[m['dec']] if m['dec'] in W else W[e + 'word_embeddings.weight']  # tied decoder
        rec.update(mlm_hidden=t, logits=linear(o, t, dec, W[m['bias']]))
    rec['final'] = x
    return rec


def gpt2_forward(o, W, c, ids):
    D, H, eps = c['n_embd'], c['n_head'], c['layer_norm_epsilon']
    pre = 'transformer.' if 'transformer.wte.weight' in W else ''
    T = len(ids)
    x = W[pre + 'wte.weight'][o.ids(ids)] + W[pre + 'wpe.weight'][o.ids(range(T))]
    rec = {'embedding': x, 'layers': []}
    for l in range(c['n_layer']):
        p = f'{pre}h.{l}.'
        h = layer_norm(o, x, W[p + 'ln_1.weight'], W[p + 'ln_1.bias'], eps)
        qkv = conv1d(o, h, W[p + 'attn.c_attn.weight'], W[p + 'attn.c_attn.bias'])  # [T, 3D]: q | k | v
        q, k, v = qkv[:, :D], qkv[:, D:2 * D], qkv[:, 2 * D:]
        a = attend(o, heads(o, q, H), heads(o, k, H), heads(o, v, H), causal(T), W[p + 'attn.c_proj.weight'], W[p + 'attn.c_proj.bias'], conv=True)
        residual = x
        x = x + a['output']
        h2 = layer_norm(o, x, W[p + 'ln_2.weight'], W[p + 'ln_2.bias'], eps)
        mlp = conv1d(o, act(o, c.get('activation_function', 'gelu_new'), conv1d(o, h2, W[p + 'mlp.c_fc.weight'], W[p + 'mlp.c_fc.bias'])),
                     W[p + 'mlp.c_proj.weight'], W[p + 'mlp.c_proj.bias'])
        x = x + mlp
        rec['layers'].append(dict(a, residual=residual, input=h, attn_residual=residual + a['output'], hidden=x))
    final = layer_norm(o, x, W[pre + 'ln_f.weight'], W[pre + 'ln_f.bias'], eps)
    head = W['lm_head.weight'] if 'lm_head.weight' in W else W[pre + 'wte.weight']
    rec.update(final=final, logits=linear(o, final, head))
    return rec


def sinusoidal(n, D):
    """MarianSinusoidalPositionalEmbedding._init_weight: sines in the first half, cosines in the second."""
    enc = np.array([[p / np.power(10000, 2 * (j // 2) / D) for j in range(D)] for p in range(n)])
    out = np.zeros((n, D))
    out[:, : D // 2] = np.sin(enc[:, 0::2])
    out[:, D // 2:] = np.cos(enc[:, 1::2])
    return out


class Marian:
    def __init__(self, o, W, c):
        self.o, self.W, self.c = o, W, c
        D = c['d_model']
        self.scale = math.sqrt(D) if c.get('scale_embedding') else 1.0
        P = c['max_position_embeddings']
        self.enc_pos = W.get('model.encoder.embed_positions.weight', o.arr(sinusoidal(P, D)))
        self.dec_pos = W.get('model.decoder.embed_positions.weight', self.enc_pos)
        self.E = W['model.shared.weight']

    def attn(self, p, xq, xkv, H, allowed):
        o, W = self.o, self.W
        lin = lambda n, z: linear(o, z, W[p + n + '.weight'], W[p + n + '.bias'])  # noqa: E731
        return attend(o, heads(o, lin('q_proj', xq), H), heads(o, lin('k_proj', xkv), H), heads(o, lin('v_proj', xkv), H), allowed,
                      W[p + 'out_proj.weight'], W[p + 'out_proj.bias'])

    def ln(self, p, x):
        return layer_norm(self.o, x, self.W[p + '.weight'], self.W[p + '.bias'], 1e-5)

    def ffn(self, p, x):
        o, W = self.o, self.W
        return linear(o, act(o, self.c['activation_function'], linear(o, x, W[p + 'fc1.weight'], W[p + 'fc1.bias'])), W[p + 'fc2.weight'], W[p + 'fc2.bias'])

    def encode(self, src):
        o, c = self.o, self.c
        x = self.E[o.ids(src)] * self.scale + self.enc_pos[: len(src)]
        rec = {'embedding': x, 'layers': []}
        for l in range(c['encoder_layers']):
            p = f'model.encoder.layers.{l}.'
            a = self.attn(p + 'self_attn.', x, x, c['encoder_attention_heads'], None)
            h = self.ln(p + 'self_attn_layer_norm', x + a['output'])
            x = self.ln(p + 'final_layer_norm', h + self.ffn(p, h))
            rec['layers'].append(dict(a, attn_hidden=h, hidden=x))
        rec['memory'] = x
        return rec

    def decode(self, dec_in, memory):
        o, c = self.o, self.c
        T = len(dec_in)
        y = self.E[o.ids(dec_in)] * self.scale + self.dec_pos[:T]
        rec = {'embedding': y, 'layers': []}
        for l in range(c['decoder_layers']):
            p = f'model.decoder.layers.{l}.'
            s = self.attn(p + 'self_attn.', y, y, c['decoder_attention_heads'], causal(T))
            h1 = self.ln(p + 'self_attn_layer_norm', y + s['output'])
            x = self.attn(p + 'encoder_attn.', h1, memory, c['decoder_attention_heads'], None)
            h2 = self.ln(p + 'encoder_attn_layer_norm', h1 + x['output'])
            y = self.ln(p + 'final_layer_norm', h2 + self.ffn(p, h2))
            rec['layers'].append(dict(self=s, cross=x, self_hidden=h1, cross_hidden=h2, hidden=y))
        rec['logits'] = linear(o, y, self.W.get('lm_head.weight', self.E), self.W['final_logits_bias'][0])
        return rec

    def greedy(self, memory, margins=None):
        """Plain argmax decoding from decoder_start_token_id: at most max_length − 1 tokens, stopping after </s>."""
        c = self.c
        out = []
        for _ in range(c['max_length'] - 1):
            logits = self.decode([c['decoder_start_token_id']] + out, memory)['logits']
            last = self.o.np(logits)[-1]
            nxt = int(np.argmax(last))
            if margins is not None:
                srt = np.sort(last)
                margins.append(srt[-1] - srt[-2])
            out.append(nxt)
            if nxt == c['eos_token_id']:
                break
        return out


# =============================================================================================
# safetensors, written and read by hand

DT_BYTES = {'F32': 4, 'F16': 2, 'BF16': 2}


def round_to(a, dtype):
    """The float64 values a float32 array has after storing it as `dtype`, and the stored bytes."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == 'F32':
        return a.astype(np.float64), a.astype('<f4').tobytes()
    if dtype == 'F16':
        h = a.astype('<f2')
        return h.astype(np.float64), h.tobytes()
    if dtype == 'BF16':  # round to nearest, ties to even, on the upper 16 bits of the float32
        u = a.view(np.uint32).astype(np.uint64)
        r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
        back = (r.astype(np.uint32) << 16).view(np.float32)
        return back.astype(np.float64), r.astype('<u2').tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype_of):
    """tensors: name → float32 array. Returns name → the float64 values actually stored."""
    header, blobs, stored, offset = {}, [], {}, 0
    # Like the safetensors library: larger dtypes first, then by name (keeps every tensor aligned).
    order = sorted(tensors, key=lambda n: (-DT_BYTES[dtype_of(n)], n))
    for name in order:
        dt = dtype_of(name)
        vals, raw = round_to(tensors[name], dt)
        stored[name] = vals.reshape(tensors[name].shape)
        header[name] = {'dtype': dt, 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header = {'__metadata__': {'format': 'pt'}, **header}
    hb = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)
    return stored


def read_safetensors(path):
    with open(path, 'rb') as f:
        blob = f.read()
    (n,) = struct.unpack('<Q', blob[:8])
    header = json.loads(blob[8:8 + n].decode('utf-8'))
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        raw = blob[8 + n + b: 8 + n + e]
        dt = info['dtype']
        if dt == 'F32':
            a = np.frombuffer(raw, dtype='<f4').astype(np.float64)
        elif dt == 'F16':
            a = np.frombuffer(raw, dtype='<f2').astype(np.float64)
        elif dt == 'BF16':
            a = (np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            continue  # e.g. integer buffers: not weights
        out[name] = a.reshape(info['shape'])
    return out


# =============================================================================================
# Byte-level BPE (GPT-2 / RoBERTa), written from the GPT-2 definition


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [(b, chr(c)) for b, c in zip(bs, cs)]  # in GPT-2's vocabulary order


BYTE_CHAR = dict(bytes_to_unicode())


def _cls(ch):
    cat = unicodedata.category(ch)
    if ch.isspace():
        return 's'
    return 'L' if cat.startswith('L') else 'N' if cat.startswith('N') else 'o'


def gpt2_pretokenize(text):
    """The GPT-2 pattern 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+, by hand."""
    out, i, n = [], 0, len(text)
    while i < n:
        m = None
        for c in ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d"):
            if text.startswith(c, i):
                m = i + len(c)
                break
        if m is None:
            j = i + 1 if text[i] == ' ' and i + 1 < n and _cls(text[i + 1]) != 's' else i
            if _cls(text[j]) != 's':
                k, kind = j, _cls(text[j])
                while k < n and _cls(text[k]) == kind:
                    k += 1
                m = k
            else:
                k = i
                while k < n and _cls(text[k]) == 's':
                    k += 1
                m = k if k == n or k - i == 1 else k - 1
        out.append(text[i:m])
        i = m
    return out


# Qwen2's Split pre-tokenizer (tokenizer.json), applied after its NFC normaliser. Unlike GPT-2's: one
# digit per piece, a letter run takes one preceding non-letter non-digit character ("(hello", " the"),
# contractions match in any case, and newlines get pieces of their own.
QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def _qwen2_piece_end(t, i):
    """End of the regex match at i: the alternatives of QWEN2_SPLIT tried in order, as a backtracking engine does."""
    n = len(t)
    is_l = lambda ch: unicodedata.category(ch).startswith('L')  # noqa: E731
    is_n = lambda ch: unicodedata.category(ch).startswith('N')  # noqa: E731
    sym = lambda ch: not ch.isspace() and not is_l(ch) and not is_n(ch)  # noqa: E731
    if t[i] == "'":  # (?i:'s|'t|'re|'ve|'m|'ll|'d), ASCII case folding
        for c in ('s', 't', 're', 've', 'm', 'll', 'd'):
            if t[i + 1:i + 1 + len(c)].lower() == c:
                return i + 1 + len(c)
    j = i if is_l(t[i]) else i + 1 if t[i] not in '\r\n' and not is_n(t[i]) and i + 1 < n and is_l(t[i + 1]) else None
    if j is not None:  # [^\r\n\p{L}\p{N}]?\p{L}+
        while j < n and is_l(t[j]):
            j += 1
        return j
    if is_n(t[i]):  # \p{N}
        return i + 1
    j = i + 1 if t[i] == ' ' and i + 1 < n and sym(t[i + 1]) else i
    if sym(t[j]):  # ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        while j < n and sym(t[j]):
            j += 1
        while j < n and t[j] in '\r\n':
            j += 1
        return j
    k = i  # t[i] is whitespace: k = end of the whitespace run
    while k < n and t[k].isspace():
        k += 1
    newlines = [p for p in range(i, k) if t[p] in '\r\n']
    if newlines:  # \s*[\r\n]+: up to the run's last newline
        return newlines[-1] + 1
    if k == n or k - i == 1:  # \s+(?!\S) at the end of the text, else \s+
        return k
    return k - 1  # \s+(?!\S): leave the last space to the next piece


def qwen2_pretokenize(text):
    out, i = [], 0
    while i < len(text):
        m = _qwen2_piece_end(text, i)
        out.append(text[i:m])
        i = m
    return out


def byte_symbols(word):
    return [BYTE_CHAR[b] for b in word.encode('utf-8')]


def bpe_train(corpus, n_merges, pretokenize=gpt2_pretokenize):
    words = {}
    for w in pretokenize(corpus):
        words[tuple(byte_symbols(w))] = words.get(tuple(byte_symbols(w)), 0) + 1
    return bpe_merges(words, n_merges)


def bpe_merges(words, n_merges):
    """Greedy BPE training on words (symbol tuple → count): the most frequent pair (ties: the first in sorted order), n times."""
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for w, f in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + f
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        new = {}
        for w, f in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + f
        words = new
    return merges


class ByteBpe:
    def __init__(self, vocab, merges, specials=(), pretokenize=gpt2_pretokenize, normalize=None):
        self.vocab = vocab
        self.rank = {tuple(m): r for r, m in enumerate(merges)}
        self.specials = list(specials)
        self.pretokenize = pretokenize
        self.normalize = normalize

    def _word(self, w):
        syms = byte_symbols(w)
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
        return [self.vocab[s] for s in syms]

    def encode(self, text):
        if self.normalize:
            text = unicodedata.normalize(self.normalize, text)
        ids = []
        for w in self.pretokenize(text):
            ids += self._word(w)
        return ids


def byte_bpe_tokenizer_json(vocab, merges, added, roberta):
    j = {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [
            {'id': i, 'content': s, 'single_word': False, 'lstrip': s == '<mask>', 'rstrip': False, 'normalized': False, 'special': True}
            for s, i in added
        ],
        'normalizer': None,
        'pre_tokenizer': {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True},
        'post_processor': (
            {'type': 'RobertaProcessing', 'sep': ['</s>', vocab['</s>']], 'cls': ['<s>', vocab['<s>']], 'trim_offsets': True, 'add_prefix_space': False}
            if roberta else {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': False, 'use_regex': True}
        ),
        'decoder': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True, 'use_regex': True},
        'model': {
            'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '', 'end_of_word_suffix': '',
            'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
            'vocab': vocab, 'merges': [f'{a} {b}' for a, b in merges],
        },
    }
    return j


# =============================================================================================
# Random weights per family (HF names and layouts)


class Rng:
    def __init__(self, seed):
        self.r = np.random.default_rng(seed)

    def w(self, *shape, std=None):
        std = std if std is not None else 1.0 / math.sqrt(shape[-1])
        return (self.r.standard_normal(shape) * std).astype(np.float32)

    def b(self, n, std=0.1):
        return (self.r.standard_normal(n) * std).astype(np.float32)

    def g(self, n):
        return (1 + self.r.standard_normal(n) * 0.1).astype(np.float32)


def lin(t, r, name, out, inp, bias=True, std=None):
    t[name + '.weight'] = r.w(out, inp, std=std)
    if bias:
        t[name + '.bias'] = r.b(out)


def ln_params(t, r, name, D):
    t[name + '.weight'] = r.g(D)
    t[name + '.bias'] = r.b(D)


# =============================================================================================
# Families

BERT_VOCAB = 1000
# One text per family (the fixtures stay small), each with an accented character or an emoji.
LLAMA_TEXTS = ['Once upon a time, Lily saw a café 😀.']
BERT_TEXTS = ['Café [MASK] of über 😀 art!']
GPT2_CORPUS = 'The quick brown fox jumps over the lazy dog. The dog sleeps, the fox runs; they are friends and the fox is quick!'
GPT2_TEXTS = ["It's the quick café 🦊!"]
MARIAN_TEXTS = ['à 23rd Nov 2026']
MARIAN_SEED = 18  # a seed whose greedy output is not one character repeated
# Qwen2: CJK, digits (one per piece), a contraction in capitals, punctuation before a blank line. The corpus
# gives merges only Qwen2's split can reach ("'S", ".ĊĊ"), so the second text tokenises differently with GPT-2's.
QWEN2_CORPUS = ("The quick brown fox jumps over the lazy dog. 你好，世界！你好 the fox. It's the fox's café; "
                "IT'S (quick) and (quick) again, IT'S the dog.\n\nThe dog sleeps and the fox is quick.\n\nThe end of the world, 2026.\n\n")
QWEN2_TEXTS = ["The quick fox's café, 2026 😀", "IT'S (quick).\n\n你好 world!"]
QWEN2_SPECIALS = ('<|endoftext|>', '<|im_start|>', '<|im_end|>')


def write_json(path, obj):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write('\n')


def family_dir(fam):
    d = os.path.join(OUT, fam)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def enc(a):
    a = np.ascontiguousarray(np.asarray(a, dtype='<f4'))
    return {'shape': list(a.shape), 'b64': base64.b64encode(a.tobytes()).decode('ascii')}


ATTN_KEYS = ('Q', 'K', 'V', 'scores', 'mask', 'weights', 'context', 'output')


def attn_json(o, a):
    return {k: enc(o.np(a[k]) if k != 'mask' else a[k]) for k in ATTN_KEYS if k in a}


def layer_json(o, rec, extra):
    out = attn_json(o, rec)
    for k in extra:
        out[k] = enc(o.np(rec[k]))
    return out


def logits_rows(o, logits, V):
    """All rows for small vocabularies; for large ones a few rows, to keep the fixtures small."""
    lg = o.np(logits)
    T = lg.shape[0]
    rows = list(range(T)) if V <= 512 else sorted({1, T - 1})
    return rows, enc(lg[rows])


def torch_weights(o, stored):
    return {k: o.arr(v) for k, v in stored.items()}


def make_llama(o):
    d = family_dir('llama')
    src = os.path.join(MODELS, 'tinystories-656k')
    for f in ('tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'):
        shutil.copy(os.path.join(src, f), d)
    with open(os.path.join(src, 'tokenizer.json'), encoding='utf-8') as f:
        V = len(json.load(f)['model']['vocab'])
    D, H, KV, I, L = 32, 4, 2, 64, 2
    hd = D // H
    c = {
        'architectures': ['LlamaForCausalLM'], 'attention_bias': False, 'attention_dropout': 0.0, 'bos_token_id': 1, 'eos_token_id': 2,
        'hidden_act': 'silu', 'hidden_size': D, 'initializer_range': 0.02, 'intermediate_size': I, 'max_position_embeddings': 128,
        'mlp_bias': False, 'model_type': 'llama', 'num_attention_heads': H, 'num_hidden_layers': L, 'num_key_value_heads': KV,
        'pretraining_tp': 1, 'rms_norm_eps': 1e-06, 'rope_scaling': None, 'rope_theta': 10000.0, 'tie_word_embeddings': True,
        'torch_dtype': 'bfloat16', 'transformers_version': '4.41.2', 'use_cache': True, 'vocab_size': V,
    }
    r = Rng(1)
    t = {'model.embed_tokens.weight': r.w(V, D, std=1.0), 'model.norm.weight': r.g(D)}
    for l in range(L):
        p = f'model.layers.{l}.'
        t[p + 'input_layernorm.weight'] = r.g(D)
        lin(t, r, p + 'self_attn.q_proj', H * hd, D, False, std=2.0 / math.sqrt(D))
        lin(t, r, p + 'self_attn.k_proj', KV * hd, D, False, std=2.0 / math.sqrt(D))
        lin(t, r, p + 'self_attn.v_proj', KV * hd, D, False)
        lin(t, r, p + 'self_attn.o_proj', D, H * hd, False)
        t[p + 'post_attention_layernorm.weight'] = r.g(D)
        lin(t, r, p + 'mlp.gate_proj', I, D, False)
        lin(t, r, p + 'mlp.up_proj', I, D, False)
        lin(t, r, p + 'mlp.down_proj', D, I, False)
    stored = write_safetensors(os.path.join(d, 'model.safetensors'), t, lambda n: 'BF16')
    write_json(os.path.join(d, 'config.json'), c)
    write_json(os.path.join(d, 'generation_config.json'), {'bos_token_id': 1, 'eos_token_id': 2, 'transformers_version': '4.41.2'})
    from llama_ref import Bpe
    tok = Bpe(os.path.join(d, 'tokenizer.json'))
    W = torch_weights(o, stored)
    cases = []
    for text in LLAMA_TEXTS:
        ids = [c['bos_token_id']] + tok.encode(text)  # add_bos_token: true
        rec = llama_forward(o, W, c, ids)
        rows, lg = logits_rows(o, rec['logits'], V)
        cases.append({
            'text': text, 'ids': ids, 'embedding': enc(o.np(rec['embedding'])),
            'layers': [layer_json(o, x, ('residual', 'input', 'hidden')) for x in rec['layers']],
            'final': enc(o.np(rec['final'])), 'logit_rows': rows, 'logits': lg,
        })
    return {'family': 'llama', 'dtype': 'BF16', 'kv_head_of': [h // (H // KV) for h in range(H)], 'cases': cases}


def bert_folder(fam):
    """BERT (F16) and DistilBERT (BF16) with the built-in English encoder's WordPiece tokenizer."""
    d = family_dir(fam)
    src = os.path.join(MODELS, 'english-encoder')
    shutil.copy(os.path.join(src, 'special_tokens_map.json'), d)
    with open(os.path.join(src, 'tokenizer_config.json'), encoding='utf-8') as f:
        tc = json.load(f)
    # The built-in encoder's WordPiece tokenizer, its vocabulary cut to the first BERT_VOCAB entries
    # (the special tokens, every single character and ##character, then the most frequent words), so
    # the embedding matrix stays small; tokenisation rules are unchanged, words just split more.
    with open(os.path.join(src, 'tokenizer.json'), encoding='utf-8') as f:
        tj = json.load(f)
    tj['model']['vocab'] = {p: i for p, i in tj['model']['vocab'].items() if i < BERT_VOCAB}
    V = len(tj['model']['vocab'])
    with open(os.path.join(d, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tj, f, ensure_ascii=False, separators=(',', ':'))
    with open(os.path.join(src, 'vocab.txt'), encoding='utf-8') as f:
        lines = f.read().split('\n')[:BERT_VOCAB]
    with open(os.path.join(d, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    D, H, I, L, P = 32, 4, 64, 2, 64
    r = Rng(2 if fam == 'bert' else 3)
    t = {}
    if fam == 'bert':
        tc['tokenizer_class'] = 'BertTokenizer'
        c = {
            'architectures': ['BertForMaskedLM'], 'attention_probs_dropout_prob': 0.1, 'classifier_dropout': None, 'hidden_act': 'gelu',
            'hidden_dropout_prob': 0.1, 'hidden_size': D, 'initializer_range': 0.02, 'intermediate_size': I, 'layer_norm_eps': 1e-12,
            'max_position_embeddings': P, 'model_type': 'bert', 'num_attention_heads': H, 'num_hidden_layers': L, 'pad_token_id': 0,
            'position_embedding_type': 'absolute', 'torch_dtype': 'float16', 'transformers_version': '4.41.2', 'type_vocab_size': 2,
            'use_cache': True, 'vocab_size': V,
        }
        e = 'bert.embeddings.'
        t[e + 'word_embeddings.weight'] = r.w(V, D, std=1.0)
        t[e + 'position_embeddings.weight'] = r.w(P, D, std=0.5)
        t[e + 'token_type_embeddings.weight'] = r.w(2, D, std=0.5)
        ln_params(t, r, e + 'LayerNorm', D)
        for l in range(L):
            p = f'bert.encoder.layer.{l}.'
            lin(t, r, p + 'attention.self.query', D, D, std=2.0 / math.sqrt(D))
            lin(t, r, p + 'attention.self.key', D, D, std=2.0 / math.sqrt(D))
            lin(t, r, p + 'attention.self.value', D, D)
            lin(t, r, p + 'attention.output.dense', D, D)
            ln_params(t, r, p + 'attention.output.LayerNorm', D)
            lin(t, r, p + 'intermediate.dense', I, D)
            lin(t, r, p + 'output.dense', D, I)
            ln_params(t, r, p + 'output.LayerNorm', D)
        lin(t, r, 'cls.predictions.transform.dense', D, D)
        ln_params(t, r, 'cls.predictions.transform.LayerNorm', D)
        t['cls.predictions.bias'] = r.b(V)
        dtype = 'F16'
    else:
        tc['tokenizer_class'] = 'DistilBertTokenizer'
        c = {
            'activation': 'gelu', 'architectures': ['DistilBertForMaskedLM'], 'attention_dropout': 0.1, 'dim': D, 'dropout': 0.1,
            'hidden_dim': I, 'initializer_range': 0.02, 'max_position_embeddings': P, 'model_type': 'distilbert', 'n_heads': H,
            'n_layers': L, 'pad_token_id': 0, 'qa_dropout': 0.1, 'seq_classif_dropout': 0.2, 'sinusoidal_pos_embds': False,
            'tie_weights_': True, 'torch_dtype': 'bfloat16', 'transformers_version': '4.41.2', 'vocab_size': V,
        }
        e = 'distilbert.embeddings.'
        t[e + 'word_embeddings.weight'] = r.w(V, D, std=1.0)
        t[e + 'position_embeddings.weight'] = r.w(P, D, std=0.5)
        ln_params(t, r, e + 'LayerNorm', D)
        for l in range(L):
            p = f'distilbert.transformer.layer.{l}.'
            lin(t, r, p + 'attention.q_lin', D, D, std=2.0 / math.sqrt(D))
            lin(t, r, p + 'attention.k_lin', D, D, std=2.0 / math.sqrt(D))
            lin(t, r, p + 'attention.v_lin', D, D)
            lin(t, r, p + 'attention.out_lin', D, D)
            ln_params(t, r, p + 'sa_layer_norm', D)
            lin(t, r, p + 'ffn.lin1', I, D)
            lin(t, r, p + 'ffn.lin2', D, I)
            ln_params(t, r, p + 'output_layer_norm', D)
        lin(t, r, 'vocab_transform', D, D)
        ln_params(t, r, 'vocab_layer_norm', D)
        t['vocab_projector.bias'] = r.b(V)
        dtype = 'BF16'
    write_json(os.path.join(d, 'tokenizer_config.json'), tc)
    write_json(os.path.join(d, 'config.json'), c)
    stored = write_safetensors(os.path.join(d, 'model.safetensors'), t, lambda n: dtype)
    return d, c, stored, V, dtype


def make_bert(o, fam):
    d, c, stored, V, dtype = bert_folder(fam)
    from transformer_ref import WordPieceTok
    tok = WordPieceTok(os.path.join(d, 'tokenizer.json'))
    W = torch_weights(o, stored)
    cases = []
    for text in BERT_TEXTS:
        ids = tok.encode(text)  # [CLS] … [SEP]
        rec = bert_like_forward(o, W, c, ids, fam)
        rows, lg = logits_rows(o, rec['logits'], V)
        cases.append({
            'text': text, 'ids': ids, 'positions': rec['positions'], 'embedding': enc(o.np(rec['embedding'])),
            'layers': [layer_json(o, x, ('attn_hidden', 'hidden')) for x in rec['layers']],
            'mlm_hidden': enc(o.np(rec['mlm_hidden'])), 'logit_rows': rows, 'logits': lg,
        })
    return {'family': fam, 'dtype': dtype, 'cases': cases}


def byte_bpe_folder(fam):
    d = family_dir(fam)
    merges = bpe_train(GPT2_CORPUS, 48)
    vocab = {}
    if fam == 'roberta':
        for s in ('<s>', '<pad>', '</s>', '<unk>'):
            vocab[s] = len(vocab)
    for _, ch in bytes_to_unicode():
        vocab[ch] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    special = '<mask>' if fam == 'roberta' else '<|endoftext|>'
    vocab[special] = len(vocab)
    if fam == 'roberta':
        added = [(s, vocab[s]) for s in ('<s>', '<pad>', '</s>', '<unk>', '<mask>')]
    else:
        added = [('<|endoftext|>', vocab['<|endoftext|>'])]
    write_json(os.path.join(d, 'tokenizer.json'), byte_bpe_tokenizer_json(vocab, merges, added, fam == 'roberta'))
    write_json(os.path.join(d, 'vocab.json'), vocab)
    with open(os.path.join(d, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    if fam == 'roberta':
        write_json(os.path.join(d, 'tokenizer_config.json'), {
            'add_prefix_space': False, 'bos_token': '<s>', 'cls_token': '<s>', 'eos_token': '</s>', 'errors': 'replace',
            'mask_token': '<mask>', 'model_max_length': 64, 'pad_token': '<pad>', 'sep_token': '</s>', 'tokenizer_class': 'RobertaTokenizer',
            'trim_offsets': True, 'unk_token': '<unk>',
        })
    else:
        write_json(os.path.join(d, 'tokenizer_config.json'), {'model_max_length': 64})
    return d, vocab, merges


def make_roberta(o):
    d, vocab, merges = byte_bpe_folder('roberta')
    V = len(vocab)
    D, H, I, L, n = 32, 4, 64, 2, 64
    P = n + 2  # RoBERTa: positions start at padding_idx + 1 = 2
    c = {
        'architectures': ['RobertaForMaskedLM'], 'attention_probs_dropout_prob': 0.1, 'bos_token_id': 0, 'classifier_dropout': None,
        'eos_token_id': 2, 'hidden_act': 'gelu', 'hidden_dropout_prob': 0.1, 'hidden_size': D, 'initializer_range': 0.02,
        'intermediate_size': I, 'layer_norm_eps': 1e-05, 'max_position_embeddings': P, 'model_type': 'roberta', 'num_attention_heads': H,
        'num_hidden_layers': L, 'pad_token_id': 1, 'position_embedding_type': 'absolute', 'torch_dtype': 'float32',
        'transformers_version': '4.41.2', 'type_vocab_size': 1, 'use_cache': True, 'vocab_size': V,
    }
    r = Rng(4)
    t = {}
    e = 'roberta.embeddings.'
    t[e + 'word_embeddings.weight'] = r.w(V, D, std=1.0)
    t[e + 'position_embeddings.weight'] = r.w(P, D, std=0.5)
    t[e + 'token_type_embeddings.weight'] = r.w(1, D, std=0.5)
    ln_params(t, r, e + 'LayerNorm', D)
    for l in range(L):
        p = f'roberta.encoder.layer.{l}.'
        lin(t, r, p + 'attention.self.query', D, D, std=2.0 / math.sqrt(D))
        lin(t, r, p + 'attention.self.key', D, D, std=2.0 / math.sqrt(D))
        lin(t, r, p + 'attention.self.value', D, D)
        lin(t, r, p + 'attention.output.dense', D, D)
        ln_params(t, r, p + 'attention.output.LayerNorm', D)
        lin(t, r, p + 'intermediate.dense', I, D)
        lin(t, r, p + 'output.dense', D, I)
        ln_params(t, r, p + 'output.LayerNorm', D)
    lin(t, r, 'lm_head.dense', D, D)
    ln_params(t, r, 'lm_head.layer_norm', D)
    t['lm_head.bias'] = r.b(V)
    write_json(os.path.join(d, 'config.json'), c)
    stored = write_safetensors(os.path.join(d, 'model.safetensors'), t, lambda n: 'F32')
    tok = ByteBpe(vocab, merges)
    W = torch_weights(o, stored)
    cases = []
    for text in GPT2_TEXTS:
        ids = [vocab['<s>']] + tok.encode(text) + [vocab['</s>']]  # RobertaProcessing
        rec = bert_like_forward(o, W, c, ids, 'roberta')
        rows, lg = logits_rows(o, rec['logits'], V)
        cases.append({
            'text': text, 'ids': ids, 'positions': rec['positions'], 'embedding': enc(o.np(rec['embedding'])),
            'layers': [layer_json(o, x, ('attn_hidden', 'hidden')) for x in rec['layers']],
            'mlm_hidden': enc(o.np(rec['mlm_hidden'])), 'logit_rows': rows, 'logits': lg,
        })
    return {'family': 'roberta', 'dtype': 'F32', 'cases': cases}


def make_gpt2(o):
    d, vocab, merges = byte_bpe_folder('gpt2')
    V = len(vocab)
    D, H, L, P = 32, 4, 2, 32
    I = 4 * D
    eot = vocab['<|endoftext|>']
    c = {
        'activation_function': 'gelu_new', 'architectures': ['GPT2LMHeadModel'], 'attn_pdrop': 0.1, 'bos_token_id': eot,
        'embd_pdrop': 0.1, 'eos_token_id': eot, 'initializer_range': 0.02, 'layer_norm_epsilon': 1e-05, 'model_type': 'gpt2',
        'n_ctx': P, 'n_embd': D, 'n_head': H, 'n_inner': None, 'n_layer': L, 'n_positions': P, 'reorder_and_upcast_attn': False,
        'resid_pdrop': 0.1, 'scale_attn_by_inverse_layer_idx': False, 'scale_attn_weights': True, 'summary_activation': None,
        'summary_first_dropout': 0.1, 'summary_proj_to_labels': True, 'summary_type': 'cls_index', 'summary_use_proj': True,
        'torch_dtype': 'float32', 'transformers_version': '4.41.2', 'use_cache': True, 'vocab_size': V,
    }
    r = Rng(5)
    # The layout of the Hub's gpt2 checkpoint: no "transformer." prefix, Conv1D weights [in, out],
    # and each block's causal-mask buffer attn.bias [1, 1, n_positions, n_positions] saved with the weights.
    t = {'wte.weight': r.w(V, D, std=1.0), 'wpe.weight': r.w(P, D, std=0.5)}
    for l in range(L):
        p = f'h.{l}.'
        ln_params(t, r, p + 'ln_1', D)
        qk = r.w(D, 2 * D, std=2.0 / math.sqrt(D))
        vv = r.w(D, D, std=1.0 / math.sqrt(D))
        t[p + 'attn.c_attn.weight'] = np.concatenate([qk, vv], axis=1)  # [in, 3·out]: q | k | v
        t[p + 'attn.c_attn.bias'] = r.b(3 * D)
        t[p + 'attn.c_proj.weight'] = r.w(D, D, std=1.0 / math.sqrt(D))
        t[p + 'attn.c_proj.bias'] = r.b(D)
        t[p + 'attn.bias'] = np.tril(np.ones((P, P), dtype=np.float32)).reshape(1, 1, P, P)
        ln_params(t, r, p + 'ln_2', D)
        t[p + 'mlp.c_fc.weight'] = r.w(D, I, std=1.0 / math.sqrt(D))
        t[p + 'mlp.c_fc.bias'] = r.b(I)
        t[p + 'mlp.c_proj.weight'] = r.w(I, D, std=1.0 / math.sqrt(I))
        t[p + 'mlp.c_proj.bias'] = r.b(D)
    ln_params(t, r, 'ln_f', D)
    write_json(os.path.join(d, 'config.json'), c)
    write_json(os.path.join(d, 'generation_config.json'), {'bos_token_id': eot, 'eos_token_id': eot, 'transformers_version': '4.41.2'})
    stored = write_safetensors(os.path.join(d, 'model.safetensors'), t, lambda n: 'F32')
    tok = ByteBpe(vocab, merges)
    W = torch_weights(o, {k: v for k, v in stored.items() if not k.endswith('.attn.bias')})
    cases = []
    for text in GPT2_TEXTS:
        ids = tok.encode(text)  # GPT-2 adds no special tokens
        rec = gpt2_forward(o, W, c, ids)
        rows, lg = logits_rows(o, rec['logits'], V)
        cases.append({
            'text': text, 'ids': ids, 'embedding': enc(o.np(rec['embedding'])),
            'layers': [layer_json(o, x, ('residual', 'input', 'attn_residual', 'hidden')) for x in rec['layers']],
            'final': enc(o.np(rec['final'])), 'logit_rows': rows, 'logits': lg,
        })
    return {'family': 'gpt2', 'dtype': 'F32', 'cases': cases}


def qwen2_tokenizer_json(vocab, merges, added):
    """Qwen2's tokenizer.json: NFC, the Split regex then byte-level without its own regex, no post-processing tokens."""
    byte_level = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': False, 'use_regex': False}
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [
            {'id': i, 'content': s, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}
            for s, i in added
        ],
        'normalizer': {'type': 'NFC'},
        'pre_tokenizer': {'type': 'Sequence', 'pretokenizers': [
            {'type': 'Split', 'pattern': {'Regex': QWEN2_SPLIT}, 'behavior': 'Isolated', 'invert': False}, byte_level]},
        'post_processor': byte_level,
        'decoder': byte_level,
        'model': {
            'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '', 'end_of_word_suffix': '',
            'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
            'vocab': vocab, 'merges': [f'{a} {b}' for a, b in merges],
        },
    }


def make_qwen2(o):
    """Qwen2.5-style (0.5B layout): tied embeddings, BF16, q/k/v biases, GQA, vocab_size padded past the tokenizer's."""
    d = family_dir('qwen2')
    merges = bpe_train(QWEN2_CORPUS, 64, qwen2_pretokenize)
    vocab = {ch: i for i, (_, ch) in enumerate(bytes_to_unicode())}  # the 256 bytes first, in GPT-2's order, as Qwen2's
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    n_regular = len(vocab)
    added = [(s, n_regular + i) for i, s in enumerate(QWEN2_SPECIALS)]  # special tokens live outside model.vocab
    eot = added[0][1]
    # Qwen2.5's embedding has more rows than the tokenizer has tokens (151936 vs 151665); so does this one.
    V = -(-(n_regular + len(added)) // 64) * 64
    D, H, KV, I, L = 32, 4, 2, 64, 2
    hd = D // H
    c = {
        'architectures': ['Qwen2ForCausalLM'], 'attention_dropout': 0.0, 'bos_token_id': eot, 'eos_token_id': eot, 'hidden_act': 'silu',
        'hidden_size': D, 'initializer_range': 0.02, 'intermediate_size': I, 'max_position_embeddings': 128,
        # A window shorter than the texts, on layer 1, that must stay off: use_sliding_window is false.
        'max_window_layers': 1, 'model_type': 'qwen2', 'num_attention_heads': H, 'num_hidden_layers': L, 'num_key_value_heads': KV,
        'rms_norm_eps': 1e-06, 'rope_scaling': None, 'rope_theta': 1000000.0, 'sliding_window': 4, 'tie_word_embeddings': True,
        'torch_dtype': 'bfloat16', 'transformers_version': '4.43.1', 'use_cache': True, 'use_mrope': False, 'use_sliding_window': False,
        'vocab_size': V,
    }
    r = Rng(6)
    t = {'model.embed_tokens.weight': r.w(V, D, std=1.0), 'model.norm.weight': r.g(D)}
    for l in range(L):
        p = f'model.layers.{l}.'
        t[p + 'input_layernorm.weight'] = r.g(D)
        lin(t, r, p + 'self_attn.q_proj', H * hd, D, False, std=2.0 / math.sqrt(D))
        t[p + 'self_attn.q_proj.bias'] = r.b(H * hd, std=0.5)
        lin(t, r, p + 'self_attn.k_proj', KV * hd, D, False, std=2.0 / math.sqrt(D))
        t[p + 'self_attn.k_proj.bias'] = r.b(KV * hd, std=0.5)
        lin(t, r, p + 'self_attn.v_proj', KV * hd, D, True)
        lin(t, r, p + 'self_attn.o_proj', D, H * hd, False)
        t[p + 'post_attention_layernorm.weight'] = r.g(D)
        lin(t, r, p + 'mlp.gate_proj', I, D, False)
        lin(t, r, p + 'mlp.up_proj', I, D, False)
        lin(t, r, p + 'mlp.down_proj', D, I, False)
    stored = write_safetensors(os.path.join(d, 'model.safetensors'), t, lambda n: 'BF16')  # no lm_head.weight: tied
    write_json(os.path.join(d, 'config.json'), c)
    write_json(os.path.join(d, 'generation_config.json'), {
        'bos_token_id': eot, 'do_sample': False, 'eos_token_id': eot, 'max_new_tokens': 2048, 'transformers_version': '4.43.1'})
    write_json(os.path.join(d, 'tokenizer.json'), qwen2_tokenizer_json(vocab, merges, added))
    write_json(os.path.join(d, 'vocab.json'), vocab)
    with open(os.path.join(d, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    entry = lambda s: {'content': s, 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': True}  # noqa: E731
    write_json(os.path.join(d, 'tokenizer_config.json'), {  # Qwen2.5-0.5B's keys: no BOS token, none added
        'add_bos_token': False, 'add_prefix_space': False, 'added_tokens_decoder': {str(i): entry(s) for s, i in added},
        'additional_special_tokens': list(QWEN2_SPECIALS[1:]), 'bos_token': None,
        'chat_template': ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                          "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
                          "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
                          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
        'clean_up_tokenization_spaces': False, 'eos_token': QWEN2_SPECIALS[0], 'errors': 'replace', 'model_max_length': 128,
        'pad_token': QWEN2_SPECIALS[0], 'split_special_tokens': False, 'tokenizer_class': 'Qwen2Tokenizer', 'unk_token': None,
    })
    tok = ByteBpe(vocab, merges, pretokenize=qwen2_pretokenize, normalize='NFC')
    W = torch_weights(o, stored)
    cases = []
    for text in QWEN2_TEXTS:
        ids = tok.encode(text)  # add_bos_token: false, and the ByteLevel post-processor adds nothing
        rec = qwen2_forward(o, W, c, ids)
        check_qwen2(o, W, c, tok, text, ids, rec, n_regular)
        rows, lg = logits_rows(o, rec['logits'], V)
        cases.append({
            'text': text, 'ids': ids, 'embedding': enc(o.np(rec['embedding'])),
            'layers': [layer_json(o, x, ('residual', 'input', 'hidden')) for x in rec['layers']],
            'final': enc(o.np(rec['final'])), 'logit_rows': rows, 'logits': lg,
        })
    return {'family': 'qwen2', 'dtype': 'BF16', 'kv_head_of': [h // (H // KV) for h in range(H)], 'cases': cases}


def check_qwen2(o, W, c, tok, text, ids, rec, n_regular):
    """The reference against the transformers conventions, by other routes than qwen2_forward takes (numpy, float64)."""
    D, H, KV, eps = c['hidden_size'], c['num_attention_heads'], c['num_key_value_heads'], c['rms_norm_eps']
    hd, n_rep, T = D // H, H // KV, len(ids)
    Wn = {k: o.np(v) for k, v in W.items()}
    E = Wn['model.embed_tokens.weight']
    near = lambda a, b, what, tol=1e-10: np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f'qwen2 {text!r}: {what}')  # noqa: E731
    # Tokens: the byte-level pieces spell the NFC text; no start token, nothing in the padded rows.
    inverse = {ch: b for b, ch in bytes_to_unicode()}
    pieces = {i: s for s, i in tok.vocab.items()}
    spelled = bytes(inverse[ch] for i in ids for ch in pieces[i])
    assert spelled == unicodedata.normalize('NFC', text).encode('utf-8'), (text, spelled)
    assert all(i < n_regular for i in ids) and c['vocab_size'] > n_regular + len(QWEN2_SPECIALS)
    if text == QWEN2_TEXTS[-1]:  # a GPT-2-style pre-tokenizer would not give these ids
        assert ByteBpe(tok.vocab, list(tok.rank)).encode(text) != ids, 'the Qwen2 split changes this text\'s tokens'
    near(o.np(rec['embedding']), E[ids], 'embedding = rows of embed_tokens')
    # repeat_kv(x, n_rep) = repeat_interleave over heads: query head h reads kv head h // n_rep.
    assert rec['kv_of'] == list(np.repeat(np.arange(KV), n_rep))
    inv = 1.0 / (c['rope_theta'] ** (np.arange(0, hd, 2) / hd))
    turn = np.exp(1j * np.outer(np.arange(T), inv))  # [T, hd/2]: RoPE as a complex rotation of (x_i, x_{i+hd/2})
    rms = lambda x, g: x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g  # noqa: E731
    silu = lambda x: x / (1 + np.exp(-x))  # noqa: E731
    causal = np.tril(np.ones((T, T)))
    x = E[ids]
    for l, L in enumerate(rec['layers']):
        p, a = f'model.layers.{l}.', f'model.layers.{l}.self_attn.'
        Q, K, V, S, A, C, O = (o.np(L[k]) for k in ('Q', 'K', 'V', 'scores', 'weights', 'context', 'output'))
        assert Q.shape == (H, T, hd) and K.shape == V.shape == (KV, T, hd), (Q.shape, K.shape, V.shape)
        near(o.np(L['residual']), x, f'L{l} residual = previous hidden')
        h = rms(x, Wn[p + 'input_layernorm.weight'])
        near(o.np(L['input']), h, f'L{l} input_layernorm')
        for name, got, n in (('q', Q, H), ('k', K, KV)):
            pre = (h @ Wn[a + f'{name}_proj.weight'].T + Wn[a + f'{name}_proj.bias']).reshape(T, n, hd).transpose(1, 0, 2)
            z = (pre[..., : hd // 2] + 1j * pre[..., hd // 2:]) * turn
            near(got, np.concatenate([z.real, z.imag], -1), f'L{l} {name}: RoPE as a complex rotation, bias added before it')
            near(np.linalg.norm(got, axis=-1), np.linalg.norm(pre, axis=-1), f'L{l} {name}: RoPE keeps lengths')
        near(V, (h @ Wn[a + 'v_proj.weight'].T + Wn[a + 'v_proj.bias']).reshape(T, KV, hd).transpose(1, 0, 2), f'L{l} v_proj + bias')
        Kr, Vr = np.repeat(K, n_rep, axis=0), np.repeat(V, n_rep, axis=0)  # [KV, T, hd] → [H, T, hd]
        near(S, np.einsum('htd,hsd->hts', Q, Kr) * hd ** -0.5, f'L{l} scores = Q·Kᵀ·head_dim^-0.5, before the mask')
        assert c['use_sliding_window'] is False and np.array_equal(L['mask'], causal), f'L{l}: full causal mask'
        e = np.exp(S - S.max(-1, keepdims=True)) * causal
        near(A, e / e.sum(-1, keepdims=True), f'L{l} weights = softmax over the allowed keys')
        assert np.abs(A.sum(-1) - 1).max() < 1e-12 and not A[:, causal == 0].any(), f'L{l}: rows sum to 1, masked keys get 0'
        near(C, A @ Vr, f'L{l} context = weights · V of its kv head')
        near(O, C.transpose(1, 0, 2).reshape(T, H * hd) @ Wn[a + 'o_proj.weight'].T, f'L{l} o_proj (no bias)')
        x = x + O
        h2 = rms(x, Wn[p + 'post_attention_layernorm.weight'])
        x = x + (silu(h2 @ Wn[p + 'mlp.gate_proj.weight'].T) * (h2 @ Wn[p + 'mlp.up_proj.weight'].T)) @ Wn[p + 'mlp.down_proj.weight'].T
        near(o.np(L['hidden']), x, f'L{l} hidden = residual + attention + SwiGLU MLP')
    final = rms(x, Wn['model.norm.weight'])
    near(o.np(rec['final']), final, 'final norm')
    near(o.np(rec['logits']), final @ E.T, 'logits = final · embed_tokensᵀ (tied lm_head)')
    # Causal: a prefix gives the same numbers at its positions.
    n = T - 3
    pre = qwen2_forward(o, W, c, ids[:n])
    for l, (Lp, L) in enumerate(zip(pre['layers'], rec['layers'])):
        for k in ('Q', 'K', 'V', 'context'):
            near(o.np(Lp[k]), o.np(L[k])[:, :n], f'L{l} {k}: causal')
        near(o.np(Lp['weights']), o.np(L['weights'])[:, :n, :n], f'L{l} weights: causal')
        near(o.np(Lp['hidden']), o.np(L['hidden'])[:n], f'L{l} hidden: causal')
    # The sliding window in config.json is a live trap: switched on, it would change layer max_window_layers on.
    slid = qwen2_forward(o, W, dict(c, use_sliding_window=True), ids)
    assert [x['kind'] for x in slid['layers']] == ['full_attention', 'sliding_attention']
    assert T > c['sliding_window'] and np.abs(o.np(slid['layers'][1]['weights']) - o.np(rec['layers'][1]['weights'])).max() > 1e-3


def char_encode(d, text):
    """The date tokenizer: one token per character (WordLevel over a Split('.') pre-tokenizer), unknown → <unk>, then </s>."""
    with open(os.path.join(d, 'tokenizer.json'), encoding='utf-8') as f:
        tj = json.load(f)
    vocab = tj['model']['vocab']
    unk = vocab[tj['model']['unk_token']]
    return [vocab.get(ch, unk) for ch in text]


def make_marian(o):
    d = family_dir('marian')
    src = os.path.join(MODELS, 'dates-transformer')
    for f in ('tokenizer.json', 'tokenizer_config.json', 'vocab.json'):
        shutil.copy(os.path.join(src, f), d)
    with open(os.path.join(src, 'config.json'), encoding='utf-8') as f:
        base = json.load(f)
    V = base['vocab_size']
    D, H, F, L, P = 32, 4, 64, 2, 64
    c = {
        'activation_dropout': 0.0, 'activation_function': 'swish', 'architectures': ['MarianMTModel'], 'attention_dropout': 0.0,
        'bad_words_ids': [[base['pad_token_id']]], 'bos_token_id': 0, 'classifier_dropout': 0.0, 'd_model': D,
        'decoder_attention_heads': H, 'decoder_ffn_dim': F, 'decoder_layerdrop': 0.0, 'decoder_layers': L,
        'decoder_start_token_id': base['decoder_start_token_id'], 'decoder_vocab_size': V, 'dropout': 0.1,
        'encoder_attention_heads': H, 'encoder_ffn_dim': F, 'encoder_layerdrop': 0.0, 'encoder_layers': L,
        'eos_token_id': base['eos_token_id'], 'forced_eos_token_id': base['eos_token_id'], 'init_std': 0.02, 'is_encoder_decoder': True,
        'max_length': 8, 'max_position_embeddings': P, 'model_type': 'marian', 'normalize_embedding': False, 'num_beams': 1,
        'num_hidden_layers': L, 'pad_token_id': base['pad_token_id'], 'scale_embedding': True, 'share_encoder_decoder_embeddings': True,
        'static_position_embeddings': True, 'tie_word_embeddings': True, 'torch_dtype': 'float16', 'transformers_version': '4.41.2',
        'use_cache': True, 'vocab_size': V,
    }
    r = Rng(MARIAN_SEED)
    # MarianMTModel saves one shared embedding (encoder/decoder embed_tokens and lm_head are tied to it),
    # final_logits_bias [1, V], and not the sinusoidal embed_positions (_keys_to_ignore_on_save).
    t = {'model.shared.weight': r.w(V, D, std=1.0 / math.sqrt(D)), 'final_logits_bias': r.b(V).reshape(1, V)}

    def attn(p):
        lin(t, r, p + 'q_proj', D, D, std=2.0 / math.sqrt(D))
        lin(t, r, p + 'k_proj', D, D, std=2.0 / math.sqrt(D))
        lin(t, r, p + 'v_proj', D, D)
        lin(t, r, p + 'out_proj', D, D)

    for l in range(L):
        p = f'model.encoder.layers.{l}.'
        attn(p + 'self_attn.')
        ln_params(t, r, p + 'self_attn_layer_norm', D)
        lin(t, r, p + 'fc1', F, D)
        lin(t, r, p + 'fc2', D, F)
        ln_params(t, r, p + 'final_layer_norm', D)
    for l in range(L):
        p = f'model.decoder.layers.{l}.'
        attn(p + 'self_attn.')
        ln_params(t, r, p + 'self_attn_layer_norm', D)
        attn(p + 'encoder_attn.')
        ln_params(t, r, p + 'encoder_attn_layer_norm', D)
        lin(t, r, p + 'fc1', F, D)
        lin(t, r, p + 'fc2', D, F)
        ln_params(t, r, p + 'final_layer_norm', D)
    write_json(os.path.join(d, 'config.json'), c)
    stored = write_safetensors(os.path.join(d, 'model.safetensors'), t, lambda n: 'F16')
    W = torch_weights(o, stored)
    m = Marian(o, W, c)
    cases = []
    for text in MARIAN_TEXTS:
        src_ids = char_encode(d, text) + [c['eos_token_id']]
        e = m.encode(src_ids)
        margins = []
        out = m.greedy(e['memory'], margins)
        assert min(margins) > 1e-3, f'greedy decoding of {text!r} has a near tie ({min(margins)}); pick another seed or text'
        dec_in = [c['decoder_start_token_id']] + out[:-1]
        dr = m.decode(dec_in, e['memory'])
        cases.append({
            'text': text, 'ids': src_ids, 'output_ids': out, 'decoder_input_ids': dec_in, 'min_greedy_margin': float(min(margins)),
            'encoder': {'embedding': enc(o.np(e['embedding'])), 'layers': [layer_json(o, x, ('attn_hidden', 'hidden')) for x in e['layers']]},
            'decoder': {
                'embedding': enc(o.np(dr['embedding'])),
                'layers': [{'self': attn_json(o, x['self']), 'cross': attn_json(o, x['cross']),
                            'self_hidden': enc(o.np(x['self_hidden'])), 'cross_hidden': enc(o.np(x['cross_hidden'])),
                            'hidden': enc(o.np(x['hidden']))} for x in dr['layers']],
            },
            'logits': enc(o.np(dr['logits'])),
        })
    return {'family': 'marian', 'dtype': 'F16', 'cases': cases}


def generate(families=()):
    import torch
    torch.set_num_threads(2)
    o = TorchOps(torch.float64)
    makers = {
        'llama': lambda: make_llama(o), 'bert': lambda: make_bert(o, 'bert'), 'distilbert': lambda: make_bert(o, 'distilbert'),
        'roberta': lambda: make_roberta(o), 'gpt2': lambda: make_gpt2(o), 'marian': lambda: make_marian(o),
        'qwen2': lambda: make_qwen2(o),
    }
    unknown = [f for f in families if f not in makers]
    if unknown:
        raise SystemExit(f'unknown famil{"ies" if len(unknown) > 1 else "y"} {", ".join(unknown)}; known: {", ".join(makers)}')
    for fam, make in makers.items():
        if families and fam not in families:
            continue
        ref = make()
        ref['generator'] = 'scripts/reference/hf_families.py (torch float64, Hugging Face semantics)'
        with open(os.path.join(OUT, fam, 'reference.json'), 'w', encoding='utf-8') as f:
            json.dump(ref, f, ensure_ascii=False, separators=(',', ':'))
        size = sum(os.path.getsize(os.path.join(OUT, fam, f)) for f in os.listdir(os.path.join(OUT, fam)))
        print(f'{fam}: {size / 1024:.0f} kB, ' + ', '.join(f'{len(cs["ids"])} tokens' for cs in ref['cases']))


# =============================================================================================
# --time DIR TOKENS... [--numpy]


def detect_family(c):
    t = c.get('model_type')
    if t in ('llama', 'bert', 'distilbert', 'roberta', 'gpt2', 'marian', 'qwen2'):
        return t
    raise SystemExit(f'unsupported model_type {t!r}')


def time_model(d, token_counts, use_numpy, repeats=7):
    with open(os.path.join(d, 'config.json'), encoding='utf-8') as f:
        c = json.load(f)
    fam = detect_family(c)
    if use_numpy:
        o = NumpyOps()
        threads = None
    else:
        import torch
        torch.set_num_threads(2)
        o = TorchOps(torch.float32)
        threads = torch.get_num_threads()
    W = {k: o.arr(v) for k, v in read_safetensors(os.path.join(d, 'model.safetensors')).items() if not k.endswith('.attn.bias')}
    V = c['vocab_size']
    rng = np.random.default_rng(0)
    limit = c.get('n_positions') or c.get('max_position_embeddings')
    if fam == 'roberta':
        limit -= c['pad_token_id'] + 1
    results = []
    for n in token_counts:
        if limit is not None and n > limit:
            results.append({'tokens': n, 'ms': None, 'error': f'more than the model\'s {limit} positions'})
            continue
        ids = [int(x) for x in rng.integers(3, V, size=n)]

        def run():
            if fam == 'llama':
                return llama_forward(o, W, c, ids)
            if fam == 'qwen2':
                return qwen2_forward(o, W, c, ids)
            if fam == 'gpt2':
                return gpt2_forward(o, W, c, ids)
            if fam == 'marian':  # like encdec.ts run(): encoder, greedy decoding (no cache), the recorded decoder pass
                m = Marian(o, W, c)
                mem = m.encode(ids)['memory']
                out = m.greedy(mem)
                return m.decode([c['decoder_start_token_id']] + out[:-1], mem)
            return bert_like_forward(o, W, c, ids, fam)

        def once():
            if use_numpy:
                run()
            else:
                import torch
                with torch.no_grad():
                    run()

        once()  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            once()
            times.append((time.perf_counter() - t0) * 1000)
        results.append({'tokens': n, 'ms': round(statistics.median(times), 3)})
    out = {'family': fam, 'engine': o.name, 'dtype': 'float32', 'results': results}
    out['threads'] = threads if threads is not None else 'numpy (BLAS default)'
    return out


def main(argv):
    if argv and argv[0] == '--time':
        rest = [a for a in argv[1:] if a != '--numpy']
        if len(rest) < 2:
            raise SystemExit('usage: hf_families.py --time DIR TOKENS... [--numpy]')
        print(json.dumps(time_model(rest[0], [int(x) for x in rest[1:]], '--numpy' in argv)))
        return
    families, out = [], None
    it = iter(argv)
    for a in it:
        if a == '--out':
            out = next(it, None)
            if out is None:
                raise SystemExit(__doc__)
        elif a.startswith('-'):
            raise SystemExit(__doc__)
        else:
            families.append(a)
    if out is not None:
        global OUT
        OUT = os.path.abspath(out)
        os.makedirs(OUT, exist_ok=True)
    generate(families)


if __name__ == '__main__':
    main(sys.argv[1:])

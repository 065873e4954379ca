"""Torch float32 timing of a Llama- or Qwen2-layout checkpoint (the bench's real-shape folders), read
straight from BF16/F16/F32 safetensors into float32 tensors (no float64 copy: a 1B checkpoint stays
~5 GB). Written from transformers' modeling_llama.py / modeling_qwen2.py conventions: RMSNorm,
rotate_half RoPE (rope_scaling llama3 as _compute_llama3_parameters), grouped-query attention, SwiGLU,
tied head. Prints {"load_ms", "results": [{"tokens", "ms"}]} (one run per length after one warm-up: a 1B
forward pass at 512 tokens takes seconds).

    /usr/bin/python3 scripts/bench/big_ref.py DIR 128 512
"""
import json
import math
import os
import statistics
import struct
import sys
import time

import torch


def read(path):
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        blob = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        raw = torch.frombuffer(blob, dtype=torch.uint8, offset=b, count=e - b) if e > b else torch.empty(0, dtype=torch.uint8)
        if info['dtype'] == 'BF16':
            t = raw.view(torch.bfloat16).float()
        elif info['dtype'] == 'F16':
            t = raw.view(torch.float16).float()
        else:
            t = raw.view(torch.float32).clone()
        out[name] = t.reshape(info['shape'])
    return out


def inv_freq(c, hd):
    inv = 1.0 / (c.get('rope_theta', 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = c.get('rope_scaling') or {}
    if rs.get('rope_type', rs.get('type')) == 'llama3':
        factor, lo, hi, old = rs['factor'], rs['low_freq_factor'], rs['high_freq_factor'], rs['original_max_position_embeddings']
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > old / lo, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        mid = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / hi) & (wavelen <= old / lo)
        inv = torch.where(medium, mid, scaled)
    return inv


def forward(W, c, ids):
    D, H = c['hidden_size'], c['num_attention_heads']
    KV = c.get('num_key_value_heads', H)
    hd = c.get('head_dim') or D // H
    eps = c['rms_norm_eps']
    T = len(ids)
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq(c, hd))
    emb = torch.cat([freqs, freqs], -1)
    cos, sin = emb.cos().float(), emb.sin().float()

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def rope(x):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def lin(x, name):
        y = x @ W[name + '.weight'].T
        return y + W[name + '.bias'] if name + '.bias' in W else y

    E = W['model.embed_tokens.weight']
    x = E[torch.tensor(ids)]
    mask = torch.full((T, T), float('-inf')).triu(1)
    for l in range(c['num_hidden_layers']):
        p = f'model.layers.{l}.'
        h = rms(x, W[p + 'input_layernorm.weight'])
        q = rope(lin(h, p + 'self_attn.q_proj').view(T, H, hd).transpose(0, 1))
        k = rope(lin(h, p + 'self_attn.k_proj').view(T, KV, hd).transpose(0, 1)).repeat_interleave(H // KV, 0)
        v = lin(h, p + 'self_attn.v_proj').view(T, KV, hd).transpose(0, 1).repeat_interleave(H // KV, 0)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, -1)
        x = x + lin((a @ v).transpose(0, 1).reshape(T, H * hd), p + 'self_attn.o_proj')
        h = rms(x, W[p + 'post_attention_layernorm.weight'])
        x = x + lin(torch.nn.functional.silu(lin(h, p + 'mlp.gate_proj')) * lin(h, p + 'mlp.up_proj'), p + 'mlp.down_proj')
    head = E if c.get('tie_word_embeddings') else W['lm_head.weight']
    return rms(x, W['model.norm.weight']) @ head.T


def main(argv):
    d, lengths = argv[0], [int(x) for x in argv[1:]]
    torch.set_num_threads(2)
    with open(os.path.join(d, 'config.json'), encoding='utf-8') as f:
        c = json.load(f)
    t0 = time.perf_counter()
    W = read(os.path.join(d, 'model.safetensors'))
    load_ms = (time.perf_counter() - t0) * 1000
    g = torch.Generator().manual_seed(0)
    results = []
    for n in lengths:
        ids = torch.randint(3, 300, (n,), generator=g).tolist()
        with torch.no_grad():
            if not results:
                forward(W, c, ids)  # warm-up
            times = []
            for _ in range(1):
                t1 = time.perf_counter()
                forward(W, c, ids)
                times.append((time.perf_counter() - t1) * 1000)
        results.append({'tokens': n, 'ms': round(statistics.median(times), 1)})
    print(json.dumps({'load_ms': round(load_ms, 1), 'engine': 'torch', 'dtype': 'float32', 'threads': torch.get_num_threads(), 'results': results}))


if __name__ == '__main__':
    main(sys.argv[1:])

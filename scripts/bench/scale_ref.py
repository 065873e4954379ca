"""torch's side of `npm run bench -- --only=scale`: on the same checkpoint folder, in a fresh process,

    /usr/bin/python3 scripts/bench/scale_ref.py forward DIR TOKENS   # bare forward pass returning every attention
    /usr/bin/python3 scripts/bench/scale_ref.py bertviz DIR TOKENS   # + BertViz's data path

`forward` is what Hugging Face's model(..., output_attentions=True) returns: the forward pass in float32
on 2 threads, keeping each layer's [1, heads, T, T] attention weights (nothing else). `bertviz` then does
what bertviz.head_view does with them: format_attention (squeeze + torch.stack to [layers, heads, T, T]),
.tolist(), and json.dumps of its params dict (attention, tokens, ...), which head_view pastes into its
JavaScript. Written from transformers' BERT (post-norm, erf GELU), GPT-2 (pre-norm, Conv1D, gelu_new,
causal) and Llama (RMSNorm, rotate_half RoPE, grouped-query attention, SwiGLU) semantics; random ids.
Prints one JSON line: tokens, forward_ms (after a 16-token warm-up), attention_bytes, and for bertviz
tolist_ms, dumps_ms, json_bytes; peak_rss_kb is the process's getrusage high-water mark.
"""
import json
import math
import os
import resource
import struct
import sys
import time

import torch


def read(path):
    """safetensors → float32 tensors; F32 ones share the file's buffer (no copy)."""
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        blob = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == '__metadata__' or name.endswith('.attn.bias'):
            continue
        b, e = info['data_offsets']
        raw = torch.frombuffer(blob, dtype=torch.uint8, offset=b, count=e - b)
        if info['dtype'] == 'BF16':
            t = raw.view(torch.bfloat16).float()
        elif info['dtype'] == 'F16':
            t = raw.view(torch.float16).float()
        else:
            t = raw.view(torch.float32)
        out[name] = t.reshape(info['shape'])
    return out


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def split(x, H):
    T = x.shape[0]
    return x.view(T, H, -1).transpose(0, 1)


def bert(W, c, ids):
    D, H, eps = c['hidden_size'], c['num_attention_heads'], c['layer_norm_eps']
    T = len(ids)
    e = 'bert.embeddings.'
    x = W[e + 'word_embeddings.weight'][ids] + W[e + 'position_embeddings.weight'][:T] + W[e + 'token_type_embeddings.weight'][0]
    x = layer_norm(x, W[e + 'LayerNorm.weight'], W[e + 'LayerNorm.bias'], eps)
    lin = lambda z, n: z @ W[n + '.weight'].T + W[n + '.bias']  # noqa: E731
    atts = []
    for l in range(c['num_hidden_layers']):
        p = f'bert.encoder.layer.{l}.'
        q, k, v = (split(lin(x, p + 'attention.self.' + n), H) for n in ('query', 'key', 'value'))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D // H), -1)
        atts.append(a.unsqueeze(0))
        o = lin((a @ v).transpose(0, 1).reshape(T, D), p + 'attention.output.dense')
        h = layer_norm(o + x, W[p + 'attention.output.LayerNorm.weight'], W[p + 'attention.output.LayerNorm.bias'], eps)
        m = lin(torch.nn.functional.gelu(lin(h, p + 'intermediate.dense')), p + 'output.dense')
        x = layer_norm(m + h, W[p + 'output.LayerNorm.weight'], W[p + 'output.LayerNorm.bias'], eps)
    return x, atts


def gpt2(W, c, ids):
    D, H, eps = c['n_embd'], c['n_head'], c['layer_norm_epsilon']
    T = len(ids)
    x = W['wte.weight'][ids] + W['wpe.weight'][:T]
    mask = torch.full((T, T), float('-inf')).triu(1)
    conv = lambda z, n: z @ W[n + '.weight'] + W[n + '.bias']  # noqa: E731
    atts = []
    for l in range(c['n_layer']):
        p = f'h.{l}.'
        h = layer_norm(x, W[p + 'ln_1.weight'], W[p + 'ln_1.bias'], eps)
        q, k, v = (split(t, H) for t in conv(h, p + 'attn.c_attn').split(D, -1))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D // H) + mask, -1)
        atts.append(a.unsqueeze(0))
        x = x + conv((a @ v).transpose(0, 1).reshape(T, D), p + 'attn.c_proj')
        h = layer_norm(x, W[p + 'ln_2.weight'], W[p + 'ln_2.bias'], eps)
        x = x + conv(torch.nn.functional.gelu(conv(h, p + 'mlp.c_fc'), approximate='tanh'), p + 'mlp.c_proj')
    x = layer_norm(x, W['ln_f.weight'], W['ln_f.bias'], eps)
    return x @ W['wte.weight'].T, atts


def llama(W, c, ids):
    D, H = c['hidden_size'], c['num_attention_heads']
    KV = c.get('num_key_value_heads', H)
    hd = c.get('head_dim') or D // H
    eps = c['rms_norm_eps']
    T = len(ids)
    inv = 1.0 / (c.get('rope_theta', 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    emb = torch.cat([freqs, freqs], -1)
    cos, sin = emb.cos().float(), emb.sin().float()
    rms = lambda z, w: z * torch.rsqrt(z.pow(2).mean(-1, keepdim=True) + eps) * w  # noqa: E731

    def rope(z):
        z1, z2 = z[..., : hd // 2], z[..., hd // 2:]
        return z * cos + torch.cat([-z2, z1], -1) * sin

    lin = lambda z, n: z @ W[n + '.weight'].T  # noqa: E731
    E = W['model.embed_tokens.weight']
    x = E[ids]
    mask = torch.full((T, T), float('-inf')).triu(1)
    atts = []
    for l in range(c['num_hidden_layers']):
        p = f'model.layers.{l}.'
        h = rms(x, W[p + 'input_layernorm.weight'])
        q = rope(split(lin(h, p + 'self_attn.q_proj'), H))
        k = rope(split(lin(h, p + 'self_attn.k_proj'), KV)).repeat_interleave(H // KV, 0)
        v = split(lin(h, p + 'self_attn.v_proj'), KV).repeat_interleave(H // KV, 0)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, -1)
        atts.append(a.unsqueeze(0))
        x = x + lin((a @ v).transpose(0, 1).reshape(T, H * hd), p + 'self_attn.o_proj')
        h = rms(x, W[p + 'post_attention_layernorm.weight'])
        x = x + lin(torch.nn.functional.silu(lin(h, p + 'mlp.gate_proj')) * lin(h, p + 'mlp.up_proj'), p + 'mlp.down_proj')
    return rms(x, W['model.norm.weight']) @ E.T, atts


FORWARDS = {'bert': bert, 'gpt2': gpt2, 'llama': llama}


def main(argv):
    if len(argv) != 3 or argv[0] not in ('forward', 'bertviz'):
        raise SystemExit(__doc__)
    mode, d, n = argv[0], argv[1], int(argv[2])
    torch.set_num_threads(2)
    with open(os.path.join(d, 'config.json'), encoding='utf-8') as f:
        c = json.load(f)
    forward = FORWARDS[c['model_type']]
    W = read(os.path.join(d, 'model.safetensors'))
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 300, (n,), generator=g)
    with torch.no_grad():
        forward(W, c, ids[:16])  # warm-up
        t0 = time.perf_counter()
        _, atts = forward(W, c, ids)
        forward_ms = (time.perf_counter() - t0) * 1000
    out = {'tokens': n, 'forward_ms': round(forward_ms, 1), 'attention_bytes': sum(a.numel() * 4 for a in atts)}
    if mode == 'bertviz':
        tokens = [f'tok{i}' for i in range(n)]
        t1 = time.perf_counter()
        attention = torch.stack([a.squeeze(0) for a in atts])  # bertviz.util.format_attention
        del atts
        attn_data = [{'name': None, 'attn': attention.tolist(), 'left_text': tokens, 'right_text': tokens}]
        tolist_ms = (time.perf_counter() - t1) * 1000
        del attention
        params = {'attention': attn_data, 'default_filter': '0', 'root_div_id': 'bertviz-0', 'layer': None, 'heads': None,
                  'include_layers': list(range(c.get('num_hidden_layers', c.get('n_layer'))))}
        t2 = time.perf_counter()
        text = json.dumps(params)
        dumps_ms = (time.perf_counter() - t2) * 1000
        out.update(tolist_ms=round(tolist_ms, 1), dumps_ms=round(dumps_ms, 1), json_bytes=len(text))
    out['peak_rss_kb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1:])

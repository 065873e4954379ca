#!/usr/bin/env python3
"""Random-weight checkpoints and torch references for the decoder families of the Llama lineage.

    /usr/bin/python3 scripts/reference/hf_decoders.py                 # writes test/fixtures/hf/<family>/ for every family below
    /usr/bin/python3 scripts/reference/hf_decoders.py qwen3 mistral   # only these
    /usr/bin/python3 scripts/reference/hf_decoders.py --out DIR       # into DIR/<family>/

Families (each a folder in exactly the Hugging Face layout: config.json with the family's real keys,
model.safetensors with its tensor names, shapes and tied/untied head, the tokenizer files):
  llama3   Llama 3.x: rope_scaling {"rope_type": "llama3"}, a byte-level BPE tokenizer whose
           post-processor adds <|begin_of_text|> (Sequence[ByteLevel, TemplateProcessing]), untied head.
  qwen3    Qwen3: q_norm / k_norm (RMSNorm over head_dim, before RoPE), head_dim 16 ≠ hidden_size / heads,
           use_sliding_window with max_window_layers 1 (layer 1 slides), tied embeddings.
  mistral  Mistral: sliding_window 4 on every layer (texts longer than the window), the SentencePiece
           BPE tokenizer (BOS added), untied head.
  smollm2  SmolLM2: model_type "llama", tied, a byte-level tokenizer that adds no start token.
  smollm3  SmolLM3: no_rope_layers [1, 0] (layer 1 has no RoPE), tied embeddings, rope_theta 5e6.
  phi3     Phi-4-mini's layout: fused qkv_proj and gate_up_proj, partial_rotary_factor 0.75,
           rope_scaling longrope (two texts: one within original_max_position_embeddings, one past it,
           so both short_factor and long_factor are used), sliding_window, tied embeddings.
  gptneox  GPT-NeoX / Pythia: fused query_key_value with the per-head [q, k, v] interleaving, partial
           rotary (rotary_pct 0.25), LayerNorm with biases, use_parallel_residual, untied embed_out, F16.

Each forward pass is written here from the Hugging Face modelling code's conventions
(modeling_llama / modeling_rope_utils, modeling_qwen3, modeling_mistral + masking_utils,
modeling_smollm3, modeling_phi3, modeling_gpt_neox), in torch float64, with nothing taken from the
TypeScript side. Helpers (safetensors writer, rounding to BF16/F16, byte-level BPE, the JSON
encoding of arrays) are imported from hf_families.py. reference.json follows hf_families.py's
conventions: Q, K after norms and RoPE, per key/value head for K and V; scores before the mask;
mask 1/0; weights; context; output = concat_h(context) W_O.
"""
import json
import math
import os
import shutil
import sys
import unicodedata

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_families as hf  # noqa: E402

# =============================================================================================
# RoPE (modeling_rope_utils): inverse frequencies per rope type, and the attention scaling of cos/sin


def rope_parameters(c, dim, T):
    """inv_freq [dim/2] (float64) and the factor cos and sin are multiplied by, for an input of T tokens."""
    base = c.get('rope_theta', 10000.0)
    inv = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    rs = c.get('rope_scaling') or {}
    kind = rs.get('rope_type', rs.get('type', 'default'))
    if kind == 'default':
        return inv, 1.0
    if kind == 'linear':
        return inv / rs['factor'], 1.0
    if kind == 'llama3':
        factor, lo, hi, old = rs['factor'], rs['low_freq_factor'], rs['high_freq_factor'], rs['original_max_position_embeddings']
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > old / lo, inv / factor, inv)  # long wavelengths: interpolated
        smooth = (old / wavelen - lo) / (hi - lo)
        blended = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / hi) & (wavelen <= old / lo)
        return np.where(medium, blended, scaled), 1.0
    if kind in ('longrope', 'su'):
        if 'original_max_position_embeddings' in c:
            original = c['original_max_position_embeddings']
            factor = c['max_position_embeddings'] / original
        else:
            original = c['max_position_embeddings']
            factor = rs.get('factor', 1.0)
        att = rs.get('attention_factor')
        if att is None:
            att = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))
        # _longrope_frequency_update: the long factors once the input is longer than the original context.
        ext = np.asarray(rs['long_factor'] if T > original else rs['short_factor'], dtype=np.float64)
        return 1.0 / (ext * base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)), att
    raise ValueError(kind)


def rope_fn(o, c, dim, T):
    """apply_rotary_pos_emb on the first `dim` dimensions (rotate_half layout, emb = cat(freqs, freqs)); the rest pass through."""
    inv, att = rope_parameters(c, dim, T)
    emb = np.concatenate([np.outer(np.arange(T, dtype=np.float64), inv)] * 2, axis=-1)  # [T, dim]
    cos, sin = o.arr(np.cos(emb) * att), o.arr(np.sin(emb) * att)

    def rope(x):
        rot, rest = x[..., :dim], x[..., dim:]
        turned = rot * cos + o.cat([-rot[..., dim // 2:], rot[..., : dim // 2]], -1) * sin
        return o.cat([turned, rest], -1)
    return rope


def allowed(T, window=None):
    """masking_utils: causal (key ≤ query), and with a sliding window key > query − window."""
    qi, kj = np.arange(T)[:, None], np.arange(T)[None, :]
    m = kj <= qi
    return m & (kj > qi - window) if window else m


# =============================================================================================
# The Llama lineage (Llama 3, Qwen3, Mistral, SmolLM3, Phi-3): one pre-RMSNorm decoder loop with
# each family's projections, norms, masks and rotary choices as its modelling file has them.


def layer_plan(fam, c):
    """Per layer: (sliding window or None, uses RoPE)."""
    L = c['num_hidden_layers']
    if fam in ('mistral', 'phi3'):  # MistralModel: create_sliding_window_causal_mask whenever sliding_window is set
        return [(c.get('sliding_window'), True)] * L
    if fam == 'qwen3':  # Qwen3Config: sliding_window only when use_sliding_window; layers ≥ max_window_layers slide
        w = c['sliding_window'] if c.get('use_sliding_window') else None
        return [(w if w and l >= c['max_window_layers'] else None, True) for l in range(L)]
    if fam == 'smollm3':  # SmolLM3Config: use_rope = no_rope_layers[l]; NoPE layers slide only with use_sliding_window
        ropes = c.get('no_rope_layers') or [int((l + 1) % c.get('no_rope_layer_interval', 4) != 0) for l in range(L)]
        w = c.get('sliding_window') if c.get('use_sliding_window') else None
        return [(w if w and not ropes[l] else None, bool(ropes[l])) for l in range(L)]
    return [(None, True)] * L


def lineage_forward(o, W, c, ids, fam):
    D, H = c['hidden_size'], c['num_attention_heads']
    KV = c.get('num_key_value_heads', H)
    hd = c.get('head_dim') or D // H
    eps = c['rms_norm_eps']
    T = len(ids)
    rope = rope_fn(o, c, int(hd * c.get('partial_rotary_factor', 1.0)), T)
    kv_of = [h // (H // KV) for h in range(H)]  # repeat_kv
    E = W['model.embed_tokens.weight']
    x = E[o.ids(ids)]
    rec = {'embedding': x, 'layers': []}
    for l, (window, uses_rope) in enumerate(layer_plan(fam, c)):
        p = f'model.layers.{l}.'
        a = p + 'self_attn.'
        h = hf.rms_norm(o, x, W[p + 'input_layernorm.weight'], eps)
        if fam == 'phi3':  # Phi3Attention: one qkv_proj, sliced [q | k | v]
            qkv = hf.linear(o, h, W[a + 'qkv_proj.weight'])
            qp, kp = H * hd, H * hd + KV * hd
            q, k, v = qkv[:, :qp], qkv[:, qp:kp], qkv[:, kp:]
        else:
            q, k, v = (hf.linear(o, h, W[a + n + '_proj.weight']) for n in 'qkv')
        q, k, v = hf.heads(o, q, H), hf.heads(o, k, KV), hf.heads(o, v, KV)  # [T, n·hd] → [n, T, hd]
        if fam == 'qwen3':  # Qwen3Attention: q_norm / k_norm over head_dim, before RoPE
            q = hf.rms_norm(o, q, W[a + 'q_norm.weight'], eps)
            k = hf.rms_norm(o, k, W[a + 'k_norm.weight'], eps)
        if uses_rope:
            q, k = rope(q), rope(k)
        att = hf.attend(o, q, k, v, allowed(T, window), W[a + 'o_proj.weight'], None, kv_of=kv_of)
        residual = x
        x = x + att['output']
        h2 = hf.rms_norm(o, x, W[p + 'post_attention_layernorm.weight'], eps)
        m = p + 'mlp.'
        if fam == 'phi3':  # Phi3MLP: gate, up = gate_up_proj(h).chunk(2); up · act(gate)
            gu = hf.linear(o, h2, W[m + 'gate_up_proj.weight'])
            I = gu.shape[-1] // 2
            inner = gu[:, I:] * hf.act(o, c['hidden_act'], gu[:, :I])
        else:
            inner = hf.act(o, c['hidden_act'], hf.linear(o, h2, W[m + 'gate_proj.weight'])) * hf.linear(o, h2, W[m + 'up_proj.weight'])
        x = x + hf.linear(o, inner, W[m + 'down_proj.weight'])
        rec['layers'].append(dict(att, residual=residual, input=h, hidden=x))
    final = hf.rms_norm(o, x, W['model.norm.weight'], eps)
    head = E if c.get('tie_word_embeddings') else W['lm_head.weight']
    rec.update(final=final, logits=hf.linear(o, final, head), kv_of=kv_of)
    return rec


def neox_forward(o, W, c, ids):
    """GPTNeoXForCausalLM: fused qkv viewed [T, H, 3·hd] then chunked, partial rotary, LayerNorms, parallel residual."""
    D, H = c['hidden_size'], c['num_attention_heads']
    hd = D // H
    eps = c['layer_norm_eps']
    T = len(ids)
    rope = rope_fn(o, {'rope_theta': c.get('rotary_emb_base', 10000)}, int(hd * c['rotary_pct']), T)
    x = W['gpt_neox.embed_in.weight'][o.ids(ids)]
    rec = {'embedding': x, 'layers': []}
    for l in range(c['num_hidden_layers']):
        p = f'gpt_neox.layers.{l}.'
        ln = lambda name, v: hf.layer_norm(o, v, W[p + name + '.weight'], W[p + name + '.bias'], eps)  # noqa: E731
        h = ln('input_layernorm', x)
        qkv = hf.linear(o, h, W[p + 'attention.query_key_value.weight'], W[p + 'attention.query_key_value.bias'])
        qkv = o.perm(qkv.reshape(T, H, 3 * hd), (1, 0, 2))  # [T, 3D] → [H, T, 3·hd]
        q, k, v = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
        att = hf.attend(o, rope(q), rope(k), v, allowed(T), W[p + 'attention.dense.weight'], W[p + 'attention.dense.bias'])
        mlp = lambda u: hf.linear(o, hf.act(o, c['hidden_act'], hf.linear(o, u, W[p + 'mlp.dense_h_to_4h.weight'], W[p + 'mlp.dense_h_to_4h.bias'])),  # noqa: E731
                                  W[p + 'mlp.dense_4h_to_h.weight'], W[p + 'mlp.dense_4h_to_h.bias'])
        residual = x
        if c['use_parallel_residual']:  # x + attn(ln1(x)) + mlp(ln2(x))
            h2 = ln('post_attention_layernorm', x)
            x = x + att['output'] + mlp(h2)
            attn_residual = residual + att['output']
        else:
            attn_residual = x + att['output']
            h2 = ln('post_attention_layernorm', attn_residual)
            x = attn_residual + mlp(h2)
        rec['layers'].append(dict(att, residual=residual, input=h, mlp_input=h2, attn_residual=attn_residual, hidden=x))
    final = hf.layer_norm(o, x, W['gpt_neox.final_layer_norm.weight'], W['gpt_neox.final_layer_norm.bias'], eps)
    rec.update(final=final, logits=hf.linear(o, final, W['embed_out.weight']))
    return rec


# =============================================================================================
# Tokenizers


def llama3_pretokenize(text):
    """Llama 3's Split regex: Qwen2's (hf_families.QWEN2_SPLIT) except that digits go in runs of up to three."""
    out, i = [], 0
    while i < len(text):
        if unicodedata.category(text[i]).startswith('N'):  # \p{N}{1,3}
            m = i
            while m < len(text) and m - i < 3 and unicodedata.category(text[m]).startswith('N'):
                m += 1
        else:
            m = hf._qwen2_piece_end(text, i)
        out.append(text[i:m])
        i = m
    return out


LLAMA3_SPLIT = hf.QWEN2_SPLIT.replace(r'|\p{N}|', r'|\p{N}{1,3}|')
assert LLAMA3_SPLIT != hf.QWEN2_SPLIT


def llama3_tokenizer_json(vocab, merges, added, bos):
    """Llama 3's tokenizer.json layout: no normaliser, Split + ByteLevel, BOS from a TemplateProcessing inside a Sequence."""
    j = hf.qwen2_tokenizer_json(vocab, merges, added)
    j['normalizer'] = None
    j['pre_tokenizer']['pretokenizers'][0]['pattern'] = {'Regex': LLAMA3_SPLIT}
    byte_level = {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': False, 'use_regex': True}
    if bos is not None:
        name, i = bos
        j['post_processor'] = {'type': 'Sequence', 'processors': [byte_level, {
            'type': 'TemplateProcessing',
            'single': [{'SpecialToken': {'id': name, 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}],
            'pair': [{'SpecialToken': {'id': name, 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                     {'SpecialToken': {'id': name, 'type_id': 1}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
            'special_tokens': {name: {'id': name, 'ids': [i], 'tokens': [name]}}}]}
    else:
        j['post_processor'] = byte_level
    j['model']['ignore_merges'] = True
    return j


class IgnoreMergesBpe(hf.ByteBpe):
    """BPE with ignore_merges: a pre-token that is itself in the vocabulary is one token."""

    def _word(self, w):
        whole = ''.join(hf.byte_symbols(w))
        return [self.vocab[whole]] if whole in self.vocab else super()._word(w)


def byte_level_vocab(corpus, n_merges, pretokenize, specials):
    merges = hf.bpe_train(corpus, n_merges, pretokenize)
    vocab = {ch: i for i, (_, ch) in enumerate(hf.bytes_to_unicode())}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = [(s, len(vocab) + i) for i, s in enumerate(specials)]
    return vocab, merges, added


def write_bpe_files(d, vocab, merges, tokenizer_json, tokenizer_config):
    hf.write_json(os.path.join(d, 'tokenizer.json'), tokenizer_json)
    hf.write_json(os.path.join(d, 'vocab.json'), vocab)
    with open(os.path.join(d, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    hf.write_json(os.path.join(d, 'tokenizer_config.json'), tokenizer_config)


def special_entry(s):
    return {'content': s, 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': True}


# =============================================================================================
# Weights in each family's layout


def lineage_weights(r, fam, c):
    D, H, I, L = c['hidden_size'], c['num_attention_heads'], c['intermediate_size'], c['num_hidden_layers']
    KV = c.get('num_key_value_heads', H)
    hd = c.get('head_dim') or D // H
    V = c['vocab_size']
    t = {'model.embed_tokens.weight': r.w(V, D, std=1.0), 'model.norm.weight': r.g(D)}
    if not c.get('tie_word_embeddings'):
        t['lm_head.weight'] = r.w(V, D)
    sharp = 2.0 / math.sqrt(D)  # peaked attention, so matching it is a real check
    for l in range(L):
        p = f'model.layers.{l}.'
        t[p + 'input_layernorm.weight'] = r.g(D)
        t[p + 'post_attention_layernorm.weight'] = r.g(D)
        if fam == 'phi3':
            t[p + 'self_attn.qkv_proj.weight'] = np.concatenate([r.w(H * hd, D, std=sharp), r.w(KV * hd, D, std=sharp), r.w(KV * hd, D)])
            t[p + 'mlp.gate_up_proj.weight'] = r.w(2 * I, D)
        else:
            hf.lin(t, r, p + 'self_attn.q_proj', H * hd, D, False, std=sharp)
            hf.lin(t, r, p + 'self_attn.k_proj', KV * hd, D, False, std=sharp)
            hf.lin(t, r, p + 'self_attn.v_proj', KV * hd, D, False)
            hf.lin(t, r, p + 'mlp.gate_proj', I, D, False)
            hf.lin(t, r, p + 'mlp.up_proj', I, D, False)
        if fam == 'qwen3':
            t[p + 'self_attn.q_norm.weight'] = r.g(hd) * 2
            t[p + 'self_attn.k_norm.weight'] = r.g(hd) * 2
        hf.lin(t, r, p + 'self_attn.o_proj', D, H * hd, False)
        hf.lin(t, r, p + 'mlp.down_proj', D, I, False)
    return t


def neox_weights(r, c):
    D, L, V = c['hidden_size'], c['num_hidden_layers'], c['vocab_size']
    I = c['intermediate_size']
    t = {'gpt_neox.embed_in.weight': r.w(V, D, std=1.0), 'embed_out.weight': r.w(V, D)}
    hf.ln_params(t, r, 'gpt_neox.final_layer_norm', D)
    for l in range(L):
        p = f'gpt_neox.layers.{l}.'
        hf.ln_params(t, r, p + 'input_layernorm', D)
        hf.ln_params(t, r, p + 'post_attention_layernorm', D)
        hf.lin(t, r, p + 'attention.query_key_value', 3 * D, D, std=2.0 / math.sqrt(D))
        hf.lin(t, r, p + 'attention.dense', D, D)
        hf.lin(t, r, p + 'mlp.dense_h_to_4h', I, D)
        hf.lin(t, r, p + 'mlp.dense_4h_to_h', D, I)
        # Old GPT-NeoX checkpoints also store these buffers; the loader must ignore them.
        t[p + 'attention.rotary_emb.inv_freq'] = (1.0 / (10000 ** (np.arange(0, 2, 2) / 2))).astype(np.float32)
    return t


# =============================================================================================
# Fixtures


CORPUS = hf.QWEN2_CORPUS
TEXTS = ["The quick fox's café, 2026 😀", "IT'S (quick).\n\n你好 world!"]
MISTRAL_TEXTS = ['Once upon a time, Lily saw a café 😀.']


def base_config(arch, model_type, V, **extra):
    c = {'architectures': [arch], 'attention_dropout': 0.0, 'hidden_act': 'silu', 'hidden_size': 32, 'initializer_range': 0.02,
         'intermediate_size': 64, 'max_position_embeddings': 256, 'model_type': model_type, 'num_attention_heads': 4,
         'num_hidden_layers': 2, 'num_key_value_heads': 2, 'rms_norm_eps': 1e-06, 'rope_scaling': None, 'rope_theta': 10000.0,
         'tie_word_embeddings': False, 'torch_dtype': 'bfloat16', 'transformers_version': '4.53.0', 'use_cache': True, 'vocab_size': V}
    c.update(extra)
    return c


def padded(n, to=64):
    return -(-n // to) * to


def cases_for(o, W, c, ids_list, texts, forward, extra=('residual', 'input', 'hidden')):
    cases = []
    for text, ids in zip(texts, ids_list):
        rec = forward(o, W, c, ids)
        check_rows(o, rec)
        rows, lg = hf.logits_rows(o, rec['logits'], c['vocab_size'])
        cases.append({
            'text': text, 'ids': ids, 'embedding': hf.enc(o.np(rec['embedding'])),
            'layers': [hf.layer_json(o, x, extra) for x in rec['layers']],
            'final': hf.enc(o.np(rec['final'])), 'logit_rows': rows, 'logits': lg,
        })
    return cases


def check_rows(o, rec):
    """Every weight row sums to 1 and is exactly 0 where the mask removes a key."""
    for L in rec['layers']:
        w = o.np(L['weights'])
        assert np.allclose(w.sum(-1), 1, atol=1e-12)
        assert np.all(w[:, ~L['mask'].astype(bool)] == 0)


def lineage_fixture(o, fam, c, tok_encode, texts, seed, files):
    d = hf.family_dir(fam)
    files(d)
    r = hf.Rng(seed)
    t = lineage_weights(r, fam, c)
    stored = hf.write_safetensors(os.path.join(d, 'model.safetensors'), t, lambda n: 'BF16')
    hf.write_json(os.path.join(d, 'config.json'), c)
    W = hf.torch_weights(o, stored)
    ids_list = [tok_encode(x) for x in texts]
    cases = cases_for(o, W, c, ids_list, texts, lambda o_, W_, c_, ids: lineage_forward(o_, W_, c_, ids, fam))
    H, KV = c['num_attention_heads'], c['num_key_value_heads']
    return {'family': fam, 'dtype': 'BF16', 'kv_head_of': [h // (H // KV) for h in range(H)],
            'layer_plan': [[w, u] for w, u in layer_plan(fam, c)], 'cases': cases}


def llama3_like(fam, bos):
    specials = ('<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>')
    vocab, merges, added = byte_level_vocab(CORPUS, 64, llama3_pretokenize, specials)
    bos_tok = (added[0][0], added[0][1]) if bos else None
    tok = IgnoreMergesBpe(vocab, merges, pretokenize=llama3_pretokenize)

    def files(d):
        write_bpe_files(d, vocab, merges, llama3_tokenizer_json(vocab, merges, added, bos_tok), {
            'added_tokens_decoder': {str(i): special_entry(s) for s, i in added}, 'bos_token': specials[0] if bos else None,
            'clean_up_tokenization_spaces': True, 'eos_token': specials[1], 'model_max_length': 256,
            'tokenizer_class': 'PreTrainedTokenizerFast'})
    encode = (lambda text: [added[0][1]] + tok.encode(text)) if bos else tok.encode
    return vocab, added, files, encode


def make_llama3(o):
    vocab, added, files, encode = llama3_like('llama3', True)
    V = len(vocab) + len(added)  # Llama 3's embedding has exactly the tokenizer's rows
    c = base_config('LlamaForCausalLM', 'llama', V, attention_bias=False, mlp_bias=False, head_dim=8, pretraining_tp=1,
                    bos_token_id=added[0][1], eos_token_id=added[1][1], rope_theta=500000.0, max_position_embeddings=131072,
                    rms_norm_eps=1e-05,
                    # Llama-3.2-1B's rope_scaling: with head_dim 8 and θ = 5e5 the four frequencies fall in all three bands.
                    rope_scaling={'factor': 32.0, 'high_freq_factor': 4.0, 'low_freq_factor': 1.0, 'original_max_position_embeddings': 8192,
                                  'rope_type': 'llama3'})
    inv, _ = rope_parameters(c, 8, 1)
    plain, _ = rope_parameters({'rope_theta': 500000.0}, 8, 1)
    ratio = plain / inv
    assert ratio[0] == 1 and ratio[-1] == 32 and 1 < ratio[2] < 32, ratio  # kept, blended and slowed frequencies
    return lineage_fixture(o, 'llama3', c, encode, TEXTS, 21, files)


def make_smollm3(o):
    vocab, added, files, encode = llama3_like('smollm3', False)
    V = padded(len(vocab) + len(added))
    c = base_config('SmolLM3ForCausalLM', 'smollm3', V, attention_bias=False, mlp_bias=False, bos_token_id=None, eos_token_id=added[1][1],
                    pad_token_id=added[1][1], rope_theta=5000000.0, max_position_embeddings=65536, no_rope_layers=[1, 0],
                    no_rope_layer_interval=4, use_sliding_window=False, sliding_window=None, tie_word_embeddings=True,
                    layer_types=['full_attention', 'full_attention'])
    return lineage_fixture(o, 'smollm3', c, encode, TEXTS, 22, files)


def make_smollm2(o):
    """SmolLM2 is model_type "llama": tied embeddings, a byte-level tokenizer that adds no BOS, so no start token."""
    vocab, added, files, encode = llama3_like('smollm2', False)
    c = base_config('LlamaForCausalLM', 'llama', padded(len(vocab) + len(added)), attention_bias=False, mlp_bias=False, head_dim=8,
                    pretraining_tp=1, bos_token_id=added[0][1], eos_token_id=added[1][1], rope_theta=100000.0, max_position_embeddings=8192,
                    rms_norm_eps=1e-05, tie_word_embeddings=True)
    return lineage_fixture(o, 'smollm2', c, encode, TEXTS[:1], 27, files)


def qwen_tokenizer():
    vocab, merges, added = byte_level_vocab(CORPUS, 64, hf.qwen2_pretokenize, hf.QWEN2_SPECIALS)
    tok = hf.ByteBpe(vocab, merges, pretokenize=hf.qwen2_pretokenize, normalize='NFC')

    def files(d):
        write_bpe_files(d, vocab, merges, hf.qwen2_tokenizer_json(vocab, merges, added), {
            'add_bos_token': False, 'add_prefix_space': False, 'added_tokens_decoder': {str(i): special_entry(s) for s, i in added},
            'bos_token': None, 'clean_up_tokenization_spaces': False, 'eos_token': hf.QWEN2_SPECIALS[0], 'errors': 'replace',
            'model_max_length': 256, 'pad_token': hf.QWEN2_SPECIALS[0], 'split_special_tokens': False, 'tokenizer_class': 'Qwen2Tokenizer',
            'unk_token': None})
    return vocab, added, files, tok.encode


def make_qwen3(o):
    vocab, added, files, encode = qwen_tokenizer()
    eot = added[0][1]
    c = base_config('Qwen3ForCausalLM', 'qwen3', padded(len(vocab) + len(added)), attention_bias=False, bos_token_id=eot, eos_token_id=eot,
                    head_dim=16, max_window_layers=1, rope_theta=1000000.0, sliding_window=4, use_sliding_window=True,
                    tie_word_embeddings=True, max_position_embeddings=40960)
    return lineage_fixture(o, 'qwen3', c, encode, TEXTS, 23, files)


def make_mistral(o):
    src = os.path.join(hf.MODELS, 'tinystories-656k')
    with open(os.path.join(src, 'tokenizer.json'), encoding='utf-8') as f:
        V = len(json.load(f)['model']['vocab'])

    def files(d):
        for fn in ('tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'):
            shutil.copy(os.path.join(src, fn), d)
    from llama_ref import Bpe
    tok = Bpe(os.path.join(src, 'tokenizer.json'))
    c = base_config('MistralForCausalLM', 'mistral', V, bos_token_id=1, eos_token_id=2, head_dim=8, max_position_embeddings=32768,
                    sliding_window=4, rms_norm_eps=1e-05)
    ref = lineage_fixture(o, 'mistral', c, lambda text: [1] + tok.encode(text), MISTRAL_TEXTS, 24, files)  # add_bos_token: true
    assert len(ref['cases'][0]['ids']) > 2 * c['sliding_window']
    return ref


def make_phi3(o):
    vocab, merges, added = byte_level_vocab(CORPUS, 48, hf.gpt2_pretokenize, ('<|endoftext|>',))
    tok = hf.ByteBpe(vocab, merges)

    def files(d):
        write_bpe_files(d, vocab, merges, hf.byte_bpe_tokenizer_json(vocab, merges, added, False), {
            'add_bos_token': False, 'add_eos_token': False, 'added_tokens_decoder': {str(i): special_entry(s) for s, i in added},
            'bos_token': '<|endoftext|>', 'eos_token': '<|endoftext|>', 'model_max_length': 256, 'tokenizer_class': 'GPT2Tokenizer'})
    eot = added[0][1]
    hd, rotary = 8, 6  # partial_rotary_factor 0.75: 3 frequencies
    c = base_config('Phi3ForCausalLM', 'phi3', padded(len(vocab) + len(added)), attention_bias=False, bos_token_id=eot, eos_token_id=eot,
                    pad_token_id=eot, embd_pdrop=0.0, resid_pdrop=0.0, partial_rotary_factor=rotary / hd, rope_theta=10000.0,
                    max_position_embeddings=256, original_max_position_embeddings=8, sliding_window=6, tie_word_embeddings=True,
                    rms_norm_eps=1e-05, lm_head_bias=False,
                    rope_scaling={'type': 'longrope', 'short_factor': [1.0, 1.25, 2.5], 'long_factor': [1.5, 6.0, 24.0]})
    texts = ['Go!', "It's the quick café 🦊!"]
    ids = [tok.encode(x) for x in texts]
    assert len(ids[0]) <= 8 < len(ids[1]), 'one text within original_max_position_embeddings, one past it'
    return lineage_fixture(o, 'phi3', c, tok.encode, texts, 25, files)


def make_gptneox(o):
    vocab, merges, added = byte_level_vocab(CORPUS, 48, hf.gpt2_pretokenize, ('<|endoftext|>',))
    tok = hf.ByteBpe(vocab, merges)
    d = hf.family_dir('gptneox')
    write_bpe_files(d, vocab, merges, hf.byte_bpe_tokenizer_json(vocab, merges, added, False), {
        'add_bos_token': False, 'add_eos_token': False, 'bos_token': '<|endoftext|>', 'eos_token': '<|endoftext|>',
        'model_max_length': 256, 'tokenizer_class': 'GPTNeoXTokenizer', 'unk_token': '<|endoftext|>'})
    eot = added[0][1]
    c = {'architectures': ['GPTNeoXForCausalLM'], 'attention_bias': True, 'attention_dropout': 0.0, 'bos_token_id': eot, 'classifier_dropout': 0.1,
         'eos_token_id': eot, 'hidden_act': 'gelu', 'hidden_dropout': 0.0, 'hidden_size': 32, 'initializer_range': 0.02,
         'intermediate_size': 128, 'layer_norm_eps': 1e-05, 'max_position_embeddings': 256, 'model_type': 'gpt_neox',
         'num_attention_heads': 4, 'num_hidden_layers': 2, 'rope_scaling': None, 'rotary_emb_base': 10000, 'rotary_pct': 0.25,
         'tie_word_embeddings': False, 'torch_dtype': 'float16', 'transformers_version': '4.53.0', 'use_cache': True,
         'use_parallel_residual': True, 'vocab_size': padded(len(vocab) + len(added))}
    r = hf.Rng(26)
    stored = hf.write_safetensors(os.path.join(d, 'model.safetensors'), neox_weights(r, c), lambda n: 'F16')
    hf.write_json(os.path.join(d, 'config.json'), c)
    W = hf.torch_weights(o, stored)
    texts = TEXTS[:1]
    cases = cases_for(o, W, c, [tok.encode(x) for x in texts], texts, neox_forward,
                      extra=('residual', 'input', 'mlp_input', 'attn_residual', 'hidden'))
    return {'family': 'gptneox', 'dtype': 'F16', 'cases': cases}


MAKERS = {'llama3': make_llama3, 'smollm2': make_smollm2, 'qwen3': make_qwen3, 'mistral': make_mistral, 'smollm3': make_smollm3, 'phi3': make_phi3, 'gptneox': make_gptneox}


def main(argv):
    families, it = [], iter(argv)
    for a in it:
        if a == '--out':
            hf.OUT = os.path.abspath(next(it))
            os.makedirs(hf.OUT, exist_ok=True)
        elif a.startswith('-') or a not in MAKERS:
            raise SystemExit(__doc__ + f'\nknown families: {", ".join(MAKERS)}')
        else:
            families.append(a)
    import torch
    torch.set_num_threads(2)
    o = hf.TorchOps(torch.float64)
    for fam, make in MAKERS.items():
        if families and fam not in families:
            continue
        ref = make(o)
        ref['generator'] = 'scripts/reference/hf_decoders.py (torch float64, Hugging Face semantics)'
        with open(os.path.join(hf.OUT, fam, 'reference.json'), 'w', encoding='utf-8') as f:
            json.dump(ref, f, ensure_ascii=False, separators=(',', ':'))
        size = sum(os.path.getsize(os.path.join(hf.OUT, fam, f)) for f in os.listdir(os.path.join(hf.OUT, fam)))
        print(f'{fam}: {size / 1024:.0f} kB, ' + ', '.join(f'{len(cs["ids"])} tokens' for cs in ref['cases']))


if __name__ == '__main__':
    main(sys.argv[1:])

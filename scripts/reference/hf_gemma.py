#!/usr/bin/env python3
"""Random-weight Gemma, Gemma 2 and Gemma 3 (text) checkpoints and an independent torch forward pass.

    /usr/bin/python3 scripts/reference/hf_gemma.py                 # writes test/fixtures/hf/{gemma,gemma2,gemma3}/
    /usr/bin/python3 scripts/reference/hf_gemma.py gemma3          # only this family
    /usr/bin/python3 scripts/reference/hf_gemma.py --out DIR       # into DIR/<family>/
    /usr/bin/python3 scripts/reference/hf_gemma.py --real gemma-3-270m DIR   # a real-shape random checkpoint (not committed)
    /usr/bin/python3 scripts/reference/hf_gemma.py --time DIR 128 512         # torch float32 forward, median ms

Each folder is laid out like the Hub's checkpoints of that family (config.json with its real keys,
model.safetensors with GemmaForCausalLM / Gemma2ForCausalLM / Gemma3ForCausalLM tensor names and no
lm_head.weight (tied), tokenizer.json in the SentencePiece-BPE form Gemma ships: a Replace " " → "▁"
normaliser, no pre-tokenizer, byte fallback, <bos> added by the post-processor), with seeded random
weights. The forward pass below is written from the conventions of transformers' modeling_gemma.py,
modeling_gemma2.py and modeling_gemma3.py (nothing from our TypeScript), in torch float64:

  Gemma    RMSNorm scaled by (1 + w); embeddings × √hidden_size rounded to the model's dtype (float32
           here, as `torch.tensor(hidden_size**0.5, dtype=hidden_states.dtype)`); head_dim given
           explicitly (H·head_dim ≠ hidden_size here); GeGLU MLP down(gelu_tanh(gate x) ⊙ up x)
           (hidden_activation, defaulting to gelu_pytorch_tanh); 1/√head_dim; tied head.
  Gemma 2  + post_attention_layernorm on attention's output and pre/post_feedforward_layernorm around
           the MLP; scores (QKᵀ·query_pre_attn_scalar^−½) soft-capped s = c·tanh(s/c) before the mask;
           sliding window on even layers (layer_types); final logits soft-capped.
  Gemma 3  + q_norm / k_norm (per-head (1 + w) RMSNorm) before RoPE; layer_types from
           sliding_window_pattern; global layers rotate with rope_theta (and rope_scaling, linear: the
           inverse frequencies divided by factor), local ones with rope_local_base_freq.

reference.json follows hf_families.py's conventions (Q, K, V after RoPE and before the scale, scores as
softmax reads them before the mask, i.e. after soft-capping, mask 1 = may attend), plus per layer:
  residual     x entering the layer          input        input_layernorm(x)
  attn_hidden  x + (post-norm of) attention  mlp_input    the norm the MLP reads
  hidden       the layer's output
and, when the final logits are soft-capped, raw_logits (before capping) beside logits.
"""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_families as hf  # noqa: E402  (the shared safetensors writer, Rng, TorchOps, JSON helpers)

# =============================================================================================
# The forward pass


def gemma_norm(o, x, w, eps):
    """GemmaRMSNorm: x·rsqrt(mean(x²) + eps) · (1 + w), computed in float (here float64)."""
    return x / o.sqrt(o.mean(x * x) + eps) * (1.0 + w)


def gelu_tanh(o, x):
    """gelu_pytorch_tanh: ½x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    return 0.5 * x * (1 + o.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))


def mlp_act(o, c, x):
    a = c.get('hidden_activation') or 'gelu_pytorch_tanh'
    if a == 'gelu_pytorch_tanh':
        return gelu_tanh(o, x)
    if a == 'gelu':
        return 0.5 * x * (1 + o.erf(x / math.sqrt(2)))
    raise ValueError(a)


def layer_types(c, gen):
    """Gemma 2: even layers slide ((i + 1) % 2); Gemma 3: all but every sliding_window_pattern-th; Gemma: none."""
    L = c['num_hidden_layers']
    if c.get('layer_types'):
        return list(c['layer_types'])
    if gen == 1:
        return ['full_attention'] * L
    pattern = 2 if gen == 2 else c.get('sliding_window_pattern', c.get('_sliding_window_pattern', 6))
    return ['sliding_attention' if (i + 1) % pattern else 'full_attention' for i in range(L)]


def rope_tables(o, T, hd, base, factor=1.0):
    """Default rope: inv_freq_i = base^(−2i/hd) (linear rope_scaling divides it by factor); emb = cat(freqs, freqs)."""
    inv = 1.0 / (base ** (np.arange(0, hd, 2, dtype=np.float64) / hd)) / factor  # [hd/2]
    emb = np.concatenate([np.outer(np.arange(T, dtype=np.float64), inv)] * 2, axis=-1)  # [T, hd]
    return o.arr(np.cos(emb)), o.arr(np.sin(emb))


def rotate(o, x, cs):
    """apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, rotate_half(x) = cat(−x₂, x₁)."""
    cos, sin = cs
    h = x.shape[-1] // 2
    return x * cos + o.cat([-x[..., h:], x[..., :h]], -1) * sin


def attention(o, q, k, v, allowed, Wo, scaling, softcap, kv_of):
    """eager_attention_forward of Gemma 2/3: (Q Kᵀ)·scaling, soft-capped, masked, softmax, · V, o_proj."""
    H, T, d = q.shape
    idx = o.ids(kv_of)  # repeat_kv
    scores = (q @ o.T(k[idx])) * scaling  # [H, T, T]
    if softcap is not None:
        scores = o.tanh(scores / softcap) * softcap
    weights = o.softmax(o.masked(scores, allowed))
    context = weights @ v[idx]  # [H, T, d]
    merged = o.perm(context, (1, 0, 2)).reshape(T, H * d)
    out = hf.linear(o, merged, Wo)
    return dict(Q=q, K=k, V=v, scores=scores, mask=allowed.astype(np.float64), weights=weights, context=context, output=out)


def gemma_forward(o, W, c, ids, gen):
    D, H, KV, hd = c['hidden_size'], c['num_attention_heads'], c['num_key_value_heads'], c['head_dim']
    eps = c['rms_norm_eps']
    T = len(ids)
    kv_of = [h // (H // KV) for h in range(H)]
    scaling = (c['query_pre_attn_scalar'] if gen > 1 else hd) ** -0.5
    softcap = c.get('attn_logit_softcapping') if gen > 1 else None
    window = c.get('sliding_window')
    qi, kj = np.arange(T)[:, None], np.arange(T)[None, :]
    masks = {'full_attention': kj <= qi, 'sliding_attention': (kj <= qi) & (qi - kj < (window or T + 1))}
    factor = 1.0
    rs = c.get('rope_scaling')
    if rs:
        assert rs.get('rope_type', rs.get('type')) == 'linear', rs
        factor = rs['factor']
    if gen == 3:
        ropes = {'full_attention': rope_tables(o, T, hd, c['rope_theta'], factor),
                 'sliding_attention': rope_tables(o, T, hd, c['rope_local_base_freq'])}
    else:
        ropes = {k: rope_tables(o, T, hd, c['rope_theta'], factor) for k in masks}
    E = W['model.embed_tokens.weight']
    normalizer = float(np.float32(D ** 0.5))  # torch.tensor(hidden_size**0.5, dtype=float32)
    x = E[o.ids(ids)] * normalizer  # [T, D]
    rec = {'embedding': x, 'layers': []}
    for l, kind in enumerate(layer_types(c, gen)):
        p = f'model.layers.{l}.'
        a = p + 'self_attn.'
        h = gemma_norm(o, x, W[p + 'input_layernorm.weight'], eps)
        q = hf.heads(o, hf.linear(o, h, W[a + 'q_proj.weight']), H)  # [T, H·hd] → [H, T, hd]
        k = hf.heads(o, hf.linear(o, h, W[a + 'k_proj.weight']), KV)  # [T, KV·hd] → [KV, T, hd]
        v = hf.heads(o, hf.linear(o, h, W[a + 'v_proj.weight']), KV)
        if gen == 3:
            q = gemma_norm(o, q, W[a + 'q_norm.weight'], eps)
            k = gemma_norm(o, k, W[a + 'k_norm.weight'], eps)
        q, k = rotate(o, q, ropes[kind]), rotate(o, k, ropes[kind])
        att = attention(o, q, k, v, masks[kind], W[a + 'o_proj.weight'], scaling, softcap, kv_of)
        residual = x
        if gen == 1:
            x = x + att['output']
            h2 = gemma_norm(o, x, W[p + 'post_attention_layernorm.weight'], eps)
        else:
            x = x + gemma_norm(o, att['output'], W[p + 'post_attention_layernorm.weight'], eps)
            h2 = gemma_norm(o, x, W[p + 'pre_feedforward_layernorm.weight'], eps)
        attn_hidden = x
        m = p + 'mlp.'
        ff = hf.linear(o, mlp_act(o, c, hf.linear(o, h2, W[m + 'gate_proj.weight'])) * hf.linear(o, h2, W[m + 'up_proj.weight']), W[m + 'down_proj.weight'])
        x = x + (ff if gen == 1 else gemma_norm(o, ff, W[p + 'post_feedforward_layernorm.weight'], eps))
        rec['layers'].append(dict(att, residual=residual, input=h, attn_hidden=attn_hidden, mlp_input=h2, hidden=x, kind=kind))
    final = gemma_norm(o, x, W['model.norm.weight'], eps)
    raw = hf.linear(o, final, E)  # tied: lm_head.weight is embed_tokens.weight
    cap = c.get('final_logit_softcapping') if gen > 1 else None
    logits = o.tanh(raw / cap) * cap if cap else raw
    rec.update(final=final, raw_logits=raw, logits=logits, kv_of=kv_of)
    return rec


def check(o, c, rec, gen):
    """The reference's own invariants, by other routes: rows sum to 1, masked keys get 0, capped scores stay inside ±c."""
    cap = c.get('attn_logit_softcapping') if gen > 1 else None
    for lay in rec['layers']:
        w = o.np(lay['weights'])
        assert np.allclose(w.sum(-1), 1)
        assert np.all(w[:, lay['mask'] == 0] == 0)
        if cap:
            assert np.abs(o.np(lay['scores'])).max() < cap
    if gen > 1 and c.get('final_logit_softcapping'):
        assert np.abs(o.np(rec['logits'])).max() < c['final_logit_softcapping']


# =============================================================================================
# The tokenizer: SentencePiece BPE as Gemma's tokenizer.json runs it (written from the tokenizers semantics)

SPECIALS = ['<pad>', '<eos>', '<bos>', '<unk>', '<mask>']
TURNS = ['<start_of_turn>', '<end_of_turn>']
CORPUS = ('The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs, and the fox is quick! '
          'Attention is all you need: the query meets the key, the value follows. Über café naïve résumé.')
TEXTS = {
    'gemma': ['The quick fox jumps, café 😀.'],
    'gemma2': ['The lazy dog sleeps;  the fox is quick!'],
    'gemma3': ['Attention: the query meets 🦊 über.'],
}


def train_merges(corpus, n):
    """BPE merges over whitespace-separated words, each prefixed with ▁ (so ▁ only starts a piece, as in SentencePiece)."""
    words = {}
    for w in corpus.split(' '):
        if w:
            words[tuple('▁' + w)] = words.get(tuple('▁' + w), 0) + 1
    return hf.bpe_merges(words, n)


class SpBpe:
    """Replace ' ' → '▁', split out added tokens, merge by rank over the whole text, unknown characters → <0xXX> bytes."""

    def __init__(self, vocab, merges, added):
        self.vocab, self.rank, self.added = vocab, {m: r for r, m in enumerate(merges)}, added

    def _piece(self, s):
        syms = list(s.replace(' ', '▁'))
        while len(syms) > 1:
            ranked = [(self.rank.get((a, b)), i) for i, (a, b) in enumerate(zip(syms, syms[1:]))]
            ranked = [x for x in ranked if x[0] is not None]
            if not ranked:
                break
            _, i = min(ranked)
            syms[i:i + 2] = [syms[i] + syms[i + 1]]
        ids = []
        for s in syms:
            if s in self.vocab:
                ids.append(self.vocab[s])
            else:
                ids.extend(self.vocab[f'<0x{b:02X}>'] for b in s.encode('utf-8'))
        return ids

    def encode(self, text, bos=True):
        ids = [self.vocab['<bos>']] if bos else []
        rest = text
        while rest:
            hits = [(rest.find(a), a) for a in self.added if rest.find(a) >= 0]
            if not hits:
                ids += self._piece(rest)
                break
            at, a = min(hits)
            if at:
                ids += self._piece(rest[:at])
            ids.append(self.vocab[a])
            rest = rest[at + len(a):]
        return ids


def tokenizer_files(d, gen):
    """tokenizer.json (+ tokenizer_config.json, special_tokens_map.json) in the form Gemma checkpoints ship."""
    specials = SPECIALS + TURNS + (['<start_of_image>', '<end_of_image>'] if gen == 3 else [])
    vocab = {s: i for i, s in enumerate(specials)}
    for b in range(256):
        vocab[f'<0x{b:02X}>'] = len(vocab)
    for ch in sorted(set('▁' + CORPUS.replace(' ', '')) - {'😀', '🦊'}):
        vocab.setdefault(ch, len(vocab))
    merges = train_merges(CORPUS, 60)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    entry = lambda s, i: {'id': i, 'content': s, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}  # noqa: E731
    tj = {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [entry(s, vocab[s]) for s in specials],
        'normalizer': {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '▁'},
        'pre_tokenizer': None,
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'SpecialToken': {'id': '<bos>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}],
            'pair': [{'SpecialToken': {'id': '<bos>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                     {'SpecialToken': {'id': '<bos>', 'type_id': 1}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
            'special_tokens': {'<bos>': {'id': '<bos>', 'ids': [vocab['<bos>']], 'tokens': ['<bos>']}},
        },
        'decoder': {'type': 'Sequence', 'decoders': [
            {'type': 'Replace', 'pattern': {'String': '▁'}, 'content': ' '}, {'type': 'ByteFallback'}, {'type': 'Fuse'}]},
        'model': {
            'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None, 'end_of_word_suffix': None,
            'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False, 'vocab': vocab,
            # Gemma 1/2's files write merges as "a b" strings, newer tokenizers (Gemma 3's) as pairs.
            'merges': [[a, b] for a, b in merges] if gen == 3 else [f'{a} {b}' for a, b in merges],
        },
    }
    hf.write_json(os.path.join(d, 'tokenizer.json'), tj)
    decoder = {str(vocab[s]): {k: v for k, v in entry(s, 0).items() if k != 'id'} for s in specials}
    hf.write_json(os.path.join(d, 'tokenizer_config.json'), {
        'add_bos_token': True, 'add_eos_token': False, 'added_tokens_decoder': decoder,
        'additional_special_tokens': TURNS, 'bos_token': '<bos>', 'clean_up_tokenization_spaces': False, 'eos_token': '<eos>',
        'model_max_length': 1000000000000000019884624838656, 'pad_token': '<pad>', 'sp_model_kwargs': {},
        'spaces_between_special_tokens': False, 'tokenizer_class': 'GemmaTokenizer', 'unk_token': '<unk>', 'use_default_system_prompt': False,
    })
    hf.write_json(os.path.join(d, 'special_tokens_map.json'), {
        'additional_special_tokens': TURNS, 'bos_token': '<bos>', 'eos_token': '<eos>', 'pad_token': '<pad>', 'unk_token': '<unk>'})
    return SpBpe(vocab, merges, specials), len(vocab)


# =============================================================================================
# The three checkpoints


def config(gen, V):
    # head_dim 12 with 24-wide hidden states: H·head_dim = 48 ≠ hidden_size, as in gemma-7b (16·256 = 4096 ≠ 3072).
    D, H, KV, hd, I = 24, 4, (1 if gen == 1 else 2), 12, 48
    common = {
        'attention_bias': False, 'attention_dropout': 0.0, 'bos_token_id': 2, 'eos_token_id': 1, 'head_dim': hd, 'hidden_size': D,
        'initializer_range': 0.02, 'intermediate_size': I, 'num_attention_heads': H, 'num_key_value_heads': KV, 'pad_token_id': 0,
        'rms_norm_eps': 1e-06, 'torch_dtype': 'bfloat16', 'use_cache': True, 'vocab_size': V,
    }
    if gen == 1:  # gemma-2b's keys: the legacy hidden_act "gelu" is ignored, hidden_activation decides
        return {'architectures': ['GemmaForCausalLM'], **common, 'hidden_act': 'gelu', 'hidden_activation': 'gelu_pytorch_tanh',
                'max_position_embeddings': 128, 'model_type': 'gemma', 'num_hidden_layers': 2, 'rope_scaling': None,
                'rope_theta': 10000.0, 'transformers_version': '4.38.0'}
    if gen == 2:  # gemma-2-2b's keys; query_pre_attn_scalar ≠ head_dim (as gemma-2-27b's 144 vs 128); a 3-token window
        return {'architectures': ['Gemma2ForCausalLM'], **common, 'attn_logit_softcapping': 2.0, 'cache_implementation': 'hybrid',
                'final_logit_softcapping': 3.0, 'hidden_act': 'gelu_pytorch_tanh', 'hidden_activation': 'gelu_pytorch_tanh',
                'max_position_embeddings': 128, 'model_type': 'gemma2', 'num_hidden_layers': 2, 'query_pre_attn_scalar': 16,
                'rope_theta': 10000.0, 'sliding_window': 3, 'torch_dtype': 'float32', 'transformers_version': '4.42.4'}
    # gemma-3-270m / 1b's keys (gemma3_text), with a linear rope_scaling on the global layers as the 4B+ text models have,
    # and a soft-cap on the scores (null in Google's checkpoints, allowed by the config) so the code path is exercised.
    return {'architectures': ['Gemma3ForCausalLM'], **common, '_sliding_window_pattern': 3, 'attn_logit_softcapping': 4.0,
            'cache_implementation': 'hybrid', 'eos_token_id': [1, 6], 'final_logit_softcapping': None, 'hidden_activation': 'gelu_pytorch_tanh',
            'layer_types': ['sliding_attention', 'sliding_attention', 'full_attention'], 'max_position_embeddings': 256,
            'model_type': 'gemma3_text', 'num_hidden_layers': 3, 'query_pre_attn_scalar': 12, 'rope_local_base_freq': 10000.0,
            'rope_scaling': {'factor': 2.0, 'rope_type': 'linear'}, 'rope_theta': 1000000.0, 'sliding_window': 4,
            'transformers_version': '4.53.0', 'use_bidirectional_attention': False}


def weights(c, gen, seed):
    D, H, KV, hd, I, V = (c[k] for k in ('hidden_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'intermediate_size', 'vocab_size'))
    r = hf.Rng(seed)
    zero = lambda n: r.b(n, std=0.2)  # noqa: E731  (1 + w ≈ 1, as Gemma's zero-centred gains)
    t = {'model.embed_tokens.weight': r.w(V, D, std=0.5), 'model.norm.weight': zero(D)}
    for l in range(c['num_hidden_layers']):
        p = f'model.layers.{l}.'
        t[p + 'input_layernorm.weight'] = zero(D)
        hf.lin(t, r, p + 'self_attn.q_proj', H * hd, D, False, std=2.5 / math.sqrt(D))
        hf.lin(t, r, p + 'self_attn.k_proj', KV * hd, D, False, std=2.5 / math.sqrt(D))
        hf.lin(t, r, p + 'self_attn.v_proj', KV * hd, D, False)
        hf.lin(t, r, p + 'self_attn.o_proj', D, H * hd, False)
        if gen == 3:
            t[p + 'self_attn.q_norm.weight'] = zero(hd)
            t[p + 'self_attn.k_norm.weight'] = zero(hd)
        t[p + 'post_attention_layernorm.weight'] = zero(D)
        if gen > 1:
            t[p + 'pre_feedforward_layernorm.weight'] = zero(D)
            t[p + 'post_feedforward_layernorm.weight'] = zero(D)
        hf.lin(t, r, p + 'mlp.gate_proj', I, D, False)
        hf.lin(t, r, p + 'mlp.up_proj', I, D, False)
        hf.lin(t, r, p + 'mlp.down_proj', D, I, False)
    return t


def make(o, fam):
    gen = {'gemma': 1, 'gemma2': 2, 'gemma3': 3}[fam]
    d = hf.family_dir(fam)
    tok, V = tokenizer_files(d, gen)
    c = config(gen, V)
    dtype = 'F32' if gen == 2 else 'BF16'  # gemma-2-2b ships float32, the others bfloat16
    stored = hf.write_safetensors(os.path.join(d, 'model.safetensors'), weights(c, gen, 20 + gen), lambda n: dtype)
    hf.write_json(os.path.join(d, 'config.json'), c)
    hf.write_json(os.path.join(d, 'generation_config.json'), {'bos_token_id': 2, 'eos_token_id': c['eos_token_id'], 'pad_token_id': 0,
                                                               'transformers_version': c['transformers_version']})
    W = hf.torch_weights(o, stored)
    cases = []
    for text in TEXTS[fam]:
        ids = tok.encode(text)
        rec = gemma_forward(o, W, c, ids, gen)
        check(o, c, rec, gen)
        rows, lg = hf.logits_rows(o, rec['logits'], V)
        cases.append({
            'text': text, 'ids': ids, 'embedding': hf.enc(o.np(rec['embedding'])),
            'layers': [dict(hf.layer_json(o, x, ('residual', 'input', 'attn_hidden', 'mlp_input', 'hidden')), kind=x['kind']) for x in rec['layers']],
            'final': hf.enc(o.np(rec['final'])), 'logit_rows': rows, 'logits': lg,
            **({'raw_logits': hf.logits_rows(o, rec['raw_logits'], V)[1]} if c.get('final_logit_softcapping') else {}),
        })
    # Tokenizer cases: added tokens split out, runs of spaces, characters only reachable by byte fallback.
    tok_cases = [{'text': s, 'ids': tok.encode(s)} for s in ('<start_of_turn>user\nThe fox 🦊<end_of_turn>', '  two  spaces', 'ß∑ ok')]
    return {'family': fam, 'dtype': dtype, 'kv_head_of': rec['kv_of'], 'cases': cases, 'tokenizer_cases': tok_cases}


# =============================================================================================
# Real shapes for the benchmark (random weights, not committed) and torch timing

REAL = {
    # google/gemma-3-270m's config.json (text only): 18 layers, every sixth global, head_dim 256 ≠ 640 / 4.
    'gemma-3-270m': {
        'architectures': ['Gemma3ForCausalLM'], '_sliding_window_pattern': 6, 'attention_bias': False, 'attention_dropout': 0.0,
        'attn_logit_softcapping': None, 'bos_token_id': 2, 'eos_token_id': 1, 'final_logit_softcapping': None, 'head_dim': 256,
        'hidden_activation': 'gelu_pytorch_tanh', 'hidden_size': 640, 'intermediate_size': 2048,
        'layer_types': ['full_attention' if (i + 1) % 6 == 0 else 'sliding_attention' for i in range(18)],
        'max_position_embeddings': 32768, 'model_type': 'gemma3_text', 'num_attention_heads': 4, 'num_hidden_layers': 18,
        'num_key_value_heads': 1, 'pad_token_id': 0, 'query_pre_attn_scalar': 256, 'rms_norm_eps': 1e-06, 'rope_local_base_freq': 10000.0,
        'rope_scaling': None, 'rope_theta': 1000000.0, 'sliding_window': 512, 'torch_dtype': 'bfloat16', 'transformers_version': '4.55.0',
        'use_bidirectional_attention': False, 'vocab_size': 262144,
    },
}


def make_real(name, d):
    """A random-weight checkpoint of a real model's shape (BF16), with this script's small tokenizer (ids < its vocab)."""
    c = REAL[name]
    os.makedirs(d, exist_ok=True)
    tokenizer_files(d, 3)
    hf.write_json(os.path.join(d, 'config.json'), c)
    t = weights(c, 3, 7)
    hf.write_safetensors(os.path.join(d, 'model.safetensors'), t, lambda n: 'BF16')
    print(json.dumps({'model': name, 'dir': d, 'parameters': int(sum(v.size for v in t.values())), 'bytes': os.path.getsize(os.path.join(d, 'model.safetensors'))}))


def time_model(d, token_counts, repeats=5):
    """Median ms of the float32 forward pass (torch, 2 threads) on random ids, as hf_families.py --time prints it."""
    import time
    import statistics
    import torch
    torch.set_num_threads(2)
    with open(os.path.join(d, 'config.json'), encoding='utf-8') as f:
        c = json.load(f)
    gen = {'gemma': 1, 'gemma2': 2, 'gemma3_text': 3}[c['model_type']]
    o = hf.TorchOps(torch.float32)
    W = {k: o.arr(v) for k, v in hf.read_safetensors(os.path.join(d, 'model.safetensors')).items()}
    rng = np.random.default_rng(0)
    results = []
    for n in token_counts:
        ids = [2] + [int(x) for x in rng.integers(3, 300, size=n - 1)]
        with torch.no_grad():
            gemma_forward(o, W, c, ids, gen)  # warm-up
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                gemma_forward(o, W, c, ids, gen)
                times.append((time.perf_counter() - t0) * 1000)
        results.append({'tokens': n, 'ms': round(statistics.median(times), 3)})
    return {'family': c['model_type'], 'engine': 'torch', 'dtype': 'float32', 'threads': torch.get_num_threads(), 'results': results}


def main(argv):
    if argv[:1] == ['--real'] and len(argv) == 3:
        return make_real(argv[1], os.path.abspath(argv[2]))
    if argv[:1] == ['--time'] and len(argv) >= 3:
        print(json.dumps(time_model(argv[1], [int(x) for x in argv[2:]])))
        return
    import torch
    torch.set_num_threads(2)
    families = []
    it = iter(argv)
    for a in it:
        if a == '--out':
            hf.OUT = os.path.abspath(next(it))
            os.makedirs(hf.OUT, exist_ok=True)
        elif a in ('gemma', 'gemma2', 'gemma3'):
            families.append(a)
        else:
            raise SystemExit(__doc__)
    o = hf.TorchOps(torch.float64)
    for fam in families or ['gemma', 'gemma2', 'gemma3']:
        ref = make(o, fam)
        ref['generator'] = 'scripts/reference/hf_gemma.py (torch float64, Hugging Face Gemma semantics)'
        with open(os.path.join(hf.OUT, fam, 'reference.json'), 'w', encoding='utf-8') as f:
            json.dump(ref, f, ensure_ascii=False, separators=(',', ':'))
        size = sum(os.path.getsize(os.path.join(hf.OUT, fam, f)) for f in os.listdir(os.path.join(hf.OUT, fam)))
        print(f'{fam}: {size / 1024:.0f} kB, ' + ', '.join(f'{len(cs["ids"])} tokens' for cs in ref['cases']))


if __name__ == '__main__':
    main(sys.argv[1:])

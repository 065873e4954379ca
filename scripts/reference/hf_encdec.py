#!/usr/bin/env python3
"""Random-weight T5, BART and mBART checkpoints in the Hugging Face layout, and an independent torch forward pass.

    /usr/bin/python3 scripts/reference/hf_encdec.py              # writes test/fixtures/hf/{t5,bart,mbart}/
    /usr/bin/python3 scripts/reference/hf_encdec.py t5           # only these families
    /usr/bin/python3 scripts/reference/hf_encdec.py --out DIR    # into DIR/<family>/
    /usr/bin/python3 scripts/reference/hf_encdec.py --bench-t5-small DIR   # a t5-small-shaped checkpoint + torch timings

Written from the conventions of transformers' modeling_t5.py, modeling_bart.py and modeling_mbart.py
(nothing ported from our TypeScript), in torch float64 except where HF itself works in float32:
T5's relative position buckets are computed as HF does (positions as float32, torch.log, truncation),
so bucket boundaries (distance 16, 32, 64 with 32 buckets / max distance 128) land where HF puts them.

T5 / Flan-T5: pre-norm layers with T5's RMS "LayerNorm" (no mean, no bias); scores Q Kᵀ with no 1/√d
(T5 folds it into the initialisation) plus the relative position bias B[h, i, j] = table[bucket(j − i), h],
bidirectional in the encoder and causal in the decoder, stored only in block 0 and reused by every
layer; cross-attention has no bias; ReLU MLP (wi, wo) or gated-gelu (gelu_new(wi_0 x) ⊙ wi_1 x, wo);
final layer norms; tied embeddings rescaled by d_model^-0.5 before the LM head; decoder start = pad.
The Unigram tokenizer is a from-scratch Viterbi over (piece, score) pairs, laid out like t5-small's
tokenizer.json (WhitespaceSplit + Metaspace, </s> appended, extra_ids, padded vocab_size).

BART: learned positions read at i + 2, embeddings × √d when scale_embedding, layernorm_embedding,
post-norm layers, final_logits_bias, decoder start </s>, forced_bos_token_id at step 1 and
forced_eos_token_id at max_length. mBART: the same embeddings, pre-norm layers and a final
layer_norm on encoder and decoder; the source ends "</s> en_XX"; forced_bos is the target language.

reference.json: every attention block (Q, K, V [H, T, d_kv]; scores [H, Tq, Tk] = the scaled product
plus the position bias, before the mask; mask; weights; context; output), T5's position_bias and
buckets, the hidden states, the logits at every step and the greedy output ids.
"""
import math
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_families as hf  # noqa: E402
from hf_families import (Rng, TorchOps, act, attn_json, byte_bpe_tokenizer_json, bytes_to_unicode, bpe_train, causal, enc,  # noqa: E402
                         family_dir, heads, layer_norm, lin, linear, ln_params, rms_norm, torch_weights, write_json,
                         write_safetensors, ByteBpe, GPT2_CORPUS)


# =============================================================================================
# Attention with a scale and an additive bias


def attend(o, q, k, v, allowed, Wo, bo=None, scale=None, bias=None):
    """q [H, Tq, d], k/v [H, Tk, d]; scores = q kᵀ · scale (+ bias [H, Tq, Tk]) before the mask."""
    H, Tq, d = q.shape
    scores = q @ o.T(k)
    if scale is not None:
        scores = scores * scale
    if bias is not None:
        scores = scores + bias
    weights = o.softmax(o.masked(scores, allowed) if allowed is not None else scores)
    context = weights @ v
    merged = o.perm(context, (1, 0, 2)).reshape(Tq, -1)
    rec = dict(Q=q, K=k, V=v, scores=scores, weights=weights, context=context, output=linear(o, merged, Wo, bo))
    if allowed is not None:
        rec['mask'] = allowed.astype(np.float64)
    return rec


# =============================================================================================
# T5


def t5_bucket(relative_position, bidirectional, num_buckets, max_distance):
    """T5Attention._relative_position_bucket, on a torch long tensor; the log part in float32 as HF computes it."""
    import torch
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).to(torch.long) * num_buckets
        n = torch.abs(relative_position)
    else:
        n = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = n < max_exact
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, n, large)


def t5_bias(o, table, Tq, Tk, bidirectional, c):
    """B [H, Tq, Tk] = table[bucket(j − i)] and the buckets [Tq, Tk] (T5Attention.compute_bias)."""
    import torch
    rel = torch.arange(Tk)[None, :] - torch.arange(Tq)[:, None]
    b = t5_bucket(rel, bidirectional, c['relative_attention_num_buckets'], c.get('relative_attention_max_distance', 128))
    return table[b].permute(2, 0, 1), b


class T5:
    def __init__(self, o, W, c):
        self.o, self.W, self.c = o, W, c
        self.H, self.dkv = c['num_heads'], c['d_kv']
        self.eps = c.get('layer_norm_epsilon', 1e-6)
        ff = c.get('feed_forward_proj', 'relu')
        self.gated = ff.startswith('gated-')
        self.act = 'gelu_new' if ff == 'gated-gelu' else ff.split('-')[-1]  # T5Config maps gated-gelu to gelu_new
        self.tied = c.get('tie_word_embeddings', True)

    def ln(self, name, x):
        return rms_norm(self.o, x, self.W[name], self.eps)

    def attn(self, p, xq, xkv, allowed, bias):
        o, W = self.o, self.W
        proj = lambda n, z: heads(o, linear(o, z, W[p + n + '.weight']), self.H)  # noqa: E731
        return attend(o, proj('q', xq), proj('k', xkv), proj('v', xkv), allowed, W[p + 'o.weight'], bias=bias)

    def ff(self, p, x):
        o, W = self.o, self.W
        if self.gated:
            h = act(o, self.act, linear(o, x, W[p + 'wi_0.weight'])) * linear(o, x, W[p + 'wi_1.weight'])
        else:
            h = act(o, self.act, linear(o, x, W[p + 'wi.weight']))
        return linear(o, h, W[p + 'wo.weight'])

    def encode(self, src):
        o, c, W = self.o, self.c, self.W
        S = len(src)
        x = W['shared.weight'][o.ids(src)]
        bias, buckets = t5_bias(o, W['encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'], S, S, True, c)
        rec = {'embedding': x, 'position_bias': bias, 'buckets': buckets, 'layers': []}
        for l in range(c['num_layers']):
            p = f'encoder.block.{l}.layer.'
            residual = x
            a = self.attn(p + '0.SelfAttention.', self.ln(p + '0.layer_norm.weight', x), self.ln(p + '0.layer_norm.weight', x), None, bias)
            x = x + a['output']
            attn_hidden = x
            x = x + self.ff(p + '1.DenseReluDense.', self.ln(p + '1.layer_norm.weight', x))
            rec['layers'].append(dict(a, residual=residual, attn_hidden=attn_hidden, hidden=x))
        rec['memory'] = self.ln('encoder.final_layer_norm.weight', x)
        return rec

    def decode(self, dec_in, memory):
        o, c, W = self.o, self.c, self.W
        T = len(dec_in)
        y = W['shared.weight'][o.ids(dec_in)]
        bias, buckets = t5_bias(o, W['decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'], T, T, False, c)
        rec = {'embedding': y, 'position_bias': bias, 'buckets': buckets, 'layers': []}
        for l in range(c.get('num_decoder_layers', c['num_layers'])):
            p = f'decoder.block.{l}.layer.'
            h = self.ln(p + '0.layer_norm.weight', y)
            s = self.attn(p + '0.SelfAttention.', h, h, causal(T), bias)
            y = y + s['output']
            self_hidden = y
            x = self.attn(p + '1.EncDecAttention.', self.ln(p + '1.layer_norm.weight', y), memory, None, None)
            y = y + x['output']
            cross_hidden = y
            y = y + self.ff(p + '2.DenseReluDense.', self.ln(p + '2.layer_norm.weight', y))
            rec['layers'].append(dict(self=s, cross=x, self_hidden=self_hidden, cross_hidden=cross_hidden, hidden=y))
        final = self.ln('decoder.final_layer_norm.weight', y)
        if self.tied:  # T5ForConditionalGeneration rescales before the tied head
            final = final * (c['d_model'] ** -0.5)
        rec['final'] = final
        rec['logits'] = linear(o, final, W['shared.weight'] if self.tied else W['lm_head.weight'])
        return rec


# =============================================================================================
# BART / mBART


class Bart:
    def __init__(self, o, W, c):
        self.o, self.W, self.c = o, W, c
        self.pre = c['model_type'] == 'mbart'
        self.scale = math.sqrt(c['d_model']) if c.get('scale_embedding') else 1.0

    def ln(self, p, x):
        return layer_norm(self.o, x, self.W[p + '.weight'], self.W[p + '.bias'], 1e-5)

    def attn(self, p, xq, xkv, H, allowed):
        o, W = self.o, self.W
        proj = lambda n, z: heads(o, linear(o, z, W[p + n + '.weight'], W[p + n + '.bias']), H)  # noqa: E731
        d = self.c['d_model'] // H
        return attend(o, proj('q_proj', xq), proj('k_proj', xkv), proj('v_proj', xkv), allowed, W[p + 'out_proj.weight'], W[p + 'out_proj.bias'], scale=d ** -0.5)

    def ffn(self, p, x):
        o, W = self.o, self.W
        return linear(o, act(o, self.c['activation_function'], linear(o, x, W[p + 'fc1.weight'], W[p + 'fc1.bias'])), W[p + 'fc2.weight'], W[p + 'fc2.bias'])

    def embed(self, side, ids):
        o, W = self.o, self.W
        x = W['model.shared.weight'][o.ids(ids)] * self.scale + W[f'model.{side}.embed_positions.weight'][2: 2 + len(ids)]  # offset 2
        return self.ln(f'model.{side}.layernorm_embedding', x)

    def sub(self, norm, x, f):
        """Post-norm (BART): LN(x + f(x)); pre-norm (mBART): x + f(LN(x)). Returns the new stream."""
        return x + f(self.ln(norm, x)) if self.pre else self.ln(norm, x + f(x))

    def encode(self, src):
        c = self.c
        x = self.embed('encoder', src)
        rec = {'embedding': x, 'layers': []}
        H = c['encoder_attention_heads']
        for l in range(c['encoder_layers']):
            p = f'model.encoder.layers.{l}.'
            box = {}

            def sa(h):
                box['a'] = self.attn(p + 'self_attn.', h, h, H, None)
                return box['a']['output']
            h = self.sub(p + 'self_attn_layer_norm', x, sa)
            x = self.sub(p + 'final_layer_norm', h, lambda z: self.ffn(p, z))
            rec['layers'].append(dict(box['a'], attn_hidden=h, hidden=x))
        rec['memory'] = self.ln('model.encoder.layer_norm', x) if self.pre else x
        return rec

    def decode(self, dec_in, memory):
        c = self.c
        T = len(dec_in)
        y = self.embed('decoder', dec_in)
        rec = {'embedding': y, 'layers': []}
        H = c['decoder_attention_heads']
        for l in range(c['decoder_layers']):
            p = f'model.decoder.layers.{l}.'
            box = {}

            def sa(h):
                box['s'] = self.attn(p + 'self_attn.', h, h, H, causal(T))
                return box['s']['output']

            def ca(h):
                box['x'] = self.attn(p + 'encoder_attn.', h, memory, H, None)
                return box['x']['output']
            h1 = self.sub(p + 'self_attn_layer_norm', y, sa)
            h2 = self.sub(p + 'encoder_attn_layer_norm', h1, ca)
            y = self.sub(p + 'final_layer_norm', h2, lambda z: self.ffn(p, z))
            rec['layers'].append(dict(self=box['s'], cross=box['x'], self_hidden=h1, cross_hidden=h2, hidden=y))
        final = self.ln('model.decoder.layer_norm', y) if self.pre else y
        rec['final'] = final
        rec['logits'] = linear(self.o, final, self.W['model.shared.weight'], self.W['final_logits_bias'][0])
        return rec


def greedy(model, memory, c, start):
    """Argmax decoding as HF generate with num_beams 1: forced_bos at the first step, forced_eos at max_length."""
    out, margins = [], []
    for _ in range(c['max_length'] - 1):
        last = model.o.np(model.decode([start] + out, memory)['logits'])[-1].copy()
        if len(out) == 0 and c.get('forced_bos_token_id') is not None:
            nxt = c['forced_bos_token_id']
        elif len(out) + 2 == c['max_length'] and c.get('forced_eos_token_id') is not None:
            nxt = c['forced_eos_token_id']
        else:
            nxt = int(np.argmax(last))
            srt = np.sort(last)
            margins.append(srt[-1] - srt[-2])
        out.append(nxt)
        if nxt == c['eos_token_id']:
            break
    return out, margins


# =============================================================================================
# A Unigram (SentencePiece) tokenizer, written from scratch


class Unigram:
    """Viterbi over (piece, score); a character no piece covers is <unk> (score min − 10), consecutive ones fused."""

    def __init__(self, vocab, unk_id, whitespace_split):
        self.pieces = {p: (i, s) for i, (p, s) in enumerate(vocab)}
        self.unk_id = unk_id
        self.unk_score = min(s for _, s in vocab) - 10.0
        self.maxlen = max(len(p) for p, _ in vocab)
        self.whitespace_split = whitespace_split

    def words(self, text):
        if self.whitespace_split:  # WhitespaceSplit, then Metaspace prepends ▁ to every word
            return ['▁' + w for w in text.split()]
        # Metaspace alone (mBART): spaces become ▁ and each word keeps the ▁ before it
        t = '▁' + text.replace(' ', '▁')
        out, cur = [], ''
        for ch in t:
            if ch == '▁' and cur:
                out.append(cur)
                cur = ''
            cur += ch
        return out + ([cur] if cur else [])

    def word(self, w):
        n = len(w)
        best = [(-math.inf, None, None)] * (n + 1)
        best[0] = (0.0, None, None)
        for i in range(n):
            if best[i][0] == -math.inf:
                continue
            single = False
            for j in range(i + 1, min(n, i + self.maxlen) + 1):
                p = self.pieces.get(w[i:j])
                if p is None:
                    continue
                single |= j == i + 1
                s = best[i][0] + p[1]
                if s > best[j][0]:
                    best[j] = (s, i, p[0])
            if not single:
                s = best[i][0] + self.unk_score
                if s > best[i + 1][0]:
                    best[i + 1] = (s, i, self.unk_id)
        ids, j = [], n
        while j > 0:
            _, i, pid = best[j]
            ids.append(pid)
            j = i
        ids.reverse()
        fused = []
        for pid in ids:
            if not (pid == self.unk_id and fused and fused[-1] == self.unk_id):
                fused.append(pid)
        return fused

    def encode(self, text):
        return [i for w in self.words(text) for i in self.word(w)]


def unigram_vocab(r, corpus, specials, tail=()):
    """Specials, then ▁, characters, whole words and a few word pieces, each with its own negative score."""
    pieces = ['▁']
    for w in corpus.split():
        for piece in ['▁' + w, w[: len(w) // 2], w[len(w) // 2:], '▁' + w[:2]] + list(w):
            if piece and piece not in pieces:
                pieces.append(piece)
    scores = -np.abs(r.r.standard_normal(len(pieces))) * 3 - 1
    scores[0] = -2.0
    return [(s, 0.0) for s in specials] + [(p, float(sc)) for p, sc in zip(pieces, scores)] + [(s, 0.0) for s in tail]


def unigram_tokenizer_json(vocab, unk_id, added, whitespace_split, single, special_ids):
    meta = {'type': 'Metaspace', 'replacement': '▁', 'prepend_scheme': 'always', 'split': True}
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [{'id': vocab.index((s, 0.0)) if (s, 0.0) in vocab else i, 'content': s, 'single_word': False, 'lstrip': False, 'rstrip': False,
                          'normalized': False, 'special': True} for s, i in added],
        'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Replace', 'pattern': {'Regex': ' {2,}'}, 'content': ' '}]},
        'pre_tokenizer': {'type': 'Sequence', 'pretokenizers': [{'type': 'WhitespaceSplit'}, meta]} if whitespace_split else meta,
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'Sequence': {'id': 'A', 'type_id': 0}}] + [{'SpecialToken': {'id': s, 'type_id': 0}} for s in single],
            'pair': [{'Sequence': {'id': 'A', 'type_id': 0}}] + [{'SpecialToken': {'id': s, 'type_id': 0}} for s in single] +
                    [{'Sequence': {'id': 'B', 'type_id': 0}}] + [{'SpecialToken': {'id': s, 'type_id': 0}} for s in single],
            'special_tokens': {s: {'id': s, 'ids': [special_ids[s]], 'tokens': [s]} for s in single},
        },
        'decoder': meta,
        'model': {'type': 'Unigram', 'unk_id': unk_id, 'vocab': [[p, s] for p, s in vocab], 'byte_fallback': False},
    }


# =============================================================================================
# Fixtures

T5_CORPUS = 'translate English to German: The house is wonderful. summarize: the quick brown fox jumps over the lazy dog'
# 35 tokens: distances past 16 and 32, where the log-spaced buckets start and cross a boundary.
T5_TEXTS = ['translate English to German:  The house is wonderful.\nThe fox jumps over the lazy dog, again! summarize: a quick fox.']
FLAN_T5_TEXTS = ['summarize: The quick zebra.']
BART_TEXTS = ["It's the quick café 🦊!"]
MBART_CORPUS = 'the quick brown fox jumps over the lazy dog and the café is open'
MBART_TEXTS = ['The  quick fox, the café 😀']


def t5_tensors(r, c, V):
    D, H, dkv, F, N = c['d_model'], c['num_heads'], c['d_kv'], c['d_ff'], c['relative_attention_num_buckets']
    t = {'shared.weight': r.w(V, D, std=1.0)}
    gated = c['feed_forward_proj'].startswith('gated-')

    def attn(p, bias):
        for n, std in (('q', 1.0), ('k', 1.0), ('v', 1.0)):
            t[p + n + '.weight'] = r.w(H * dkv, D, std=std / math.sqrt(D))
        t[p + 'o.weight'] = r.w(D, H * dkv)
        if bias:
            t[p + 'relative_attention_bias.weight'] = r.w(N, H, std=1.0)

    def ff(p):
        if gated:
            t[p + 'wi_0.weight'] = r.w(F, D)
            t[p + 'wi_1.weight'] = r.w(F, D)
        else:
            t[p + 'wi.weight'] = r.w(F, D)
        t[p + 'wo.weight'] = r.w(D, F, std=3.0 / math.sqrt(F))  # the MLP outweighs the token's own row, which a tied head would copy

    for side, n in (('encoder', c['num_layers']), ('decoder', c['num_decoder_layers'])):
        for l in range(n):
            p = f'{side}.block.{l}.layer.'
            attn(p + '0.SelfAttention.', l == 0)
            t[p + '0.layer_norm.weight'] = r.g(D)
            if side == 'decoder':
                attn(p + '1.EncDecAttention.', False)
                t[p + '1.layer_norm.weight'] = r.g(D)
            last = 2 if side == 'decoder' else 1
            ff(p + f'{last}.DenseReluDense.')
            t[p + f'{last}.layer_norm.weight'] = r.g(D)
        t[f'{side}.final_layer_norm.weight'] = r.g(D)
    if not c['tie_word_embeddings']:
        t['lm_head.weight'] = r.w(V, D)
    return t


def layers_json(o, rec, extra):
    return [dict(attn_json(o, x), **{k: enc(o.np(x[k])) for k in extra}) for x in rec['layers']]


def dec_json(o, dr):
    return [{'self': attn_json(o, x['self']), 'cross': attn_json(o, x['cross']), 'self_hidden': enc(o.np(x['self_hidden'])),
             'cross_hidden': enc(o.np(x['cross_hidden'])), 'hidden': enc(o.np(x['hidden']))} for x in dr['layers']]


def run_case(o, m, c, text, src_ids, start, extra_enc=(), bias=False):
    e = m.encode(src_ids)
    out, margins = greedy(m, e['memory'], c, start)
    assert not margins or min(margins) > 1e-3, f'greedy decoding of {text!r} has a near tie ({min(margins)})'
    dec_in = [start] + out[:-1]
    dr = m.decode(dec_in, e['memory'])
    case = {
        'text': text, 'ids': src_ids, 'output_ids': out, 'decoder_input_ids': dec_in, 'min_greedy_margin': float(min(margins)) if margins else None,
        'encoder': {'embedding': enc(o.np(e['embedding'])), 'layers': layers_json(o, e, ('attn_hidden', 'hidden')), 'memory': enc(o.np(e['memory']))},
        'decoder': {'embedding': enc(o.np(dr['embedding'])), 'layers': dec_json(o, dr), 'final': enc(o.np(dr['final']))},
        'logits': enc(o.np(dr['logits'])),
    }
    if bias:
        case['encoder'].update(position_bias=enc(o.np(e['position_bias'])), buckets=enc(e['buckets'].numpy()))
        case['decoder'].update(position_bias=enc(o.np(dr['position_bias'])), buckets=enc(dr['buckets'].numpy()))
    return case


def varied(o, make_model, src, c, start, seeds):
    """The first seed whose greedy output has three different tokens and no near tie (random weights often repeat one token)."""
    for seed in seeds:
        m, stored = make_model(seed)
        out, margins = greedy(m, m.encode(src)['memory'], c, start)
        if len(set(out)) >= 3 and (not margins or min(margins) > 1e-3):
            return m, stored
        if os.environ.get('DEBUG_SEEDS'):
            print(seed, out, min(margins) if margins else None)
    raise SystemExit('no seed gives a varied greedy output')


def make_t5(o, fam='t5'):
    import torch
    d = family_dir(fam)
    r = Rng(51 if fam == 't5' else 52)
    extra = [f'<extra_id_{i}>' for i in range(3)]
    vocab = unigram_vocab(r, T5_CORPUS, ('<pad>', '</s>', '<unk>'), tail=tuple(reversed(extra)))  # t5: extra_id_0 is the last id
    ntok = len(vocab)
    V = ntok + 5  # like t5-small: vocab_size 32128 for 32100 pieces (rows nobody tokenises to)
    flan = fam == 'flan-t5'
    c = {
        'architectures': ['T5ForConditionalGeneration'], 'classifier_dropout': 0.0, 'd_ff': 48, 'd_kv': 6, 'd_model': 32,
        'decoder_start_token_id': 0, 'dense_act_fn': 'gelu_new' if flan else 'relu', 'dropout_rate': 0.1, 'eos_token_id': 1,
        'feed_forward_proj': 'gated-gelu' if flan else 'relu', 'initializer_factor': 1.0, 'is_encoder_decoder': True,
        'is_gated_act': flan, 'layer_norm_epsilon': 1e-06, 'model_type': 't5', 'n_positions': 512, 'num_decoder_layers': 2,
        'num_heads': 4, 'num_layers': 2, 'output_past': True, 'pad_token_id': 0, 'relative_attention_max_distance': 128,
        'relative_attention_num_buckets': 32, 'tie_word_embeddings': not flan, 'torch_dtype': 'float32',
        'transformers_version': '4.41.2', 'use_cache': True, 'vocab_size': V,
    }
    tj = unigram_tokenizer_json(vocab, 2, [('<pad>', 0), ('<unk>', 2), ('</s>', 1)] + [(x, 0) for x in extra], True, ['</s>'], {'</s>': 1})
    write_json(os.path.join(d, 'tokenizer.json'), tj)
    write_json(os.path.join(d, 'tokenizer_config.json'), {
        'additional_special_tokens': extra, 'clean_up_tokenization_spaces': True, 'eos_token': '</s>', 'extra_ids': len(extra),
        'model_max_length': 512, 'pad_token': '<pad>', 'tokenizer_class': 'T5Tokenizer', 'unk_token': '<unk>',
    })
    write_json(os.path.join(d, 'generation_config.json'), {'decoder_start_token_id': 0, 'eos_token_id': 1, 'pad_token_id': 0})
    c['max_length'] = 10
    write_json(os.path.join(d, 'config.json'), c)
    tok = Unigram(vocab, 2, True)
    texts = T5_TEXTS if fam == 't5' else FLAN_T5_TEXTS
    srcs = [tok.encode(' '.join(text.split())) + [1] for text in texts]  # WhitespaceSplit + Metaspace, then </s>
    path = os.path.join(d, 'model.safetensors')

    def model(seed):
        stored = write_safetensors(path, t5_tensors(Rng(seed), c, V), lambda n: 'BF16')
        return T5(o, torch_weights(o, stored), c), stored
    m, _ = varied(o, model, srcs[0], c, 0, range(100 if fam == 't5' else 200, 300))
    cases = [run_case(o, m, c, text, src, 0, bias=True) for text, src in zip(texts, srcs)]
    # Buckets for every relative distance the tests check (both directions), straight from the HF rule.
    rel = torch.arange(-300, 301)
    table = {'bidirectional': t5_bucket(rel, True, 32, 128).tolist(), 'causal': t5_bucket(rel, False, 32, 128).tolist()}
    return {'family': fam, 'dtype': 'BF16', 'buckets_relative': rel.tolist(), 'buckets': table, 'cases': cases,
            'tokenizer_cases': [{'text': s, 'ids': tok.encode(' '.join(s.split())) + [1]} for s in ('Hello  world', 'The zebra jumps!', ' the\tfox\n ')]}


def bart_tensors(r, c, V):
    D, F, P = c['d_model'], c['encoder_ffn_dim'], c['max_position_embeddings'] + 2
    t = {'model.shared.weight': r.w(V, D, std=1.0 / math.sqrt(D)), 'final_logits_bias': r.b(V).reshape(1, V)}
    for side in ('encoder', 'decoder'):
        t[f'model.{side}.embed_positions.weight'] = r.w(P, D, std=0.5)
        ln_params(t, r, f'model.{side}.layernorm_embedding', D)
        if c['model_type'] == 'mbart':
            ln_params(t, r, f'model.{side}.layer_norm', D)

    def attn(p):
        lin(t, r, p + 'q_proj', D, D, std=2.0 / math.sqrt(D))
        lin(t, r, p + 'k_proj', D, D, std=2.0 / math.sqrt(D))
        lin(t, r, p + 'v_proj', D, D)
        lin(t, r, p + 'out_proj', D, D)

    for side in ('encoder', 'decoder'):
        for l in range(c[f'{side}_layers']):
            p = f'model.{side}.layers.{l}.'
            attn(p + 'self_attn.')
            ln_params(t, r, p + 'self_attn_layer_norm', D)
            if side == 'decoder':
                attn(p + 'encoder_attn.')
                ln_params(t, r, p + 'encoder_attn_layer_norm', D)
            lin(t, r, p + 'fc1', F, D)
            lin(t, r, p + 'fc2', D, F)
            ln_params(t, r, p + 'final_layer_norm', D)
    return t


def bart_config(fam, V, **kw):
    c = {
        'activation_dropout': 0.0, 'activation_function': 'gelu', 'architectures': ['BartForConditionalGeneration' if fam == 'bart' else 'MBartForConditionalGeneration'],
        'attention_dropout': 0.0, 'bos_token_id': 0, 'd_model': 32, 'decoder_attention_heads': 4, 'decoder_ffn_dim': 64, 'decoder_layers': 2,
        'decoder_start_token_id': 2, 'dropout': 0.1, 'encoder_attention_heads': 4, 'encoder_ffn_dim': 64, 'encoder_layers': 2,
        'eos_token_id': 2, 'forced_eos_token_id': 2, 'init_std': 0.02, 'is_encoder_decoder': True, 'max_length': 8,
        'max_position_embeddings': 64, 'model_type': fam, 'num_beams': 1, 'num_hidden_layers': 2, 'pad_token_id': 1,
        'scale_embedding': fam == 'mbart', 'tie_word_embeddings': True, 'torch_dtype': 'float16', 'transformers_version': '4.41.2',
        'use_cache': True, 'vocab_size': V,
    }
    c.update(kw)
    return c


def make_bart(o):
    d = family_dir('bart')
    merges = bpe_train(GPT2_CORPUS, 48)
    vocab = {s: i for i, s in enumerate(('<s>', '<pad>', '</s>', '<unk>'))}
    for _, ch in bytes_to_unicode():
        vocab[ch] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab['<mask>'] = len(vocab)
    added = [(s, vocab[s]) for s in ('<s>', '<pad>', '</s>', '<unk>', '<mask>')]
    write_json(os.path.join(d, 'tokenizer.json'), byte_bpe_tokenizer_json(vocab, merges, added, True))
    write_json(os.path.join(d, 'vocab.json'), vocab)
    with open(os.path.join(d, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    write_json(os.path.join(d, 'tokenizer_config.json'), {
        'add_prefix_space': False, 'bos_token': '<s>', 'cls_token': '<s>', 'eos_token': '</s>', 'errors': 'replace', 'mask_token': '<mask>',
        'model_max_length': 64, 'pad_token': '<pad>', 'sep_token': '</s>', 'tokenizer_class': 'BartTokenizer', 'trim_offsets': True, 'unk_token': '<unk>',
    })
    V = len(vocab)
    c = bart_config('bart', V, forced_bos_token_id=0)
    write_json(os.path.join(d, 'config.json'), c)
    tok = ByteBpe(vocab, merges)
    srcs = [[0] + tok.encode(text) + [2] for text in BART_TEXTS]  # RobertaProcessing: <s> … </s>

    def model(seed):
        stored = write_safetensors(os.path.join(d, 'model.safetensors'), bart_tensors(Rng(seed), c, V), lambda n: 'F16')
        return Bart(o, torch_weights(o, stored), c), stored
    m, _ = varied(o, model, srcs[0], c, c['decoder_start_token_id'], range(61, 161))
    cases = [run_case(o, m, c, text, src, c['decoder_start_token_id']) for text, src in zip(BART_TEXTS, srcs)]
    return {'family': 'bart', 'dtype': 'F16', 'cases': cases}


def make_mbart(o):
    d = family_dir('mbart')
    r = Rng(71)
    # fairseq's order: <s> <pad> </s> <unk>, the SentencePiece pieces, the language codes, <mask>
    vocab = unigram_vocab(r, MBART_CORPUS, ('<s>', '<pad>', '</s>', '<unk>'), tail=('en_XX', 'ro_RO', '<mask>'))
    ids = {p: i for i, (p, _) in enumerate(vocab)}
    added = [(s, ids[s]) for s in ('<s>', '<pad>', '</s>', '<unk>', 'en_XX', 'ro_RO', '<mask>')]
    write_json(os.path.join(d, 'tokenizer.json'), unigram_tokenizer_json(vocab, 3, added, False, ['</s>', 'en_XX'], {'</s>': 2, 'en_XX': ids['en_XX']}))
    write_json(os.path.join(d, 'tokenizer_config.json'), {
        'bos_token': '<s>', 'eos_token': '</s>', 'mask_token': '<mask>', 'model_max_length': 64, 'pad_token': '<pad>', 'sep_token': '</s>',
        'src_lang': 'en_XX', 'tgt_lang': 'ro_RO', 'tokenizer_class': 'MBartTokenizer', 'unk_token': '<unk>',
    })
    V = len(vocab)
    c = bart_config('mbart', V, forced_bos_token_id=ids['ro_RO'], max_length=9)
    write_json(os.path.join(d, 'config.json'), c)
    tok = Unigram(vocab, 3, False)
    norm = lambda s: re.sub(' {2,}', ' ', s)  # noqa: E731  (the Replace normaliser)
    srcs = [tok.encode(norm(text)) + [2, ids['en_XX']] for text in MBART_TEXTS]  # mBART's source: … </s> en_XX

    def model(seed):
        stored = write_safetensors(os.path.join(d, 'model.safetensors'), bart_tensors(Rng(seed), c, V), lambda n: 'F16')
        return Bart(o, torch_weights(o, stored), c), stored
    m, _ = varied(o, model, srcs[0], c, c['decoder_start_token_id'], range(71, 171))
    cases = [run_case(o, m, c, text, src, c['decoder_start_token_id']) for text, src in zip(MBART_TEXTS, srcs)]
    return {'family': 'mbart', 'dtype': 'F16', 'cases': cases,
            'tokenizer_cases': [{'text': s, 'ids': tok.encode(norm(s)) + [2, ids['en_XX']]} for s in ('the lazy zebra', 'quick,   quick')]}


def bench_t5_small(o, out):
    """A t5-small-shaped random checkpoint (60M parameters, F32 as on the Hub) in `out`, and torch float32 timings on it."""
    import time
    import torch
    os.makedirs(out, exist_ok=True)
    r = Rng(5)
    vocab = unigram_vocab(r, T5_CORPUS, ('<pad>', '</s>', '<unk>'))
    c = {
        'architectures': ['T5ForConditionalGeneration'], 'd_ff': 2048, 'd_kv': 64, 'd_model': 512, 'decoder_start_token_id': 0,
        'eos_token_id': 1, 'feed_forward_proj': 'relu', 'is_encoder_decoder': True, 'layer_norm_epsilon': 1e-06, 'model_type': 't5',
        'n_positions': 512, 'num_decoder_layers': 6, 'num_heads': 8, 'num_layers': 6, 'pad_token_id': 0,
        'relative_attention_max_distance': 128, 'relative_attention_num_buckets': 32, 'tie_word_embeddings': True, 'vocab_size': 32128,
        'max_length': 20,
    }
    write_json(os.path.join(out, 'config.json'), c)
    write_json(os.path.join(out, 'tokenizer.json'), unigram_tokenizer_json(vocab, 2, [('<pad>', 0), ('<unk>', 2), ('</s>', 1)], True, ['</s>'], {'</s>': 1}))
    t0 = time.perf_counter()
    stored = write_safetensors(os.path.join(out, 'model.safetensors'), t5_tensors(r, c, c['vocab_size']), lambda n: 'F32')
    print(f'wrote {out} in {time.perf_counter() - t0:.1f} s ({sum(v.size for v in stored.values()) / 1e6:.1f} M parameters)')
    o32 = TorchOps(torch.float32)
    m = T5(o32, torch_weights(o32, stored), c)
    tok = Unigram(vocab, 2, True)
    text = ' '.join(T5_CORPUS.split() * 40)
    src = (tok.encode(text)[:511]) + [1]
    with torch.no_grad():
        t0 = time.perf_counter()
        e = m.encode(src)
        t1 = time.perf_counter()
        out_ids, _ = greedy(m, e['memory'], c, 0)
        t2 = time.perf_counter()
    print(f'torch float32, {torch.get_num_threads()} threads: encoder on {len(src)} tokens {1000 * (t1 - t0):.0f} ms, '
          f'greedy decoding of {len(out_ids)} tokens {1000 * (t2 - t1):.0f} ms (no cache, as ours)')
    with open(os.path.join(out, 'bench_text.txt'), 'w', encoding='utf-8') as f:
        f.write(text)


MAKERS = {'t5': make_t5, 'flan-t5': lambda o: make_t5(o, 'flan-t5'), 'bart': make_bart, 'mbart': make_mbart}


def main(argv):
    import json
    import torch
    torch.set_num_threads(2)
    if '--out' in argv:
        i = argv.index('--out')
        hf.OUT = os.path.abspath(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    o = TorchOps(torch.float64)
    if argv[:1] == ['--bench-t5-small']:
        return bench_t5_small(o, os.path.abspath(argv[1]))
    fams = argv or list(MAKERS)
    for fam in fams:
        if fam not in MAKERS:
            raise SystemExit(f'unknown family {fam}; known: {", ".join(MAKERS)}')
        ref = MAKERS[fam](o)
        ref['generator'] = 'scripts/reference/hf_encdec.py (torch float64, Hugging Face semantics)'
        with open(os.path.join(hf.OUT, fam, 'reference.json'), 'w', encoding='utf-8') as f:
            json.dump(ref, f, ensure_ascii=False, separators=(',', ':'))
        size = sum(os.path.getsize(os.path.join(hf.OUT, fam, f)) for f in os.listdir(os.path.join(hf.OUT, fam)))
        print(f'{fam}: {size / 1024:.0f} kB, ' + ', '.join(f'{len(cs["ids"])} → {len(cs["output_ids"])} tokens' for cs in ref['cases']))


if __name__ == '__main__':
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Independent numpy reference for src/model/bert.ts and src/model/encdec.ts.

Nothing is shared with the TypeScript side or with the training scripts: safetensors is read with
struct/json/numpy, tokenisation is written here from the tokenizer.json files, and the forward passes
follow the published definitions, in float64:

BERT (Devlin et al. 2019; HF BertForMaskedLM):
    x   = LN(E[t] + P[pos] + S[0])                    LN(z) = (z − mean) / √(var + ε) · g + b
    Q,K,V = x W_{q,k,v}ᵀ + b, split into H heads of d = D/H
    α   = softmax(Q Kᵀ / √d)                           (no mask: bidirectional)
    h   = LN(x + concat_h(α V) W_oᵀ + b_o)
    x'  = LN(h + W₂ gelu(W₁ h + b₁) + b₂)            gelu(z) = ½ z (1 + erf(z/√2))
    logits = LN(gelu(x' W_tᵀ + b_t)) Eᵀ + b_vocab

Marian encoder–decoder (HF MarianMTModel, post-norm):
    e(t, p) = √D · E[t] + PE[p]     PE[p, i] = sin(p / 10000^(2i/D)), PE[p, D/2 + i] = cos(same), i < D/2
    encoder layer: x = LN(x + SelfAttn(x)); x = LN(x + fc2(swish(fc1(x))))
    decoder layer: y = LN(y + CausalSelfAttn(y)); y = LN(y + CrossAttn(y, enc)); y = LN(y + FFN(y))
    logits = y Eᵀ + final_logits_bias;  greedy decoding from decoder_start_token_id until </s>.

Writes test/fixtures/transformer/*.json (float32 arrays as base64 + shape).
Run from the repo root:  /usr/bin/python3 scripts/reference/transformer_ref.py
"""
import base64
import json
import math
import os
import struct
import unicodedata

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERT_DIR = os.path.join(ROOT, 'models', 'english-encoder')
DATES_DIR = os.path.join(ROOT, 'models', 'dates-transformer')
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'transformer')

BERT_INPUTS = [
    'The cat sat on the [MASK].',
    'A small dog is running across the green field, barking loudly.',
    'Café owners naïvely said: "it\'s über-cool!" 😀',
]
DATES_INPUTS = [
    'Monday 23rd of November 2026',
    '5/11/1987',
    'on the 1st of March, 2031',
]
TOP_K = 5


def b64(a):
    a = np.ascontiguousarray(np.asarray(a, dtype='<f4'))
    return {'shape': list(a.shape), 'b64': base64.b64encode(a.tobytes()).decode('ascii')}


def read_safetensors(path):
    with open(path, 'rb') as f:
        blob = f.read()
    (n,) = struct.unpack('<Q', blob[:8])
    header = json.loads(blob[8:8 + n].decode('utf-8'))
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32'
        b, e = info['data_offsets']
        out[name] = np.frombuffer(blob, dtype='<f4', count=(e - b) // 4, offset=8 + n + b).reshape(info['shape']).astype(np.float64)
    return out


def ln(x, g, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def softmax(s):
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(-1, keepdims=True)


_erf = np.vectorize(math.erf)


def gelu(z):
    return 0.5 * z * (1 + _erf(z / math.sqrt(2)))


def swish(z):
    return z / (1 + np.exp(-z))


def attention(xq, xkv, Wq, bq, Wk, bk, Wv, bv, Wo, bo, H, causal=False):
    Tq, D = xq.shape
    Tk = xkv.shape[0]
    d = D // H
    q = (xq @ Wq.T + bq).reshape(Tq, H, d).transpose(1, 0, 2)
    k = (xkv @ Wk.T + bk).reshape(Tk, H, d).transpose(1, 0, 2)
    v = (xkv @ Wv.T + bv).reshape(Tk, H, d).transpose(1, 0, 2)
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    masked = scores.copy()
    if causal:
        masked[:, np.triu(np.ones((Tq, Tk), dtype=bool), 1)] = -np.inf
    w = softmax(masked)
    ctx = w @ v
    out = ctx.transpose(1, 0, 2).reshape(Tq, D) @ Wo.T + bo
    return dict(Q=q, K=k, V=v, scores=scores, weights=w, context=ctx, attn_output=out)


# ---------------------------------------------------------------- BERT tokenizer, from tokenizer.json
class WordPieceTok:
    def __init__(self, path):
        with open(path, encoding='utf-8') as f:
            tj = json.load(f)
        self.vocab = tj['model']['vocab']
        self.inv = {i: p for p, i in self.vocab.items()}
        self.unk = self.vocab[tj['model']['unk_token']]
        self.specials = [t['content'] for t in tj['added_tokens'] if t['special']]

    @staticmethod
    def _punct(ch):
        cp = ord(ch)
        return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or unicodedata.category(ch).startswith('P')

    def _words(self, text):
        clean = []
        for ch in text:
            cat = unicodedata.category(ch)
            if ord(ch) in (0, 0xFFFD) or (cat in ('Cc', 'Cf', 'Co', 'Cs') and ch not in '\t\n\r'):
                continue
            clean.append(' ' if ch.isspace() else ch)
        text = unicodedata.normalize('NFD', ''.join(clean).lower())
        text = ''.join(ch for ch in text if unicodedata.category(ch) != 'Mn')
        words = []
        for chunk in text.split():
            cur = ''
            for ch in chunk:
                if self._punct(ch):
                    if cur:
                        words.append(cur)
                    words.append(ch)
                    cur = ''
                else:
                    cur += ch
            if cur:
                words.append(cur)
        return words

    def _wordpiece(self, w):
        out, start = [], 0
        while start < len(w):
            end, found = len(w), None
            while start < end:
                p = w[start:end] if start == 0 else '##' + w[start:end]
                if p in self.vocab:
                    found = p
                    break
                end -= 1
            if found is None:
                return [self.unk]
            out.append(self.vocab[found])
            start = end
        return out

    def encode(self, text):
        """[CLS] + pieces + [SEP]; special tokens typed in the text stay whole."""
        ids = [self.vocab['[CLS]']]
        rest = text
        while rest:
            hits = [(rest.find(s), s) for s in self.specials if s in rest]
            if hits:
                at, s = min(hits)
                before, rest = rest[:at], rest[at + len(s):]
            else:
                before, s, rest = rest, None, ''
            for w in self._words(before):
                ids += self._wordpiece(w)
            if s is not None:
                ids.append(self.vocab[s])
        return ids + [self.vocab['[SEP]']]


def bert_fixtures():
    with open(os.path.join(BERT_DIR, 'config.json')) as f:
        cfg = json.load(f)
    W = read_safetensors(os.path.join(BERT_DIR, 'model.safetensors'))
    tok = WordPieceTok(os.path.join(BERT_DIR, 'tokenizer.json'))
    H, eps, L = cfg['num_attention_heads'], cfg['layer_norm_eps'], cfg['num_hidden_layers']
    E = W['bert.embeddings.word_embeddings.weight']
    for n, text in enumerate(BERT_INPUTS):
        ids = tok.encode(text)
        T = len(ids)
        x = ln(E[ids] + W['bert.embeddings.position_embeddings.weight'][:T] + W['bert.embeddings.token_type_embeddings.weight'][0],
               W['bert.embeddings.LayerNorm.weight'], W['bert.embeddings.LayerNorm.bias'], eps)
        fx = {'text': text, 'ids': ids, 'pieces': [tok.inv[i] for i in ids], 'embedding': b64(x), 'layers': []}
        for l in range(L):
            p = f'bert.encoder.layer.{l}.'
            g = lambda name: W[p + name]  # noqa: E731
            a = attention(x, x, g('attention.self.query.weight'), g('attention.self.query.bias'), g('attention.self.key.weight'),
                          g('attention.self.key.bias'), g('attention.self.value.weight'), g('attention.self.value.bias'),
                          g('attention.output.dense.weight'), g('attention.output.dense.bias'), H)
            h = ln(x + a['attn_output'], g('attention.output.LayerNorm.weight'), g('attention.output.LayerNorm.bias'), eps)
            ff = gelu(h @ g('intermediate.dense.weight').T + g('intermediate.dense.bias')) @ g('output.dense.weight').T + g('output.dense.bias')
            x = ln(h + ff, g('output.LayerNorm.weight'), g('output.LayerNorm.bias'), eps)
            rec = {k: b64(v) for k, v in a.items()}
            rec['attn_hidden'] = b64(h)
            rec['hidden'] = b64(x)
            fx['layers'].append(rec)
        t = gelu(x @ W['cls.predictions.transform.dense.weight'].T + W['cls.predictions.transform.dense.bias'])
        t = ln(t, W['cls.predictions.transform.LayerNorm.weight'], W['cls.predictions.transform.LayerNorm.bias'], eps)
        logits = t @ E.T + W['cls.predictions.bias']
        probs = softmax(logits)
        top = np.argsort(-probs, axis=-1, kind='stable')[:, :TOP_K]
        fx['mlm_hidden'] = b64(t)
        fx['top_ids'] = top.tolist()
        fx['top_p'] = np.take_along_axis(probs, top, -1).tolist()
        # Full logits only for a few rows (file size): [MASK] positions, else the first real token.
        rows = [i for i, t_ in enumerate(ids) if t_ == tok.vocab['[MASK]']] or [1]
        fx['logit_rows'] = rows
        fx['logits'] = b64(logits[rows])
        path = os.path.join(OUT_DIR, f'bert_{n}.json')
        with open(path, 'w') as f:
            json.dump(fx, f)
        print(path, os.path.getsize(path), 'bytes;', ' '.join(fx['pieces']), '| top at', rows, [tok.inv[i] for i in top[rows[0]]])


# ---------------------------------------------------------------- Marian encoder–decoder
def sinusoid(n, D):
    pe = np.zeros((n, D))
    i = np.arange(D // 2)
    for p in range(n):
        ang = p / np.power(10000.0, 2 * i / D)
        pe[p, :D // 2] = np.sin(ang)
        pe[p, D // 2:] = np.cos(ang)
    return pe


def dates_fixtures():
    with open(os.path.join(DATES_DIR, 'config.json')) as f:
        cfg = json.load(f)
    with open(os.path.join(DATES_DIR, 'tokenizer.json'), encoding='utf-8') as f:
        tj = json.load(f)
    vocab = tj['model']['vocab']
    special_ids = {t['id'] for t in tj['added_tokens'] if t['special']}
    inv = {i: c for c, i in vocab.items()}
    W = read_safetensors(os.path.join(DATES_DIR, 'model.safetensors'))
    D = cfg['d_model']
    H = cfg['encoder_attention_heads']
    Hd = cfg['decoder_attention_heads']
    E = W['model.shared.weight']
    scale = math.sqrt(D) if cfg.get('scale_embedding') else 1.0
    PE = sinusoid(cfg['max_position_embeddings'], D)
    stored = W.get('model.encoder.embed_positions.weight')
    assert stored is None or np.abs(stored - PE).max() < 1e-6, 'stored position table differs from the sinusoid formula'
    eos, start, unk = cfg['eos_token_id'], cfg['decoder_start_token_id'], vocab['<unk>']
    eps = 1e-5

    def A(p, xq, xkv, causal, heads):
        g = lambda n: W[p + n]  # noqa: E731
        return attention(xq, xkv, g('q_proj.weight'), g('q_proj.bias'), g('k_proj.weight'), g('k_proj.bias'), g('v_proj.weight'),
                         g('v_proj.bias'), g('out_proj.weight'), g('out_proj.bias'), heads, causal)

    def N(p, x):
        return ln(x, W[p + '.weight'], W[p + '.bias'], eps)

    def ffn(p, x):
        return swish(x @ W[p + 'fc1.weight'].T + W[p + 'fc1.bias']) @ W[p + 'fc2.weight'].T + W[p + 'fc2.bias']

    def encode(ids):
        x = E[ids] * scale + PE[:len(ids)]
        recs = []
        emb = x
        for l in range(cfg['encoder_layers']):
            p = f'model.encoder.layers.{l}.'
            a = A(p + 'self_attn.', x, x, False, H)
            x = N(p + 'self_attn_layer_norm', x + a['attn_output'])
            h1 = x
            x = N(p + 'final_layer_norm', x + ffn(p, x))
            recs.append({**a, 'attn_hidden': h1, 'hidden': x})
        return emb, x, recs

    def decode(dec_in, mem):
        y = E[dec_in] * scale + PE[:len(dec_in)]
        emb = y
        recs = []
        for l in range(cfg['decoder_layers']):
            p = f'model.decoder.layers.{l}.'
            s = A(p + 'self_attn.', y, y, True, Hd)
            y = N(p + 'self_attn_layer_norm', y + s['attn_output'])
            h1 = y
            c = A(p + 'encoder_attn.', y, mem, False, Hd)
            y = N(p + 'encoder_attn_layer_norm', y + c['attn_output'])
            h2 = y
            y = N(p + 'final_layer_norm', y + ffn(p, y))
            recs.append({'self': s, 'cross': c, 'self_hidden': h1, 'cross_hidden': h2, 'hidden': y})
        logits = y @ E.T + W['final_logits_bias'][0]
        return emb, recs, logits

    for n, text in enumerate(DATES_INPUTS):
        src = [vocab.get(ch, unk) for ch in text] + [eos]
        emb, mem, enc_recs = encode(src)
        out = []
        for _ in range(cfg['max_length'] - 1):
            _, _, logits = decode([start] + out, mem)
            nxt = int(np.argmax(logits[-1]))
            out.append(nxt)
            if nxt == eos:
                break
        dec_in = [start] + out[:-1]
        demb, dec_recs, logits = decode(dec_in, mem)
        probs = softmax(logits)
        top = np.argsort(-probs, axis=-1, kind='stable')[:, :TOP_K]
        decoded = ''.join(inv[i] for i in out if i not in special_ids)
        fx = {
            'text': text, 'src_ids': src, 'out_ids': out, 'decoded': decoded, 'dec_in': dec_in,
            'enc_embedding': b64(emb), 'dec_embedding': b64(demb),
            'enc_layers': [{k: b64(v) for k, v in r.items()} for r in enc_recs],
            'dec_layers': [{'self': {k: b64(v) for k, v in r['self'].items()}, 'cross': {k: b64(v) for k, v in r['cross'].items()},
                            'self_hidden': b64(r['self_hidden']), 'cross_hidden': b64(r['cross_hidden']), 'hidden': b64(r['hidden'])}
                           for r in dec_recs],
            'last_logits': b64(logits[-1:]), 'top_ids': top.tolist(), 'top_p': np.take_along_axis(probs, top, -1).tolist(),
        }
        path = os.path.join(OUT_DIR, f'dates_{n}.json')
        with open(path, 'w') as f:
            json.dump(fx, f)
        print(path, os.path.getsize(path), 'bytes;', repr(text), '->', decoded)


if __name__ == '__main__':
    import sys
    os.makedirs(OUT_DIR, exist_ok=True)
    which = sys.argv[1:] or ['bert', 'dates']
    if 'bert' in which:
        bert_fixtures()
    if 'dates' in which:
        dates_fixtures()

"""Independent numpy forward pass of the seq2seq date models, for the unit-test fixtures.

Reads models/seq2seq-dates/{config,vocab}.json and <variant>.safetensors with its own parser
(no torch, no code shared with the trainer or the TypeScript model), runs the GRU equations
written out in float64, greedy-decodes, and writes test/fixtures/seq2seq/<variant>.json with every
intermediate tensor (base64 little-endian float32 + shape).

    /usr/bin/python3 scripts/reference/seq2seq_ref.py
"""
from __future__ import annotations

import base64
import json
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / 'models' / 'seq2seq-dates'
OUT_DIR = ROOT / 'test' / 'fixtures' / 'seq2seq'
VARIANTS = ['additive', 'dot', 'general', 'scaled-dot', 'none']

# Per variant: the brief's example (its weekday is wrong: 23 Nov 2026 is a Monday, the model
# ignores weekdays), two everyday formats, and one long input.
INPUTS = {
    'additive': ['Sunday 23rd of November 2026', 'the 3rd of march 1999', 'on Wednesday the 23rd of September in the year 2026'],
    'dot': ['Sunday 23rd of November 2026', 'MONDAY 1 JAN 2024', 'Nov 23, 2026'],
    'general': ['Monday 23rd of November 2026', '23/11/2026', 'the 3rd of march 1999'],
    'scaled-dot': ['Sunday 23rd of November 2026', 'MONDAY 1 JAN 2024', 'it was Tue the 16th of September 2087'],
    'none': ['Sunday 23rd of November 2026', 'Nov 23, 2026', 'on Wednesday the 23rd of September in the year 2026'],
}


def read_safetensors(path: Path, dtype=np.float64) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', (name, info['dtype'])
        a, b = info['data_offsets']
        out[name] = np.frombuffer(data[a:b], dtype='<f4').reshape(info['shape']).astype(dtype)
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """PyTorch GRU cell, gate rows ordered (r, z, n); b_hn sits inside r ⊙ (W_hn h + b_hn)."""
    H = h.shape[0]
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    b_ir, b_iz, b_in = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    b_hr, b_hz, b_hn = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    r = sigmoid(W_ir @ x + b_ir + W_hr @ h + b_hr)
    z = sigmoid(W_iz @ x + b_iz + W_hz @ h + b_hz)
    n = np.tanh(W_in @ x + b_in + r * (W_hn @ h + b_hn))
    return (1 - z) * n + z * h


def tokenize(text: str, vocab: dict) -> tuple[list[int], list[tuple[str, int, int]]]:
    """Code points with UTF-16 offsets; outer whitespace skipped; inner whitespace → space; else <unk>."""
    index = {c: i for i, c in enumerate(vocab['input'])}
    chars = []
    off = 0
    for ch in text:
        units = len(ch.encode('utf-16-le')) // 2
        chars.append((ch, off, off + units))
        off += units
    while chars and chars[0][0].isspace():
        chars.pop(0)
    while chars and chars[-1][0].isspace():
        chars.pop()
    ids = []
    for ch, _, _ in chars:
        i = index.get(ch)
        if i is None or i in (vocab['pad_id'], vocab['unk_id']):
            i = index[' '] if ch.isspace() else vocab['unk_id']
        ids.append(i)
    return ids, chars


def forward(variant: str, w: dict[str, np.ndarray], cfg: dict, vocab: dict, text: str) -> dict:
    ids, chars = tokenize(text, vocab)
    n = len(ids)
    dh = cfg['d_enc']
    X = w['embedding.input'][ids]  # [n, d_emb]
    dtype = X.dtype
    fwd = np.zeros((n, dh), dtype)
    bwd = np.zeros((n, dh), dtype)
    h = np.zeros(dh, dtype)
    for i in range(n):
        h = gru_cell(X[i], h, w['encoder.forward.W_ih'], w['encoder.forward.W_hh'], w['encoder.forward.b_ih'], w['encoder.forward.b_hh'])
        fwd[i] = h
    h = np.zeros(dh, dtype)
    for i in reversed(range(n)):
        h = gru_cell(X[i], h, w['encoder.backward.W_ih'], w['encoder.backward.W_hh'], w['encoder.backward.b_ih'], w['encoder.backward.b_hh'])
        bwd[i] = h
    Hs = np.concatenate([fwd, bwd], axis=1)  # keys = values, [n, 2·d_h]
    s = np.concatenate([fwd[n - 1], bwd[0]])  # s₀
    s0 = s.copy()
    steps = []
    y = vocab['bos_id']
    out = []
    for t in range(cfg['max_output']):
        e_y = w['embedding.output'][y]
        s = gru_cell(e_y, s, w['decoder.W_ih'], w['decoder.W_hh'], w['decoder.b_ih'], w['decoder.b_hh'])
        step = {'input': e_y, 'query': s.copy()}
        if variant == 'none':
            comb_in = s
        else:
            if variant == 'dot':
                e = np.array([s @ Hs[i] for i in range(n)])
            elif variant == 'scaled-dot':
                e = np.array([s @ Hs[i] for i in range(n)]) / np.sqrt(Hs.shape[1]).astype(dtype)
            elif variant == 'general':
                e = np.array([s @ w['attention.W'] @ Hs[i] for i in range(n)])
            elif variant == 'additive':
                q1 = w['attention.W1'] @ s
                step['W1q'] = q1
                e = np.array([w['attention.v'] @ np.tanh(q1 + w['attention.W2'] @ Hs[i]) for i in range(n)])
            else:
                raise ValueError(variant)
            a = softmax(e)
            c = sum(a[i] * Hs[i] for i in range(n))
            step.update(scores=e, weights=a, context=c)
            comb_in = np.concatenate([s, c])
        o = np.tanh(w['combine.weight'] @ comb_in + w['combine.bias'])
        logits = w['output.weight'] @ o + w['output.bias']
        p = softmax(logits)
        y = int(np.argmax(p))
        srt = np.sort(p)[::-1]
        step.update(combined=o, logits=logits, probs=p, argmax=y, margin=float(srt[0] - srt[1]))
        steps.append(step)
        if y == vocab['eos_id']:
            break
        out.append(vocab['output'][y])
    res = {'text': text, 'ids': ids, 'chars': [c for c, _, _ in chars], 'offsets': [[a, b] for _, a, b in chars],
           'decoded': ''.join(out), 'X': X, 'forward': fwd, 'backward': bwd, 'hidden': Hs, 's0': s0, 'steps': steps}
    if variant == 'additive':
        res['W2k'] = Hs @ w['attention.W2'].T
    elif variant == 'general':
        res['Wk'] = Hs @ w['attention.W'].T
    return res


def enc(a: np.ndarray) -> dict:
    a = np.asarray(a, dtype=np.float64)
    return {'shape': list(a.shape), 'b64': base64.b64encode(a.astype('<f4').tobytes()).decode('ascii')}


def to_json(r: dict) -> dict:
    out = {}
    for k, v in r.items():
        if isinstance(v, np.ndarray):
            out[k] = enc(v)
        elif k == 'steps':
            out[k] = [{kk: (enc(vv) if isinstance(vv, np.ndarray) else vv) for kk, vv in st.items()} for st in v]
        else:
            out[k] = v
    return out


def main() -> None:
    cfg = json.loads((MODEL_DIR / 'config.json').read_text())
    vocab = json.loads((MODEL_DIR / 'vocab.json').read_text())
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    variants = sys.argv[1:] or VARIANTS
    for v in variants:
        w = read_safetensors(MODEL_DIR / f'{v}.safetensors')
        cases = [forward(v, w, cfg, vocab, text) for text in INPUTS[v]]
        for c in cases:
            margins = min(s['margin'] for s in c['steps'])
            print(f'{v:10} {c["text"]!r:58} → {c["decoded"]!r}  (steps {len(c["steps"])}, smallest top-1 margin {margins:.3g})')
        doc = {'variant': v, 'generator': 'scripts/reference/seq2seq_ref.py (numpy float64, stored as float32)',
               'cases': [to_json(c) for c in cases]}
        path = OUT_DIR / f'{v}.json'
        path.write_text(json.dumps(doc, separators=(',', ':')) + '\n')
        print(f'  wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB)')


if __name__ == '__main__':
    main()

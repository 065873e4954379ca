"""Independent numpy forward pass of the seq2seq models, for the unit-test fixtures.

Reads models/seq2seq-dates/ (GRU variants and the LSTM, lstm-additive) and models/seq2seq-reverse/
({config,vocab}.json and the .safetensors) with its own parser (no code shared with the trainer or
the TypeScript model), runs the GRU and LSTM equations written out in float64, greedy-decodes, and
writes test/fixtures/seq2seq/<variant>.json with every intermediate tensor, every gate of every
encoder position (both directions) and decoder step included (base64 little-endian float32 + shape).
The recurrent states are then checked against torch.nn.GRU / nn.LSTM (and their cells) loaded with
the same weights: a second, independent implementation of the equations.

    /usr/bin/python3 scripts/reference/seq2seq_ref.py                  # every variant
    /usr/bin/python3 scripts/reference/seq2seq_ref.py lstm-additive    # some
"""
from __future__ import annotations

import base64
import json
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATES_DIR = ROOT / 'models' / 'seq2seq-dates'
REVERSE_DIR = ROOT / 'models' / 'seq2seq-reverse'
OUT_DIR = ROOT / 'test' / 'fixtures' / 'seq2seq'
# fixture name → (model folder, weights file, cell, score variant)
MODELS = {
    'additive': (DATES_DIR, 'additive.safetensors', 'gru', 'additive'),
    'dot': (DATES_DIR, 'dot.safetensors', 'gru', 'dot'),
    'general': (DATES_DIR, 'general.safetensors', 'gru', 'general'),
    'scaled-dot': (DATES_DIR, 'scaled-dot.safetensors', 'gru', 'scaled-dot'),
    'none': (DATES_DIR, 'none.safetensors', 'gru', 'none'),
    'lstm-additive': (DATES_DIR, 'lstm-additive.safetensors', 'lstm', 'additive'),
    'reverse-additive': (REVERSE_DIR, 'additive.safetensors', 'gru', 'additive'),
    'reverse-none': (REVERSE_DIR, 'none.safetensors', 'gru', 'none'),
}
VARIANTS = list(MODELS)

# Per variant: the brief's example (its weekday is wrong: 23 Nov 2026 is a Monday, the model
# ignores weekdays), two everyday formats, and one long input.
INPUTS = {
    'additive': ['Sunday 23rd of November 2026', 'the 3rd of march 1999', 'on Wednesday the 23rd of September in the year 2026'],
    'dot': ['Sunday 23rd of November 2026', 'MONDAY 1 JAN 2024', 'Nov 23, 2026'],
    'general': ['Monday 23rd of November 2026', '23/11/2026', 'the 3rd of march 1999'],
    'scaled-dot': ['Sunday 23rd of November 2026', 'MONDAY 1 JAN 2024', 'it was Tue the 16th of September 2087'],
    'none': ['Sunday 23rd of November 2026', 'Nov 23, 2026', 'on Wednesday the 23rd of September in the year 2026'],
    'lstm-additive': ['Sunday 23rd of November 2026', 'Nov 23, 2026', 'on Wednesday the 23rd of September in the year 2026'],
    'reverse-additive': ['attention', 'thequickbrownfoxjumpsoverthelazydog', 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcd'],
    'reverse-none': ['attention', 'thequickbrownfoxjumpsoverthelazydog', 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcd'],
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
    """PyTorch GRU cell, gate rows ordered (r, z, n); b_hn sits inside r ⊙ (W_hn h + b_hn). Returns h′, {z, r, n}."""
    H = h.shape[0]
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    b_ir, b_iz, b_in = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    b_hr, b_hz, b_hn = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    r = sigmoid(W_ir @ x + b_ir + W_hr @ h + b_hr)
    z = sigmoid(W_iz @ x + b_iz + W_hz @ h + b_hz)
    n = np.tanh(W_in @ x + b_in + r * (W_hn @ h + b_hn))
    return (1 - z) * n + z * h, {'z': z, 'r': r, 'n': n}


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """PyTorch LSTM cell, gate rows ordered (i, f, g, o). Returns h′, c′, {i, f, g, o}."""
    H = h.shape[0]
    a = W_ih @ x + b_ih + W_hh @ h + b_hh
    i = sigmoid(a[:H])
    f = sigmoid(a[H:2 * H])
    g = np.tanh(a[2 * H:3 * H])
    o = sigmoid(a[3 * H:])
    c2 = f * c + i * g
    return o * np.tanh(c2), c2, {'i': i, 'f': f, 'g': g, 'o': o}


def run_direction(cell: str, X, w: dict, prefix: str, reverse: bool):
    """One encoder direction over X: states [n, h], cell states (LSTM) and every gate [n, h], in input order."""
    n = X.shape[0]
    dh = w[f'{prefix}.W_hh'].shape[1]
    W = [w[f'{prefix}.{k}'] for k in ('W_ih', 'W_hh', 'b_ih', 'b_hh')]
    Hs = np.zeros((n, dh), X.dtype)
    Cs = np.zeros((n, dh), X.dtype)
    names = ['z', 'r', 'n'] if cell == 'gru' else ['i', 'f', 'g', 'o']
    gates = {k: np.zeros((n, dh), X.dtype) for k in names}
    h = np.zeros(dh, X.dtype)
    c = np.zeros(dh, X.dtype)
    for i in (reversed(range(n)) if reverse else range(n)):
        if cell == 'gru':
            h, gs = gru_cell(X[i], h, *W)
        else:
            h, c, gs = lstm_cell(X[i], h, c, *W)
            Cs[i] = c
        Hs[i] = h
        for k in names:
            gates[k][i] = gs[k]
    return Hs, (Cs if cell == 'lstm' else None), gates


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


def forward(variant: str, w: dict[str, np.ndarray], cfg: dict, vocab: dict, text: str, cell: str = 'gru') -> dict:
    ids, chars = tokenize(text, vocab)
    n = len(ids)
    X = w['embedding.input'][ids]  # [n, d_emb]
    dtype = X.dtype
    fwd, cf, gf = run_direction(cell, X, w, 'encoder.forward', False)
    bwd, cb, gb = run_direction(cell, X, w, 'encoder.backward', True)
    Hs = np.concatenate([fwd, bwd], axis=1)  # keys = values, [n, 2·d_h]
    s = np.concatenate([fwd[n - 1], bwd[0]])  # s₀
    s0 = s.copy()
    c = np.concatenate([cf[n - 1], cb[0]]) if cell == 'lstm' else None  # c₀ = [→c_n ; ←c_1]
    c0 = None if c is None else c.copy()
    Wd = [w[f'decoder.{k}'] for k in ('W_ih', 'W_hh', 'b_ih', 'b_hh')]
    steps = []
    y = vocab['bos_id']
    out = []
    for t in range(cfg['max_output']):
        e_y = w['embedding.output'][y]
        if cell == 'gru':
            s, gs = gru_cell(e_y, s, *Wd)
        else:
            s, c, gs = lstm_cell(e_y, s, c, *Wd)
        step = {'input': e_y, 'query': s.copy(), **{f'gate_{k}': v for k, v in gs.items()}}
        if cell == 'lstm':
            step['cell'] = c.copy()
        if variant.endswith('none'):
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
            ctx = sum(a[i] * Hs[i] for i in range(n))
            step.update(scores=e, weights=a, context=ctx)
            comb_in = np.concatenate([s, ctx])
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
    res = {'text': text, 'ids': ids, 'chars': [ch for ch, _, _ in chars], 'offsets': [[a, b] for _, a, b in chars],
           'decoded': ''.join(out), 'X': X, 'forward': fwd, 'backward': bwd, 'hidden': Hs, 's0': s0, 'steps': steps}
    for k, v in gf.items():
        res[f'forward_{k}'] = v
    for k, v in gb.items():
        res[f'backward_{k}'] = v
    if cell == 'lstm':
        res.update(forward_c=cf, backward_c=cb, c0=c0)
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


def torch_check(cell: str, w: dict[str, np.ndarray], case: dict) -> float:
    """The largest difference between this file's recurrences and torch.nn.GRU/LSTM (and GRUCell/LSTMCell) on the same weights."""
    import torch
    t = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    X = t(case['X'])
    d_emb, dh = X.shape[1], w['encoder.forward.W_hh'].shape[1]
    rnn = (torch.nn.GRU if cell == 'gru' else torch.nn.LSTM)(d_emb, dh, bidirectional=True, batch_first=True).double()
    dec_cls = torch.nn.GRUCell if cell == 'gru' else torch.nn.LSTMCell
    d = w['decoder.W_hh'].shape[1]
    dec = dec_cls(w['decoder.W_ih'].shape[1], d).double()
    with torch.no_grad():
        for sfx, pre in (('', 'encoder.forward'), ('_reverse', 'encoder.backward')):
            getattr(rnn, f'weight_ih_l0{sfx}').copy_(t(w[f'{pre}.W_ih']))
            getattr(rnn, f'weight_hh_l0{sfx}').copy_(t(w[f'{pre}.W_hh']))
            getattr(rnn, f'bias_ih_l0{sfx}').copy_(t(w[f'{pre}.b_ih']))
            getattr(rnn, f'bias_hh_l0{sfx}').copy_(t(w[f'{pre}.b_hh']))
        dec.weight_ih.copy_(t(w['decoder.W_ih']))
        dec.weight_hh.copy_(t(w['decoder.W_hh']))
        dec.bias_ih.copy_(t(w['decoder.b_ih']))
        dec.bias_hh.copy_(t(w['decoder.b_hh']))
        H, _ = rnn(X[None])
        worst = float((H[0] - t(case['hidden'])).abs().max())
        h = t(case['s0'])[None]
        c = t(case['c0'])[None] if cell == 'lstm' else None
        for st in case['steps']:
            x = t(st['input'])[None]
            if cell == 'gru':
                h = dec(x, h)
            else:
                h, c = dec(x, (h, c))
                worst = max(worst, float((c[0] - t(st['cell'])).abs().max()))
            worst = max(worst, float((h[0] - t(st['query'])).abs().max()))
    return worst


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    variants = sys.argv[1:] or VARIANTS
    for v in variants:
        model_dir, file, cell, score = MODELS[v]
        if not (model_dir / file).exists():
            print(f'{v}: {model_dir / file} not found, skipped')
            continue
        cfg = json.loads((model_dir / 'config.json').read_text())
        vocab = json.loads((model_dir / 'vocab.json').read_text())
        w = read_safetensors(model_dir / file)
        cases = [forward(score, w, cfg, vocab, text, cell) for text in INPUTS[v]]
        for c in cases:
            margins = min(s['margin'] for s in c['steps'])
            worst = torch_check(cell, w, c)
            assert worst < 1e-9, f'{v} {c["text"]!r}: numpy and torch recurrences differ by {worst}'
            print(f'{v:16} {c["text"]!r:58} → {c["decoded"]!r}  (steps {len(c["steps"])}, smallest top-1 margin {margins:.3g},'
                  f' |numpy − torch| ≤ {worst:.1e})')
        doc = {'variant': v, 'cell': cell, 'score': score,
               'generator': 'scripts/reference/seq2seq_ref.py (numpy float64, stored as float32; recurrences checked against torch)',
               'cases': [to_json(c) for c in cases]}
        path = OUT_DIR / f'{v}.json'
        path.write_text(json.dumps(doc, separators=(',', ':')) + '\n')
        print(f'  wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB)')


if __name__ == '__main__':
    main()

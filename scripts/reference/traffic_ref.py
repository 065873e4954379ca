"""Independent numpy forward pass of the traffic forecasters, for the unit-test fixtures.

Reads models/traffic/config.json and <variant>.safetensors with its own parser (no torch in the
forward, no code shared with the trainer or the TypeScript model), runs the convolution, LSTM and
attention equations written out in float64, and writes test/fixtures/traffic/<variant>.json with
every intermediate tensor (base64 little-endian float32 + shape). As a cross-check of the
equations it also runs torch's own nn.LSTM / nn.Conv1d with the same weights and asserts agreement.

    /usr/bin/python3 scripts/reference/traffic_ref.py

Data in the cases: samples/traffic/i94-westbound-3-weeks.csv, from John Hogue, Metro Interstate
Traffic Volume, UCI Machine Learning Repository (CC BY 4.0).
"""
from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / 'models' / 'traffic'
OUT_DIR = ROOT / 'test' / 'fixtures' / 'traffic'
SAMPLE = ROOT / 'samples' / 'traffic' / 'i94-westbound-3-weeks.csv'
VARIANTS = ['lstm-attention', 'conv-lstm-attention']


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32'
        a, b = info['data_offsets']
        out[name] = np.frombuffer(data[a:b], dtype='<f4').astype(np.float64).reshape(info['shape'])
    return out


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    g = W_ih @ x + b_ih + W_hh @ h + b_hh
    d = h.shape[0]
    i, f, gg, o = sigmoid(g[:d]), sigmoid(g[d:2 * d]), np.tanh(g[2 * d:3 * d]), sigmoid(g[3 * d:])
    c2 = f * c + i * gg
    return o * np.tanh(c2), c2


def forward(w: dict, cfg: dict, variant: str, vols: np.ndarray) -> dict:
    M, H, d = cfg['window'], cfg['horizon'], cfg['d_hidden']
    keys = cfg['keys']                                      # the window's hours the encoder reads
    z = (vols - cfg['mean']) / cfg['std']
    out: dict = {'z': z[keys]}
    if variant.startswith('conv'):
        K = cfg['conv_kernel']
        Wc, bc = w['conv.weight'], w['conv.bias']          # [C, K], [C]
        zp = np.concatenate([np.zeros(K - 1), z])
        Fm = np.stack([np.maximum(0.0, Wc @ zp[i:i + K] + bc) for i in range(M)])  # hour i reads z[i−K+1 … i]
        out['features'] = Fm
        U = Fm[keys]
    else:
        U = z[keys][:, None]
    h, c = np.zeros(d), np.zeros(d)
    Hs, Cs = [], []
    for i in range(len(keys)):
        h, c = lstm_cell(U[i], h, c, w['encoder.W_ih'], w['encoder.W_hh'], w['encoder.b_ih'], w['encoder.b_hh'])
        Hs.append(h)
        Cs.append(c)
    Hs, Cs = np.stack(Hs), np.stack(Cs)
    out['hidden'], out['cell'] = Hs, Cs
    W = w['attention.W']
    out['Wk'] = Hs @ W.T                                    # W h_i per row
    s, cd, y = h, c, z[-1]
    steps = []
    for t in range(H):
        inp = y
        s, cd = lstm_cell(np.array([y]), s, cd, w['decoder.W_ih'], w['decoder.W_hh'], w['decoder.b_ih'], w['decoder.b_hh'])
        e = np.array([s @ W @ Hs[i] for i in range(len(keys))])  # e_tj = s_tᵀ W h_j
        a = softmax(e)
        ctx = a @ Hs
        o = np.tanh(w['combine.weight'] @ np.concatenate([s, ctx]) + w['combine.bias'])
        y = float(w['output.weight'] @ o + w['output.bias'][0])
        steps.append({'input': np.array([inp]), 'query': s, 'cell': cd, 'scores': e, 'weights': a, 'context': ctx,
                      'combined': o, 'forecastZ': y, 'forecast': cfg['mean'] + cfg['std'] * y})
    out['steps'] = steps
    return out


def torch_check(w: dict, cfg: dict, variant: str, vols: np.ndarray, ref: dict) -> None:
    """The same weights in torch's own layers: encoder states and the first decoder state must agree."""
    import torch
    d = cfg['d_hidden']
    z = torch.tensor((vols - cfg['mean']) / cfg['std'], dtype=torch.float64)
    with torch.no_grad():
        if variant.startswith('conv'):
            K = cfg['conv_kernel']
            conv = torch.nn.Conv1d(1, cfg['conv_channels'], K).double()
            conv.weight.copy_(torch.tensor(w['conv.weight'])[:, None, :])
            conv.bias.copy_(torch.tensor(w['conv.bias']))
            u = torch.relu(conv(torch.nn.functional.pad(z[None, None, :], (K - 1, 0)))).transpose(1, 2)
            assert np.allclose(u[0].numpy(), ref['features'], atol=1e-10)
            u = u[:, cfg['keys'], :]
        else:
            u = z[None, cfg['keys'], None]
        lstm = torch.nn.LSTM(u.shape[2], d, batch_first=True).double()
        lstm.weight_ih_l0.copy_(torch.tensor(w['encoder.W_ih']))
        lstm.weight_hh_l0.copy_(torch.tensor(w['encoder.W_hh']))
        lstm.bias_ih_l0.copy_(torch.tensor(w['encoder.b_ih']))
        lstm.bias_hh_l0.copy_(torch.tensor(w['encoder.b_hh']))
        hs, (hM, cM) = lstm(u)
        assert np.allclose(hs[0].numpy(), ref['hidden'], atol=1e-10)
        cell = torch.nn.LSTMCell(1, d).double()
        cell.weight_ih.copy_(torch.tensor(w['decoder.W_ih']))
        cell.weight_hh.copy_(torch.tensor(w['decoder.W_hh']))
        cell.bias_ih.copy_(torch.tensor(w['decoder.b_ih']))
        cell.bias_hh.copy_(torch.tensor(w['decoder.b_hh']))
        s1, _ = cell(z[-1:][None, :], (hM[0], cM[0]))
        assert np.allclose(s1[0].numpy(), ref['steps'][0]['query'], atol=1e-10)


def enc(a) -> dict:
    a = np.asarray(a, dtype='<f4')
    return {'shape': list(a.shape), 'b64': base64.b64encode(a.tobytes()).decode('ascii')}


def cases() -> list[dict]:
    """(1) the sample's header + 174 rows: a window and 6 hours of truth; (2) one column of 168 volumes, no truth."""
    lines = SAMPLE.read_text().split('\n')
    rows = lines[1:175]
    text1 = '\n'.join([lines[0]] + rows) + '\n'
    col = [ln.split(',')[8] for ln in lines[301:469]]
    text2 = '\n'.join(col)
    out = []
    for text, has_time in ((text1, True), (text2, False)):
        offsets, vols = [], []
        pos = 0
        for ln in text.split('\n'):
            cells = ln.split(',')
            if ln and (not has_time or cells[0] != 'holiday'):
                v = cells[-1]
                start = pos + len(ln) - len(v)
                offsets.append([start, start + len(v)])
                vols.append(float(v))
            pos += len(ln) + 1
        out.append({'text': text, 'offsets': offsets, 'volumes': vols})
    return out


def main() -> None:
    cfg = json.loads((MODEL_DIR / 'config.json').read_text())
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    M, H = cfg['window'], cfg['horizon']
    for v in VARIANTS:
        w = read_safetensors(MODEL_DIR / f'{v}.safetensors')
        fixture = {'variant': v, 'generator': 'scripts/reference/traffic_ref.py (numpy float64, stored as float32)',
                   'cases': []}
        for case in cases():
            vols = np.array(case['volumes'][:M])
            truth = case['volumes'][M:M + H]
            ref = forward(w, cfg, v, vols)
            torch_check(w, cfg, v, vols, ref)
            fixture['cases'].append({
                'text': case['text'], 'offsets': [case['offsets'][k] for k in cfg['keys']], 'truth': truth,
                'truth_offsets': case['offsets'][M:M + H],
                **{k: enc(ref[k]) for k in ('z', 'hidden', 'cell', 'Wk') if k in ref},
                **({'features': enc(ref['features'])} if 'features' in ref else {}),
                'steps': [{k: (enc(s[k]) if isinstance(s[k], np.ndarray) else s[k]) for k in s} for s in ref['steps']],
            })
            print(v, 'forecast', [round(s['forecast']) for s in ref['steps']], 'truth', truth)
        (OUT_DIR / f'{v}.json').write_text(json.dumps(fixture, separators=(',', ':')))


if __name__ == '__main__':
    main()

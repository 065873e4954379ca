"""Prepare the Metro Interstate traffic data, train the temporal-attention forecasters, export them.

    /usr/bin/python3 scripts/train/traffic.py                  # prepare, train all three, evaluate, export
    /usr/bin/python3 scripts/train/traffic.py --prepare-only   # print the data-preparation counts only
    /usr/bin/python3 scripts/train/traffic.py --eval-only      # re-evaluate the exported weights, rewrite RESULTS.md
    TRAFFIC_EPOCHS=1 /usr/bin/python3 scripts/train/traffic.py --train-only --resume lstm-attention  # one more epoch
    /usr/bin/python3 scripts/train/traffic.py --train-only lstm-none   # train one variant only (variants can train
                                                               # in parallel processes; then run --eval-only)

Data: John Hogue, Metro Interstate Traffic Volume, UCI Machine Learning Repository (CC BY 4.0),
DOI 10.24432/C5X60B; hourly westbound I-94 volumes (MN DoT ATR station 301), 2012-10-02 … 2018-09-30.
Read from /work/shared/data/metro-interstate-traffic/ (or TRAFFIC_CSV=path).

Task: from the past M = 168 hourly volumes (one week), forecast the next H = 6 hours. The encoder
reads K = 30 of those hours: the last 24, and the same hour as the first forecast hour on each of
the 6 days before (lags 48, 72, …, 168; lag 24 is already among the last 24). Measured here: an
LSTM over all 168 hours took ~10 min per epoch on the shared 2 cores (load ≈ 30); over 30 hours it
is ~5× cheaper. Volumes are normalised with the training years' mean and standard deviation.

Models (the same encoder, decoder and head; only what feeds the encoder and the attention differ):

    keys  k_1 … k_K = M−168, M−144, …, M−48, M−24, M−23, …, M−1   (0-based hours of the window)
    u_j  = z_{k_j}                               lstm-attention, lstm-none     [1]
    f_i  = relu(Σ_q W_conv[q] z_{i−Q+1+q} + b)   conv-lstm-attention: a causal 1-D convolution over the
    u_j  = f_{k_j}                               whole window (Q = 5, zeros before hour 1)   [C = 16]
    h_j, c_j = LSTM_enc(u_j, h_{j−1}, c_{j−1})   encoder state = key = value    [d = 32]
    s_0, c_0 = h_K, c_K;  y_0 = z_M
    s_t, c_t = LSTMCell_dec(y_{t−1}, s_{t−1}, c_{t−1})   query for forecast hour t = 1 … H
    e_tj = s_tᵀ W_a h_j                          Luong's "general" score
    α_t  = softmax(e_t);  ctx_t = Σ_j α_tj h_j
    o_t  = tanh(W_c [s_t ; ctx_t] + b_c)         ('none': o_t = tanh(W_c s_t + b_c))
    y_t  = w_y · o_t + b_y                       forecast (normalised); v̂ = μ + σ y_t

PyTorch's LSTM gate blocks are ordered i, f, g, o:
    i = σ(W_ii x + b_ii + W_hi h + b_hi),  f = σ(…),  g = tanh(…),  o = σ(…)
    c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')

Seeds fixed; torch uses 1 thread (TORCH_THREADS=2 to change). Safetensors written by hand as in seq2seq.py.
"""
from __future__ import annotations

import csv
import json
import math
import os
import struct
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / 'models' / 'traffic'
CSV = Path(os.environ.get('TRAFFIC_CSV', '/work/shared/data/metro-interstate-traffic/Metro_Interstate_Traffic_Volume.csv'))
VARIANTS = ['lstm-attention', 'conv-lstm-attention', 'lstm-none']

M = 168           # window: past hours
KEYS = [M - 24 * k for k in range(7, 1, -1)] + list(range(M - 24, M))  # the hours the encoder reads (30)
H = 6             # horizon: forecast hours
D = 32            # LSTM hidden size (encoder and decoder)
C = 16            # conv channels (hybrid)
K = 5             # conv kernel (hours)
MAX_FILL = 3      # interpolate gaps of at most this many missing hours; longer gaps split the series
TRAIN_STRIDE = 1  # every training window
BATCH = 128
LR = 3e-3
EPOCHS = 10
VALID_STRIDE = 2  # validation during training on every 3rd 2017 window (the final numbers use all)
MAX_MINUTES = 12.0  # safety cap per variant (the machine is shared: reported when it triggers)
SEED = 1234

CREDIT = ('John Hogue, Metro Interstate Traffic Volume, UCI Machine Learning Repository '
          '(DOI 10.24432/C5X60B), CC BY 4.0')


# ---- data preparation ----------------------------------------------------------------------------

def prepare(verbose: bool = True) -> dict:
    rows = list(csv.DictReader(open(CSV, newline='')))
    by_hour: dict[datetime, list[dict]] = {}
    for r in rows:
        by_hour.setdefault(datetime.strptime(r['date_time'], '%Y-%m-%d %H:%M:%S'), []).append(r)
    dup_hours = [t for t, rs in by_hour.items() if len(rs) > 1]
    dup_rows = sum(len(by_hour[t]) - 1 for t in dup_hours)
    dup_conflict = sum(1 for t in dup_hours if len({r['traffic_volume'] for r in by_hour[t]}) > 1)
    temp0 = sum(1 for r in rows if float(r['temp']) <= 0)
    rain_bad = sum(1 for r in rows if float(r['rain_1h']) > 100)
    start, end = min(by_hour), max(by_hour)
    n = int((end - start).total_seconds() // 3600) + 1
    times = [start + timedelta(hours=k) for k in range(n)]
    vol = np.full(n, np.nan)
    for k, t in enumerate(times):
        if t in by_hour:
            vol[k] = float(by_hour[t][0]['traffic_volume'])  # duplicates: first row (volumes agree)
    missing = np.isnan(vol)
    # runs of missing hours
    runs = []
    k = 0
    while k < n:
        if missing[k]:
            j = k
            while j < n and missing[j]:
                j += 1
            runs.append((k, j - k))
            k = j
        else:
            k += 1
    filled = 0
    for a, length in runs:
        if length <= MAX_FILL and a > 0 and a + length < n:
            lo, hi = vol[a - 1], vol[a + length]
            for q in range(length):
                vol[a + q] = lo + (hi - lo) * (q + 1) / (length + 1)
            filled += length
    long_runs = [(a, length) for a, length in runs if length > MAX_FILL]
    years = np.array([t.year for t in times])
    train_mask = (years <= 2016) & ~np.isnan(vol)
    mu = float(vol[train_mask].mean())
    sigma = float(vol[train_mask].std())
    info = {
        'rows': len(rows), 'distinct_hours': len(by_hour), 'duplicated_hours': len(dup_hours),
        'duplicate_rows_dropped': dup_rows, 'duplicates_with_different_volume': dup_conflict,
        'span_hours': n, 'start': str(start), 'end': str(end), 'missing_hours': int(missing.sum()),
        'missing_runs': len(runs), 'filled_hours': filled, 'max_fill': MAX_FILL,
        'long_gaps': len(long_runs), 'long_gap_hours': int(sum(l for _, l in long_runs)),
        'longest_gap_hours': int(max(l for _, l in runs)), 'temp_0K_rows': temp0, 'rain_over_100mm_rows': rain_bad,
        'mean': mu, 'std': sigma,
    }
    if verbose:
        print(f"rows {len(rows)}, distinct hours {len(by_hour)}; {len(dup_hours)} hours appear more than once "
              f"({dup_rows} extra rows, one per extra weather condition; {dup_conflict} disagree on volume) → kept the first")
        print(f"span {start} … {end} = {n} hours; {int(missing.sum())} hours missing in {len(runs)} gaps; "
              f"{filled} hours in gaps of ≤ {MAX_FILL} h filled by linear interpolation; "
              f"{len(long_runs)} longer gaps ({info['long_gap_hours']} h, longest {info['longest_gap_hours']} h) "
              f"left empty: no window crosses them")
        print(f"impossible weather: {temp0} rows with temp 0 K, {rain_bad} row with rain_1h > 100 mm "
              f"(max 9831.3): counted, not used — the models read the volume only")
        print(f"train (2012–2016) volume mean {mu:.1f}, std {sigma:.1f} vehicles/hour")
    return {'times': times, 'vol': vol, 'years': years, 'info': info}


def windows(data: dict, year_lo: int, year_hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Window starts s (inputs s … s+M−1, targets s+M … s+M+H−1) with every hour present and the
    first forecast hour's year in [year_lo, year_hi]. Also returns the index of the first target."""
    vol, years = data['vol'], data['years']
    ok = ~np.isnan(vol)
    n = len(vol)
    bad = np.concatenate([[0], np.cumsum(~ok)])
    starts = []
    for s in range(0, n - M - H + 1):
        if bad[s + M + H] - bad[s] == 0 and year_lo <= years[s + M] <= year_hi:
            starts.append(s)
    return np.array(starts, dtype=np.int64)


def tensors_for(data: dict, starts: np.ndarray, mu: float, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    z = (data['vol'] - mu) / sigma
    idx = starts[:, None] + np.arange(M + H)[None, :]
    w = z[idx].astype(np.float32)
    return torch.from_numpy(w[:, :M]), torch.from_numpy(w[:, M:])


# ---- model ---------------------------------------------------------------------------------------

class Forecaster(nn.Module):
    def __init__(self, variant: str):
        super().__init__()
        self.variant = variant
        self.conv = variant.startswith('conv')
        self.attention = not variant.endswith('none')
        if self.conv:
            self.conv1 = nn.Conv1d(1, C, K)
        self.encoder = nn.LSTM(C if self.conv else 1, D, batch_first=True)
        self.decoder = nn.LSTMCell(1, D)
        if self.attention:
            self.W_a = nn.Parameter(torch.randn(D, D) / math.sqrt(D))
        self.combine = nn.Linear(2 * D if self.attention else D, D)
        self.out = nn.Linear(D, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:   # x [B, M] → [B, len(KEYS), F]
        if not self.conv:
            return x[:, KEYS, None]
        xp = torch.nn.functional.pad(x[:, None, :], (K - 1, 0))
        return torch.relu(self.conv1(xp)).transpose(1, 2)[:, KEYS, :]

    def forward(self, x: torch.Tensor, trace: bool = False):
        u = self.features(x)
        hs, (hM, cM) = self.encoder(u)
        s, c = hM[0], cM[0]
        y = x[:, -1:]
        ys, alphas, extra = [], [], []
        for _ in range(H):
            s, c = self.decoder(y, (s, c))
            if self.attention:
                e = torch.einsum('bd,de,bie->bi', s, self.W_a, hs)
                a = torch.softmax(e, dim=1)
                ctx = torch.einsum('bi,bid->bd', a, hs)
                o = torch.tanh(self.combine(torch.cat([s, ctx], dim=1)))
                alphas.append(a)
            else:
                o = torch.tanh(self.combine(s))
            y = self.out(o)
            ys.append(y[:, 0])
        out = torch.stack(ys, dim=1)
        if trace:
            return out, (torch.stack(alphas, dim=1) if alphas else None)
        return out


# ---- safetensors (hand-written, as in seq2seq.py) -------------------------------------------------

def write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    header: dict = {'__metadata__': metadata}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr, dtype='<f4')
        b = a.tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype='<f4').reshape(info['shape'])
    return out


def export_tensors(m: Forecaster) -> dict[str, np.ndarray]:
    g = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    t = {}
    if m.conv:
        t['conv.weight'] = g(m.conv1.weight[:, 0, :])   # [C, K]; output at hour i reads hours i−K+1 … i
        t['conv.bias'] = g(m.conv1.bias)
    t['encoder.W_ih'] = g(m.encoder.weight_ih_l0)
    t['encoder.W_hh'] = g(m.encoder.weight_hh_l0)
    t['encoder.b_ih'] = g(m.encoder.bias_ih_l0)
    t['encoder.b_hh'] = g(m.encoder.bias_hh_l0)
    t['decoder.W_ih'] = g(m.decoder.weight_ih)
    t['decoder.W_hh'] = g(m.decoder.weight_hh)
    t['decoder.b_ih'] = g(m.decoder.bias_ih)
    t['decoder.b_hh'] = g(m.decoder.bias_hh)
    if m.attention:
        t['attention.W'] = g(m.W_a)
    t['combine.weight'] = g(m.combine.weight)
    t['combine.bias'] = g(m.combine.bias)
    t['output.weight'] = g(m.out.weight[0])
    t['output.bias'] = g(m.out.bias)
    return t


def import_tensors(m: Forecaster, t: dict[str, np.ndarray]) -> None:
    p = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        if m.conv:
            m.conv1.weight.copy_(p(t['conv.weight'])[:, None, :])
            m.conv1.bias.copy_(p(t['conv.bias']))
        m.encoder.weight_ih_l0.copy_(p(t['encoder.W_ih']))
        m.encoder.weight_hh_l0.copy_(p(t['encoder.W_hh']))
        m.encoder.bias_ih_l0.copy_(p(t['encoder.b_ih']))
        m.encoder.bias_hh_l0.copy_(p(t['encoder.b_hh']))
        m.decoder.weight_ih.copy_(p(t['decoder.W_ih']))
        m.decoder.weight_hh.copy_(p(t['decoder.W_hh']))
        m.decoder.bias_ih.copy_(p(t['decoder.b_ih']))
        m.decoder.bias_hh.copy_(p(t['decoder.b_hh']))
        if m.attention:
            m.W_a.copy_(p(t['attention.W']))
        m.combine.weight.copy_(p(t['combine.weight']))
        m.combine.bias.copy_(p(t['combine.bias']))
        m.out.weight.copy_(p(t['output.weight'])[None, :])
        m.out.bias.copy_(p(t['output.bias']))


# ---- training and evaluation ---------------------------------------------------------------------

def predict(m: Forecaster, X: torch.Tensor, batch: int = 1024) -> tuple[np.ndarray, np.ndarray | None]:
    m.eval()
    ys, als = [], []
    with torch.no_grad():
        for a in range(0, len(X), batch):
            y, al = m(X[a:a + batch], trace=True)
            ys.append(y.numpy())
            if al is not None:
                als.append(al.numpy())
    return np.concatenate(ys), (np.concatenate(als) if als else None)


def errors(pred_v: np.ndarray, true_v: np.ndarray) -> dict:
    d = pred_v - true_v
    return {'mae': float(np.abs(d).mean()), 'rmse': float(np.sqrt((d ** 2).mean())),
            'mae_by_h': [float(np.abs(d[:, h]).mean()) for h in range(H)],
            'rmse_by_h': [float(np.sqrt((d[:, h] ** 2).mean())) for h in range(H)]}


def train_variant(variant: str, sets: dict, mu: float, sigma: float, start: dict | None = None,
                  epochs: int = EPOCHS) -> tuple[Forecaster, dict]:
    """Trains from the seed, or (start = the exported tensors and their train info) continues for `epochs` more
    (a fresh Adam state; the learning-rate schedule counts the epochs already done)."""
    done = start['info']['epochs'] if start else 0
    torch.manual_seed(SEED + done)
    np.random.seed(SEED)
    m = Forecaster(variant)
    if start:
        import_tensors(m, start['tensors'])
    opt = torch.optim.Adam(m.parameters(), lr=LR)
    Xtr, Ytr = sets['train']
    Xva, Yva = sets['valid']
    Xva, Yva = Xva[::VALID_STRIDE], Yva[::VALID_STRIDE]
    rng = np.random.default_rng(SEED + done)
    best, best_state = math.inf, None
    log = list(start['info']['log']) if start else []
    minutes0 = start['info']['minutes'] if start else 0.0
    t0 = time.time()
    capped = False
    for epoch in range(done, done + epochs):
        if epoch == EPOCHS // 2 or epoch == (3 * EPOCHS) // 4:
            for gparam in opt.param_groups:
                gparam['lr'] *= 0.5
        m.train()
        perm = rng.permutation(len(Xtr))
        tot = 0.0
        for a in range(0, len(perm), BATCH):
            b = torch.from_numpy(perm[a:a + BATCH])
            loss = torch.mean((m(Xtr[b]) - Ytr[b]) ** 2)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            tot += float(loss) * len(b)
        pv, _ = predict(m, Xva)
        va_mae = float(np.abs(pv - Yva.numpy()).mean() * sigma)
        minutes = minutes0 + (time.time() - t0) / 60
        log.append({'epoch': epoch + 1, 'train_mse': tot / len(perm), 'valid_mae': va_mae, 'minutes': minutes})
        print(f"  {variant} epoch {epoch + 1}: train mse {tot / len(perm):.4f}, valid MAE {va_mae:.1f} veh/h "
              f"({minutes:.1f} min)", flush=True)
        if va_mae < best:
            best = va_mae
            best_state = {k: v.clone() for k, v in m.state_dict().items()}
        if minutes - minutes0 > MAX_MINUTES:
            capped = True
            print(f"  {variant}: stopped at the {MAX_MINUTES}-minute cap", flush=True)
            break
    m.load_state_dict(best_state)
    if start and start['info']['best_valid_mae'] < best:
        import_tensors(m, start['tensors'])   # the continuation did not improve on validation: keep the start
        best = start['info']['best_valid_mae']
    return m, {'epochs': len(log), 'best_valid_mae': best, 'minutes': minutes0 + (time.time() - t0) / 60,
               'capped': capped or bool(start and start['info'].get('capped')), 'log': log}


def lag_shares(alpha: np.ndarray) -> dict:
    """alpha [N, H, len(KEYS)]: weight of forecast hour t (1-based) on key j, the window's hour KEYS[j]
    (0-based). The lag of that hour from forecast hour t is M − 1 − KEYS[j] + t."""
    keys = np.array(KEYS)
    out = {}
    for name, centre in (('day', 24), ('week', 168)):
        share = np.zeros(alpha.shape[0])
        cells = 0
        for t in range(1, H + 1):
            lags = M - 1 - keys + t
            sel = np.abs(lags - centre) <= 1
            share += alpha[:, t - 1, sel].sum(axis=1)
            cells += int(sel.sum())
        out[name] = float(share.mean() / H)
        out[name + '_uniform'] = cells / (H * len(KEYS))
    recent = alpha[:, :, -3:].sum(axis=2).mean()
    out['last3'] = float(recent)
    out['last3_uniform'] = 3 / len(KEYS)
    prof = alpha.mean(axis=0)            # [H, K]
    out['top_lags'] = [[int(M - 1 - KEYS[j] + t + 1) for j in np.argsort(-prof[t])[:5]] for t in range(H)]
    out['mean_profile'] = [[round(float(x), 4) for x in row] for row in prof]
    return out


def seasonal_naive(data: dict, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vol = data['vol']
    tgt = starts[:, None] + M + np.arange(H)[None, :]
    return vol[tgt - 168], vol[tgt]


def write_results(results: dict, info: dict) -> None:
    r = results
    lines = ['# Traffic forecasting with temporal attention: results', '',
             f'Data: {CREDIT}. Westbound I-94 hourly volumes; window M = {M} h, horizon H = {H} h; the encoder reads '
             f'{len(KEYS)} of the window\'s hours: the last 24 and the same hour as the first forecast hour on the 6 days '
             f'before (lags 48 … 168). Measured: an LSTM over all 168 hours took about 10 minutes per epoch on the '
             f'shared 2 cores (load ≈ 30), about 5× more than over these 30.', '',
             '## Data preparation (printed by `scripts/train/traffic.py`)', '',
             f"- {info['rows']} rows, {info['distinct_hours']} distinct hours: {info['duplicated_hours']} hours appear "
             f"more than once ({info['duplicate_rows_dropped']} extra rows, one per extra weather condition; "
             f"{info['duplicates_with_different_volume']} disagree on the volume) → the first row is kept.",
             f"- {info['span_hours']} hours from {info['start']} to {info['end']}; {info['missing_hours']} are missing, "
             f"in {info['missing_runs']} gaps. {info['filled_hours']} hours in gaps of at most {info['max_fill']} h are "
             f"filled by linear interpolation; the {info['long_gaps']} longer gaps ({info['long_gap_hours']} h, the longest "
             f"{info['longest_gap_hours']} h) are left empty and no window (168 h in + 6 h out) crosses them.",
             f"- Impossible weather values: {info['temp_0K_rows']} rows with temp 0 K and {info['rain_over_100mm_rows']} "
             f"with rain_1h = 9831.3 mm. Counted only: the models read the volume alone.",
             f"- Split by the first forecast hour's year: train 2012–2016 ({r['n_train']} windows), validate 2017 "
             f"({r['n_valid']}), test 2018 ({r['n_test']}). Volumes normalised with the training mean "
             f"{info['mean']:.1f} and standard deviation {info['std']:.1f} vehicles/hour.", '',
             '## Held-out 2018 errors (vehicles/hour, all 6 forecast hours)', '',
             '| model | MAE | RMSE | MAE at +1 h | MAE at +6 h | params | epochs | train min |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    sn = r['seasonal_naive']
    lines.append(f"| seasonal naive (same hour last week) | {sn['mae']:.1f} | {sn['rmse']:.1f} | {sn['mae_by_h'][0]:.1f} | "
                 f"{sn['mae_by_h'][-1]:.1f} | 0 | – | – |")
    for v in VARIANTS:
        if v not in r['variants']:
            continue
        e = r['variants'][v]
        lines.append(f"| {v} | {e['test']['mae']:.1f} | {e['test']['rmse']:.1f} | {e['test']['mae_by_h'][0]:.1f} | "
                     f"{e['test']['mae_by_h'][-1]:.1f} | {e['params']} | {e['train']['epochs']} | "
                     f"{e['train']['minutes']:.1f} |")
    lines += ['', '## What the attention looks at (2018 test windows, averaged over windows and the 6 forecast hours)', '',
              'Share of the attention weight on the keys 24 ± 1 h and 168 ± 1 h before the forecast hour, '
              f'and on the last 3 hours, against the share a uniform weighting over the {len(KEYS)} keys would give.', '',
              '| model | lag 24 ± 1 | (uniform) | lag 168 ± 1 | (uniform) | last 3 hours | (uniform) | top lags at +1 h |',
              '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |']
    for v in VARIANTS:
        e = r['variants'].get(v)
        if not e or 'lags' not in e:
            continue
        L = e['lags']
        lines.append(f"| {v} | {100 * L['day']:.1f}% | {100 * L['day_uniform']:.1f}% | {100 * L['week']:.1f}% | "
                     f"{100 * L['week_uniform']:.1f}% | {100 * L['last3']:.1f}% | {100 * L['last3_uniform']:.1f}% | "
                     f"{', '.join(str(x) for x in L['top_lags'][0])} |")
    # Reading, from the numbers above (nothing hand-written about the values)
    att = r['variants'].get('lstm-attention')
    none = r['variants'].get('lstm-none')
    if att and none:
        def cmp(a: float, b: float) -> str:
            return 'lower' if a < b else 'higher'
        lines += ['', '## Reading', '',
                  f"- Over the 6 hours, the attention LSTM's MAE ({att['test']['mae']:.1f}) is {cmp(att['test']['mae'], sn['mae'])} "
                  f"than the seasonal naive forecast's ({sn['mae']:.1f}) and its RMSE ({att['test']['rmse']:.1f}) "
                  f"{cmp(att['test']['rmse'], sn['rmse'])} ({sn['rmse']:.1f}): the models make fewer large errors "
                  f"(holidays, incidents, where last week is a poor guide) but not a smaller typical error. At +1 h they are "
                  f"far better ({att['test']['mae_by_h'][0]:.1f} against {sn['mae_by_h'][0]:.1f}); by +6 h worse "
                  f"({att['test']['mae_by_h'][-1]:.1f}).",
                  f"- Attention against none, same encoder and the same {att['train']['epochs']} epochs: MAE "
                  f"{att['test']['mae']:.1f} vs {none['test']['mae']:.1f}, RMSE {att['test']['rmse']:.1f} vs "
                  f"{none['test']['rmse']:.1f}.",
                  f"- The attention is broad: {100 * att['lags']['day']:.1f}% on lag 24 ± 1 where an even spread gives "
                  f"{100 * att['lags']['day_uniform']:.1f}%, {100 * att['lags']['week']:.1f}% on lag 168 ± 1 (even: "
                  f"{100 * att['lags']['week_uniform']:.1f}%). The stage texts in the panel quote these numbers.",
                  '- Training was cut short by the shared machine: 3 epochs each (one process per variant, a 12-minute '
                  'cap, then one more epoch for the two attention variants so all three have 3); longer training would '
                  'likely lower every error here.']
    lines.append('')
    (OUT_DIR / 'RESULTS.md').write_text('\n'.join(lines))


def n_params(t: dict[str, np.ndarray]) -> int:
    return int(sum(a.size for a in t.values()))


def main() -> None:
    torch.set_num_threads(int(os.environ.get('TORCH_THREADS', '1')))
    data = prepare()
    if '--prepare-only' in sys.argv:
        return
    info = data['info']
    mu, sigma = info['mean'], info['std']
    split = {'train': windows(data, 2012, 2016)[::TRAIN_STRIDE], 'valid': windows(data, 2017, 2017), 'test': windows(data, 2018, 2018)}
    sets = {k: tensors_for(data, s, mu, sigma) for k, s in split.items()}
    print({k: len(s) for k, s in split.items()}, 'windows')
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    eval_only = '--eval-only' in sys.argv
    wanted = [a for a in sys.argv[1:] if not a.startswith('--')] or VARIANTS
    res_path = OUT_DIR / 'results.json'
    results = json.loads(res_path.read_text()) if res_path.exists() else {'variants': {}}
    pn, tv = seasonal_naive(data, split['test'])
    results.update({'n_train': len(split['train']), 'n_valid': len(split['valid']), 'n_test': len(split['test']),
                    'seasonal_naive': errors(pn, tv), 'data': info})
    Xte, Yte = sets['test']
    true_v = Yte.numpy() * sigma + mu
    for v in wanted:
        path = OUT_DIR / f'{v}.safetensors'
        train_file = OUT_DIR / f'{v}.train.json'
        if eval_only:
            m = Forecaster(v)
            import_tensors(m, read_safetensors(path))
            train_info = (json.loads(train_file.read_text()) if train_file.exists()
                          else results['variants'].get(v, {}).get('train', {}))
        else:
            resume = '--resume' in sys.argv
            start = ({'tensors': read_safetensors(path), 'info': json.loads(train_file.read_text())}
                     if resume else None)
            more = int(os.environ.get('TRAFFIC_EPOCHS', EPOCHS))
            m, train_info = train_variant(v, sets, mu, sigma, start, more)
            t = export_tensors(m)
            write_safetensors(path, t, {'format': 'pt', 'variant': v, 'credit': CREDIT})
            m2 = Forecaster(v)
            import_tensors(m2, read_safetensors(path))
            a, _ = predict(m, Xte[:256])
            b, _ = predict(m2, Xte[:256])
            assert np.array_equal(a, b), 'reloaded weights differ'
            train_file.write_text(json.dumps(train_info, indent=1))
            if '--train-only' in sys.argv:
                continue
        pz, al = predict(m, Xte)
        entry = {'file': f'{v}.safetensors', 'attention': m.attention, 'conv': m.conv,
                 'params': n_params(export_tensors(m)), 'train': train_info,
                 'test': errors(pz * sigma + mu, true_v)}
        if al is not None:
            entry['lags'] = lag_shares(al)
        results['variants'][v] = entry
        print(f"{v}: test MAE {entry['test']['mae']:.1f}, RMSE {entry['test']['rmse']:.1f}"
              + (f"; attention on lag 24±1 {100 * entry['lags']['day']:.1f}%, 168±1 {100 * entry['lags']['week']:.1f}%,"
                 f" last 3 h {100 * entry['lags']['last3']:.1f}%" if al is not None else ''), flush=True)
    if '--train-only' in sys.argv:
        return
    print(f"seasonal naive: test MAE {results['seasonal_naive']['mae']:.1f}, RMSE {results['seasonal_naive']['rmse']:.1f}")
    res_path.write_text(json.dumps(results, indent=1))
    config = {
        'model_type': 'traffic-lstm-attention',
        'task': 'forecast the next 6 hourly traffic volumes from the past 168 (westbound I-94)',
        'window': M, 'keys': KEYS, 'horizon': H, 'd_hidden': D, 'conv_channels': C, 'conv_kernel': K,
        'score': 'general', 'mean': mu, 'std': sigma, 'lstm_gate_order': ['i', 'f', 'g', 'o'],
        'credit': CREDIT,
        'variants': {v: {'file': e['file'], 'attention': e['attention'], 'conv': e['conv'],
                         'test_mae': round(e['test']['mae'], 1), 'test_rmse': round(e['test']['rmse'], 1),
                         **({'lag24_share': round(e['lags']['day'], 4), 'lag168_share': round(e['lags']['week'], 4),
                             'last3_share': round(e['lags']['last3'], 4)} if 'lags' in e else {})}
                     for v, e in results['variants'].items()},
    }
    (OUT_DIR / 'config.json').write_text(json.dumps(config, indent=1))
    write_results(results, info)


if __name__ == '__main__':
    main()

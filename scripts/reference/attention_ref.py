"""Independent numpy reference for the attention maths (src/model/attention.ts, whatif.ts, toy.ts).

Written straight from the formulas, in float64, one head and one query at a time where that is
clearest; it shares no code with the TypeScript. It writes the unit-test fixtures:

  test/fixtures/attention/cases.json      every score function x normaliser, with and without a
                                          causal mask, multi-head, grouped-query (8 query heads on
                                          4 KV heads), cross-attention with a padding mask
  test/fixtures/attention/sparsemax.json  hand-made sparsemax rows: ties, true zeros, uniform,
                                          one-hot, large values, masked and fully masked rows
  test/fixtures/attention/heads.json      multi-head split [T, H*d] -> [H, T, d] and merge
  test/fixtures/attention/hard.json       hard attention and Luong's local attention: hardmax rows
                                          with ties and masks, sampled hard attention with seeds
                                          (mulberry32 re-implemented here), local-m and local-p
                                          windows with and without the Gaussian
  test/fixtures/attention/toy.json        the toy model end to end on one sentence, for every
                                          score function x normaliser (its seeded embeddings and
                                          weights re-derived here from the algorithms' definitions:
                                          FNV-1a, mulberry32, Box-Muller, sinusoidal positions)

Arrays are stored as {"shape": [...], "b64": base64 little-endian float32}. Inputs are rounded
to float32 before the float64 maths, so TypeScript and numpy start from identical numbers.

    /usr/bin/python3 scripts/reference/attention_ref.py

If torch is importable, the scaled-dot + softmax context of every case is also checked against
torch (scaled_dot_product_attention, or torch's softmax on older versions) before writing.
"""
from __future__ import annotations

import base64
import json
import math
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / 'test' / 'fixtures' / 'attention'

SCORES = ['dot', 'scaled-dot', 'general', 'additive']
NORMALISERS = ['softmax', 'sparsemax', 'sigmoid', 'hardmax', 'sampled']
DEFAULT_SAMPLE_SEED = 1  # shared/trace.ts DEFAULT_SAMPLE_SEED


def f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def enc(a) -> dict:
    a = np.asarray(a, dtype=np.float64)
    return {'shape': list(a.shape), 'b64': base64.b64encode(a.astype('<f4').tobytes()).decode('ascii')}


# ----------------------------------------------------------------------------------------------
# Score functions, one (query, key) pair at a time.

def score_pair(kind: str, q: np.ndarray, k: np.ndarray, P: dict, h: int) -> float:
    if kind == 'dot':
        return float(np.sum(q * k))
    if kind == 'scaled-dot':
        return float(np.sum(q * k) / math.sqrt(q.shape[0]))
    if kind == 'general':
        W = P['W'] if P['W'].ndim == 2 else P['W'][h]
        return float(q @ W @ k)
    if kind == 'additive':
        W1 = P['W1'] if P['W1'].ndim == 2 else P['W1'][h]
        W2 = P['W2'] if P['W2'].ndim == 2 else P['W2'][h]
        v = P['v'] if P['v'].ndim == 1 else P['v'][h]
        return float(v @ np.tanh(W1 @ q + W2 @ k))
    raise ValueError(kind)


# ----------------------------------------------------------------------------------------------
# Normalisers over one row; `allowed` is a boolean row (masked keys get weight exactly 0).

def softmax_row(z: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    out = np.zeros_like(z)
    if not allowed.any():
        return out
    zz = z[allowed]
    e = np.exp(zz - zz.max())
    out[allowed] = e / e.sum()
    return out


def sparsemax_vec(z: np.ndarray) -> np.ndarray:
    """Martins & Astudillo (2016), Algorithm 1."""
    zs = np.sort(z)[::-1]
    css = np.cumsum(zs)
    k = np.arange(1, z.shape[0] + 1)
    support = 1 + k * zs > css
    kz = int(k[support].max())
    tau = (css[kz - 1] - 1) / kz
    return np.maximum(z - tau, 0.0)


def sparsemax_row(z: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    out = np.zeros_like(z)
    if not allowed.any():
        return out
    out[allowed] = sparsemax_vec(z[allowed])
    return out


def sigmoid_row(z: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    return np.where(allowed, 1.0 / (1.0 + np.exp(-z)), 0.0)


def hardmax_row(z: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """One-hot at the best allowed key; tied maxima share the row evenly."""
    out = np.zeros_like(z)
    if not allowed.any():
        return out
    best = z[allowed].max()
    top = [j for j in range(z.shape[0]) if allowed[j] and z[j] == best]
    for j in top:
        out[j] = 1.0 / len(top)
    return out


def sampled_row(z: np.ndarray, allowed: np.ndarray, rand) -> np.ndarray:
    """One key drawn from softmax(z) by inverse CDF with u = rand(); every row takes one draw."""
    u = rand()
    p = softmax_row(z, allowed)
    out = np.zeros_like(z)
    total = p.sum()
    if total <= 0:
        return out
    acc, chosen = 0.0, -1
    for j in range(z.shape[0]):
        if p[j] <= 0:
            continue
        chosen = j
        acc += p[j]
        if acc > u * total:
            break
    out[chosen] = 1.0
    return out


NORM = {'softmax': softmax_row, 'sparsemax': sparsemax_row, 'sigmoid': sigmoid_row, 'hardmax': hardmax_row}


def normalise_row(norm: str, z, allowed, rand):
    return sampled_row(z, allowed, rand) if norm == 'sampled' else NORM[norm](z, allowed)


def attention(q, k, v, P, score, norm, allowed, kv_head_of=None, seed=DEFAULT_SAMPLE_SEED, gauss=None):
    """q [H, Tq, d], k/v [KV, Tk, d]; allowed [H or 1, Tq, Tk] booleans; gauss [H or 1, Tq, Tk] factors
    applied after normalising (Luong's local-p). Rows are normalised in (head, query) order, which is
    the order sampled hard attention draws in. Returns scores, weights, context."""
    H, Tq, _ = q.shape
    Tk = k.shape[1]
    S = np.zeros((H, Tq, Tk))
    A = np.zeros((H, Tq, Tk))
    C = np.zeros((H, Tq, v.shape[2]))
    rand = mulberry32(seed)
    for h in range(H):
        g = h if kv_head_of is None else kv_head_of[h]
        al = allowed[h if allowed.shape[0] > 1 else 0]
        for i in range(Tq):
            for j in range(Tk):
                S[h, i, j] = score_pair(score, q[h, i], k[g, j], P, h)
            A[h, i] = normalise_row(norm, S[h, i], al[i], rand)
            if gauss is not None:
                A[h, i] = A[h, i] * gauss[h if gauss.shape[0] > 1 else 0, i]
            # c_i = sum_j alpha_ij v_j, written as the sum it is
            for j in range(Tk):
                C[h, i] += A[h, i, j] * v[g, j]
    return S, A, C


def causal_allowed(Tq: int, Tk: int) -> np.ndarray:
    # query i (the last Tq of Tk positions) sees keys j <= i + (Tk - Tq)
    return np.array([[j <= i + (Tk - Tq) for j in range(Tk)] for i in range(Tq)])[None]


def padding_allowed(lengths, Tq: int, Tk: int) -> np.ndarray:
    return np.array([[[j < n for j in range(Tk)] for _ in range(Tq)] for n in lengths])


def make_case(name, rng, H, Tq, Tk, d, dv, da, KV=None, per_head=False, causal=False, lengths=None, scale=1.0):
    KV = KV or H
    q = f32(rng.normal(0, scale, (H, Tq, d)))
    k = f32(rng.normal(0, scale, (KV, Tk, d)))
    v = f32(rng.normal(0, 1, (KV, Tk, dv)))
    P = {
        'W': f32(rng.normal(0, 1 / math.sqrt(d), (H, d, d) if per_head else (d, d))),
        'W1': f32(rng.normal(0, 1 / math.sqrt(d), (H, da, d) if per_head else (da, d))),
        'W2': f32(rng.normal(0, 1 / math.sqrt(d), (H, da, d) if per_head else (da, d))),
        'v': f32(rng.normal(0, 1, (H, da) if per_head else (da,))),
    }
    kv_head_of = [h // (H // KV) for h in range(H)] if KV != H else None
    allowed = np.ones((1, Tq, Tk), dtype=bool)
    if causal:
        allowed = allowed & causal_allowed(Tq, Tk)
    if lengths is not None:
        allowed = allowed & padding_allowed(lengths, Tq, Tk)
    results = {}
    for s in SCORES:
        for n in NORMALISERS:
            S, A, C = attention(q, k, v, P, s, n, allowed, kv_head_of)
            if n in ('softmax', 'sparsemax', 'hardmax', 'sampled'):
                for h in range(H):
                    for i in range(Tq):
                        al = allowed[h if allowed.shape[0] > 1 else 0, i]
                        assert abs(A[h, i].sum() - (1.0 if al.any() else 0.0)) < 1e-12
            assert np.all(A[np.broadcast_to(~allowed, A.shape)] == 0)
            results[f'{s}/{n}'] = {'scores': enc(S), 'weights': enc(A), 'context': enc(C)}
    case = {
        'name': name,
        'q': enc(q), 'k': enc(k), 'v': enc(v),
        'params': {key: enc(val) for key, val in P.items()},
        'causal': causal,
        'results': results,
    }
    if kv_head_of is not None:
        case['kvHeadOf'] = kv_head_of
    if lengths is not None:
        case['keyLengths'] = list(lengths)
    return case, (q, k, v, P, allowed, kv_head_of)


def torch_check(q, k, v, allowed, kv_head_of, S_expected_weights_context):
    try:
        import torch
        import torch.nn.functional as F
    except Exception as err:  # noqa: BLE001
        print(f'  (torch not available: {err}; skipping the torch cross-check)')
        return
    if kv_head_of is not None:
        k = k[kv_head_of]
        v = v[kv_head_of]
    tq, tk, tv = (torch.tensor(x, dtype=torch.float64) for x in (q, k, v))
    mask = torch.tensor(np.broadcast_to(allowed, (q.shape[0], q.shape[1], k.shape[1])).copy())
    if not mask.any(-1).all():
        return  # torch gives NaN for fully masked rows; our convention is zeros
    if hasattr(F, 'scaled_dot_product_attention'):
        out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask).numpy()
    else:  # older torch (Debian's): the same formula with torch's own matmul and softmax
        s = torch.matmul(tq, tk.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        out = torch.matmul(torch.softmax(s.masked_fill(~mask, float('-inf')), dim=-1), tv).numpy()
    _, _, C = S_expected_weights_context
    assert np.allclose(out, C, rtol=1e-10, atol=1e-12), 'numpy reference disagrees with torch'


# ----------------------------------------------------------------------------------------------
# Toy model re-derivation

SALT = 'attention-lens/toy/v1'
D_MODEL, HEADS, D_K, D_A = 16, 2, 8, 8


def fnv1a32(s: str) -> int:
    h = 0x811C9DC5
    units = s.encode('utf-16-le')
    for i in range(0, len(units), 2):
        h ^= units[i] | (units[i + 1] << 8)
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def mulberry32(seed: int):
    state = [seed & 0xFFFFFFFF]

    def imul(a, b):
        return (a * b) & 0xFFFFFFFF

    def nxt() -> float:
        state[0] = (state[0] + 0x6D2B79F5) & 0xFFFFFFFF
        t = state[0]
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return nxt


def seeded_normal(seed: int, n: int, scale: float = 1.0) -> np.ndarray:
    rand = mulberry32(seed)
    out = np.zeros(n)
    for i in range(0, n, 2):
        u1 = 1 - rand()
        u2 = rand()
        r = math.sqrt(-2 * math.log(u1)) * scale
        out[i] = r * math.cos(2 * math.pi * u2)
        if i + 1 < n:
            out[i + 1] = r * math.sin(2 * math.pi * u2)
    return f32(out)


def word_key(text: str) -> str:
    return unicodedata.normalize('NFC', text).lower()


def sinusoidal(T: int, d: int) -> np.ndarray:
    pe = np.zeros((T, d))
    for p in range(T):
        for i in range(0, d, 2):
            angle = p / 10000 ** (i / d)
            pe[p, i] = math.sin(angle)
            pe[p, i + 1] = math.cos(angle)
    return f32(pe)


TOY_TEXT = 'The cat sat on the mat, and THE cat slept.'
TOY_TOKENS = ['The', 'cat', 'sat', 'on', 'the', 'mat', ',', 'and', 'THE', 'cat', 'slept', '.']


def toy_fixture() -> dict:
    T = len(TOY_TOKENS)
    w = lambda name, n, fan_in: seeded_normal(fnv1a32(f'{SALT}/{name}'), n, 1 / math.sqrt(fan_in))  # noqa: E731
    Wq, Wk, Wv, Wo = (w(n, D_MODEL * D_MODEL, D_MODEL).reshape(D_MODEL, D_MODEL) for n in ('W_q', 'W_k', 'W_v', 'W_o'))
    P = {
        'W': w('W', HEADS * D_K * D_K, D_K * D_K).reshape(HEADS, D_K, D_K),
        'W1': w('W1', D_A * D_K, D_K).reshape(D_A, D_K),
        'W2': w('W2', D_A * D_K, D_K).reshape(D_A, D_K),
        'v': w('v', D_A, 4),
    }
    E = np.stack([seeded_normal(fnv1a32(f'{SALT}/word/{word_key(t)}'), D_MODEL) for t in TOY_TOKENS])
    PE = sinusoidal(T, D_MODEL)
    X = f32(E + PE)  # the model adds in float32
    heads = lambda M: np.stack([M[:, h * D_K:(h + 1) * D_K] for h in range(HEADS)])  # noqa: E731
    Q, K, V = heads(X @ Wq), heads(X @ Wk), heads(X @ Wv)
    allowed = np.ones((1, T, T), dtype=bool)
    results = {}
    for s in SCORES:
        for n in NORMALISERS:
            S, A, C = attention(Q, K, V, P, s, n, allowed)
            merged = np.concatenate([C[h] for h in range(HEADS)], axis=1)  # [T, H*d]
            results[f'{s}/{n}'] = {'scores': enc(S), 'weights': enc(A), 'context': enc(C), 'output': enc(merged @ Wo)}
    return {
        'text': TOY_TEXT,
        'tokens': TOY_TOKENS,
        'E': enc(E), 'PE': enc(PE), 'X': enc(X), 'Q': enc(Q), 'K': enc(K), 'V': enc(V),
        'params': {key: enc(val) for key, val in P.items()},
        'Wo': enc(Wo),
        'results': results,
    }


# ----------------------------------------------------------------------------------------------

def sparsemax_fixture() -> list:
    rows = [
        ('ties at the top', [1.0, 1.0, 0.5, -1.0], None),
        ('tie exactly at the threshold', [2.0, 1.0, 1.0, 0.0], None),
        ('uniform', [0.25, 0.25, 0.25, 0.25], None),
        ('one-hot', [0.0, 0.0, 3.0, 0.0], None),
        ('all support', [0.1, 0.2, 0.15, 0.05], None),
        ('large values', [1000.0, 999.5, 998.0, 1000.25], None),
        ('negative', [-3.0, -2.5, -7.0, -2.75], None),
        ('true zeros', [0.8, -0.3, 0.6, 0.1, -1.2, 0.55], None),
        ('masked best key', [5.0, 1.0, 0.5, 0.75], [0, 1, 1, 1]),
        ('masked with tie', [1.0, 1.0, 1.0, -4.0], [1, 0, 1, 1]),
        ('fully masked', [1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0]),
        ('single allowed', [-9.0, 1.0, 2.0, 3.0], [1, 0, 0, 0]),
    ]
    out = []
    for name, z, m in rows:
        z = f32(z)
        allowed = np.ones_like(z, dtype=bool) if m is None else np.array(m, dtype=bool)
        a = sparsemax_row(z, allowed)
        case = {'name': name, 'z': [float(x) for x in z], 'expected': [float(x) for x in a]}
        if m is not None:
            case['mask'] = m
        out.append(case)
    # A random block, [3 heads, 5 queries, 7 keys], with some exactly-repeated values.
    rng = np.random.default_rng(7)
    Z = f32(np.round(rng.normal(0, 1.5, (3, 5, 7)) * 8) / 8)  # multiples of 1/8: many exact ties
    A = np.stack([[sparsemax_vec(Z[h, i]) for i in range(5)] for h in range(3)])
    out.append({'name': 'random block (eighths)', 'block': {'z': enc(Z), 'expected': enc(A)}})
    return out


def heads_fixture(rng) -> dict:
    T, H, d = 5, 4, 3
    X = f32(rng.normal(0, 1, (T, H * d)))
    split = np.stack([X[:, h * d:(h + 1) * d] for h in range(H)])  # head h owns features h*d..h*d+d-1
    return {'T': T, 'H': H, 'd': d, 'x': enc(X), 'split': enc(split)}


def hard_fixture(rng) -> dict:
    hardmax_rows = [
        ('single maximum', [0.5, 2.0, -1.0, 1.0], None),
        ('two tied maxima', [1.0, 3.0, 3.0, -2.0], None),
        ('three tied maxima', [0.25, 0.25, -1.0, 0.25], None),
        ('all equal', [4.0, 4.0, 4.0, 4.0], None),
        ('masked maximum: the next best wins', [9.0, 1.0, 2.0, 0.5], [0, 1, 1, 1]),
        ('masked key ties the best allowed', [2.0, 2.0, 1.0, 2.0], [1, 0, 1, 1]),
        ('fully masked', [1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0]),
        ('large values', [1e6, 1e6 - 1, 1e6, -1e6], None),
    ]
    rows = []
    for name, z, m in hardmax_rows:
        z = f32(z)
        allowed = np.ones_like(z, dtype=bool) if m is None else np.array(m, dtype=bool)
        row = {'name': name, 'z': [float(x) for x in z], 'expected': [float(np.float32(x)) for x in hardmax_row(z, allowed)]}  # as float32
        if m is not None:
            row['mask'] = m
        rows.append(row)
    # A random block of eighths (exact ties) through hardmax, with a mask whose row 1 is fully masked.
    Z = f32(np.round(rng.normal(0, 1, (2, 4, 6)) * 4) / 4)
    M = np.array([[1, 1, 1, 0, 1, 1], [0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 0], [1, 1, 1, 1, 1, 1]], dtype=bool)
    HB = np.stack([[hardmax_row(Z[h, i], M[i]) for i in range(4)] for h in range(2)])
    hardmax_block = {'z': enc(Z), 'mask': M.astype(int).tolist(), 'expected': enc(HB)}

    sampled = []
    for name, seed, shape, masked in [
        ('seed 1, [2 heads, 5 queries, 6 keys]', 1, (2, 5, 6), False),
        ('seed 42, flat scores (near-uniform p)', 42, (1, 8, 4), False),
        ('seed 7, masked (row 2 fully masked)', 7, (2, 4, 5), True),
        ('seed 4294967295', 4294967295, (1, 6, 3), False),
    ]:
        Z = f32(rng.normal(0, 0.3 if 'flat' in name else 1.5, shape))
        M = np.ones(shape[1:], dtype=bool)
        if masked:
            M[2] = False
            M[0, 1] = M[3, 4] = False
        rand = mulberry32(seed)
        W = np.stack([[sampled_row(Z[h, i], M[i], rand) for i in range(shape[1])] for h in range(shape[0])])
        keys = [[int(np.argmax(W[h, i])) if W[h, i].any() else -1 for i in range(shape[1])] for h in range(shape[0])]
        case = {'name': name, 'seed': seed, 'z': enc(Z), 'expected': enc(W), 'keys': keys}
        if masked:
            case['mask'] = M.astype(int).tolist()
        sampled.append(case)
    # The first draws themselves, so the generator can be checked on its own.
    draws = {str(seed): [mulberry32(seed)() for _ in range(1)] for seed in (1, 42)}
    r1 = mulberry32(1)
    draws['1'] = [r1() for _ in range(5)]

    local = []
    specs = [
        dict(name='local-m D=1, no Gaussian, 1 head, bidirectional', H=1, Tq=6, Tk=6, d=4, dv=3,
             alignment='monotonic', D=1, gaussian=False, causal=False, norm='softmax'),
        dict(name='local-m D=2, Gaussian, 2 heads, causal', H=2, Tq=6, Tk=6, d=4, dv=3,
             alignment='monotonic', D=2, gaussian=True, causal=True, norm='softmax'),
        dict(name='local-m D=2, Gaussian, hardmax, causal offset Tq 3 < Tk 7', H=2, Tq=3, Tk=7, d=4, dv=2,
             alignment='monotonic', D=2, gaussian=True, causal=True, norm='hardmax'),
        dict(name='local-m D=3, sparsemax, padding mask (keys 5, 6 masked)', H=2, Tq=7, Tk=7, d=4, dv=2,
             alignment='monotonic', D=3, gaussian=False, causal=False, norm='sparsemax', pad=5),
        dict(name='local-p D=2, Gaussian, 2 heads, cross Tq 4, Tk 9', H=2, Tq=4, Tk=9, d=4, dv=3,
             alignment='predictive', D=2, gaussian=True, causal=False, norm='softmax'),
        dict(name='local-p D=1, Gaussian, sampled seed 5', H=2, Tq=5, Tk=8, d=4, dv=3,
             alignment='predictive', D=1, gaussian=True, causal=False, norm='sampled', seed=5),
        dict(name='local-p D=3, no Gaussian, sigmoid', H=1, Tq=4, Tk=10, d=4, dv=2,
             alignment='predictive', D=3, gaussian=False, causal=False, norm='sigmoid'),
    ]
    for sp in specs:
        H, Tq, Tk, d, dv, D = sp['H'], sp['Tq'], sp['Tk'], sp['d'], sp['dv'], sp['D']
        q = f32(rng.normal(0, 1, (H, Tq, d)))
        k = f32(rng.normal(0, 1, (H, Tk, d)))
        v = f32(rng.normal(0, 1, (H, Tk, dv)))
        P = {}
        if sp['alignment'] == 'predictive':
            dp = 5
            P = {'W_p': f32(rng.normal(0, 1, (dp, d))), 'v_p': f32(rng.normal(0, 1.5, (dp,)))}
            # p_t = S * sigmoid(v_p^T tanh(W_p h_t)), h_t = the query vector of head h at step t
            pos = np.array([[Tk / (1 + math.exp(-float(P['v_p'] @ np.tanh(P['W_p'] @ q[h, t])))) for t in range(Tq)]
                            for h in range(H)])
        else:
            off = Tk - Tq if sp['causal'] else 0
            pos = np.array([[t + off for t in range(Tq)]], dtype=np.float64)
        Hw = pos.shape[0]
        win = np.array([[[abs(s_ - pos[h, t]) <= D for s_ in range(Tk)] for t in range(Tq)] for h in range(Hw)])
        sigma = D / 2
        gauss = np.array([[[math.exp(-(s_ - pos[h, t]) ** 2 / (2 * sigma ** 2)) for s_ in range(Tk)] for t in range(Tq)]
                          for h in range(Hw)]) if sp['gaussian'] else None
        block = np.ones((Tq, Tk), dtype=bool)
        if 'pad' in sp:
            block[:, sp['pad']:] = False
        allowed = win & block[None]
        if sp['causal']:
            allowed = allowed & causal_allowed(Tq, Tk)
        seed = sp.get('seed', DEFAULT_SAMPLE_SEED)
        S, A, C = attention(q, k, v, P, 'scaled-dot', sp['norm'], allowed, seed=seed, gauss=gauss)
        assert np.all(A[np.broadcast_to(~allowed, A.shape)] == 0)
        sums = A.sum(-1)
        if not sp['gaussian'] and sp['norm'] != 'sigmoid':
            assert np.allclose(sums[allowed.any(-1).repeat(H // Hw, 0) if Hw < H else allowed.any(-1)], 1.0)
        case = {
            'name': sp['name'],
            'q': enc(q), 'k': enc(k), 'v': enc(v),
            'params': {key: enc(val) for key, val in P.items()},
            'causal': sp['causal'],
            'normaliser': sp['norm'],
            'seed': seed,
            'local': {'alignment': sp['alignment'], 'D': D, 'gaussian': sp['gaussian']},
            'positions': enc(pos[0] if Hw == 1 else pos),
            'windowMask': enc((allowed[0] if Hw == 1 else allowed).astype(np.float64)),
            'scores': enc(S), 'weights': enc(A), 'context': enc(C),
            'rowSums': enc(sums),
        }
        if 'pad' in sp:
            case['mask'] = enc(block.astype(np.float64))
        local.append(case)
    return {'hardmax': rows, 'hardmaxBlock': hardmax_block, 'sampled': sampled, 'draws': draws, 'local': local}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240611)
    specs = [
        dict(name='self, 2 heads', H=2, Tq=5, Tk=5, d=4, dv=3, da=6),
        dict(name='self, 2 heads, causal', H=2, Tq=5, Tk=5, d=4, dv=3, da=6, causal=True),
        dict(name='self, 3 heads, per-head W, W1, W2, v', H=3, Tq=4, Tk=4, d=4, dv=4, da=5, per_head=True),
        dict(name='self, 3 heads, per-head params, causal', H=3, Tq=4, Tk=4, d=4, dv=4, da=5, per_head=True, causal=True),
        dict(name='GQA: 8 query heads on 4 KV heads', H=8, Tq=4, Tk=4, d=4, dv=4, da=4, KV=4),
        dict(name='GQA: 8 query heads on 4 KV heads, causal', H=8, Tq=4, Tk=4, d=4, dv=4, da=4, KV=4, causal=True),
        dict(name='cross, 2 heads, Tq 3 < Tk 6, causal offset', H=2, Tq=3, Tk=6, d=4, dv=2, da=4, causal=True),
        dict(name='cross, 2 heads, padding lengths [6, 2]', H=2, Tq=3, Tk=6, d=4, dv=2, da=4, lengths=[6, 2]),
        dict(name='cross, 2 heads, padding [0, 4] (a fully masked head)', H=2, Tq=3, Tk=6, d=4, dv=2, da=4, lengths=[0, 4]),
        dict(name='single head, wide scores', H=1, Tq=4, Tk=4, d=8, dv=3, da=4, scale=1.5),
    ]
    cases = []
    for spec in specs:
        name = spec.pop('name')
        case, (q, k, v, P, allowed, kv) = make_case(name, rng, **spec)
        S, A, C = attention(q, k, v, P, 'scaled-dot', 'softmax', allowed, kv)
        torch_check(q, k, v, allowed, kv, (S, A, C))
        cases.append(case)
        print(f'{name}: {len(case["results"])} score x normaliser results')
    files = {
        'cases.json': {'tolerance': 'rel 1e-5, abs 1e-6', 'cases': cases},
        'sparsemax.json': {'rows': sparsemax_fixture()},
        'heads.json': heads_fixture(rng),
        'toy.json': toy_fixture(),
        'hard.json': hard_fixture(np.random.default_rng(20261201)),
    }
    for name, data in files.items():
        path = OUT / name
        path.write_text(json.dumps(data, indent=1) + '\n')
        print(f'wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)')


if __name__ == '__main__':
    main()

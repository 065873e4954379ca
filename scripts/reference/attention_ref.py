"""Independent numpy reference for the attention maths (src/model/attention.ts, whatif.ts, toy.ts).

Written straight from the formulas, in float64, one head and one query at a time where that is
clearest; it shares no code with the TypeScript. It writes the unit-test fixtures:

  test/fixtures/attention/cases.json      every score function x normaliser, with and without a
                                          causal mask, multi-head, grouped-query (8 query heads on
                                          4 KV heads), cross-attention with a padding mask
  test/fixtures/attention/sparsemax.json  hand-made sparsemax rows: ties, true zeros, uniform,
                                          one-hot, large values, masked and fully masked rows
  test/fixtures/attention/heads.json      multi-head split [T, H*d] -> [H, T, d] and merge
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
NORMALISERS = ['softmax', 'sparsemax', 'sigmoid']


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


NORM = {'softmax': softmax_row, 'sparsemax': sparsemax_row, 'sigmoid': sigmoid_row}


def attention(q, k, v, P, score, norm, allowed, kv_head_of=None):
    """q [H, Tq, d], k/v [KV, Tk, d]; allowed [H or 1, Tq, Tk] booleans. Returns scores, weights, context."""
    H, Tq, _ = q.shape
    Tk = k.shape[1]
    S = np.zeros((H, Tq, Tk))
    A = np.zeros((H, Tq, Tk))
    C = np.zeros((H, Tq, v.shape[2]))
    for h in range(H):
        g = h if kv_head_of is None else kv_head_of[h]
        al = allowed[h if allowed.shape[0] > 1 else 0]
        for i in range(Tq):
            for j in range(Tk):
                S[h, i, j] = score_pair(score, q[h, i], k[g, j], P, h)
            A[h, i] = NORM[norm](S[h, i], al[i])
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
            if n in ('softmax', 'sparsemax'):
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
    }
    for name, data in files.items():
        path = OUT / name
        path.write_text(json.dumps(data, indent=1) + '\n')
        print(f'wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)')


if __name__ == '__main__':
    main()

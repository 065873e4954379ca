"""Train the character-level date-normalisation seq2seq models and export them.

    /usr/bin/python3 scripts/train/seq2seq.py                 # all five variants
    /usr/bin/python3 scripts/train/seq2seq.py dot none        # some of them
    /usr/bin/python3 scripts/train/seq2seq.py --eval-only     # re-evaluate exported weights, rewrite RESULTS.md
    /usr/bin/python3 scripts/train/seq2seq.py --write-results # rewrite RESULTS.md and config.json from results.json

Architecture (identical for every variant except the score function):

    x_i  = E_in[c_i]                                    input char embedding      [d_emb]
    →h_i = GRU_f(x_i, →h_{i-1}),  ←h_i = GRU_b(x_i, ←h_{i+1})                      [d_h] each
    h_i  = [→h_i ; ←h_i]                                 encoder state = key = value [2·d_h]
    s_0  = [→h_n ; ←h_1]                                 decoder's initial state     [d = 2·d_h]
    s_t  = GRU_dec(E_out[y_{t-1}], s_{t-1})              query                       [d]
    e_ti = score(s_t, h_i)                               additive: vᵀ tanh(W₁s_t + W₂h_i)
                                                         dot: s_t·h_i   scaled-dot: s_t·h_i/√d
                                                         general: s_tᵀ W h_i
    α_t  = softmax(e_t);  c_t = Σ_i α_ti h_i
    o_t  = tanh(W_c [s_t ; c_t] + b_c)                   ('none': o_t = tanh(W_c s_t + b_c))
    p_t  = softmax(W_o o_t + b_o)                        next output char

PyTorch GRU gate order is (r, z, n):
    r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))      ← b_hn sits inside the r ⊙ (...)
    h' = (1 − z) ⊙ n + z ⊙ h

Uses Debian's python3-torch (CPU). Seeds are fixed; torch uses 1 thread (override with
TORCH_THREADS=2). Safetensors are written by hand (8-byte little-endian header length, JSON header,
raw little-endian F32 data).
"""
from __future__ import annotations

import json
import math
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dates  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / 'models' / 'seq2seq-dates'
VARIANTS = ['additive', 'dot', 'general', 'scaled-dot', 'none']
LSTM_VARIANTS = ['lstm-additive']  # BiLSTM encoder → LSTM decoder, otherwise as the GRU 'additive'
ALL_VARIANTS = VARIANTS + LSTM_VARIANTS


def cell_and_score(variant: str) -> tuple[str, str]:
    """'lstm-additive' → ('lstm', 'additive'); 'dot' → ('gru', 'dot')."""
    return ('lstm', variant[len('lstm-'):]) if variant.startswith('lstm-') else ('gru', variant)

D_EMB = 32        # input char embedding
D_H = 64          # encoder GRU hidden size per direction
D_DEC = 2 * D_H   # decoder GRU hidden size (= key size, so dot scores are defined)
D_OUT_EMB = 32    # output char embedding
D_ATTN = 64       # additive attention hidden size
MAX_OUTPUT = 12   # greedy decoding limit (10 chars + </s>, with slack)

BATCH = 128
LR = 3e-3
MAX_STEPS = 3000
EVAL_EVERY = 250
TARGET_VALID = 0.998   # stop once validation exact-match reaches this
MAX_MINUTES = 8.0      # safety cap per variant (reported if it triggers)
SEED = 1234

PAD, UNK = '<pad>', '<unk>'
BOS, EOS = '<s>', '</s>'


# ---- vocabularies ------------------------------------------------------------------------------

def build_vocab(train: list[tuple[str, str]]) -> dict:
    chars = sorted({c for s, _ in train for c in s})
    out_chars = sorted({c for _, t in train for c in t})
    return {
        'input': [PAD, UNK] + chars,
        'output': [BOS, EOS] + out_chars,
        'pad_id': 0, 'unk_id': 1, 'bos_id': 0, 'eos_id': 1,
        'note': 'Input: one token per character (code point). Characters not listed map to <unk>; '
                'whitespace other than space (tab, newline, CR, no-break space) maps to the space token. '
                'Leading and trailing whitespace is not fed to the model.',
    }


def encode_inputs(batch: list[str], stoi: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([len(s) for s in batch])
    x = torch.zeros(len(batch), int(lens.max()), dtype=torch.long)
    for i, s in enumerate(batch):
        x[i, :len(s)] = torch.tensor([stoi.get(c, 1) for c in s])
    return x, lens


def encode_targets(batch: list[str], stoi: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.tensor([[stoi[c] for c in t] for t in batch])
    bos = torch.zeros(len(batch), 1, dtype=torch.long)
    eos = torch.ones(len(batch), 1, dtype=torch.long)
    return torch.cat([bos, ids], 1), torch.cat([ids, eos], 1)  # decoder inputs, targets


# ---- model ---------------------------------------------------------------------------------------

class Seq2Seq(nn.Module):
    def __init__(self, n_in: int, n_out: int, score: str, cell: str = 'gru'):
        super().__init__()
        self.score_fn = score
        self.cell = cell
        rnn = {'gru': nn.GRU, 'lstm': nn.LSTM}[cell]
        self.enc_emb = nn.Embedding(n_in, D_EMB)
        self.encoder = rnn(D_EMB, D_H, batch_first=True, bidirectional=True)
        self.dec_emb = nn.Embedding(n_out, D_OUT_EMB)
        self.decoder = rnn(D_OUT_EMB, D_DEC, batch_first=True)
        if score == 'general':
            self.attn_W = nn.Parameter(torch.randn(D_DEC, 2 * D_H) / math.sqrt(D_DEC))
        elif score == 'additive':
            self.attn_W1 = nn.Parameter(torch.randn(D_ATTN, D_DEC) / math.sqrt(D_DEC))
            self.attn_W2 = nn.Parameter(torch.randn(D_ATTN, 2 * D_H) / math.sqrt(2 * D_H))
            self.attn_v = nn.Parameter(torch.randn(D_ATTN) / math.sqrt(D_ATTN))
        self.combine = nn.Linear(D_DEC + (0 if score == 'none' else 2 * D_H), D_DEC)
        self.out = nn.Linear(D_DEC, n_out)

    def encode(self, x: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        emb = self.enc_emb(x)
        packed = pack_padded_sequence(emb, lens, batch_first=True, enforce_sorted=False)
        H, last = self.encoder(packed)
        H, _ = pad_packed_sequence(H, batch_first=True, total_length=x.shape[1])  # [B, n, 2·d_h]
        if self.cell == 'lstm':  # (h, c): s₀ = [→h_n ; ←h_1], c₀ = [→c_n ; ←c_1]
            h_n, c_n = last
            s0 = (torch.cat([h_n[0], h_n[1]], dim=-1), torch.cat([c_n[0], c_n[1]], dim=-1))
        else:
            s0 = torch.cat([last[0], last[1]], dim=-1)  # [→h_n ; ←h_1]
        mask = torch.arange(x.shape[1])[None, :] < lens[:, None]  # True = real token
        return H, s0, mask

    def scores(self, S: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
        """S: [B, T, d] queries, H: [B, n, 2·d_h] keys → [B, T, n]."""
        f = self.score_fn
        if f == 'dot':
            return S @ H.transpose(1, 2)
        if f == 'scaled-dot':
            return S @ H.transpose(1, 2) / math.sqrt(H.shape[-1])
        if f == 'general':
            return S @ (H @ self.attn_W.T).transpose(1, 2)  # s ᵀ W h
        if f == 'additive':
            q = S @ self.attn_W1.T  # [B, T, a]
            k = H @ self.attn_W2.T  # [B, n, a]
            return torch.tanh(q[:, :, None, :] + k[:, None, :, :]) @ self.attn_v
        raise ValueError(f)

    def head(self, S: torch.Tensor, H: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.score_fn == 'none':
            return self.out(torch.tanh(self.combine(S))), None
        e = self.scores(S, H).masked_fill(~mask[:, None, :], float('-inf'))
        a = torch.softmax(e, dim=-1)
        C = a @ H
        return self.out(torch.tanh(self.combine(torch.cat([S, C], -1)))), a

    def forward(self, x, lens, y_in):
        H, s0, mask = self.encode(x, lens)
        S, _ = self.decoder(self.dec_emb(y_in), self.initial(s0))
        return self.head(S, H, mask)[0]

    def initial(self, s0):
        """The decoder's initial state as nn.GRU / nn.LSTM take it ([1, B, d], or a pair for LSTM)."""
        return (s0[0][None], s0[1][None]) if self.cell == 'lstm' else s0[None]

    @torch.no_grad()
    def greedy(self, x, lens, steps: int = MAX_OUTPUT) -> torch.Tensor:
        H, s, mask = self.encode(x, lens)
        s = self.initial(s)
        y = torch.zeros(x.shape[0], 1, dtype=torch.long)
        outs = []
        for _ in range(steps):
            S, s = self.decoder(self.dec_emb(y), s)
            logits, _ = self.head(S, H, mask)
            y = logits.argmax(-1)
            outs.append(y)
        return torch.cat(outs, 1)


def decode_ids(ids: torch.Tensor, itos: list[str]) -> list[str]:
    res = []
    for row in ids.tolist():
        s = []
        for i in row:
            if i == 1:  # </s>
                break
            s.append(itos[i])
        res.append(''.join(s))
    return res


def accuracy(model: Seq2Seq, data: list[tuple[str, str]], stoi: dict[str, int], itos: list[str]) -> float:
    model.eval()
    ok = 0
    for i in range(0, len(data), 500):
        chunk = data[i:i + 500]
        x, lens = encode_inputs([s for s, _ in chunk], stoi)
        pred = decode_ids(model.greedy(x, lens), itos)
        ok += sum(p == t for p, (_, t) in zip(pred, chunk))
    model.train()
    return ok / len(data)


# ---- safetensors (hand-written) -------------------------------------------------------------------

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
    h += b' ' * ((8 - len(h) % 8) % 8)  # pad so the data starts 8-byte aligned
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


def export_tensors(model: Seq2Seq) -> dict[str, np.ndarray]:
    g = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    e, d = model.encoder, model.decoder
    t = {
        'embedding.input': g(model.enc_emb.weight),
        'encoder.forward.W_ih': g(e.weight_ih_l0), 'encoder.forward.W_hh': g(e.weight_hh_l0),
        'encoder.forward.b_ih': g(e.bias_ih_l0), 'encoder.forward.b_hh': g(e.bias_hh_l0),
        'encoder.backward.W_ih': g(e.weight_ih_l0_reverse), 'encoder.backward.W_hh': g(e.weight_hh_l0_reverse),
        'encoder.backward.b_ih': g(e.bias_ih_l0_reverse), 'encoder.backward.b_hh': g(e.bias_hh_l0_reverse),
        'embedding.output': g(model.dec_emb.weight),
        'decoder.W_ih': g(d.weight_ih_l0), 'decoder.W_hh': g(d.weight_hh_l0),
        'decoder.b_ih': g(d.bias_ih_l0), 'decoder.b_hh': g(d.bias_hh_l0),
    }
    if model.score_fn == 'general':
        t['attention.W'] = g(model.attn_W)
    elif model.score_fn == 'additive':
        t['attention.W1'] = g(model.attn_W1)
        t['attention.W2'] = g(model.attn_W2)
        t['attention.v'] = g(model.attn_v)
    t['combine.weight'] = g(model.combine.weight)
    t['combine.bias'] = g(model.combine.bias)
    t['output.weight'] = g(model.out.weight)
    t['output.bias'] = g(model.out.bias)
    return t


def import_tensors(model: Seq2Seq, t: dict[str, np.ndarray]) -> None:
    """Inverse of export_tensors (used by --eval-only, and to check the export round-trips)."""
    with torch.no_grad():
        src = {k: torch.from_numpy(np.array(v)) for k, v in t.items()}
        e, d = model.encoder, model.decoder
        pairs = [(model.enc_emb.weight, 'embedding.input'),
                 (e.weight_ih_l0, 'encoder.forward.W_ih'), (e.weight_hh_l0, 'encoder.forward.W_hh'),
                 (e.bias_ih_l0, 'encoder.forward.b_ih'), (e.bias_hh_l0, 'encoder.forward.b_hh'),
                 (e.weight_ih_l0_reverse, 'encoder.backward.W_ih'), (e.weight_hh_l0_reverse, 'encoder.backward.W_hh'),
                 (e.bias_ih_l0_reverse, 'encoder.backward.b_ih'), (e.bias_hh_l0_reverse, 'encoder.backward.b_hh'),
                 (model.dec_emb.weight, 'embedding.output'),
                 (d.weight_ih_l0, 'decoder.W_ih'), (d.weight_hh_l0, 'decoder.W_hh'),
                 (d.bias_ih_l0, 'decoder.b_ih'), (d.bias_hh_l0, 'decoder.b_hh'),
                 (model.combine.weight, 'combine.weight'), (model.combine.bias, 'combine.bias'),
                 (model.out.weight, 'output.weight'), (model.out.bias, 'output.bias')]
        if model.score_fn == 'general':
            pairs.append((model.attn_W, 'attention.W'))
        elif model.score_fn == 'additive':
            pairs += [(model.attn_W1, 'attention.W1'), (model.attn_W2, 'attention.W2'), (model.attn_v, 'attention.v')]
        for p, k in pairs:
            p.copy_(src[k])


# ---- training -------------------------------------------------------------------------------------

def train_variant(variant: str, train, valid, vocab) -> tuple[Seq2Seq, dict]:
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    in_stoi = {c: i for i, c in enumerate(vocab['input'])}
    out_stoi = {c: i for i, c in enumerate(vocab['output'])}
    model = Seq2Seq(len(vocab['input']), len(vocab['output']), *cell_and_score(variant)[::-1])
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 if s < 1500 else (0.5 if s < 2250 else 0.25))
    t0 = time.time()
    order = rng.permutation(len(train))
    pos = 0
    step = 0
    best = 0.0
    history = []
    stop_reason = 'max steps'
    running = 0.0
    while step < MAX_STEPS:
        if pos + BATCH > len(order):
            order = rng.permutation(len(train))
            pos = 0
        batch = [train[i] for i in order[pos:pos + BATCH]]
        pos += BATCH
        x, lens = encode_inputs([s for s, _ in batch], in_stoi)
        y_in, y_out = encode_targets([t for _, t in batch], out_stoi)
        logits = model(x, lens, y_in)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y_out.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % EVAL_EVERY == 0:
            acc = accuracy(model, valid, in_stoi, vocab['output'])
            best = max(best, acc)
            mins = (time.time() - t0) / 60
            history.append({'step': step, 'loss': round(running, 5), 'valid_exact': acc, 'minutes': round(mins, 2)})
            print(f'  [{variant}] step {step:5d}  loss {running:.4f}  valid exact {acc:.4f}  {mins:.1f} min', flush=True)
            if acc >= TARGET_VALID:
                stop_reason = f'valid exact ≥ {TARGET_VALID}'
                break
            if mins > MAX_MINUTES:
                stop_reason = f'time cap {MAX_MINUTES} min'
                break
    info = {'steps': step, 'seconds': round(time.time() - t0, 1), 'stop': stop_reason, 'history': history}
    return model, info


def evaluate(model: Seq2Seq, vocab: dict) -> dict:
    in_stoi = {c: i for i, c in enumerate(vocab['input'])}
    res = {'test_exact': accuracy(model, dates.test_set(), in_stoi, vocab['output']), 'buckets': {}}
    for b, data in dates.length_test_set().items():
        res['buckets'][b] = accuracy(model, data, in_stoi, vocab['output'])
    res['stress'] = {b: accuracy(model, data, in_stoi, vocab['output']) for b, data in dates.stress_test_set().items()}
    return res


def n_params(t: dict[str, np.ndarray]) -> int:
    return int(sum(v.size for v in t.values()))


def write_results(results: dict, vocab: dict) -> None:
    buckets = [f'{lo}-{hi}' for lo, hi in dates.LENGTH_BUCKETS]
    lines = [
        '# Seq2seq date normalisation: results',
        '',
        'Character-level encoder → attention → decoder, trained by `scripts/train/seq2seq.py` on data from',
        '`scripts/train/dates.py` (seeded; held-out test dates never appear in training, in any format).',
        'Exact match = the whole decoded string equals the ISO date. Greedy decoding.',
        '',
        f'Sizes: input vocab {len(vocab["input"])}, output vocab {len(vocab["output"])}, d_emb {D_EMB}, '
        f'encoder GRU {D_H} per direction (keys/values {2 * D_H}), decoder GRU {D_DEC}, additive attention {D_ATTN}.',
        '',
        '## Held-out exact match',
        '',
        '| variant | score function | held-out exact | parameters | file size | training steps | training time | stopped by |',
        '|---|---|---|---|---|---|---|---|',
    ]
    formulas = {'additive': 'vᵀ tanh(W₁q + W₂k)', 'lstm-additive': 'vᵀ tanh(W₁q + W₂k) (BiLSTM → LSTM)', 'dot': 'q·k', 'general': 'qᵀWk', 'scaled-dot': 'q·k/√d',
                'none': '— (no attention: decoder sees only s₀)'}
    for v in ALL_VARIANTS:
        if v not in results:
            continue
        r = results[v]
        lines.append(f"| `{v}` | {formulas[v]} | {100 * r['test_exact']:.2f}% | {r['parameters']:,} | "
                     f"{r['bytes'] / 1024:.0f} KiB | {r.get('steps', '?')} | {r.get('seconds', 0) / 60:.1f} min | {r.get('stop', '?')} |")
    lines += ['', '## Exact match by input length (characters), held-out dates', '',
              f'{dates.length_test_set.__doc__.strip()} 300 examples per bucket.', '',
              '| variant | ' + ' | '.join(buckets) + ' |', '|---|' + '---|' * len(buckets)]
    for v in ALL_VARIANTS:
        if v not in results:
            continue
        lines.append(f'| `{v}` | ' + ' | '.join(f"{100 * results[v]['buckets'][b]:.1f}%" for b in buckets) + ' |')
    stress = [f'{lo}-{hi}' for lo, hi in dates.STRESS_BUCKETS]
    lines += ['', '## Dates inside sentences, by length: the fixed-context bottleneck', '',
              ' '.join(dates.stress_test_set.__doc__.split()) + f' 300 examples per bucket; training inputs are at most '
              f'{dates.MAX_INPUT_CHARS} characters.', '',
              '| variant | ' + ' | '.join(stress) + ' |', '|---|' + '---|' * len(stress)]
    for v in ALL_VARIANTS:
        if v in results and 'stress' in results[v]:
            lines.append(f'| `{v}` | ' + ' | '.join(f"{100 * results[v]['stress'][b]:.1f}%" for b in stress) + ' |')
    total_train = sum(results[v].get('seconds', 0) for v in results)
    lines += ['', f'Total training time: {total_train / 60:.1f} min on {torch.get_num_threads()} CPU thread(s) '
              f'(PyTorch {torch.__version__}; the 2-core machine was shared with other jobs, load average ~5; '
              f'~19 while `lstm-additive` trained, hence its longer time for the same 500 steps).', '',
              '## Reading these numbers', '',
              '- Every attention variant is above 99.5% on held-out dates. The remaining errors are mostly rare',
              '  combinations such as upper-case ordinal words ("BORN ON THE FOURTEENTH DAY OF APRIL IN 1934" → day 19)',
              '  and occasionally a month read from the wrong word; the models know nothing about calendars, so an',
              '  error can even be an impossible date (one `dot` error is `1974-01-34`).',
              '- Within the training lengths, the `none` variant is as accurate as the attention variants. A date is',
              '  about 16 bits of information, and the bidirectional encoder hands the decoder both GRUs\' final states',
              '  (128 numbers): the forward GRU has just read the end of the input, the backward GRU the start, so',
              '  nothing has to be remembered for long. The fixed-size context only starts to cost accuracy when the',
              '  date sits inside text longer than anything seen in training (the last table: `none` drops to ~94–96%',
              '  beyond 64 characters while `additive` and `general` stay at ≥ 99.7%). In a development run trained',
              '  without dates inside sentences (weights not kept) the gap was much larger: at 121–160 characters of',
              '  unseen filler, `none` got 3% against 60% (`additive`) and 77% (`general`).',
              '- Of the attention variants, `scaled-dot` degrades most on long inputs, probably because dividing by √128',
              '  flattens its weights, so with many distracting characters more weight leaks away from the date.',
              '- Numeric dates are read day-first ("03/04/2020" is 3 April) unless the year comes first.',
              '- The weekday is never needed: "Sunday 23rd of November 2026" (really a Monday) still gives `2026-11-23`.',
              '',
              '## Notes for re-implementers', '',
              '- PyTorch GRU gate order is **(r, z, n)** in `W_ih`, `W_hh`, `b_ih`, `b_hh` (rows 0..d, d..2d, 2d..3d).',
              '- `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`: the hidden bias `b_hn` is *inside* the reset gate product;',
              '  `h′ = (1 − z) ⊙ n + z ⊙ h`.',
              '- Encoder state h_i = [→h_i ; ←h_i]; the decoder starts from s₀ = [→h_n ; ←h_1].',
              '- Decoder: s_t = GRU(E_out[y_{t−1}], s_{t−1}), y₋₁ = `<s>`; the query is s_t (Luong-style);',
              '  o_t = tanh(W_c [s_t ; c_t] + b_c); logits = W_o o_t + b_o. The `none` variant uses o_t = tanh(W_c s_t + b_c).',
              '- `scaled-dot` divides by √128 (the key size).', '',
              'Stage-by-stage numbers are checked against an independent numpy forward pass',
              '(`scripts/reference/seq2seq_ref.py` → `test/fixtures/seq2seq/`).', '']
    (OUT_DIR / 'RESULTS.md').write_text('\n'.join(lines))


def main() -> None:
    torch.set_num_threads(int(os.environ.get('TORCH_THREADS', '1')))
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    eval_only = '--eval-only' in sys.argv
    results_only = '--write-results' in sys.argv
    variants = [] if results_only else (args or ALL_VARIANTS)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    train = dates.train_set()
    valid = dates.valid_set()
    vocab = build_vocab(train)
    (OUT_DIR / 'vocab.json').write_text(json.dumps(vocab, indent=1, ensure_ascii=False) + '\n')
    res_path = OUT_DIR / 'results.json'
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    print(f'train {len(train)}  valid {len(valid)}  input vocab {len(vocab["input"])}  output vocab {len(vocab["output"])}',
          flush=True)
    for v in variants:
        path = OUT_DIR / f'{v}.safetensors'
        if eval_only:
            model = Seq2Seq(len(vocab['input']), len(vocab['output']), *cell_and_score(v)[::-1])
            import_tensors(model, read_safetensors(path))
            info = {k: results.get(v, {}).get(k) for k in ('steps', 'seconds', 'stop', 'history')}
        else:
            print(f'== {v}', flush=True)
            model, info = train_variant(v, train, valid, vocab)
            t = export_tensors(model)
            cell, score = cell_and_score(v)
            write_safetensors(path, t, {'format': 'pt', 'variant': v, 'score': score, 'cell': cell})
            # round-trip check: the exported file reproduces the trained model exactly
            m2 = Seq2Seq(len(vocab['input']), len(vocab['output']), score, cell)
            import_tensors(m2, read_safetensors(path))
            for (k1, a), (k2, b) in zip(model.state_dict().items(), m2.state_dict().items()):
                assert k1 == k2 and torch.equal(a, b), k1
            model = m2
        model.eval()
        ev = evaluate(model, vocab)
        t = read_safetensors(path)
        results[v] = {**info, **ev, 'parameters': n_params(t), 'bytes': path.stat().st_size}
        print(f'  [{v}] held-out exact {ev["test_exact"]:.4f}  by length {ev["buckets"]}', flush=True)
        res_path.write_text(json.dumps(results, indent=1) + '\n')
    config = {
        'model_type': 'seq2seq-gru-attention',
        'task': 'date normalisation: human-written date → ISO YYYY-MM-DD',
        'd_emb': D_EMB, 'd_enc': D_H, 'd_key': 2 * D_H, 'd_dec': D_DEC, 'd_out_emb': D_OUT_EMB, 'd_attn': D_ATTN,
        'max_input': dates.MAX_STRESS_CHARS, 'trained_max_input': dates.MAX_INPUT_CHARS, 'max_output': MAX_OUTPUT,
        'gru_gate_order': ['r', 'z', 'n'],
        'lstm_gate_order': ['i', 'f', 'g', 'o'],
        'variants': {v: {'file': f'{v}.safetensors', 'cell': cell_and_score(v)[0],
                         'score': None if v == 'none' else cell_and_score(v)[1], 'attention': v != 'none',
                         'test_exact': results.get(v, {}).get('test_exact')} for v in ALL_VARIANTS},
    }
    (OUT_DIR / 'config.json').write_text(json.dumps(config, indent=1, ensure_ascii=False) + '\n')
    write_results(results, vocab)


if __name__ == '__main__':
    main()

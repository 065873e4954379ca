#!/usr/bin/env python3
"""Trains the built-in date-normalisation Transformer (models/dates-transformer/): a character-level
encoder-decoder saved in exactly the Hugging Face **Marian** layout (MarianMTModel): sinusoidal
positions, post-norm layers, scaled embeddings, tied input/output embeddings, final_logits_bias.

Data: scripts/train/dates.py (seeded synthetic human-written dates → YYYY-MM-DD, disjoint
train / validation / test dates). Nothing is downloaded or installed.

    /usr/bin/python3 scripts/train/dates_transformer.py [--minutes 14] [--steps N] [--lr 2e-3] [--batch 64] [--dropout 0]

Writes config.json, model.safetensors (HF names, F32), tokenizer.json (one token per character),
tokenizer_config.json, vocab.json, training.json. Single-threaded and seeded; with --steps the
schedule does not depend on the machine's speed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import dates  # noqa: E402  (scripts/train/dates.py, shared with the seq2seq model)

OUT = os.path.join(ROOT, 'models', 'dates-transformer')
SEED = 4321
SPECIALS = ['</s>', '<unk>', '<pad>']
EOS, UNK, PAD = 0, 1, 2
MAX_OUT = 12  # 10 characters + </s>, plus one spare

CFG = dict(
    d_model=64,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=256,
    decoder_ffn_dim=256,
    max_position_embeddings=256,
    activation_function='swish',
)


def sinusoidal(n_pos: int, dim: int) -> np.ndarray:
    """Marian's table: first half sin(p/10000^(2i/d)), second half cos(p/10000^(2i/d))."""
    enc = np.array([[p / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for p in range(n_pos)])
    out = np.zeros((n_pos, dim))
    half = dim // 2 + dim % 2
    out[:, :half] = np.sin(enc[:, 0::2])
    out[:, half:] = np.cos(enc[:, 1::2])
    return out.astype(np.float32)


class Attn(nn.Module):
    def __init__(self, d: int, h: int):
        super().__init__()
        self.h = h
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: torch.Tensor, mem: torch.Tensor, bias: torch.Tensor, drop: nn.Dropout) -> torch.Tensor:
        B, T, D = x.shape
        S = mem.shape[1]
        hd = D // self.h
        q = (self.q_proj(x) * hd ** -0.5).view(B, T, self.h, hd).transpose(1, 2)
        k = self.k_proj(mem).view(B, S, self.h, hd).transpose(1, 2)
        v = self.v_proj(mem).view(B, S, self.h, hd).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(-1, -2) + bias, -1)
        return self.out_proj((drop(w) @ v).transpose(1, 2).reshape(B, T, D))


class EncLayer(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        d = c['d_model']
        self.self_attn = Attn(d, c['encoder_attention_heads'])
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, c['encoder_ffn_dim'])
        self.fc2 = nn.Linear(c['encoder_ffn_dim'], d)
        self.final_layer_norm = nn.LayerNorm(d)


class DecLayer(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        d = c['d_model']
        self.self_attn = Attn(d, c['decoder_attention_heads'])
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.encoder_attn = Attn(d, c['decoder_attention_heads'])
        self.encoder_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, c['decoder_ffn_dim'])
        self.fc2 = nn.Linear(c['decoder_ffn_dim'], d)
        self.final_layer_norm = nn.LayerNorm(d)


class Stack(nn.Module):
    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class Inner(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.shared = nn.Embedding(c['vocab_size'], c['d_model'], padding_idx=PAD)
        self.encoder = Stack([EncLayer(c) for _ in range(c['encoder_layers'])])
        self.decoder = Stack([DecLayer(c) for _ in range(c['decoder_layers'])])


class Marian(nn.Module):
    def __init__(self, c: dict, dropout: float = 0.1):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        self.final_logits_bias = nn.Parameter(torch.zeros(1, c['vocab_size']), requires_grad=False)
        self.register_buffer('pos', torch.from_numpy(sinusoidal(c['max_position_embeddings'], c['d_model'])))
        self.drop = nn.Dropout(dropout)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.shared(ids) * math.sqrt(self.c['d_model']) + self.pos[:ids.shape[1]][None]

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bias = torch.where(src == PAD, float('-inf'), 0.0)[:, None, None, :]
        x = self.drop(self.embed(src))
        for L in self.model.encoder.layers:
            x = L.self_attn_layer_norm(x + self.drop(L.self_attn(x, x, bias, self.drop)))
            x = L.final_layer_norm(x + self.drop(L.fc2(F.silu(L.fc1(x)))))
        return x, bias

    def decode(self, tgt_in: torch.Tensor, mem: torch.Tensor, mem_bias: torch.Tensor) -> torch.Tensor:
        T = tgt_in.shape[1]
        causal = torch.triu(torch.full((T, T), float('-inf')), 1)[None, None]
        y = self.drop(self.embed(tgt_in))
        for L in self.model.decoder.layers:
            y = L.self_attn_layer_norm(y + self.drop(L.self_attn(y, y, causal, self.drop)))
            y = L.encoder_attn_layer_norm(y + self.drop(L.encoder_attn(y, mem, mem_bias, self.drop)))
            y = L.final_layer_norm(y + self.drop(L.fc2(F.silu(L.fc1(y)))))
        return y @ self.model.shared.weight.T + self.final_logits_bias

    @torch.no_grad()
    def greedy(self, src: torch.Tensor) -> torch.Tensor:
        mem, bias = self.encode(src)
        out = torch.full((src.shape[0], 1), PAD, dtype=torch.long)  # decoder_start_token_id = pad
        for _ in range(MAX_OUT):
            nxt = self.decode(out, mem, bias)[:, -1].argmax(-1)
            out = torch.cat([out, nxt[:, None]], 1)
            if bool((out == EOS).any(1).all()):
                break
        return out[:, 1:]


def write_safetensors(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    header: dict = {'__metadata__': metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype='<f4')
        b = arr.tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def encode_src(s: str, vocab: dict[str, int]) -> list[int]:
    return [vocab.get(ch, UNK) for ch in s] + [EOS]


def pad_batch(seqs: list[list[int]]) -> torch.Tensor:
    T = max(len(s) for s in seqs)
    out = torch.full((len(seqs), T), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s)
    return out


def exact_match(model: Marian, pairs: list[tuple[str, str]], vocab: dict[str, int], itos: list[str]) -> float:
    model.eval()
    ok = 0
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
    for i in range(0, len(order), 250):
        idx = order[i:i + 250]
        out = model.greedy(pad_batch([encode_src(pairs[j][0], vocab) for j in idx]))
        for r, j in enumerate(idx):
            s = ''
            for t in out[r].tolist():
                if t == EOS:
                    break
                s += itos[t] if t >= len(SPECIALS) else '?'
            ok += s == pairs[j][1]
    model.train()
    return ok / len(pairs)


def tokenizer_json(vocab: dict[str, int]) -> dict:
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [
            {'id': i, 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}
            for i, t in enumerate(SPECIALS)
        ],
        'normalizer': None,
        # Every character is its own token (spaces included): isolate each code point.
        'pre_tokenizer': {'type': 'Split', 'pattern': {'Regex': '.'}, 'behavior': 'Isolated', 'invert': False},
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': '</s>', 'type_id': 0}}],
            'pair': [{'Sequence': {'id': 'A', 'type_id': 0}}, {'Sequence': {'id': 'B', 'type_id': 0}}, {'SpecialToken': {'id': '</s>', 'type_id': 0}}],
            'special_tokens': {'</s>': {'id': '</s>', 'ids': [EOS], 'tokens': ['</s>']}},
        },
        'decoder': {'type': 'Fuse'},
        'model': {'type': 'WordLevel', 'vocab': vocab, 'unk_token': '<unk>'},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--minutes', type=float, default=14.0)
    ap.add_argument('--steps', type=int, default=0)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--dropout', type=float, default=0.0)
    ap.add_argument('--out', default=OUT)
    args = ap.parse_args()
    out_dir = args.out
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    t0 = time.time()
    train = dates.train_set()
    valid = dates.valid_set(500)
    test = dates.test_set(2000)
    chars = sorted({c for s, t in train for c in s + t})
    itos = SPECIALS + chars
    vocab = {c: i for i, c in enumerate(itos)}
    V = len(itos)
    cfg = dict(CFG, vocab_size=V)
    print(f'{len(train)} training pairs, {V} symbols', flush=True)
    src_all = [encode_src(s, vocab) for s, _ in train]
    tgt_all = [[vocab[c] for c in t] + [EOS] for _, t in train]
    model = Marian(cfg, args.dropout)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.01, betas=(0.9, 0.98))
    budget = args.minutes * 60
    bs = args.batch
    step = 0
    history = []
    t_train = time.time()
    done = False
    epoch = 0
    while not done:
        epoch += 1
        order = sorted(range(len(train)), key=lambda i: (len(src_all[i]), rng.random()))
        chunks = [order[i:i + bs] for i in range(0, len(order), bs)]
        rng.shuffle(chunks)
        for ch in chunks:
            progress = min(1.0, step / args.steps) if args.steps else min(1.0, (time.time() - t_train) / (budget - (t_train - t0)))
            lr = args.lr * min(1.0, (step + 1) / 300) * max(0.02, 0.5 * (1 + math.cos(math.pi * progress)))
            for g in opt.param_groups:
                g['lr'] = lr
            src = pad_batch([src_all[i] for i in ch])
            tgt = pad_batch([tgt_all[i] for i in ch])
            dec_in = torch.cat([torch.full((len(ch), 1), PAD, dtype=torch.long), tgt[:, :-1]], 1)
            mem, bias = model.encode(src)
            logits = model.decode(dec_in, mem, bias)
            loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=PAD)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step % 1000 == 0:
                acc = exact_match(model, valid, vocab, itos)
                history.append({'step': step, 'seconds': round(time.time() - t0), 'loss': loss.item(), 'valid_exact': acc})
                print(f'step {step} epoch {epoch} {time.time() - t0:.0f}s loss {loss.item():.4f} valid exact {acc:.4f}', flush=True)
            if (args.steps and step >= args.steps) or (not args.steps and time.time() - t0 > budget):
                done = True
                break
    elapsed = time.time() - t0
    test_acc = exact_match(model, test, vocab, itos)
    valid_acc = exact_match(model, valid, vocab, itos)
    print(f'final: {step} steps, {elapsed:.0f}s, held-out test exact match {test_acc:.4f} (valid {valid_acc:.4f})', flush=True)

    os.makedirs(out_dir, exist_ok=True)
    sd = model.state_dict()
    tensors = {k: t.detach().numpy() for k, t in sd.items() if k != 'pos'}
    pos = sinusoidal(cfg['max_position_embeddings'], cfg['d_model'])
    tensors['model.encoder.embed_positions.weight'] = pos
    tensors['model.decoder.embed_positions.weight'] = pos
    n_params = sum(a.size for k, a in tensors.items() if 'embed_positions' not in k and k != 'final_logits_bias')
    write_safetensors(os.path.join(out_dir, 'model.safetensors'), tensors, {'format': 'pt'})
    config = {
        'architectures': ['MarianMTModel'],
        'model_type': 'marian',
        **cfg,
        'activation_dropout': 0.0,
        'attention_dropout': 0.0,
        'dropout': args.dropout,
        'scale_embedding': True,
        'share_encoder_decoder_embeddings': True,
        'tie_word_embeddings': True,
        'pad_token_id': PAD,
        'eos_token_id': EOS,
        'decoder_start_token_id': PAD,
        'forced_eos_token_id': EOS,
        'max_length': MAX_OUT,
        'num_beams': 1,
        'is_encoder_decoder': True,
        'torch_dtype': 'float32',
        'task': 'date normalisation: human-written date → ISO YYYY-MM-DD, one token per character',
        'trained_max_input': dates.MAX_INPUT_CHARS,
    }
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
    with open(os.path.join(out_dir, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tokenizer_json(vocab), f, ensure_ascii=False, indent=1)
    with open(os.path.join(out_dir, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(vocab, f, ensure_ascii=False, indent=1)
    with open(os.path.join(out_dir, 'tokenizer_config.json'), 'w') as f:
        json.dump({'tokenizer_class': 'PreTrainedTokenizerFast', 'eos_token': '</s>', 'unk_token': '<unk>', 'pad_token': '<pad>',
                   'model_max_length': 128}, f, indent=2)
    with open(os.path.join(out_dir, 'training.json'), 'w') as f:
        json.dump({'train_pairs': len(train), 'vocab_size': V, 'parameters': int(n_params), 'steps': step, 'seconds': round(elapsed),
                   'test_pairs': len(test), 'test_exact_match': test_acc, 'valid_exact_match': valid_acc, 'history': history,
                   'seed': SEED, 'torch': torch.__version__, 'lr': args.lr, 'batch': args.batch, 'dropout': args.dropout,
                   'command': f'/usr/bin/python3 scripts/train/dates_transformer.py --minutes {args.minutes} --lr {args.lr} --batch {args.batch} --dropout {args.dropout}'}, f, indent=2)
    print('wrote', out_dir, f'{n_params} parameters')


if __name__ == '__main__':
    main()

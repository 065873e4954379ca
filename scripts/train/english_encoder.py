#!/usr/bin/env python3
"""Trains the built-in English encoder (models/english-encoder/): a small BERT trained with
masked-language modelling on the glosses and example sentences of WordNet 3.0.

Corpus: Debian's `wordnet-base` package (WordNet 3.0 licence, permissive; see scripts/train/corpus.md).
    apt-get install wordnet-base          # installs /usr/share/wordnet/data.{noun,verb,adj,adv}
This script installs nothing; it reads the corpus from that path (or WORDNET_DIR).

Writes, in exactly the Hugging Face BERT layout (loadable by transformers' BertForMaskedLM):
    config.json, model.safetensors (HF parameter names, F32), vocab.txt, tokenizer.json,
    tokenizer_config.json, special_tokens_map.json, training.json (loss/accuracy numbers)

    /usr/bin/python3 scripts/train/english_encoder.py [--minutes 11]

Seeded and single-threaded (torch.set_num_threads(1)), so a rerun on the same machine gives the
same weights.
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import re
import struct
import time
import unicodedata

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'models', 'english-encoder')
WORDNET_DIR = os.environ.get('WORDNET_DIR', '/usr/share/wordnet')
SEED = 1234

SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
PAD, UNK, CLS, SEP, MASK = range(5)
VOCAB_WORDS = 2900
VOCAB_PREFIXES = 500
VOCAB_SUFFIXES = 550
MAX_LEN = 40  # tokens per training sentence, [CLS] and [SEP] included

CFG = dict(
    hidden_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=512,
    max_position_embeddings=128,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    hidden_act='gelu',
)


# ---------------------------------------------------------------- corpus
def read_corpus() -> list[str]:
    """Every gloss of WordNet split into its definition and its quoted example sentences."""
    out: list[str] = []
    for pos in ['noun', 'verb', 'adj', 'adv']:
        path = os.path.join(WORDNET_DIR, f'data.{pos}')
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                if line.startswith('  ') or '|' not in line:
                    continue  # licence header
                gloss = line.split('|', 1)[1].strip()
                for part in re.split(r';\s*', gloss):
                    part = part.strip().strip('"').strip()
                    if len(part.split()) >= 3:
                        out.append(part)
    return out


# ---------------------------------------------------------------- BERT-style tokenisation
def is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith('P')


def normalise(text: str) -> str:
    """BertNormalizer(lowercase, strip_accents): NFD, drop combining marks, lower-case."""
    text = ''.join(' ' if ch in '\t\n\r' else ch for ch in text)
    text = text.lower()
    text = unicodedata.normalize('NFD', text)
    return ''.join(ch for ch in text if unicodedata.category(ch) != 'Mn')


def pre_tokenize(text: str) -> list[str]:
    """BertPreTokenizer: split on whitespace, and every punctuation character is its own word."""
    words: list[str] = []
    for chunk in text.split():
        cur = ''
        for ch in chunk:
            if is_punct(ch):
                if cur:
                    words.append(cur)
                    cur = ''
                words.append(ch)
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


def wordpiece(word: str, vocab: dict[str, int]) -> list[int]:
    """Greedy longest-match-first, continuation pieces prefixed '##'; [UNK] if no split exists."""
    if len(word) > 100:
        return [UNK]
    ids: list[int] = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while start < end:
            piece = word[start:end] if start == 0 else '##' + word[start:end]
            if piece in vocab:
                found = vocab[piece]
                break
            end -= 1
        if found is None:
            return [UNK]
        ids.append(found)
        start = end
    return ids


def build_vocab(sentences: list[str]) -> list[str]:
    counts: collections.Counter[str] = collections.Counter()
    for s in sentences:
        counts.update(pre_tokenize(normalise(s)))
    chars = collections.Counter()
    for w, c in counts.items():
        for ch in w:
            chars[ch] += c
    alphabet = sorted(ch for ch, c in chars.items() if c >= 20)
    vocab = list(SPECIALS) + alphabet + ['##' + ch for ch in alphabet if not is_punct(ch)]
    seen = set(vocab)
    words = [w for w, _ in counts.most_common() if w not in seen][:VOCAB_WORDS]
    vocab += words
    seen.update(words)
    # Sub-word pieces for the remaining words: their most frequent beginnings and endings.
    pre: collections.Counter[str] = collections.Counter()
    suf: collections.Counter[str] = collections.Counter()
    for w, c in counts.items():
        if w in seen or len(w) < 4:
            continue
        for n in range(3, min(7, len(w))):
            pre[w[:n]] += c
        for n in range(2, min(6, len(w) - 1)):
            suf['##' + w[-n:]] += c
    vocab += [p for p, _ in pre.most_common() if p not in seen][:VOCAB_PREFIXES]
    seen.update(vocab)
    vocab += [p for p, _ in suf.most_common() if p not in seen][:VOCAB_SUFFIXES]
    return vocab


def tokenizer_json(vocab: list[str]) -> dict:
    v = {p: i for i, p in enumerate(vocab)}
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [
            {'id': i, 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}
            for i, t in enumerate(SPECIALS)
        ],
        'normalizer': {'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True, 'strip_accents': None, 'lowercase': True},
        'pre_tokenizer': {'type': 'BertPreTokenizer'},
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'SpecialToken': {'id': '[CLS]', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 0}}],
            'pair': [{'SpecialToken': {'id': '[CLS]', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 0}},
                     {'Sequence': {'id': 'B', 'type_id': 1}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 1}}],
            'special_tokens': {t: {'id': t, 'ids': [v[t]], 'tokens': [t]} for t in ['[CLS]', '[SEP]']},
        },
        'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
        'model': {'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##', 'max_input_chars_per_word': 100, 'vocab': v},
    }


# ---------------------------------------------------------------- the model, named as in Hugging Face
class SelfAttn(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)


class AttnOut(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(d, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)


class Attention(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.self = SelfAttn(d)
        self.output = AttnOut(d, eps)


class Dense(nn.Module):
    def __init__(self, i: int, o: int):
        super().__init__()
        self.dense = nn.Linear(i, o)


class Output(nn.Module):
    def __init__(self, i: int, d: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(i, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)


class Layer(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        d, eps = c['hidden_size'], c['layer_norm_eps']
        self.attention = Attention(d, eps)
        self.intermediate = Dense(d, c['intermediate_size'])
        self.output = Output(c['intermediate_size'], d, eps)


class Embeddings(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        d = c['hidden_size']
        self.word_embeddings = nn.Embedding(c['vocab_size'], d)
        self.position_embeddings = nn.Embedding(c['max_position_embeddings'], d)
        self.token_type_embeddings = nn.Embedding(c['type_vocab_size'], d)
        self.LayerNorm = nn.LayerNorm(d, eps=c['layer_norm_eps'])


class Encoder(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c['num_hidden_layers'])])


class Bert(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)


class Transform(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.dense = nn.Linear(c['hidden_size'], c['hidden_size'])
        self.LayerNorm = nn.LayerNorm(c['hidden_size'], eps=c['layer_norm_eps'])


class Predictions(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.transform = Transform(c)
        self.bias = nn.Parameter(torch.zeros(c['vocab_size']))


class Cls(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.predictions = Predictions(c)


class BertForMaskedLM(nn.Module):
    def __init__(self, c: dict, dropout: float = 0.1):
        super().__init__()
        self.c = c
        self.bert = Bert(c)
        self.cls = Cls(c)
        self.drop = nn.Dropout(dropout)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, ids: torch.Tensor, pad_mask: torch.Tensor, only: torch.Tensor | None = None) -> torch.Tensor:
        """MLM logits; with `only` (a boolean [B, T] mask), just for those positions (training speed)."""
        c = self.c
        B, T = ids.shape
        H = c['num_attention_heads']
        hd = c['hidden_size'] // H
        e = self.bert.embeddings
        x = e.word_embeddings(ids) + e.position_embeddings.weight[:T][None] + e.token_type_embeddings.weight[0]
        x = self.drop(e.LayerNorm(x))
        bias = torch.where(pad_mask[:, None, None, :], 0.0, float('-inf'))
        for layer in self.bert.encoder.layer:
            a = layer.attention
            q = a.self.query(x).view(B, T, H, hd).transpose(1, 2)
            k = a.self.key(x).view(B, T, H, hd).transpose(1, 2)
            v = a.self.value(x).view(B, T, H, hd).transpose(1, 2)
            w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, -1)
            ctx = (self.drop(w) @ v).transpose(1, 2).reshape(B, T, H * hd)
            x = a.output.LayerNorm(x + self.drop(a.output.dense(ctx)))
            h = F.gelu(layer.intermediate.dense(x))
            x = layer.output.LayerNorm(x + self.drop(layer.output.dense(h)))
        if only is not None:
            x = x[only]
        t = self.cls.predictions.transform
        h = t.LayerNorm(F.gelu(t.dense(x)))
        return h @ e.word_embeddings.weight.T + self.cls.predictions.bias


# ---------------------------------------------------------------- safetensors (by hand)
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


# ---------------------------------------------------------------- training
def mask_batch(ids: torch.Tensor, pad: torch.Tensor, V: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's recipe: 15% of the real tokens are predicted; of those 80% → [MASK], 10% random, 10% kept."""
    special = (ids == CLS) | (ids == SEP) | ~pad
    p = torch.rand(ids.shape, generator=g)
    chosen = (p < 0.15) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=g)
    inp = ids.clone()
    inp[chosen & (r < 0.8)] = MASK
    rnd = chosen & (r >= 0.8) & (r < 0.9)
    inp[rnd] = torch.randint(len(SPECIALS), V, ids.shape, generator=g)[rnd]
    return inp, labels


def batches(data: list[list[int]], bs: int, rng: random.Random):
    order = sorted(range(len(data)), key=lambda i: (len(data[i]), rng.random()))
    chunks = [order[i:i + bs] for i in range(0, len(order), bs)]
    rng.shuffle(chunks)
    for ch in chunks:
        T = max(len(data[i]) for i in ch)
        ids = torch.full((len(ch), T), PAD, dtype=torch.long)
        for r, i in enumerate(ch):
            ids[r, :len(data[i])] = torch.tensor(data[i])
        yield ids, ids != PAD


def evaluate(model: BertForMaskedLM, data: list[list[int]], V: int) -> tuple[float, float]:
    model.eval()
    g = torch.Generator().manual_seed(SEED + 7)
    tot_loss = tot_ok = tot_n = 0.0
    with torch.no_grad():
        for ids, pad in batches(data, 256, random.Random(SEED + 8)):
            inp, labels = mask_batch(ids, pad, V, g)
            m = labels != -100
            logits = model(inp, pad, m)
            tot_loss += F.cross_entropy(logits, labels[m], reduction='sum').item()
            tot_ok += (logits.argmax(-1) == labels[m]).sum().item()
            tot_n += m.sum().item()
    model.train()
    return tot_loss / tot_n, tot_ok / tot_n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--minutes', type=float, default=11.0)
    ap.add_argument('--steps', type=int, default=0, help='train exactly this many steps (bit-reproducible schedule) instead of a time budget')
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    t0 = time.time()
    sentences = read_corpus()
    rng.shuffle(sentences)
    vocab = build_vocab(sentences)
    v = {p: i for i, p in enumerate(vocab)}
    V = len(vocab)
    print(f'{len(sentences)} sentences, vocabulary {V}', flush=True)
    data: list[list[int]] = []
    unk = total = 0
    for s in sentences:
        ids = [CLS]
        for w in pre_tokenize(normalise(s)):
            ids += wordpiece(w, v)
        ids = ids[:MAX_LEN - 1] + [SEP]
        unk += ids.count(UNK)
        total += len(ids)
        data.append(ids)
    print(f'{total} tokens, {unk / total:.4%} [UNK]', flush=True)
    n_val = 3000
    val, train = data[:n_val], data[n_val:]
    cfg = dict(CFG, vocab_size=V)
    model = BertForMaskedLM(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, betas=(0.9, 0.98))
    budget = args.minutes * 60
    g = torch.Generator().manual_seed(SEED + 1)
    step = 0
    warmup = 200
    t_train = time.time()
    history = []
    epoch = 0
    done = False
    while not done:
        epoch += 1
        for ids, pad in batches(train, 96, rng):
            # Warm-up, then cosine decay over the time budget (so the schedule fits any machine speed).
            if args.steps:
                progress = min(1.0, step / args.steps)
            else:
                progress = min(1.0, (time.time() - t_train) / (budget - (t_train - t0)))
            lr = 1e-3 * min(1.0, (step + 1) / warmup) * max(0.02, 0.5 * (1 + math.cos(math.pi * progress)))
            for group in opt.param_groups:
                group['lr'] = lr
            inp, labels = mask_batch(ids, pad, V, g)
            m = labels != -100
            loss = F.cross_entropy(model(inp, pad, m), labels[m])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step == 20:
                print(f'{step} steps at {time.time() - t0:.1f}s', flush=True)
            if step % 1000 == 0:
                vl, va = evaluate(model, val, V)
                history.append({'step': step, 'seconds': round(time.time() - t0), 'val_loss': vl, 'val_acc': va})
                print(f'step {step} epoch {epoch} {time.time() - t0:.0f}s train {loss.item():.3f} val loss {vl:.3f} acc {va:.3f}', flush=True)
            if (args.steps and step >= args.steps) or (not args.steps and time.time() - t0 > budget):
                done = True
                break
    vl, va = evaluate(model, val, V)
    elapsed = time.time() - t0
    print(f'final: {step} steps, {elapsed:.0f}s, held-out MLM loss {vl:.4f}, accuracy {va:.4f}', flush=True)

    os.makedirs(OUT, exist_ok=True)
    sd = {k: t.detach().numpy() for k, t in model.state_dict().items()}
    tensors = {k: a for k, a in sd.items() if k.startswith('bert.') or k.startswith('cls.')}
    # The MLM decoder is tied to the word embeddings (HF saves one copy); its bias is cls.predictions.bias.
    n_params = sum(a.size for a in tensors.values())
    write_safetensors(os.path.join(OUT, 'model.safetensors'), tensors, {'format': 'pt'})
    config = {
        'architectures': ['BertForMaskedLM'],
        'model_type': 'bert',
        'attention_probs_dropout_prob': 0.1,
        'hidden_dropout_prob': 0.1,
        'initializer_range': 0.02,
        'pad_token_id': PAD,
        'position_embedding_type': 'absolute',
        'tie_word_embeddings': True,
        'torch_dtype': 'float32',
        'use_cache': True,
        **cfg,
    }
    with open(os.path.join(OUT, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(OUT, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(vocab) + '\n')
    with open(os.path.join(OUT, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tokenizer_json(vocab), f, ensure_ascii=False)
    with open(os.path.join(OUT, 'tokenizer_config.json'), 'w') as f:
        json.dump({'tokenizer_class': 'BertTokenizer', 'do_lower_case': True, 'strip_accents': None, 'tokenize_chinese_chars': True,
                   'unk_token': '[UNK]', 'sep_token': '[SEP]', 'pad_token': '[PAD]', 'cls_token': '[CLS]', 'mask_token': '[MASK]',
                   'model_max_length': cfg['max_position_embeddings']}, f, indent=2)
    with open(os.path.join(OUT, 'special_tokens_map.json'), 'w') as f:
        json.dump({'unk_token': '[UNK]', 'sep_token': '[SEP]', 'pad_token': '[PAD]', 'cls_token': '[CLS]', 'mask_token': '[MASK]'}, f, indent=2)
    with open(os.path.join(OUT, 'training.json'), 'w') as f:
        json.dump({'sentences': len(sentences), 'tokens': total, 'unk_fraction': unk / total, 'vocab_size': V, 'parameters': int(n_params),
                   'steps': step, 'seconds': round(elapsed), 'held_out_sentences': n_val, 'held_out_mlm_loss': vl,
                   'held_out_mlm_accuracy': va, 'history': history, 'seed': SEED, 'torch': torch.__version__}, f, indent=2)
    print('wrote', OUT, f'{n_params} parameters')


if __name__ == '__main__':
    main()

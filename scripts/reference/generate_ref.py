"""Greedy generation references for the decoder fixtures, from the torch forward passes the fixtures' reference.json
files were made with (hf_families.py, hf_decoders.py, hf_gemma.py), in float64.

    /usr/bin/python3 scripts/reference/generate_ref.py              # writes test/fixtures/hf/<family>/generate.json for every decoder
    /usr/bin/python3 scripts/reference/generate_ref.py gpt2 qwen2   # only these
    /usr/bin/python3 scripts/reference/generate_ref.py --time DIR N PROMPT   # ms per token of torch float32's generate-equivalent loop

The loop is what transformers' generate() does with do_sample=False and no cache: run the whole sequence, take the
argmax of the last position's logits, append, stop after the eos token (the config's, its first entry when a list).
It is a full re-run at every step, so it is also the reference for Attention Lens's key/value cache. Each step
records the chosen id, the margin between the best and second-best logit (a near-tie would make float32 disagree)
and the top-5 probabilities.
"""
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_families as hf  # noqa: E402
import hf_decoders as dec  # noqa: E402
import hf_gemma as gem  # noqa: E402

FAMILIES = ['llama', 'llama3', 'qwen2', 'qwen3', 'mistral', 'phi3', 'smollm2', 'smollm3', 'gpt2', 'gptneox',
            'gemma', 'gemma2', 'gemma3']
STEPS = 8


def forward_of(fam, c):
    """The fixture's own reference forward pass: ids → logits [T, V]."""
    t = c['model_type']
    if fam == 'llama':
        return lambda o, W, ids: hf.llama_forward(o, W, c, ids)['logits']
    if t == 'qwen2':
        return lambda o, W, ids: hf.qwen2_forward(o, W, c, ids)['logits']
    if t == 'gpt2':
        return lambda o, W, ids: hf.gpt2_forward(o, W, c, ids)['logits']
    if t == 'gpt_neox':
        return lambda o, W, ids: dec.neox_forward(o, W, c, ids)['logits']
    if t in ('gemma', 'gemma2', 'gemma3_text'):
        gen = {'gemma': 1, 'gemma2': 2, 'gemma3_text': 3}[t]
        return lambda o, W, ids: gem.gemma_forward(o, W, c, ids, gen)['logits']
    return lambda o, W, ids: dec.lineage_forward(o, W, c, ids, fam)['logits']


def eos_of(c):
    e = c.get('eos_token_id')
    return e[0] if isinstance(e, list) else e


def greedy(o, W, forward, ids, steps, eos, V):
    seq, out = list(ids), []
    for _ in range(steps):
        logits = o.np(forward(o, W, seq))[-1][:V]
        order = np.argsort(-logits, kind='stable')
        z = logits - logits.max()
        p = np.exp(z) / np.exp(z).sum()
        best = int(order[0])
        out.append({'id': best, 'margin': float(logits[order[0]] - logits[order[1]]),
                    'top': [[int(i), float(p[i])] for i in order[:5]]})
        seq.append(best)
        if best == eos:
            break
    return out


def load(d):
    with open(os.path.join(d, 'config.json'), encoding='utf-8') as f:
        c = json.load(f)
    return c, hf.read_safetensors(os.path.join(d, 'model.safetensors'))


def write(families):
    import torch
    torch.set_num_threads(2)
    o = hf.TorchOps(torch.float64)
    for fam in families:
        d = os.path.join(hf.OUT, fam)
        c, stored = load(d)
        W = {k: o.arr(v) for k, v in stored.items()}
        with open(os.path.join(d, 'reference.json'), encoding='utf-8') as f:
            prompt = json.load(f)['cases'][0]['ids']
        with torch.no_grad():
            steps = greedy(o, W, forward_of(fam, c), prompt, STEPS, eos_of(c), c['vocab_size'])
        ref = {'family': fam, 'prompt_ids': prompt, 'eos_id': eos_of(c), 'steps': steps,
               'generator': 'scripts/reference/generate_ref.py (torch float64, greedy, a full re-run per token)'}
        with open(os.path.join(d, 'generate.json'), 'w', encoding='utf-8') as f:
            json.dump(ref, f, separators=(',', ':'))
        print(f'{fam}: {len(prompt)} prompt tokens → {[s["id"] for s in steps]}, smallest margin {min(s["margin"] for s in steps):.2e}')


def time_loop(d, n, prompt_len):
    """ms per generated token of torch float32's loop without a cache (what generate(use_cache=False) does)."""
    import torch
    torch.set_num_threads(2)
    o = hf.TorchOps(torch.float32)
    c, stored = load(d)
    W = {k: o.arr(v) for k, v in stored.items()}
    fam = os.path.basename(os.path.normpath(d))
    forward = forward_of(fam if fam in FAMILIES else c['model_type'], c)
    ids = [int(x) for x in np.random.default_rng(0).integers(3, min(300, c['vocab_size']), size=prompt_len)]
    with torch.no_grad():
        greedy(o, W, forward, ids, 1, None, c['vocab_size'])  # warm-up
        t0 = time.perf_counter()
        greedy(o, W, forward, ids, n, None, c['vocab_size'])
        ms = (time.perf_counter() - t0) * 1000
    return {'engine': 'torch float32 (no cache)', 'threads': torch.get_num_threads(), 'tokens': n, 'prompt': prompt_len,
            'ms_per_token': round(ms / n, 3), 'tokens_per_s': round(n * 1000 / ms, 2)}


def main(argv):
    if argv and argv[0] == '--time':
        print(json.dumps(time_loop(argv[1], int(argv[2]), int(argv[3]))))
        return
    unknown = [a for a in argv if a not in FAMILIES]
    if unknown:
        raise SystemExit(__doc__ + f'\nknown families: {", ".join(FAMILIES)}')
    write(argv or FAMILIES)


if __name__ == '__main__':
    main(sys.argv[1:])

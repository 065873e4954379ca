"""One BERT encoder layer (embeddings excluded) in numpy and torch on the bench's weights.

Usage: layer_ref.py MODEL.safetensors TOKENS REPEATS  -> prints JSON {numpy_ms, torch_ms}.
torch is Debian's python3-torch; without libopenblas0-pthread it falls back to reference BLAS
(~20x slower), so the bench says which BLAS numpy uses.
"""
import json, struct, sys, time
import numpy as np

path, T, R = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
raw = open(path, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
W = {}
for k, v in header.items():
    if k == '__metadata__':
        continue
    a, b = v['data_offsets']
    W[k] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype='<f4').reshape(v['shape'])
P = 'bert.encoder.layer.0.'
D, H = 768, 12
hd = D // H
x = np.random.default_rng(0).standard_normal((T, D)).astype(np.float32)

def ln(v, g, b, eps=1e-12):
    m = v.mean(-1, keepdims=True); s = ((v - m) ** 2).mean(-1, keepdims=True)
    return (v - m) / np.sqrt(s + eps) * g + b

def layer_np(x):
    q = x @ W[P + 'attention.self.query.weight'].T + W[P + 'attention.self.query.bias']
    k = x @ W[P + 'attention.self.key.weight'].T + W[P + 'attention.self.key.bias']
    v = x @ W[P + 'attention.self.value.weight'].T + W[P + 'attention.self.value.bias']
    q = q.reshape(T, H, hd).transpose(1, 0, 2); k = k.reshape(T, H, hd).transpose(1, 0, 2); v = v.reshape(T, H, hd).transpose(1, 0, 2)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
    s = np.exp(s - s.max(-1, keepdims=True)); a = s / s.sum(-1, keepdims=True)
    c = (a @ v).transpose(1, 0, 2).reshape(T, D)
    o = c @ W[P + 'attention.output.dense.weight'].T + W[P + 'attention.output.dense.bias']
    h = ln(x + o, W[P + 'attention.output.LayerNorm.weight'], W[P + 'attention.output.LayerNorm.bias'])
    f = h @ W[P + 'intermediate.dense.weight'].T + W[P + 'intermediate.dense.bias']
    f = 0.5 * f * (1 + np.tanh(0.7978845608 * (f + 0.044715 * f ** 3)))
    f = f @ W[P + 'output.dense.weight'].T + W[P + 'output.dense.bias']
    return ln(h + f, W[P + 'output.LayerNorm.weight'], W[P + 'output.LayerNorm.bias'])

def timeit(fn):
    fn()
    xs = []
    for _ in range(R):
        t0 = time.perf_counter(); fn(); xs.append((time.perf_counter() - t0) * 1e3)
    return sorted(xs)[len(xs) // 2]

out = {'numpy_ms': timeit(lambda: layer_np(x))}
try:
    import torch
    torch.set_num_threads(2)
    tw = {k: torch.from_numpy(np.array(v)) for k, v in W.items() if k.startswith(P)}
    tx = torch.from_numpy(x)
    lin = lambda v, n: torch.nn.functional.linear(v, tw[P + n + '.weight'], tw[P + n + '.bias'])
    def layer_torch():
        with torch.no_grad():
            q = lin(tx, 'attention.self.query').view(T, H, hd).transpose(0, 1)
            k = lin(tx, 'attention.self.key').view(T, H, hd).transpose(0, 1)
            v = lin(tx, 'attention.self.value').view(T, H, hd).transpose(0, 1)
            a = torch.softmax(q @ k.transpose(1, 2) / hd ** 0.5, -1)
            c = (a @ v).transpose(0, 1).reshape(T, D)
            h = torch.nn.functional.layer_norm(tx + lin(c, 'attention.output.dense'), (D,), tw[P + 'attention.output.LayerNorm.weight'], tw[P + 'attention.output.LayerNorm.bias'], 1e-12)
            f = torch.nn.functional.gelu(lin(h, 'intermediate.dense'), approximate='tanh')
            return torch.nn.functional.layer_norm(h + lin(f, 'output.dense'), (D,), tw[P + 'output.LayerNorm.weight'], tw[P + 'output.LayerNorm.bias'], 1e-12)
    out['torch_ms'] = timeit(layer_torch)
except ImportError:
    out['torch_ms'] = 'torch not installed (apt-get install python3-torch libopenblas0-pthread)'
print(json.dumps(out))

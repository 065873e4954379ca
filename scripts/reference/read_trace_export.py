#!/usr/bin/env python3
"""An independent reader of Attention Lens's whole-trace export (safetensors + OUT.index.json), written
from the safetensors format description alone (json + struct + numpy; no safetensors package, nothing
from the TypeScript side). Checks the layout the format requires (8-byte little-endian header length,
a header padded to 8 bytes, F32 entries whose data_offsets tile the data section exactly, no trailing
bytes), reads every tensor with numpy.frombuffer, and prints one JSON object:

    {"header_bytes", "metadata", "tensors": {name: {"shape", "sha256", "max_row_sum_error"}},
     "index": {"stages", "missing": [keys the index names that the file lacks]}}

sha256 is over the tensor's little-endian float32 bytes; max_row_sum_error is max |Σ_last axis − 1|
for tensors named .../weights (softmax rows sum to one), else null.

    /usr/bin/python3 scripts/reference/read_trace_export.py OUT.safetensors
"""
import hashlib
import json
import struct
import sys

import numpy as np


def fail(msg):
    raise SystemExit(f'read_trace_export: {msg}')


def read(path):
    with open(path, 'rb') as f:
        blob = f.read()
    if len(blob) < 8:
        fail('shorter than the 8-byte header length')
    (n,) = struct.unpack('<Q', blob[:8])
    if n % 8 != 0:
        fail(f'header length {n} is not a multiple of 8')
    if 8 + n > len(blob):
        fail('truncated header')
    header = json.loads(blob[8:8 + n].decode('utf-8'))
    data = memoryview(blob)[8 + n:]
    meta = header.pop('__metadata__', {})
    entries = sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0])
    cursor = 0
    tensors = {}
    for name, info in entries:
        if info['dtype'] != 'F32':
            fail(f'{name}: dtype {info["dtype"]}, expected F32')
        b, e = info['data_offsets']
        if b != cursor:
            fail(f'{name}: starts at {b}, expected {cursor} (a hole or an overlap)')
        count = int(np.prod(info['shape'], dtype=np.int64)) if info['shape'] else 1
        if e - b != 4 * count:
            fail(f'{name}: {e - b} bytes for shape {info["shape"]}')
        arr = np.frombuffer(data, dtype='<f4', count=count, offset=b).reshape(info['shape'])
        cursor = e
        rse = None
        if name.endswith('/weights') and arr.size > 0:
            rse = float(np.max(np.abs(arr.astype(np.float64).sum(axis=-1) - 1.0)))
        tensors[name] = {
            'shape': list(info['shape']),
            'sha256': hashlib.sha256(arr.astype('<f4').tobytes()).hexdigest(),
            'max_row_sum_error': rse,
        }
    if cursor != len(data):
        fail(f'{len(data) - cursor} bytes after the last tensor')
    return n, meta, tensors


def main(argv):
    if len(argv) != 1:
        raise SystemExit(__doc__)
    path = argv[0]
    n, meta, tensors = read(path)
    index_path = path[: -len('.safetensors')] + '.index.json' if path.lower().endswith('.safetensors') else path + '.index.json'
    with open(index_path, encoding='utf-8') as f:
        index = json.load(f)
    keys = [t['key'] for s in index['stages'] for t in s['tensors']]
    out = {
        'header_bytes': n,
        'metadata': meta,
        'tensors': tensors,
        'index': {
            'stages': len(index['stages']),
            'tokens': len(index['tokens']),
            'safetensors': index['safetensors'],
            'missing': sorted(set(k for k in keys if k not in tensors)),
            'unreferenced': sorted(set(tensors) - set(keys)),
        },
    }
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main(sys.argv[1:])

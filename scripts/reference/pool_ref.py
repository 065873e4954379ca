"""Independent max-pooling of a heatmap window, for test/unit/viewport.test.ts.

The panel draws a window of a rows x cols matrix whose cells are under a pixel by pooling blocks of
ky x kx cells into one pixel, each its block's largest unmasked value (shared/viewport.ts poolMax).
Here the same is done with torch's max_pool2d (ceil_mode: the last block of a row or column may
hold fewer cells) on the window sliced with numpy, masked cells and NaNs set to -inf first; a block
with nothing left (-inf) is written as null (the panel's NaN: drawn as masked).

    /usr/bin/python3 scripts/reference/pool_ref.py
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
rows, cols = 45, 61
rng = np.random.default_rng(16)
data = rng.standard_normal((rows, cols)).astype(np.float32)
data[7, 3] = np.nan
# A causal mask: key c is masked for query r when c > r.
masked = np.triu(np.ones((rows, cols), dtype=bool), k=1)

cases = []
for (r0, nr, c0, nc, ky, kx) in [
    (0, 45, 0, 61, 1, 1),
    (0, 45, 0, 61, 4, 4),
    (0, 45, 0, 61, 3, 5),
    (10, 20, 17, 33, 2, 3),
    (0, 9, 40, 21, 7, 2),
    (44, 1, 0, 61, 1, 8),
]:
    win = data[r0 : r0 + nr, c0 : c0 + nc].astype(np.float64)
    m = masked[r0 : r0 + nr, c0 : c0 + nc]
    x = np.where(m | np.isnan(win), -np.inf, win)
    pooled = torch.nn.functional.max_pool2d(
        torch.from_numpy(x)[None, None], kernel_size=(ky, kx), stride=(ky, kx), ceil_mode=True
    )[0, 0].numpy()
    values = [None if not np.isfinite(v) else float(str(np.float32(v))) for v in pooled.ravel()]
    cases.append(
        {"view": {"r0": r0, "nr": nr, "c0": c0, "nc": nc}, "ky": ky, "kx": kx,
         "width": int(pooled.shape[1]), "height": int(pooled.shape[0]), "values": values}
    )

out = {
    "rows": rows,
    "cols": cols,
    "data": [None if np.isnan(v) else float(str(v)) for v in data.ravel()],
    "causal": True,
    "cases": cases,
}
path = ROOT / "test/fixtures/viewport/pool.json"
path.write_text(json.dumps(out))
print(f"wrote {path.relative_to(ROOT)}: {len(cases)} windows")

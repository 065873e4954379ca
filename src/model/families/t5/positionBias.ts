// T5's relative position bias: key j seen from query i falls in a bucket of j − i (T5Attention.
// _relative_position_bucket): half the buckets per direction in the encoder, the past only in the
// decoder; exact buckets for short distances, log-spaced ones up to max_distance, the last bucket
// beyond. Each head learns one number per bucket (a [buckets, heads] table in block 0 of each
// stack, reused by every layer): B[h, i, j] = table[bucket(j − i), h], added to the scores.
// The log part is computed in float32 as Hugging Face does (positions .float(), torch.log, then
// truncation), so a distance on a bucket boundary goes where it puts it (for t5's 32 buckets over
// 128, float64 agrees at every distance up to 300: the test compares both directions with torch).

const f = Math.fround;

/** The bucket of relative position `rel` = key − query. */
export function t5Bucket(rel: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = numBuckets;
  let out = 0;
  let n: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (rel > 0) out += buckets;
    n = Math.abs(rel);
  } else {
    n = Math.max(-rel, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (n < maxExact) return out + n;
  const logRatio = f(Math.log(f(n / maxExact))); // float32, as torch.log on float32 positions
  const scaled = f(f(logRatio / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  return out + Math.min(maxExact + Math.trunc(scaled), buckets - 1);
}

/** [Tq, Tk]: the bucket of every (query i, key j), from j − i. */
export function bucketGrid(
  Tq: number,
  Tk: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): Int32Array {
  const out = new Int32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++)
    for (let j = 0; j < Tk; j++) out[i * Tk + j] = t5Bucket(j - i, bidirectional, numBuckets, maxDistance);
  return out;
}

/** B [H, Tq, Tk] from the [buckets, H] table (row-major, as stored) and a bucket grid [Tq, Tk]. */
export function positionBias(table: Float32Array, heads: number, grid: Int32Array): Float32Array {
  const n = grid.length;
  const out = new Float32Array(heads * n);
  for (let h = 0; h < heads; h++) for (let k = 0; k < n; k++) out[h * n + k] = table[grid[k]! * heads + h]!;
  return out;
}

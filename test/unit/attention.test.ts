// The attention maths (src/model/attention/: scores, normalisers, attend, heads, whatif) against an independent numpy reference
// (scripts/reference/attention_ref.py → test/fixtures/attention/*.json), plus properties that
// must hold for any input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import {
  NORMALISER_DOCS,
  SIGMOID_ROWS_NOTE,
  causalMask,
  combineMasks,
  largeNegativeSoftmax,
  normalise,
  paddingMask,
  softmax,
  sparsemax,
} from '../../src/model/attention/normalisers';
import {
  additivePairs,
  additiveProject,
  additiveScores,
  computeScores,
  dotScores,
  tanhSumScores,
  type ScoreParams,
} from '../../src/model/attention/scores';
import { attend, disposeAttend } from '../../src/model/attention/attend';
import { expandKv, groupedKvHeads, mergeHeads, splitHeads } from '../../src/model/attention/heads';
import { availableScores, recompute } from '../../src/model/attention/whatif';
import {
  AttentionInputError,
  NORMALISERS,
  SCORE_FUNCTIONS,
  tensor,
  type Normaliser,
  type ScoreFunction,
  type TensorData,
} from '../../shared/trace';

// ---------------------------------------------------------------------------------------------
// Fixture plumbing

interface F32 {
  readonly shape: number[];
  readonly b64: string;
}
interface Case {
  readonly name: string;
  readonly q: F32;
  readonly k: F32;
  readonly v: F32;
  readonly params: Record<'W' | 'W1' | 'W2' | 'v', F32>;
  readonly causal: boolean;
  readonly kvHeadOf?: number[];
  readonly keyLengths?: number[];
  readonly results: Record<string, { scores: F32; weights: F32; context: F32 }>;
}

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'attention');
const load = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as T;

function decode(a: F32): Float32Array {
  const buf = Buffer.from(a.b64, 'base64');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  assert.equal(
    out.length,
    a.shape.reduce((x, y) => x * y, 1),
  );
  return out;
}

const toTensor = (a: F32): tf.Tensor => tf.tensor(decode(a), a.shape);
const toData = (name: string, a: F32, axes: string[]): TensorData => tensor(name, a.shape, axes, decode(a));

const REL = 1e-5;
const ABS = 1e-6;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e) - (REL * Math.abs(e) + ABS);
    if (!(err <= worst) || Number.isNaN(a)) {
      worst = Number.isNaN(a) ? Infinity : err;
      at = i;
    }
  }
  if (at >= 0)
    assert.fail(`${what}: element ${at} is ${actual[at]}, expected ${expected[at]} (beyond rel ${REL} + abs ${ABS})`);
}

function leakCheck<T>(what: string, f: () => T): T {
  const before = tf.memory().numTensors;
  try {
    return f();
  } finally {
    assert.equal(tf.memory().numTensors, before, `${what} leaked tensors`);
  }
}

/** The mask the fixture was made with, built here by plain loops (independent of causalMask/paddingMask). */
function allowedOf(c: Case, H: number, Tq: number, Tk: number): boolean[] {
  const out: boolean[] = [];
  for (let h = 0; h < H; h++)
    for (let i = 0; i < Tq; i++)
      for (let j = 0; j < Tk; j++) {
        let ok = true;
        if (c.causal && j > i + (Tk - Tq)) ok = false;
        if (c.keyLengths && j >= c.keyLengths[h]!) ok = false;
        out.push(ok);
      }
  return out;
}

const params = (c: Case): ScoreParams => ({
  W: toTensor(c.params.W),
  W1: toTensor(c.params.W1),
  W2: toTensor(c.params.W2),
  v: toTensor(c.params.v),
});
const disposeParams = (p: ScoreParams): void => Object.values(p).forEach((t: tf.Tensor) => t.dispose());

const before = async (): Promise<void> => {
  await initBackend();
};

// ---------------------------------------------------------------------------------------------

test('every score function × normaliser × case matches the numpy reference', async () => {
  await before();
  const { cases } = load<{ cases: Case[] }>('cases.json');
  assert.ok(cases.length >= 10);
  let compared = 0;
  for (const c of cases) {
    const q = toTensor(c.q);
    const k = toTensor(c.k);
    const v = toTensor(c.v);
    const p = params(c);
    const [H, Tq] = c.q.shape as [number, number, number];
    const Tk = c.k.shape[1]!;
    const mask = c.keyLengths ? paddingMask(c.keyLengths, Tq, Tk) : undefined;
    const allowed = allowedOf(c, H, Tq, Tk);
    for (const score of SCORE_FUNCTIONS) {
      for (const normaliser of NORMALISERS) {
        const key = `${score}/${normaliser}`;
        const exp = c.results[key];
        assert.ok(exp, `${c.name}: fixture has ${key}`);
        const out = leakCheck(`${c.name} ${key}`, () => {
          const o = attend({ q, k, v, score, normaliser, params: p, causal: c.causal, mask, kvHeadOf: c.kvHeadOf });
          const r = {
            scores: o.scores.dataSync().slice(),
            weights: o.weights.dataSync().slice(),
            context: o.context.dataSync().slice(),
            shape: o.weights.shape,
          };
          disposeAttend(o);
          return r;
        });
        assert.deepEqual(out.shape, [H, Tq, Tk]);
        assertClose(out.scores, decode(exp.scores), `${c.name} ${key} scores`);
        assertClose(out.weights, decode(exp.weights), `${c.name} ${key} weights`);
        assertClose(out.context, decode(exp.context), `${c.name} ${key} context`);
        // Masked positions: exactly 0, for every normaliser.
        allowed.forEach((ok, i) => {
          if (!ok)
            assert.equal(out.weights[i], 0, `${c.name} ${key}: masked weight ${i} is ${out.weights[i]}, not exactly 0`);
        });
        // softmax/sparsemax/hardmax/sampled rows sum to 1 (0 for a fully masked row).
        if (normaliser !== 'sigmoid') {
          for (let r = 0; r < H * Tq; r++) {
            let sum = 0;
            let any = false;
            for (let j = 0; j < Tk; j++) {
              sum += out.weights[r * Tk + j]!;
              any ||= allowed[r * Tk + j]!;
            }
            assert.ok(Math.abs(sum - (any ? 1 : 0)) < 1e-5, `${c.name} ${key}: row ${r} sums to ${sum}`);
          }
        }
        assert.ok(
          out.weights.every(Number.isFinite) && out.context.every(Number.isFinite),
          `${c.name} ${key}: NaN or Infinity`,
        );
        compared++;
      }
    }
    [q, k, v, mask].forEach((t) => t?.dispose());
    disposeParams(p);
  }
  assert.equal(compared, cases.length * SCORE_FUNCTIONS.length * NORMALISERS.length);
});

test('recompute (what-if) matches the numpy reference wherever a causal flag describes the mask', async () => {
  await before();
  const { cases } = load<{ cases: Case[] }>('cases.json');
  let compared = 0;
  for (const c of cases.filter((x) => !x.keyLengths)) {
    const input = {
      Q: toData('Q', c.q, ['head', 'token', 'd']),
      K: toData('K', c.k, ['head', 'token', 'd']),
      V: toData('V', c.v, ['head', 'token', 'd']),
      params: {
        W: toData(
          'W',
          c.params.W,
          c.params.W.shape.map((_, i) => `a${i}`),
        ),
        W1: toData(
          'W1',
          c.params.W1,
          c.params.W1.shape.map((_, i) => `a${i}`),
        ),
        W2: toData(
          'W2',
          c.params.W2,
          c.params.W2.shape.map((_, i) => `a${i}`),
        ),
        v: toData(
          'v',
          c.params.v,
          c.params.v.shape.map((_, i) => `a${i}`),
        ),
      },
      kvHeadOf: c.kvHeadOf,
      causal: c.causal,
    };
    for (const score of SCORE_FUNCTIONS) {
      for (const normaliser of NORMALISERS) {
        const key = `${score}/${normaliser}`;
        const r = leakCheck(`recompute ${c.name} ${key}`, () => recompute(input, score, normaliser));
        assertClose(r.scores.data, decode(c.results[key]!.scores), `recompute ${c.name} ${key} scores`);
        assertClose(r.weights.data, decode(c.results[key]!.weights), `recompute ${c.name} ${key} weights`);
        assertClose(r.context.data, decode(c.results[key]!.context), `recompute ${c.name} ${key} context`);
        compared++;
      }
    }
  }
  assert.ok(compared >= 8 * 12);
});

test('sparsemax: hand-made rows with ties, exact zeros, masks; a random block of eighths', async () => {
  await before();
  type Row = { name: string; z?: number[]; mask?: number[]; expected?: number[]; block?: { z: F32; expected: F32 } };
  const { rows } = load<{ rows: Row[] }>('sparsemax.json');
  let checked = 0;
  for (const row of rows) {
    if (row.block) {
      const z = toTensor(row.block.z);
      const got = leakCheck('sparsemax block', () => tf.tidy(() => Float32Array.from(sparsemax(z).dataSync())));
      z.dispose();
      const exp = decode(row.block.expected);
      assertClose(got, exp, row.name);
      exp.forEach((e, i) => {
        if (e === 0) assert.equal(got[i], 0, `${row.name}: element ${i} should be exactly 0`);
      });
      assert.ok(exp.filter((e) => e === 0).length > 10, 'the random block has plenty of zeros to check');
      checked++;
      continue;
    }
    const z = tf.tensor2d(row.z!, [1, row.z!.length]);
    const m = row.mask ? tf.tensor2d(row.mask, [1, row.mask.length]) : undefined;
    const got = leakCheck(`sparsemax ${row.name}`, () => tf.tidy(() => Float32Array.from(sparsemax(z, m).dataSync())));
    z.dispose();
    m?.dispose();
    assertClose(got, row.expected!, row.name);
    row.expected!.forEach((e, i) => {
      if (e === 0) assert.equal(got[i], 0, `${row.name}: element ${i} is ${got[i]}, should be exactly 0`);
    });
    const sum = got.reduce((a, b) => a + b, 0);
    const allMasked = row.mask?.every((x) => x === 0) ?? false;
    assert.ok(Math.abs(sum - (allMasked ? 0 : 1)) < 1e-6, `${row.name}: sums to ${sum}`);
    checked++;
  }
  assert.equal(checked, rows.length);
  assert.ok(checked >= 12);
});

/** Closed-form sparsemax in plain float64 JavaScript, for random rows. */
function sparsemaxClosedForm(z: readonly number[]): { alpha: number[]; tau: number } {
  const s = [...z].sort((a, b) => b - a);
  let cum = 0;
  let kz = 0;
  let cumAtK = 0;
  s.forEach((x, i) => {
    cum += x;
    if (1 + (i + 1) * x > cum) {
      kz = i + 1;
      cumAtK = cum;
    }
  });
  const tau = (cumAtK - 1) / kz;
  return { alpha: z.map((x) => Math.max(x - tau, 0)), tau };
}

test('sparsemax equals its closed form on random rows, with exact zeros off the support', async () => {
  await before();
  let seed = 12345;
  const rand = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const rows = 40;
  const n = 9;
  const z = Array.from({ length: rows * n }, () => (rand() - 0.5) * 6);
  const zt = tf.tensor2d(z, [rows, n]);
  const got = leakCheck('sparsemax random', () => tf.tidy(() => Float32Array.from(sparsemax(zt).dataSync())));
  zt.dispose();
  let zeros = 0;
  for (let r = 0; r < rows; r++) {
    const zr = Array.from(got.subarray(r * n, (r + 1) * n)).map((_, j) => Math.fround(z[r * n + j]!));
    const { alpha, tau } = sparsemaxClosedForm(zr);
    assertClose(got.subarray(r * n, (r + 1) * n), alpha, `row ${r}`);
    for (let j = 0; j < n; j++) {
      // Off the support (clearly below τ) the weight is exactly 0, not merely tiny.
      if (zr[j]! < tau - 1e-5) {
        assert.equal(got[r * n + j], 0, `row ${r} key ${j}`);
        zeros++;
      }
      // On the support the weight is z − τ: every kept key shares one threshold.
      if (alpha[j]! > 1e-5) assert.ok(Math.abs(got[r * n + j]! - (zr[j]! - tau)) < 1e-5);
    }
  }
  assert.ok(zeros > rows, `only ${zeros} zeros: the test inputs are not sparse enough to test anything`);
});

test('multi-head split and merge match the reference and invert each other', async () => {
  await before();
  const f = load<{ T: number; H: number; d: number; x: F32; split: F32 }>('heads.json');
  const x = toTensor(f.x);
  leakCheck('split/merge', () =>
    tf.tidy(() => {
      const s = splitHeads(x, f.H);
      assert.deepEqual(s.shape, [f.H, f.T, f.d]);
      assert.deepEqual(Array.from(s.dataSync()), Array.from(decode(f.split)));
      const m = mergeHeads(s);
      assert.deepEqual(Array.from(m.dataSync()), Array.from(decode(f.x)));
    }),
  );
  leakCheck('split by a non-divisor throws', () => assert.throws(() => splitHeads(x, 5), /do not split into 5 heads/));
  x.dispose();
});

test('grouped-query attention: 8 query heads on 4 KV heads read KV head ⌊h/2⌋', async () => {
  await before();
  assert.deepEqual(groupedKvHeads(8, 4), [0, 0, 1, 1, 2, 2, 3, 3]);
  assert.deepEqual(groupedKvHeads(4, 1), [0, 0, 0, 0]);
  assert.throws(() => groupedKvHeads(8, 3), /cannot share/);
  const kv = tf.tensor3d(
    Float32Array.from({ length: 4 * 2 * 3 }, (_, i) => i),
    [4, 2, 3],
  );
  leakCheck('expandKv', () =>
    tf.tidy(() => {
      const e = expandKv(kv, groupedKvHeads(8, 4));
      assert.deepEqual(e.shape, [8, 2, 3]);
      const d = e.dataSync();
      for (let h = 0; h < 8; h++) assert.equal(d[h * 6], Math.floor(h / 2) * 6, `head ${h}`);
    }),
  );
  leakCheck('expandKv with a bad head throws', () =>
    assert.throws(() => expandKv(kv, [0, 4]), /not a key\/value head/),
  );
  kv.dispose();
});

test('masks: causal (with offset), padding and their combination, built right', async () => {
  await before();
  leakCheck('masks', () =>
    tf.tidy(() => {
      assert.deepEqual(Array.from(causalMask(3).dataSync()), [1, 0, 0, 1, 1, 0, 1, 1, 1]);
      // 2 queries that are the last 2 of 4 positions.
      assert.deepEqual(Array.from(causalMask(2, 4).dataSync()), [1, 1, 1, 0, 1, 1, 1, 1]);
      const p = paddingMask([2, 0], 2, 3);
      assert.deepEqual(p.shape, [2, 2, 3]);
      assert.deepEqual(Array.from(p.dataSync()), [1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual(
        Array.from(combineMasks(causalMask(2, 3), paddingMask([3, 1], 2, 3)).dataSync()),
        [1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0],
      );
    }),
  );
  assert.throws(() => paddingMask([4], 1, 3), /key length 4/);
});

test('a fully masked row gives zeros, never NaN, for every normaliser', async () => {
  await before();
  const s = tf.tensor3d([1, 2, 3, 4, 5, 6, -Infinity, 1e30, 7], [1, 3, 3]);
  const m = tf.tensor2d([1, 1, 0, 0, 0, 0, 1, 0, 1], [3, 3]);
  for (const n of NORMALISERS) {
    const w = leakCheck(n, () => tf.tidy(() => normalise(n, s, m).dataSync().slice()));
    assert.ok(w.every(Number.isFinite), `${n}: ${Array.from(w)}`);
    assert.deepEqual(Array.from(w.subarray(3, 6)), [0, 0, 0], `${n}: fully masked row`);
    assert.equal(w[2], 0);
    assert.equal(w[7], 0, `${n}: a masked +1e30 score still gets 0`);
  }
  s.dispose();
  m.dispose();
});

test('self-attention without positions is permutation-equivariant, for every score × normaliser', async () => {
  await before();
  const H = 2;
  const T = 6;
  const d = 4;
  let seed = 99;
  const rand = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296 - 0.5;
  };
  const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => rand() * 3);
  const Q = fill(H * T * d);
  const K = fill(H * T * d);
  const V = fill(H * T * d);
  const perm = [3, 0, 5, 1, 4, 2];
  const permute = (a: Float32Array): Float32Array => {
    const out = new Float32Array(a.length);
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++)
        out.set(a.subarray((h * T + perm[i]!) * d, (h * T + perm[i]! + 1) * d), (h * T + i) * d);
    return out;
  };
  const p: ScoreParams = {
    W: tf.tensor2d(fill(d * d), [d, d]),
    W1: tf.tensor2d(fill(3 * d), [3, d]),
    W2: tf.tensor2d(fill(3 * d), [3, d]),
    v: tf.tensor1d(fill(3)),
  };
  const t3 = (a: Float32Array): tf.Tensor3D => tf.tensor3d(a, [H, T, d]);
  // Sampled hard attention draws in row order (row r takes the r-th number of the seeded
  // sequence), so permuting the queries permutes the draws too: it is not equivariant.
  for (const score of SCORE_FUNCTIONS) {
    for (const normaliser of NORMALISERS.filter((n) => n !== 'sampled')) {
      leakCheck(`${score}/${normaliser}`, () =>
        tf.tidy(() => {
          const a = attend({ q: t3(Q), k: t3(K), v: t3(V), score, normaliser, params: p });
          const b = attend({ q: t3(permute(Q)), k: t3(permute(K)), v: t3(permute(V)), score, normaliser, params: p });
          const wa = a.weights.dataSync();
          const wb = b.weights.dataSync();
          const ca = a.context.dataSync();
          const cb = b.context.dataSync();
          for (let h = 0; h < H; h++)
            for (let i = 0; i < T; i++) {
              for (let j = 0; j < T; j++) {
                const x = wb[(h * T + i) * T + j]!;
                const y = wa[(h * T + perm[i]!) * T + perm[j]!]!;
                assert.ok(
                  Math.abs(x - y) <= 1e-5 * Math.abs(y) + 1e-6,
                  `${score}/${normaliser} weight ${h},${i},${j}: ${x} vs ${y}`,
                );
              }
              for (let c = 0; c < d; c++) {
                const x = cb[(h * T + i) * d + c]!;
                const y = ca[(h * T + perm[i]!) * d + c]!;
                assert.ok(
                  Math.abs(x - y) <= 1e-5 * Math.abs(y) + 1e-6,
                  `${score}/${normaliser} context ${h},${i},${c}`,
                );
              }
            }
        }),
      );
    }
  }
  // And a causal mask breaks it, as it should (so this test can tell the two apart).
  const broken = tf.tidy(() => {
    const a = attend({ q: t3(Q), k: t3(K), v: t3(V), causal: true });
    const b = attend({ q: t3(permute(Q)), k: t3(permute(K)), v: t3(permute(V)), causal: true });
    const wa = a.weights.dataSync();
    const wb = b.weights.dataSync();
    let diff = 0;
    for (let i = 0; i < T; i++)
      for (let j = 0; j < T; j++) diff = Math.max(diff, Math.abs(wb[i * T + j]! - wa[perm[i]! * T + perm[j]!]!));
    return diff;
  });
  assert.ok(broken > 1e-3);
  disposeParams(p);
});

test('whatif recompute equals a fresh attend, labels its axes, and leaks nothing', async () => {
  await before();
  const H = 4;
  const KV = 2;
  const T = 5;
  const d = 3;
  const f = (n: number, s: number): Float32Array =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * s + 0.3) * 1.7);
  const tok = { token: 'input' } as const;
  const Q = tensor('Q', [H, T, d], ['head', 'token', 'd_k'], f(H * T * d, 1.1), { tokenAxes: tok });
  const K = tensor('K', [KV, T, d], ['kv_head', 'token', 'd_k'], f(KV * T * d, 0.7), { tokenAxes: tok });
  const V = tensor('V', [KV, T, d], ['kv_head', 'token', 'd_k'], f(KV * T * d, 0.3), { tokenAxes: tok });
  const W = tensor('W', [d, d], ['d_q', 'd_k'], f(d * d, 0.9));
  const W1 = tensor('W1', [2, d], ['d_a', 'd_k'], f(2 * d, 0.5));
  const W2 = tensor('W2', [2, d], ['d_a', 'd_k'], f(2 * d, 0.2));
  const v = tensor('v', [2], ['d_a'], f(2, 1.9));
  const kvHeadOf = groupedKvHeads(H, KV);
  for (const causal of [false, true]) {
    for (const score of SCORE_FUNCTIONS) {
      for (const normaliser of NORMALISERS) {
        const r = leakCheck('recompute', () =>
          recompute({ Q, K, V, params: { W, W1, W2, v }, kvHeadOf, causal }, score, normaliser),
        );
        const fresh = tf.tidy(() => {
          const t = (x: TensorData): tf.Tensor => tf.tensor(x.data, [...x.shape]);
          const o = attend({
            q: t(Q),
            k: t(K),
            v: t(V),
            score,
            normaliser,
            causal,
            kvHeadOf,
            params: { W: t(W), W1: t(W1), W2: t(W2), v: t(v) },
          });
          return [o.scores.dataSync().slice(), o.weights.dataSync().slice(), o.context.dataSync().slice()];
        });
        assert.deepEqual(Array.from(r.scores.data), Array.from(fresh[0]!));
        assert.deepEqual(Array.from(r.weights.data), Array.from(fresh[1]!));
        assert.deepEqual(Array.from(r.context.data), Array.from(fresh[2]!));
        assert.deepEqual(r.weights.shape, [H, T, T]);
        assert.deepEqual(r.weights.axes, ['head', 'query', 'key']);
        assert.deepEqual(r.weights.tokenAxes, { query: 'input', key: 'input' });
        assert.deepEqual(r.context.shape, [H, T, d]);
        assert.deepEqual(r.context.tokenAxes, { query: 'input' });
      }
    }
  }
  // One head given as [T, d] works too.
  const one = recompute(
    {
      Q: tensor('Q', [T, d], ['token', 'd'], f(T * d, 1)),
      K: tensor('K', [T, d], ['token', 'd'], f(T * d, 2)),
      V: tensor('V', [T, d], ['token', 'd'], f(T * d, 3)),
      causal: true,
    },
    'dot',
    'sparsemax',
  );
  assert.deepEqual(one.weights.shape, [T, T]);
  assert.deepEqual(one.weights.axes, ['query', 'key']);
});

test('availableScores says which score functions the parameters allow, and why not', () => {
  const dummy = tensor('x', [1], ['a'], new Float32Array(1));
  const none = availableScores({});
  assert.deepEqual(
    none.map((a) => [a.score, a.available]),
    [
      ['dot', true],
      ['scaled-dot', true],
      ['general', false],
      ['additive', false],
    ],
  );
  assert.match(none[2]!.reason!, /W/);
  assert.match(none[3]!.reason!, /W₁, W₂ and v/);
  assert.deepEqual(
    availableScores(undefined)
      .filter((a) => a.available)
      .map((a) => a.score),
    ['dot', 'scaled-dot'],
  );
  assert.deepEqual(
    availableScores({ W: dummy })
      .filter((a) => a.available)
      .map((a) => a.score),
    ['dot', 'scaled-dot', 'general'],
  );
  const partial = availableScores({ W1: dummy, W2: dummy });
  assert.equal(partial[3]!.available, false);
  assert.match(partial[3]!.reason!, /lacks v/);
  assert.ok(
    availableScores({ W: dummy, W1: dummy, W2: dummy, v: dummy }).every((a) => a.available && a.reason === undefined),
  );
});

test('bad input throws clear errors and leaves tf.memory() where it was', async () => {
  await before();
  const q = tf.zeros([2, 3, 4]);
  const k = tf.zeros([2, 5, 4]);
  const k3 = tf.zeros([2, 5, 3]);
  const v = tf.zeros([2, 5, 2]);
  const bad: [string, () => unknown, RegExp][] = [
    ['dot with unequal d', () => attend({ q, k: k3, v, score: 'dot' }), /equal dimensions/],
    ['general without W', () => computeScores('general', q, k), /need a learned matrix W/],
    ['additive without v', () => computeScores('additive', q, k, { W1: q, W2: q }), /W₁, W₂ and v/],
    [
      'general with a wrong W',
      () => attend({ q, k, v, score: 'general', params: { W: tf.zeros([3, 3]) } }),
      /W must be \[4, 4\]/,
    ],
    [
      'additive with mismatched W1/W2',
      () =>
        attend({
          q,
          k,
          v,
          score: 'additive',
          params: { W1: tf.zeros([5, 4]), W2: tf.zeros([6, 4]), v: tf.zeros([5]) },
        }),
      /same d_a/,
    ],
    ['mask that does not broadcast', () => attend({ q, k, v, mask: tf.ones([3, 4]) }), /does not broadcast/],
    ['kvHeadOf of the wrong length', () => attend({ q, k, v, kvHeadOf: [0] }), /kvHeadOf has 1 entries/],
    ['k and v disagree', () => attend({ q, k, v: tf.zeros([2, 4, 2]) }), /same heads and tokens/],
    ['q of rank 2', () => attend({ q: tf.zeros([3, 4]), k, v }), /3 axes/],
  ];
  for (const [what, f, re] of bad) {
    // Tensors the arrow itself makes (e.g. a wrong W) belong to the test: the tidy frees those.
    const startCount = tf.memory().numTensors;
    tf.tidy(() => assert.throws(f, re, what));
    assert.equal(tf.memory().numTensors, startCount, `${what} leaked`);
  }
  // The same errors, through recompute: AttentionInputError with stable codes.
  const Q = tensor('Q', [2, 3, 4], ['head', 'token', 'd'], new Float32Array(24));
  const K = tensor('K', [2, 5, 4], ['head', 'token', 'd'], new Float32Array(40));
  const V = tensor('V', [2, 5, 2], ['head', 'token', 'd'], new Float32Array(20));
  const n0 = tf.memory().numTensors;
  const code = (f: () => unknown, c: string): void => {
    assert.throws(f, (e: unknown) => e instanceof AttentionInputError && e.code === c);
    assert.equal(tf.memory().numTensors, n0);
  };
  code(() => recompute({ Q, K, V, causal: false }, 'general', 'softmax'), 'unsupported');
  code(() => recompute({ Q, K: { ...K, shape: [2, 5, 3] }, V, causal: false }, 'dot', 'softmax'), 'shape');
  code(
    () =>
      recompute(
        { Q, K: tensor('K', [2, 5, 3], ['h', 't', 'd'], new Float32Array(30)), V, causal: false },
        'dot',
        'softmax',
      ),
    'shape',
  );
  code(() => recompute({ Q, K, V, causal: false, kvHeadOf: [0, 0, 1] }, 'dot', 'softmax'), 'shape');
  code(
    () =>
      recompute(
        { Q, K, V, causal: false, params: { W: tensor('W', [3, 3], ['a', 'b'], new Float32Array(9)) } },
        'general',
        'sigmoid',
      ),
    'shape',
  );
  [q, k, k3, v].forEach((t) => t.dispose());
});

test('the normaliser docs tell the UI that sigmoid rows need not sum to 1', () => {
  assert.match(NORMALISER_DOCS.sigmoid, /need not sum to 1/);
  assert.match(SIGMOID_ROWS_NOTE, /need not sum to 1/);
  assert.match(NORMALISER_DOCS.sparsemax, /exactly 0/);
  for (const n of NORMALISERS) assert.ok(NORMALISER_DOCS[n as Normaliser].length > 20);
  const scores: readonly ScoreFunction[] = SCORE_FUNCTIONS;
  assert.equal(scores.length, 4);
});

test('additive scores on a long input (computed in blocks of queries) match plain loops', async () => {
  await before();
  // 2 heads × 2100 keys × d_a 8 per query: large enough that the queries are split into blocks.
  const H = 2;
  const Tq = 300;
  const Tk = 2100;
  const d = 3;
  const da = 8;
  const f = (n: number, s: number): Float32Array =>
    Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * s + 1) * 0.8));
  const q = f(H * Tq * d, 0.37);
  const k = f(H * Tk * d, 0.61);
  const W1 = f(da * d, 1.3);
  const W2 = f(da * d, 0.9);
  const v = f(da, 2.1);
  const got = leakCheck('long additive', () =>
    tf.tidy(() =>
      Float32Array.from(
        computeScores('additive', tf.tensor3d(q, [H, Tq, d]), tf.tensor3d(k, [H, Tk, d]), {
          W1: tf.tensor2d(W1, [da, d]),
          W2: tf.tensor2d(W2, [da, d]),
          v: tf.tensor1d(v),
        }).dataSync(),
      ),
    ),
  );
  assert.equal(got.length, H * Tq * Tk);
  const proj = (W: Float32Array, x: Float32Array, at: number): Float64Array => {
    const out = new Float64Array(da);
    for (let a = 0; a < da; a++) for (let j = 0; j < d; j++) out[a] += W[a * d + j]! * x[at + j]!;
    return out;
  };
  const kp = Array.from({ length: H * Tk }, (_, r) => proj(W2, k, r * d));
  let worst = 0;
  for (let h = 0; h < H; h++)
    for (let i = 0; i < Tq; i++) {
      const qp = proj(W1, q, (h * Tq + i) * d);
      for (let j = 0; j < Tk; j++) {
        const kr = kp[h * Tk + j]!;
        let s = 0;
        for (let a = 0; a < da; a++) s += v[a]! * Math.tanh(qp[a]! + kr[a]!);
        worst = Math.max(worst, Math.abs(got[(h * Tq + i) * Tk + j]! - s) - (1e-5 * Math.abs(s) + 1e-6));
      }
    }
  assert.ok(worst <= 0, `worst excess error ${worst}`);
});

test('tanhSumScores is Σ_d w_d·tanh(inner·(q_d + k_d)), with a weight vector or scalars', async () => {
  await before();
  const [B, Tq, Tk, d] = [2, 3, 4, 5];
  const q = Float32Array.from({ length: B * Tq * d }, (_, i) => Math.sin(i * 0.7));
  const k = Float32Array.from({ length: B * Tk * d }, (_, i) => Math.cos(i * 0.3));
  const wv = Float32Array.from({ length: d }, (_, i) => 0.5 - i * 0.2);
  const expect = (w: (j: number) => number, inner: number): Float64Array => {
    const out = new Float64Array(B * Tq * Tk);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < Tq; i++)
        for (let j = 0; j < Tk; j++) {
          let s = 0;
          for (let x = 0; x < d; x++)
            s += w(x) * Math.tanh(inner * (q[(b * Tq + i) * d + x]! + k[(b * Tk + j) * d + x]!));
          out[(b * Tq + i) * Tk + j] = s;
        }
    return out;
  };
  const run = (opts: { weights?: number[] | number; inner?: number }): Float32Array =>
    leakCheck('tanhSumScores', () =>
      tf.tidy(() => {
        const weights =
          opts.weights === undefined
            ? undefined
            : typeof opts.weights === 'number'
              ? tf.scalar(opts.weights)
              : tf.tensor1d(opts.weights);
        const inner = opts.inner === undefined ? undefined : tf.scalar(opts.inner);
        return tanhSumScores(tf.tensor3d(q, [B, Tq, d]), tf.tensor3d(k, [B, Tk, d]), {
          ...(weights ? { weights } : {}),
          ...(inner ? { inner } : {}),
        })
          .dataSync()
          .slice() as Float32Array;
      }),
    );
  const close = (a: Float32Array, e: Float64Array, what: string): void =>
    e.forEach((x, i) => assert.ok(Math.abs(a[i]! - x) <= 1e-5 * (1 + Math.abs(x)), `${what}[${i}]: ${a[i]} vs ${x}`));
  close(
    run({}),
    expect(() => 1, 1),
    'plain (Bahdanau without scale)',
  );
  close(
    run({ weights: Array.from(wv) }),
    expect((x) => wv[x]!, 1),
    'weight vector (Bahdanau scale)',
  );
  close(
    run({ weights: 1.7, inner: 0.6 }),
    expect(() => 1.7, 0.6),
    'scalar weight and inner (Luong concat)',
  );
  assert.throws(
    () => tf.tidy(() => tanhSumScores(tf.zeros([1, 2, 3]), tf.zeros([1, 2, 3]), { weights: tf.zeros([4]) })),
    /weights must be a scalar or \[3\], got \[4\]/,
  );
});

test('additiveScores = additivePairs of additiveProject (the keys can be projected once), bit for bit', async () => {
  await before();
  const [H, Tq, Tk, d, da] = [2, 3, 5, 4, 6];
  const got = leakCheck('additive halves', () =>
    tf.tidy(() => {
      const q = tf.tensor3d(
        Float32Array.from({ length: H * Tq * d }, (_, i) => Math.sin(i)),
        [H, Tq, d],
      );
      const k = tf.tensor3d(
        Float32Array.from({ length: H * Tk * d }, (_, i) => Math.cos(i)),
        [H, Tk, d],
      );
      const W1 = tf.tensor2d(
        Float32Array.from({ length: da * d }, (_, i) => Math.sin(3 * i)),
        [da, d],
      );
      const W2 = tf.tensor2d(
        Float32Array.from({ length: da * d }, (_, i) => Math.cos(5 * i)),
        [da, d],
      );
      const v = tf.tensor1d(Float32Array.from({ length: da }, (_, i) => i - 2));
      const whole = additiveScores(q, k, W1, W2, v).dataSync().slice();
      const halves = additivePairs(additiveProject('W₁', q, W1), additiveProject('W₂', k, W2), v)
        .dataSync()
        .slice();
      return [Array.from(whole), Array.from(halves)];
    }),
  );
  assert.deepEqual(got[1], got[0]);
});

test("Keras's −1e9 softmax: masked keys exactly 0, a fully masked row uniform, allowed rows as softmax(s, mask)", async () => {
  await before();
  const [keras, exact] = leakCheck('largeNegativeSoftmax', () =>
    tf.tidy(() => {
      const s = tf.tensor3d([1, 2, 3, 4, 5, 6, 0.5, -2, 7], [1, 3, 3]);
      const m = tf.tensor2d([1, 1, 0, 0, 0, 0, 1, 0, 1], [3, 3]);
      return [Array.from(largeNegativeSoftmax(s, m).dataSync()), Array.from(softmax(s, m).dataSync())];
    }),
  );
  assert.equal(keras[2], 0);
  assert.equal(keras[7], 0);
  for (const i of [3, 4, 5]) assert.ok(Math.abs(keras[i]! - 1 / 3) < 1e-7, 'fully masked row: uniform, as in Keras');
  for (const i of [0, 1, 6, 8]) assert.ok(Math.abs(keras[i]! - exact[i]!) < 1e-7, `[${i}] ${keras[i]} vs ${exact[i]}`);
});

test("attend takes the caller's own score function and normaliser; dropout spares the weights it returns", async () => {
  await before();
  const [H, T, d] = [2, 4, 3];
  const out = leakCheck('attend with functions', () =>
    tf.tidy(() => {
      const q = tf.tensor3d(
        Float32Array.from({ length: H * T * d }, (_, i) => Math.sin(i)),
        [H, T, d],
      );
      const k = tf.tensor3d(
        Float32Array.from({ length: H * T * d }, (_, i) => Math.cos(i)),
        [H, T, d],
      );
      const v = tf.tensor3d(
        Float32Array.from({ length: H * T * d }, (_, i) => i / 7),
        [H, T, d],
      );
      const own = attend({
        q,
        k,
        v,
        score: (a, b) => tf.mul(dotScores(a, b), 3) as tf.Tensor3D,
        normaliser: (s, m) => softmax(tf.mul(s, 0.5), m),
        causal: true,
      });
      const named = attend({ q, k, v, score: 'dot', normaliser: 'softmax', causal: true });
      const scaled = normalise('softmax', tf.mul(named.scores, 1.5), causalMask(T));
      const dropped = attend({ q, k, v, score: 'dot', dropout: 0.5, causal: true });
      return {
        ownScores: Array.from(own.scores.dataSync()),
        threeDot: Array.from(tf.mul(named.scores, 3).dataSync()),
        ownWeights: Array.from(own.weights.dataSync()),
        scaled: Array.from(scaled.dataSync()),
        droppedWeights: Array.from(dropped.weights.dataSync()),
        namedWeights: Array.from(named.weights.dataSync()),
      };
    }),
  );
  assert.deepEqual(out.ownScores, out.threeDot, 'the score function is used as given');
  out.ownWeights.forEach((w, i) => assert.ok(Math.abs(w - out.scaled[i]!) < 1e-6, `weights[${i}]`));
  assert.deepEqual(out.droppedWeights, out.namedWeights, 'weights are returned before dropout');
});

// Hard attention (hardmax, sampled) and Luong's local attention in what-if, against the independent
// numpy reference (scripts/reference/attention_ref.py → test/fixtures/attention/hard.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { hardmax, normalise, sampledHard } from '../../src/model/attention/normalisers';
import { missingPredictive, recompute, windowText } from '../../src/model/attention/whatif';
import { mulberry32 } from '../../shared/random';
import {
  AttentionInputError,
  DEFAULT_SAMPLE_SEED,
  findTensor,
  tensor,
  type Normaliser,
  type TensorData,
} from '../../shared/trace';
import type { LocalWindow } from '../../shared/protocol';
import { assertClose, decodeArr, type Arr } from './fixtureTools';
import { parseAttentionConfig } from '../../src/model/formats/attentionConfig';
import { runHandBuilt } from '../../src/model/families/handBuilt/model';

interface HardFixture {
  hardmax: { name: string; z: number[]; mask?: number[]; expected: number[] }[];
  hardmaxBlock: { z: Arr; mask: number[][]; expected: Arr };
  sampled: { name: string; seed: number; z: Arr; mask?: number[][]; expected: Arr; keys: number[][] }[];
  draws: Record<string, number[]>;
  local: {
    name: string;
    q: Arr;
    k: Arr;
    v: Arr;
    params: Record<string, Arr>;
    causal: boolean;
    normaliser: Normaliser;
    seed: number;
    local: LocalWindow;
    positions: Arr;
    windowMask: Arr;
    mask?: Arr;
    scores: Arr;
    weights: Arr;
    context: Arr;
    rowSums: Arr;
  }[];
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'attention', 'hard.json'), 'utf8'),
) as HardFixture;

function leakCheck<T>(what: string, f: () => T): T {
  const before = tf.memory().numTensors;
  try {
    return f();
  } finally {
    assert.equal(tf.memory().numTensors, before, `${what} leaked tensors`);
  }
}

const run = (f: () => tf.Tensor): Float32Array => tf.tidy(() => f().dataSync() as Float32Array).slice() as Float32Array;

test('mulberry32 gives the numpy script’s draws', () => {
  for (const [seed, draws] of Object.entries(fixture.draws)) {
    const r = mulberry32(Number(seed));
    assert.deepEqual(
      draws.map(() => r()),
      draws,
    );
  }
});

test('hardmax: one-hot at the best allowed key, ties split evenly, masks respected (numpy rows)', async () => {
  await initBackend();
  assert.ok(fixture.hardmax.some((r) => r.expected.filter((x) => x > 0).length === 3));
  for (const row of fixture.hardmax) {
    const got = leakCheck(row.name, () =>
      run(() => {
        const z = tf.tensor2d(row.z, [1, row.z.length]);
        return hardmax(z, row.mask ? tf.tensor2d(row.mask, [1, row.mask.length]) : undefined);
      }),
    );
    assert.deepEqual(Array.from(got), row.expected, row.name);
    const sum = got.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - (row.mask?.every((m) => m === 0) ? 0 : 1)) < 1e-7, `${row.name}: sums to ${sum}`);
  }
  const b = fixture.hardmaxBlock;
  const got = leakCheck('block', () =>
    run(() => normalise('hardmax', tf.tensor(decodeArr(b.z), b.z.shape), tf.tensor2d(b.mask))),
  );
  assertClose(got, decodeArr(b.expected), 'hardmax block');
  // Row 1 of each head is fully masked: all zeros; the others sum to 1.
  const [H, Tq, Tk] = b.z.shape as [number, number, number];
  for (let r = 0; r < H * Tq; r++) {
    const sum = got.subarray(r * Tk, (r + 1) * Tk).reduce((a, x) => a + x, 0);
    assert.ok(Math.abs(sum - (r % Tq === 1 ? 0 : 1)) < 1e-6, `row ${r} sums to ${sum}`);
  }
});

test('sampled hard attention: the numpy draws, one-hot rows, the same seed the same keys', async () => {
  await initBackend();
  for (const c of fixture.sampled) {
    const z = decodeArr(c.z);
    const draw = (seed: number): Float32Array =>
      leakCheck(c.name, () =>
        run(() => sampledHard(tf.tensor(z, c.z.shape), c.mask ? tf.tensor2d(c.mask) : undefined, seed)),
      );
    const got = draw(c.seed);
    assert.deepEqual(Array.from(got), Array.from(decodeArr(c.expected)), c.name);
    const [H, Tq, Tk] = c.z.shape as [number, number, number];
    const keys = Array.from({ length: H }, (_, h) =>
      Array.from({ length: Tq }, (_, i) => {
        const row = got.subarray((h * Tq + i) * Tk, (h * Tq + i + 1) * Tk);
        return row.some((x) => x > 0) ? row.indexOf(1) : -1;
      }),
    );
    assert.deepEqual(keys, c.keys, `${c.name}: sampled keys`);
    // Masked keys are never drawn; fully masked rows stay 0.
    c.mask?.forEach((m, i) =>
      m.forEach((ok, j) => {
        for (let h = 0; h < H; h++) if (!ok) assert.equal(got[(h * Tq + i) * Tk + j], 0);
      }),
    );
    assert.deepEqual(Array.from(draw(c.seed)), Array.from(got), `${c.name}: deterministic`);
  }
  // Another seed changes some draw on the flat case (near-uniform probabilities).
  const flat = fixture.sampled.find((c) => c.name.includes('flat'))!;
  const other = run(() => sampledHard(tf.tensor(decodeArr(flat.z), flat.z.shape), undefined, flat.seed + 1));
  assert.notDeepEqual(Array.from(other), Array.from(decodeArr(flat.expected)));
  // The default seed is DEFAULT_SAMPLE_SEED.
  const seeded = fixture.sampled.find((c) => c.seed === DEFAULT_SAMPLE_SEED)!;
  assert.deepEqual(
    Array.from(run(() => normalise('sampled', tf.tensor(decodeArr(seeded.z), seeded.z.shape)))),
    Array.from(decodeArr(seeded.expected)),
  );
  assert.throws(() => sampledHard(tf.zeros([1, 2, 2]), undefined, -1), /seed -1/);
  assert.throws(() => sampledHard(tf.zeros([1, 2, 2]), undefined, 1.5), /seed 1.5/);
});

const data = (name: string, a: Arr, axes: string[]): TensorData => tensor(name, a.shape, axes, decodeArr(a));

test('local-m and local-p windows (Gaussian, σ = D/2, not renormalised) match numpy; rows sum to 1 only without the Gaussian', async () => {
  await initBackend();
  assert.ok(fixture.local.length >= 7);
  for (const c of fixture.local) {
    const axes = ['head', 'token', 'd'];
    const params: Record<string, TensorData> = {};
    for (const [n, a] of Object.entries(c.params))
      params[n] = data(
        n,
        a,
        a.shape.map((_, i) => `a${i}`),
      );
    const r = leakCheck(c.name, () =>
      recompute(
        {
          Q: data('Q', c.q, axes),
          K: data('K', c.k, axes),
          V: data('V', c.v, axes),
          params,
          causal: c.causal,
          ...(c.mask ? { mask: data('mask', c.mask, ['query', 'key']) } : {}),
        },
        'scaled-dot',
        c.normaliser,
        { local: c.local, seed: c.seed },
      ),
    );
    assertClose(r.scores.data, decodeArr(c.scores), `${c.name} scores`);
    assertClose(r.weights.data, decodeArr(c.weights), `${c.name} weights`);
    assertClose(r.context.data, decodeArr(c.context), `${c.name} context`);
    assertClose(r.positions!.data, decodeArr(c.positions), `${c.name} p_t`);
    assert.deepEqual(r.windowMask!.shape, c.windowMask.shape, `${c.name} window shape`);
    assert.deepEqual(Array.from(r.windowMask!.data), Array.from(decodeArr(c.windowMask)), `${c.name} window`);
    // Outside the window: exactly 0.
    const win = r.windowMask!.data;
    const [H, Tq, Tk] = r.weights.shape as [number, number, number];
    for (let i = 0; i < H * Tq * Tk; i++)
      if (win[i % win.length] === 0) assert.equal(r.weights.data[i], 0, `${c.name}: weight ${i} outside the window`);
    // Rows: 1 (or 0 when nothing is allowed) without the Gaussian (sigmoid excepted); below 1 with it.
    const sums = decodeArr(c.rowSums);
    for (let row = 0; row < H * Tq; row++) {
      const sum = r.weights.data.subarray(row * Tk, (row + 1) * Tk).reduce((a, x) => a + x, 0);
      assert.ok(Math.abs(sum - sums[row]!) < 1e-5, `${c.name}: row ${row} sums to ${sum}, numpy ${sums[row]}`);
      const open = win.subarray((row % (win.length / Tk)) * Tk, ((row % (win.length / Tk)) + 1) * Tk).some((x) => x);
      if (!c.local.gaussian && c.normaliser !== 'sigmoid') assert.ok(Math.abs(sum - (open ? 1 : 0)) < 1e-5);
    }
    if (c.local.gaussian)
      assert.ok(
        Array.from(sums).some((x) => x < 0.999),
        `${c.name}: Luong's Gaussian-weighted rows do not sum to 1`,
      );
    assert.match(r.weights.description ?? '', new RegExp(windowText(c.local).replace(/[()]/g, '\\$&')));
    if (c.normaliser === 'sampled') assert.equal(r.seed, c.seed);
  }
});

test('local windows refuse what they cannot do, with a message that says why', async () => {
  await initBackend();
  const c = fixture.local[0]!;
  const input = {
    Q: data('Q', c.q, ['head', 'token', 'd']),
    K: data('K', c.k, ['head', 'token', 'd']),
    V: data('V', c.v, ['head', 'token', 'd']),
    causal: false,
  };
  const predictive: LocalWindow = { alignment: 'predictive', D: 2, gaussian: true };
  const before = tf.memory().numTensors;
  assert.throws(
    () => recompute(input, 'scaled-dot', 'softmax', { local: predictive }),
    (e: unknown) => e instanceof AttentionInputError && /W_p and v_p/.test(e.message) && /monotonic/.test(e.message),
  );
  assert.match(missingPredictive({})!, /only monotonic/);
  assert.equal(missingPredictive({ W_p: 1, v_p: 1 }), undefined);
  for (const D of [0, -1, 1.5])
    assert.throws(
      () => recompute(input, 'scaled-dot', 'softmax', { local: { alignment: 'monotonic', D, gaussian: false } }),
      new RegExp(`integer ≥ 1, got ${D}`),
    );
  const badWp = {
    W_p: tensor('W_p', [3, 7], ['a', 'b'], new Float32Array(21)),
    v_p: tensor('v_p', [3], ['a'], new Float32Array(3)),
  };
  assert.throws(
    () => recompute({ ...input, params: badWp }, 'scaled-dot', 'softmax', { local: predictive }),
    /W_p \[d_p, 4\]/,
  );
  assert.throws(() => recompute(input, 'scaled-dot', 'sampled', { seed: -3 }), /seed must be an integer/);
  assert.equal(tf.memory().numTensors, before, 'refusals leaked tensors');
  // Without a window: no window tensors; sampled reports its seed.
  const plain = recompute(input, 'scaled-dot', 'sampled', { seed: 9 });
  assert.equal(plain.windowMask, undefined);
  assert.equal(plain.seed, 9);
  assert.match(plain.weights.description ?? '', /sampled \(seed 9\)/);
});

const sampleConfig = (): string =>
  fs.readFileSync(path.join(__dirname, '..', '..', 'samples', 'configs', 'local-attention.attention.json'), 'utf8');

test('a hand-built config with W_p and v_p offers local-p: p_t = S·sigmoid(v_pᵀ tanh(W_p q_t)), checked by plain loops', async () => {
  await initBackend();
  const parsed = parseAttentionConfig(sampleConfig());
  assert.deepEqual(parsed.problems, []);
  assert.ok(parsed.config?.kind === 'hand-built' && parsed.config.W_p && parsed.config.v_p);
  const trace = runHandBuilt(parsed.config);
  const qkv = trace.stages.find((s) => s.kind === 'qkv')!;
  const [Q, K, V, W_p, v_p] = (['Q', 'K', 'V', 'W_p', 'v_p'] as const).map((n) => findTensor(qkv, n)!);
  assert.deepEqual(W_p!.shape, [2, 4]);
  assert.equal(missingPredictive({ W_p, v_p }), undefined);
  const local: LocalWindow = { alignment: 'predictive', D: 2, gaussian: true };
  const r = leakCheck('local-p', () =>
    recompute({ Q: Q!, K: K!, V: V!, params: { W_p, v_p }, causal: false }, 'scaled-dot', 'softmax', { local }),
  );
  const [, Tq, d] = Q!.shape as [number, number, number];
  const Tk = K!.shape[1]!;
  for (let t = 0; t < Tq; t++) {
    // p_t by hand, in doubles, from the trace's own numbers.
    let z = 0;
    for (let a = 0; a < 2; a++) {
      let x = 0;
      for (let j = 0; j < d; j++) x += W_p!.data[a * d + j]! * Q!.data[t * d + j]!;
      z += v_p!.data[a]! * Math.tanh(x);
    }
    const p = Tk / (1 + Math.exp(-z));
    assert.ok(Math.abs(r.positions!.data[t]! - p) < 1e-5, `p_${t}: ${r.positions!.data[t]} vs ${p}`);
    // The weights: softmax over the window |s − p| ≤ 2, times exp(−(s − p)²/2) (σ = 1).
    const s = Array.from(r.scores.data.subarray(t * Tk, (t + 1) * Tk));
    const inside = s.map((_, k) => Math.abs(k - p) <= 2);
    const m = Math.max(...s.filter((_, k) => inside[k]));
    const e = s.map((x, k) => (inside[k] ? Math.exp(x - m) : 0));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((x, k) => {
      const want = (x / sum) * Math.exp(-((k - p) ** 2) / 2);
      assert.ok(Math.abs(r.weights.data[t * Tk + k]! - want) < 1e-6, `α[${t}][${k}]`);
    });
  }
});

test('hand-built configs take the hard normalisers, and refuse a v_p without W_p or a W_p of the wrong width', async () => {
  await initBackend();
  const base = JSON.parse(sampleConfig()) as Record<string, unknown>;
  const hard = parseAttentionConfig(JSON.stringify({ ...base, normaliser: 'hardmax' }));
  assert.ok(hard.config?.kind === 'hand-built');
  const trace = runHandBuilt(hard.config);
  const weights = trace.stages.find((s) => s.kind === 'normalise')!;
  const w = findTensor(weights, 'weights')!;
  const Tk = w.shape[2]!;
  for (let t = 0; t < w.shape[1]!; t++) {
    const row = Array.from(w.data.subarray(t * Tk, (t + 1) * Tk));
    assert.deepEqual([...new Set(row)].sort(), [0, 1], `row ${t} is one-hot: ${row}`);
  }
  assert.match(weights.explanation, /gradient is 0 almost everywhere/);
  assert.match(weights.formula, /argmax/);
  const sampled = parseAttentionConfig(JSON.stringify({ ...base, normaliser: 'sampled' }));
  assert.ok(sampled.config?.kind === 'hand-built');
  assert.match(runHandBuilt(sampled.config).stages.find((s) => s.kind === 'normalise')!.explanation, /REINFORCE/);
  const problem = (patch: Record<string, unknown>): string =>
    parseAttentionConfig(JSON.stringify({ ...base, ...patch })).problems[0]?.message ?? '';
  assert.match(problem({ W_p: undefined }), /"W_p" is required: d_p × d_k/);
  assert.match(problem({ v_p: undefined }), /"v_p" is required: d_p = 2 numbers/);
  assert.match(problem({ W_p: [[1, 2, 3]] }), /"W_p" is 1×3 but d_p × d_k \(d_k = 4\)/);
  assert.match(problem({ v_p: [1, 2, 3] }), /"v_p" has 3 numbers but d_p = 2/);
});

test('local-m places a decoder step’s single query at its step (firstQuery), and refuses a bad one', async () => {
  await initBackend();
  const f = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s));
  const Q = tensor('Q', [1, 1, 2], ['head', 'token', 'd'], f(2, 1.3));
  const K = tensor('K', [1, 6, 2], ['head', 'token', 'd'], f(12, 0.7));
  const V = tensor('V', [1, 6, 2], ['head', 'token', 'd'], f(12, 0.4));
  const local: LocalWindow = { alignment: 'monotonic', D: 1, gaussian: false, firstQuery: 3 };
  const r = leakCheck('step', () => recompute({ Q, K, V, causal: false }, 'dot', 'softmax', { local }));
  assert.deepEqual(Array.from(r.positions!.data), [3]);
  assert.deepEqual(Array.from(r.windowMask!.data), [0, 0, 1, 1, 1, 0]);
  // softmax over keys 2, 3, 4 only, by hand.
  const s = [2, 3, 4].map((j) => Q.data[0]! * K.data[2 * j]! + Q.data[1]! * K.data[2 * j + 1]!);
  const e = s.map((x) => Math.exp(x));
  const z = e[0]! + e[1]! + e[2]!;
  [2, 3, 4].forEach((j, i) => assert.ok(Math.abs(r.weights.data[j]! - e[i]! / z) < 1e-6));
  assert.throws(
    () => recompute({ Q, K, V, causal: false }, 'dot', 'softmax', { local: { ...local, firstQuery: -1 } }),
    /first query's position must be an integer ≥ 0, got -1/,
  );
});

// The one parameterised Transformer block on its own (the families' numbers against torch are in
// hfFamilies.test.ts): grouped-query heads equal full heads with repeated K/V weights, partial
// rotary turns only its dimensions, a fused Conv1D split at load equals the fused product, fields
// named for later families are refused, shape errors print shapes, and nothing leaks.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { transformerBlock, type BlockWeights } from '../../src/model/transformer/block';
import { scaledDot, type BlockConfig } from '../../src/model/transformer/config';
import { weightMaker } from '../../src/model/transformer/weights';
import { applyRope, ropeTensors } from '../../src/model/layers/positions';
import { additiveMask } from '../../src/model/attention/mask';
import { groupedKvHeadOf, multiHead, splitHeads } from '../../src/model/attention/multiHead';
import { mulberry32 } from '../../src/model/families/toy/model';

before(async () => {
  await initBackend();
});

const rand = (seed: number, n: number): Float32Array => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};
const t2 = (seed: number, rows: number, cols: number): tf.Tensor2D =>
  tf.tensor2d(rand(seed, rows * cols), [rows, cols]);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

const D = 16;
const H = 4;
const hd = 4;
const cfg = (kvHeads: number, rotaryDim = hd): BlockConfig => ({
  dModel: D,
  norm: { kind: 'rms', eps: 1e-6 },
  placement: 'pre',
  self: { heads: H, kvHeads, headDim: hd, causal: true, scale: scaledDot(hd), rope: { theta: 10000, rotaryDim } },
  mlp: { kind: 'gated', activation: 'silu', inner: 24 },
});

test('grouped-query attention equals full attention with each K/V head repeated for its query heads', () => {
  const start = tf.memory().numTensors;
  tf.tidy(() => {
    const T = 5;
    const x = t2(1, T, D);
    const kv = 2;
    const kvHeadOf = groupedKvHeadOf(H, kv);
    assert.deepEqual(kvHeadOf, [0, 0, 1, 1]);
    const k = t2(3, D, kv * hd);
    const v = t2(4, D, kv * hd);
    // Column block g of the grouped weight becomes column block h of the full one, for kvHeadOf[h] = g.
    const repeat = (w: tf.Tensor2D): tf.Tensor2D =>
      tf.concat(
        kvHeadOf.map((g) => tf.slice(w, [0, g * hd], [D, hd])),
        1,
      ) as tf.Tensor2D;
    const shared = {
      selfNorm: { g: tf.ones([D]) as tf.Tensor1D },
      mlpNorm: { g: tf.ones([D]) as tf.Tensor1D },
      mlp: { gate: { w: t2(6, D, 24) }, up: { w: t2(7, D, 24) }, down: { w: t2(8, 24, D) } },
    };
    const q = { w: t2(2, D, H * hd), b: tf.tensor1d(rand(9, H * hd)) };
    const o = { w: t2(5, H * hd, D) };
    const grouped: BlockWeights = { ...shared, self: { q, k: { w: k }, v: { w: v }, o } };
    const full: BlockWeights = { ...shared, self: { q, k: { w: repeat(k) }, v: { w: repeat(v) }, o } };
    const inputs = {
      layer: 0,
      selfMask: tf.tensor2d(additiveMask({ queries: T, keys: T, causal: true }), [T, T]),
      rope: ropeTensors(T, { theta: 10000, rotaryDim: hd }),
    };
    const a = transformerBlock(x, grouped, cfg(kv), inputs, true);
    const b = transformerBlock(x, full, cfg(H), inputs, true);
    assert.ok(maxDiff(a.out.dataSync(), b.out.dataSync()) < 1e-5, 'same layer output');
    assert.ok(maxDiff(a.record!.self.weights, b.record!.self.weights) < 1e-6, 'same attention weights');
    assert.equal(a.record!.self.k.length, kv * T * hd, 'K is kept per key/value head');
    assert.equal(b.record!.self.k.length, H * T * hd);
    inputs.rope.cos.dispose();
    inputs.rope.sin.dispose();
  });
  assert.equal(tf.memory().numTensors, start, 'nothing leaks');
});

test('partial rotary turns only the first rotaryDim dimensions of each head', () => {
  tf.tidy(() => {
    const T = 6;
    const x = splitHeads(t2(11, T, H * 8), H, 8); // [T, H·8] → [H, T, 8]
    const part = applyRope(x, ropeTensors(T, { theta: 100, rotaryDim: 4 }));
    const head = applyRope(
      tf.slice(x, [0, 0, 0], [-1, -1, 4]) as tf.Tensor3D,
      ropeTensors(T, { theta: 100, rotaryDim: 4 }),
    );
    assert.ok(
      maxDiff(tf.slice(part, [0, 0, 0], [-1, -1, 4]).dataSync(), head.dataSync()) < 1e-6,
      'the rotated part is RoPE on those dims',
    );
    assert.deepEqual(
      Array.from(tf.slice(part, [0, 0, 4], [-1, -1, 4]).dataSync()),
      Array.from(tf.slice(x, [0, 0, 4], [-1, -1, 4]).dataSync()),
      'the rest passes through',
    );
    assert.ok(
      maxDiff(tf.slice(part, [0, 0, 0], [-1, 1, -1]).dataSync(), tf.slice(x, [0, 0, 0], [-1, 1, -1]).dataSync()) < 1e-7,
      'position 0 is not turned',
    );
  });
});

test("a fused Conv1D split at load (GPT-2's c_attn) gives the fused product's three blocks", () => {
  const start = tf.memory().numTensors;
  const w = rand(21, D * 3 * D);
  const b = rand(22, 3 * D);
  const made = weightMaker(
    new Map([
      ['c.weight', { dtype: 'F32', shape: [D, 3 * D], data: w }],
      ['c.bias', { dtype: 'F32', shape: [3 * D], data: b }],
    ] as never),
  );
  const parts = made.conv1dSplit('c', 3);
  tf.tidy(() => {
    const x = t2(23, 3, D);
    const fused = tf.add(tf.matMul(x, tf.tensor2d(w, [D, 3 * D])), tf.tensor1d(b)); // [3, 3D]
    parts.forEach((p, i) => {
      const one = tf.add(tf.matMul(x, p.w), p.b!);
      assert.ok(maxDiff(one.dataSync(), tf.slice(fused, [0, i * D], [3, D]).dataSync()) < 1e-6, `part ${i}`);
    });
  });
  made.freeAll();
  assert.equal(tf.memory().numTensors, start, 'freeAll frees the split parts');
});

test('fields named for later families are refused; wrong shapes print what was received', () => {
  tf.tidy(() => {
    const T = 3;
    const w: BlockWeights = {
      selfNorm: { g: tf.ones([D]) as tf.Tensor1D },
      mlpNorm: { g: tf.ones([D]) as tf.Tensor1D },
      self: {
        q: { w: t2(1, D, H * hd) },
        k: { w: t2(2, D, H * hd) },
        v: { w: t2(3, D, H * hd) },
        o: { w: t2(4, H * hd, D) },
      },
      mlp: { gate: { w: t2(6, D, 24) }, up: { w: t2(7, D, 24) }, down: { w: t2(8, 24, D) } },
    };
    const rope = ropeTensors(T, { theta: 10000, rotaryDim: hd });
    const base = cfg(H);
    assert.throws(
      () =>
        transformerBlock(
          t2(1, T, D),
          w,
          { ...base, self: { ...base.self, slidingWindow: 2 } },
          { layer: 0, rope },
          false,
        ),
      /does not implement sliding-window attention/,
    );
    assert.throws(
      () => transformerBlock(t2(1, T, D), w, { ...base, parallelResidual: true }, { layer: 0, rope }, false),
      /parallel residual/,
    );
    assert.throws(
      () => transformerBlock(t2(1, T, 12), w, base, { layer: 2, rope }, false),
      /layer 2: input is 3×12, expected T×16/,
    );
    assert.throws(() => splitHeads(t2(1, T, 10), H, hd), /splitHeads: input is 3×10, not T×4·4/);
    const q = tf.zeros([H, T, hd]) as tf.Tensor3D;
    assert.throws(
      () => multiHead(q, tf.zeros([2, T, 3]) as tf.Tensor3D, tf.zeros([2, T, 3]) as tf.Tensor3D, { scale: 1 }),
      /q is 4×3×4, k 2×3×3/,
    );
    assert.throws(
      () =>
        multiHead(q, tf.zeros([3, T, hd]) as tf.Tensor3D, tf.zeros([3, T, hd]) as tf.Tensor3D, {
          scale: 1,
          kvHeadOf: [0, 1, 2, 3],
        }),
      /does not map 4 query heads onto 3/,
    );
  });
});
